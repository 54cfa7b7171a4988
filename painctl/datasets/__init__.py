"""Labelled face images for ViTPain, read from any supported dataset into :class:`Frame` records.

Formats: painctl render-views/heatmap artefacts, the released 3D-Pain layout and UNBC-McMaster as it
is distributed. :func:`load_frames` detects which one a path holds.
"""

from __future__ import annotations

from pathlib import Path

from painctl.datasets.frames import Frame
from painctl.errors import PainctlError

FORMATS = ("painctl-artefact", "3dpain", "unbc")


def _detect(path: Path) -> str | None:
    from painctl.datasets.artefact import is_artefact
    from painctl.datasets.threedpain import is_threedpain
    from painctl.datasets.unbc import is_unbc

    if is_artefact(path):
        return "painctl-artefact"
    if is_threedpain(path):
        return "3dpain"
    if is_unbc(path):
        return "unbc"
    return None


def _resolve(path: str | Path) -> tuple[Path, str]:
    path = Path(path)
    if not path.exists():
        raise PainctlError(f"{path}: no such file or directory")
    if not path.is_dir():
        raise PainctlError(f"{path}: not a dataset directory (expected a painctl artefact, 3D-Pain or UNBC-McMaster folder)")
    found = _detect(path)
    if found is None:
        # An archive often unpacks into one folder: look one level down.
        children = [p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")]
        if len(children) == 1 and (found := _detect(children[0])) is not None:
            return children[0], found
        raise PainctlError(
            f"{path}: not a known dataset (expected a painctl render-views/heatmap artefact with manifest.json, "
            "the 3D-Pain layout with meshes_inpainted/ and annotations/, or UNBC-McMaster with Images/ and Frame_Labels/)"
        )
    return path, found


def detect_format(path: str | Path) -> str:
    """Return the format of the dataset at ``path``: "painctl-artefact", "3dpain" or "unbc".

    Raises PainctlError with one sentence when ``path`` is none of them.
    """
    return _resolve(path)[1]


def load_frames(path: str | Path) -> list[Frame]:
    """Read every labelled frame of the dataset at ``path`` (format detected) as :class:`Frame` records."""
    root, fmt = _resolve(path)
    if fmt == "painctl-artefact":
        from painctl.datasets.artefact import load_artefact_frames

        return load_artefact_frames(root)
    if fmt == "3dpain":
        from painctl.datasets.threedpain import load_threedpain

        return load_threedpain(root)
    from painctl.datasets.unbc import load_unbc

    return load_unbc(root)


__all__ = ["FORMATS", "Frame", "detect_format", "load_frames"]
