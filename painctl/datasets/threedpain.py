"""The released 3D-Pain dataset layout (Hugging Face ``SoroushMehraban/3D-Pain``), as its authors' loader reads it.

A tree holds ``meshes_inpainted/`` (RGB images, .png/.jpg/.jpeg; ``images/`` in trees written by
earlier painctl versions), ``annotations/<base>_annotations.json`` for pain faces (AU4 AU6 AU7 AU9 AU10
AU43, PSPI optional) and optionally ``heatmaps/`` and ``textured_meshes/``.

Names: the base of an image is its stem cut at the first of :data:`NAME_SUFFIXES` found, tried in
that order (as the authors' loader does), e.g. ``flame_sample_0000_pain_1`` for
``flame_sample_0000_pain_1_textured_view_000_inpainted.jpg``. The subject is the base before
``_pain_<n>`` or ``_neutral``. Neutral bases need no JSON (all labels zero). The view is parsed from
what follows the base (``view_000`` for both ``_view_000.png`` and ``_textured_view_000_inpainted.jpg``),
so a neutral and its pain partner of the same camera get the same view key.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np

from painctl.datasets.frames import Frame
from painctl.errors import PainctlError
from painctl.facs import AU_MAX, AU_NAMES, PSPI_MAX, pspi

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
HEATMAP_SUFFIXES = (".png", ".npy", ".jpg", ".jpeg")
ANNOTATION_SUFFIX = "_annotations.json"
#: The image folder of the release, and the one painctl's earlier exports wrote.
IMAGE_DIRS = ("meshes_inpainted", "images")
#: Name parts the authors' loader cuts a stem at to find its base, in the order it tries them.
NAME_SUFFIXES = ("_textured_view_", "_view_", "_bg_", "_render_", "_deform_", "_inpainted", "_textured")
#: A PSPI stored in a JSON may differ from the one its AUs give by rounding only.
PSPI_TOLERANCE = 1e-3
_PAIN = re.compile(r"^(?P<subject>.+?)_pain_\d+$")
_NEUTRAL = re.compile(r"^(?P<subject>.+?)_neutral(?:_.*)?$")
_VIEW = re.compile(r"(?:^|_)view_(\d+)(?:_|$)")
_OTHER_VIEW = re.compile(r"(?:^|_)(bg|render|deform)_(\d+)(?:_|$)")


def image_dir(path: Path) -> Path | None:
    """The image folder of a 3D-Pain tree at ``path`` (meshes_inpainted/, else images/), or None."""
    for name in IMAGE_DIRS:
        if (path / name).is_dir():
            return path / name
    return None


def is_threedpain(path: Path) -> bool:
    """True when ``path`` holds annotations/ and an image folder (meshes_inpainted/ or images/)."""
    return (path / "annotations").is_dir() and image_dir(path) is not None


def base_name(stem: str) -> str:
    """The 3D-Pain base of an image ``stem``: cut at the first of :data:`NAME_SUFFIXES` (in that order)."""
    for suffix in NAME_SUFFIXES:
        if suffix in stem:
            return stem.split(suffix, 1)[0]
    return stem


def view_key(stem: str, base: str) -> str:
    """The camera of an image from what follows its ``base`` in ``stem``: "view_NNN" (also for
    ``_textured_view_NNN_inpainted``), "bg_NNN"/"render_NNN"/"deform_NNN", else the rest without
    ``inpainted``/``textured`` ("" when nothing is left)."""
    rest = stem[len(base):].strip("_")
    found = _VIEW.search(rest)
    if found:
        return f"view_{int(found.group(1)):03d}"
    found = _OTHER_VIEW.search(rest)
    if found:
        return f"{found.group(1)}_{int(found.group(2)):03d}"
    words = [w for w in rest.split("_") if w and w not in ("inpainted", "textured")]
    return "_".join(words)


def subject_of(base: str) -> tuple[str, bool] | None:
    """(subject, is_neutral) of a base name, or None when it names neither a pain nor a neutral face."""
    match = _PAIN.match(base)
    if match:
        return match.group("subject"), False
    match = _NEUTRAL.match(base)
    if match:
        return match.group("subject"), True
    return None


def read_annotation(file: Path) -> tuple[np.ndarray, float]:
    """Return ((6,) AUs in AU_NAMES order, PSPI) from one ``<base>_annotations.json`` file.

    A missing AU key means 0; a missing PSPI is computed from the AUs; a PSPI that differs from the
    AUs' (by more than rounding) is an error naming the file.
    """
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PainctlError(f"{file}: not a valid JSON annotation ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise PainctlError(f"{file}: expected a JSON object with keys {', '.join(AU_NAMES)} (and optionally PSPI)")
    values = {}
    for name in (*AU_NAMES, "PSPI"):
        value = data.get(name, None if name == "PSPI" else 0)
        if value is None and name == "PSPI":
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise PainctlError(f"{file}: {name} must be a number, got {value!r}")
        values[name] = float(value)
    au = np.array([values[n] for n in AU_NAMES], dtype=np.float32)
    if np.any(au < 0) or np.any(au > AU_MAX):
        raise PainctlError(f"{file}: AU intensities must lie in 0-5 (AU43 in 0-1), got {au.tolist()}")
    computed = float(pspi(au))
    if "PSPI" in values:
        if not 0 <= values["PSPI"] <= PSPI_MAX:
            raise PainctlError(f"{file}: PSPI {values['PSPI']:g} is outside 0-{PSPI_MAX:g}")
        if abs(values["PSPI"] - computed) > PSPI_TOLERANCE:
            raise PainctlError(
                f"{file}: PSPI {values['PSPI']:g} disagrees with its AUs (AU4 + max(AU6, AU7) + max(AU9, AU10) + AU43 = {computed:g})"
            )
    return au, computed


def _files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in suffixes and p.is_file())


def load_threedpain(root: str | Path) -> list[Frame]:
    """Read every labelled image of a 3D-Pain tree at ``root`` into :class:`Frame` records.

    Images of pain bases take their labels from ``annotations/<base>_annotations.json`` (an image of a
    pain base without one is an error naming both); images of neutral bases are all-zero (a neutral
    JSON, as painctl wrote before, is read too); images naming neither are skipped. ``key`` is the
    image path relative to the image folder; ``heatmap`` is heatmaps/<image stem>.*, else the heatmap of
    the same base and view (``_heatmap`` in its name ignored), else heatmaps/<base>.*.
    """
    root = Path(root)
    images_dir = image_dir(root)
    if images_dir is None or not (root / "annotations").is_dir():
        raise PainctlError(f"{root}: not a 3D-Pain tree (expected meshes_inpainted/ and annotations/)")
    annotations = {
        p.name[: -len(ANNOTATION_SUFFIX)]: p for p in sorted((root / "annotations").iterdir()) if p.name.endswith(ANNOTATION_SUFFIX)
    }
    heatmap_files = _files(root / "heatmaps", HEATMAP_SUFFIXES)
    heatmaps = {p.stem: p for p in heatmap_files}
    # Heatmaps named in another style than their image (..._heatmap_view_000.png for a
    # ..._textured_view_000_inpainted.jpg) are found by base and view.
    heatmap_views = {}
    for p in heatmap_files:
        stem = p.stem.replace("_heatmap", "")
        heatmap_views.setdefault((base_name(stem), view_key(stem, base_name(stem))), p)
    cache: dict[str, tuple[np.ndarray, float]] = {}
    frames: list[Frame] = []
    for image in _files(images_dir, IMAGE_SUFFIXES):
        stem = image.stem
        base = base_name(stem)
        who = subject_of(base)
        if who is None:
            continue  # not a dataset image (no _pain_<n> or _neutral in its base)
        subject, neutral = who
        if base not in cache:
            if base in annotations:
                cache[base] = read_annotation(annotations[base])
            elif neutral:
                cache[base] = (np.zeros(len(AU_NAMES), np.float32), 0.0)
            else:
                raise PainctlError(f"{image}: no annotation file annotations/{base}{ANNOTATION_SUFFIX}")
        au, value = cache[base]
        view = view_key(stem, base)
        frames.append(
            Frame(
                image=image,
                subject=subject,
                pspi=value,
                au=au.copy(),
                view=view,
                is_neutral=neutral,
                heatmap=heatmaps.get(stem) or heatmap_views.get((base, view)) or heatmaps.get(base),
                key=image.relative_to(images_dir).as_posix(),
            )
        )
    if not frames:
        raise PainctlError(f"{root}: no images named <identity>_pain_<n>* or <identity>_neutral* under {images_dir.name}/")
    return frames


def base_of_frame(frame: Frame) -> str:
    """The 3D-Pain base name of a frame read by :func:`load_threedpain` (from its image name)."""
    return base_name(Path(frame.image).stem)
