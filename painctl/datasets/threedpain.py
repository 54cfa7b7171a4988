"""The released 3D-Pain dataset layout: images/, annotations/<base>_annotations.json, heatmaps/.

Base names look like ``flame_sample_0001_pain_3`` and ``flame_sample_0001_neutral``; image names add
suffixes such as ``_view_000``. The subject (identity) is the base without ``_pain_<n>``/``_neutral``,
the view is what follows the base (``view_000``; "" when nothing does).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np

from painctl.datasets.frames import Frame
from painctl.errors import PainctlError
from painctl.facs import AU_MAX, AU_NAMES, PSPI_MAX

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
HEATMAP_SUFFIXES = (".png", ".npy", ".jpg", ".jpeg")
ANNOTATION_SUFFIX = "_annotations.json"
_BASE = re.compile(r"^(?P<subject>.+?)_(?:pain_\d+|neutral)")


def is_threedpain(path: Path) -> bool:
    """True when ``path`` holds the 3D-Pain folders images/ and annotations/."""
    return (path / "images").is_dir() and (path / "annotations").is_dir()


def read_annotation(file: Path) -> tuple[np.ndarray, float]:
    """Return ((6,) AUs in AU_NAMES order, PSPI) from one ``<base>_annotations.json`` file."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PainctlError(f"{file}: not a valid JSON annotation ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise PainctlError(f"{file}: expected a JSON object with keys {', '.join(AU_NAMES)}, PSPI")
    values = {}
    for name in (*AU_NAMES, "PSPI"):
        value = data.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise PainctlError(f"{file}: {name} must be a number, got {value!r}")
        values[name] = float(value)
    au = np.array([values[n] for n in AU_NAMES], dtype=np.float32)
    if np.any(au < 0) or np.any(au > AU_MAX):
        raise PainctlError(f"{file}: AU intensities must lie in 0-5 (AU43 in 0-1), got {au.tolist()}")
    if not 0 <= values["PSPI"] <= PSPI_MAX:
        raise PainctlError(f"{file}: PSPI {values['PSPI']:g} is outside 0-{PSPI_MAX:g}")
    return au, values["PSPI"]


def _files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in suffixes and p.is_file())


def load_threedpain(root: str | Path) -> list[Frame]:
    """Read every annotated image of a 3D-Pain tree at ``root`` into :class:`Frame` records.

    Each image is matched to the annotation whose base is the longest prefix of its file stem;
    a neutral base without an annotation file is all zeros. ``key`` is the image path relative to
    images/; ``heatmap`` is heatmaps/<image stem>.* or heatmaps/<base>.* when present.
    """
    root = Path(root)
    if not is_threedpain(root):
        raise PainctlError(f"{root}: not a 3D-Pain tree (expected images/ and annotations/)")
    annotations = {
        p.name[: -len(ANNOTATION_SUFFIX)]: p for p in sorted((root / "annotations").iterdir()) if p.name.endswith(ANNOTATION_SUFFIX)
    }
    heatmaps = {p.stem: p for p in _files(root / "heatmaps", HEATMAP_SUFFIXES)}
    cache: dict[str, tuple[np.ndarray, float]] = {}
    frames: list[Frame] = []
    for image in _files(root / "images", IMAGE_SUFFIXES):
        stem = image.stem
        match = _BASE.match(stem)
        if match is None:
            continue  # not a dataset image (no _pain_<n> or _neutral in its name)
        base = stem[: match.end()]
        if base not in cache:
            if base in annotations:
                cache[base] = read_annotation(annotations[base])
            elif base.endswith("_neutral"):
                cache[base] = (np.zeros(len(AU_NAMES), np.float32), 0.0)
            else:
                raise PainctlError(f"{image}: no annotation file annotations/{base}{ANNOTATION_SUFFIX}")
        au, value = cache[base]
        frames.append(
            Frame(
                image=image,
                subject=match.group("subject"),
                pspi=value,
                au=au.copy(),
                view=stem[match.end():].lstrip("_"),
                is_neutral=base.endswith("_neutral"),
                heatmap=heatmaps.get(stem) or heatmaps.get(base),
                key=image.relative_to(root / "images").as_posix(),
            )
        )
    if not frames:
        raise PainctlError(f"{root}: no images named <identity>_pain_<n>* or <identity>_neutral* under images/")
    return frames
