"""Backgrounds behind rendered faces: procedural rooms, plain grey, smooth noise, gradients or photos from a folder.

Every background is an (H,W,3) float32 sRGB image in [0,1], a pure function of its kind and a
numpy Generator, so the neutral and pain renders of one identity and view get the same one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from painctl.errors import BadValue, PainctlError

#: Built-in kinds; anything else given to --background is a directory of images.
KINDS = ("room", "plain", "noise", "gradient")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
PLAIN_GREY = 0.5


def image_files(directory: str | Path) -> list[Path]:
    """Return the image files (sorted by name) directly inside ``directory``; raise if there are none."""
    root = Path(directory)
    if not root.is_dir():
        raise BadValue("background", f"{directory}: not one of {', '.join(KINDS)} and not a directory")
    files = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise PainctlError(f"{{background}} {directory}: the directory has no images ({', '.join(IMAGE_SUFFIXES)})", params=("background",))
    return files


def plain(size: tuple[int, int]) -> np.ndarray:
    """Return a uniform mid-grey (H,W,3) background for ``size`` = (width, height)."""
    width, height = size
    return np.full((height, width, 3), PLAIN_GREY, np.float32)


def noise(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Return smooth coloured noise: a coarse random grid bilinearly enlarged, around a random tint."""
    from PIL import Image

    width, height = size
    cells = int(rng.integers(4, 12))
    tint = rng.uniform(0.25, 0.75, size=3)
    coarse = np.clip(tint + rng.normal(0.0, 0.15, size=(cells, cells, 3)), 0.0, 1.0)
    img = Image.fromarray((coarse * 255 + 0.5).astype(np.uint8)).resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.float32) / 255.0


def gradient(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Return a linear gradient between two random colours along a random direction."""
    width, height = size
    a, b = rng.uniform(0.1, 0.9, size=(2, 3))
    angle = rng.uniform(0.0, 2.0 * np.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    t = (xs / max(width - 1, 1) - 0.5) * np.cos(angle) + (ys / max(height - 1, 1) - 0.5) * np.sin(angle)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    return (a[None, None] * (1.0 - t[..., None]) + b[None, None] * t[..., None]).astype(np.float32)


def from_file(path: Path, size: tuple[int, int]) -> np.ndarray:
    """Return the image at ``path`` scaled to cover ``size`` = (width, height) and centre-cropped."""
    from PIL import Image

    width, height = size
    try:
        with Image.open(path) as src:
            img = src.convert("RGB")
    except (OSError, ValueError) as exc:
        raise PainctlError(f"{path}: background image cannot be read ({exc.__class__.__name__})") from None
    scale = max(width / img.width, height / img.height)
    img = img.resize((max(width, round(img.width * scale)), max(height, round(img.height * scale))), Image.Resampling.BILINEAR)
    left, top = (img.width - width) // 2, (img.height - height) // 2
    return np.asarray(img.crop((left, top, left + width, top + height)), dtype=np.float32) / 255.0


def make_background(kind: str, size: tuple[int, int], rng: np.random.Generator, files: list[Path] | None = None) -> np.ndarray:
    """Return an (H,W,3) float32 background of ``kind`` (room, plain, noise, gradient, or "dir" with ``files``).

    A room drawn here is the frontal view of a room drawn from ``rng``; render-views draws one
    room per identity and paints it per view (:mod:`painctl.appearance.scene`)."""
    if kind == "room":
        from painctl.appearance.scene import draw_room, paint_room

        return paint_room(draw_room(rng), size)
    if kind == "plain":
        return plain(size)
    if kind == "noise":
        return noise(size, rng)
    if kind == "gradient":
        return gradient(size, rng)
    if kind == "dir":
        if not files:
            raise PainctlError("a directory background needs image files")
        return from_file(files[int(rng.integers(len(files)))], size)
    raise PainctlError(f"unknown background {kind!r}")


def composite(rgb: np.ndarray, alpha: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Return ``rgb`` (H,W,3) over ``background`` (H,W,3) with coverage ``alpha`` (H,W), float32."""
    a = np.asarray(alpha, dtype=np.float32)[..., None]
    return (rgb * a + background * (1.0 - a)).astype(np.float32)
