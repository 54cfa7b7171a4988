"""AU configurations with a given PSPI: enumerate, weight by a prior, sample."""

from __future__ import annotations

import csv
import itertools
from functools import lru_cache
from pathlib import Path

import numpy as np

from painctl.errors import PainctlError
from painctl.facs import AU_NAMES, pspi


@lru_cache(maxsize=1)
def all_configurations() -> np.ndarray:
    """Return every integer configuration (15,552, 6) float32: AU4-AU10 in 0..5, AU43 in {0,1}."""
    grid = itertools.product(range(6), range(6), range(6), range(6), range(6), range(2))
    return np.array(list(grid), dtype=np.float32)


def configurations_with_pspi(level: int) -> np.ndarray:
    """Return the (C, 6) configurations whose PSPI equals ``level`` (C > 0 for 0..16)."""
    configs = all_configurations()
    return configs[pspi(configs) == level]


def read_prior(path: str | Path) -> np.ndarray:
    """Read a CSV of configuration weights -> (15,552,) float64 weights over :func:`all_configurations`.

    Columns AU4, AU6, AU7, AU9, AU10, AU43 (integers) and ``weight`` (>= 0), for example
    co-occurrence counts measured on a real dataset. Configurations not listed get weight 0.
    """
    path = Path(path)
    try:
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError) as exc:
        raise PainctlError(f"{{prior}} {path}: cannot read it ({exc.__class__.__name__})", params=("prior",)) from None
    needed = [*AU_NAMES, "weight"]
    if not rows or any(c not in rows[0] for c in needed):
        raise PainctlError(f"{{prior}} {path}: needs a header with columns {', '.join(needed)}", params=("prior",))
    index = {tuple(int(v) for v in c): i for i, c in enumerate(all_configurations())}
    weights = np.zeros(len(index))
    for line, row in enumerate(rows, start=2):
        try:
            key = tuple(int(row[a]) for a in AU_NAMES)
            weight = float(row["weight"])
        except (TypeError, ValueError):
            raise PainctlError(f"{{prior}} {path}, line {line}: not integers and a number", params=("prior",)) from None
        if key not in index or not weight >= 0 or not np.isfinite(weight):
            raise PainctlError(f"{{prior}} {path}, line {line}: invalid configuration or negative weight", params=("prior",))
        weights[index[key]] += weight
    return weights


def sample_configuration(level: int, rng: np.random.Generator, prior: np.ndarray | None = None) -> np.ndarray:
    """Draw one (6,) configuration with PSPI ``level``: uniform over all of them, or by ``prior``."""
    configs = all_configurations()
    mask = pspi(configs) == level
    candidates = np.flatnonzero(mask)
    if prior is None:
        return configs[candidates[rng.integers(len(candidates))]].copy()
    weights = prior[candidates]
    if weights.sum() <= 0:
        raise PainctlError(f"{{prior}} gives no weight to any configuration with PSPI {level}", params=("prior",))
    return configs[candidates[rng.choice(len(candidates), p=weights / weights.sum())]].copy()
