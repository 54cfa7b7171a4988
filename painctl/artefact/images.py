"""Image files read from and written to artefacts: verified on read, marked as painctl's on write."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from painctl import __version__
from painctl.errors import ArtefactError, PainctlError

#: PNG text key that marks a file painctl wrote (so --force may replace it).
MARK_KEY = "Software"
MARK_VALUE = f"painctl {__version__}"


def verify_png(path: str | os.PathLike, where: str = "", name: str | None = None) -> None:
    """Raise ArtefactError unless ``path`` is a complete PNG whose chunks' checksums hold.

    Cheap (no pixel decoding): for images copied from one artefact to another. Messages name the
    file ``name`` (its path inside the artefact ``where``), or ``path`` when no name is given.
    """
    prefix = f"{where}: " if where else ""
    path, shown = Path(path), name if name is not None else path
    try:
        with Image.open(path) as img:
            if img.format != "PNG":
                raise ArtefactError(f"{prefix}{shown}: is a {img.format} file, not a PNG")
            img.verify()
    except ArtefactError:
        raise
    except FileNotFoundError:
        raise ArtefactError(f"{prefix}{shown}: is missing") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ArtefactError(f"{prefix}{shown}: is not a readable PNG (corrupt or truncated: {exc.__class__.__name__})") from None


def load_rgb(path: str | os.PathLike, where: str = "", name: str | None = None) -> Image.Image:
    """Read any image file as an 8-bit RGB PIL image, fully decoded (errors become one-line messages).

    16-bit and 32-bit grey images are scaled to 8 bits by their type's range (a plain convert
    would clip them to white), palette images are expanded through their palette (with their
    transparency composed over black), alpha is dropped.
    """
    prefix = f"{where}: " if where else ""
    shown = name if name is not None else path
    try:
        with Image.open(path) as img:
            img.load()
            return to_rgb(img)
    except FileNotFoundError:
        raise PainctlError(f"{prefix}{shown}: no such image") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise PainctlError(f"{prefix}{shown}: is not a readable image (corrupt or truncated: {exc.__class__.__name__})") from None


def to_rgb(img: Image.Image) -> Image.Image:
    """Return ``img`` as 8-bit RGB, scaling high-bit-depth grey by its range instead of clipping."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        grey = (np.asarray(img, dtype=np.uint32) >> 8).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if mode == "I":
        values = np.asarray(img, dtype=np.int64)
        high = 65535 if img.format == "PNG" or values.max(initial=0) > 255 else 255
        return Image.fromarray((np.clip(values, 0, high) * 255 // high).astype(np.uint8), "L").convert("RGB")
    if mode == "F":
        values = np.nan_to_num(np.asarray(img, dtype=np.float32))
        high = 1.0 if values.max(initial=0) <= 1.0 else 255.0
        return Image.fromarray((np.clip(values / high, 0, 1) * 255).round().astype(np.uint8), "L").convert("RGB")
    if mode == "P":
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def png_info() -> PngImagePlugin.PngInfo:
    """Return PNG text chunks marking a file as written by painctl (pass as ``pnginfo=``)."""
    info = PngImagePlugin.PngInfo()
    info.add_text(MARK_KEY, MARK_VALUE)
    return info


def written_by_painctl(path: Path) -> bool:
    """True when ``path`` is a PNG carrying painctl's mark (see :func:`png_info`)."""
    try:
        with Image.open(path) as img:
            return img.format == "PNG" and str(img.info.get(MARK_KEY, "")).startswith("painctl")
    except (OSError, SyntaxError, ValueError):
        return False
