"""What an artefact holds, as a plain dict (for `painctl inspect` and scripts)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from painctl.artefact.store import Artefact

#: Row datasets whose value counts are worth showing (labels, not measurements).
LABEL_DATASETS = ("age_group", "gender", "ethnicity", "is_neutral", "pspi", "view", "split")


def describe(art: Artefact) -> dict[str, Any]:
    """Return stage, params, inputs, rows, datasets (shape, dtype) and value counts per label."""
    datasets: dict[str, Any] = {}
    counts: dict[str, dict[str, int]] = {}
    with art.h5() as f:
        for name, obj in _walk(f):
            datasets[name] = {"shape": list(obj.shape), "dtype": str(obj.dtype), "virtual": bool(obj.is_virtual)}
            if name in LABEL_DATASETS and obj.ndim == 1:
                values = obj[()]
                if values.dtype.kind == "S":
                    values = np.char.decode(values, "utf-8")
                elif values.dtype.kind == "f":
                    values = np.round(values, 3)
                counts[name] = {str(k): int(v) for k, v in sorted(Counter(values.tolist()).items())}
        root_attrs = {k: _plain(v) for k, v in f.attrs.items()}
    return {
        "path": art.source,  # as the user named it ("-" for stdin), never a temporary path
        "stage": art.stage,
        "painctl_version": art.manifest.get("painctl_version"),
        "schema_version": art.manifest.get("schema_version"),
        "created": art.manifest.get("created"),
        "digest": art.digest,
        "rows": art.rows(),
        "params": art.params,
        "inputs": art.manifest.get("inputs", []),
        "attributes": root_attrs,
        "datasets": datasets,
        "counts": counts,
    }


def _walk(f):
    found = []
    f.visititems(lambda n, o: found.append((n, o)) if hasattr(o, "shape") else None)
    return found


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value
