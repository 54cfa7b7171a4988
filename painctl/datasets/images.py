"""Load a frame's face image as RGB, cropped and aligned around its landmarks when it has them."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from painctl.artefact.images import to_rgb
from painctl.datasets.frames import Frame
from painctl.errors import PainctlError

#: Eye landmarks of the 66-point AAM (UNBC-McMaster) and 68-point iBUG schemes, which share points 0-59.
LEFT_EYE = slice(36, 42)
RIGHT_EYE = slice(42, 48)
#: Extra border around the landmarks' bounding box, as a fraction of its larger side, on each side.
DEFAULT_MARGIN = 0.2


def open_rgb(path: str | Path) -> Image.Image:
    """Open ``path`` as an RGB PIL image, fully decoded; PainctlError if it is not a readable image."""
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.load()
                # 16-bit grey scaled by its range (a plain convert clips it to white), palettes expanded.
                return to_rgb(img)
    except FileNotFoundError:
        raise PainctlError(f"{path}: no such image file") from None
    except (Image.UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PainctlError(f"{path}: not an image PIL can read ({exc.__class__.__name__})") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise PainctlError(f"{path}: damaged or unreadable image ({exc})") from None


def eye_angle(landmarks: np.ndarray) -> float:
    """Return the angle (radians) of the line from the left-eye to the right-eye centre in the image.

    Needs the 66/68-point layout; 0.0 for other landmark sets (no rotation).
    """
    if landmarks.shape[0] not in (66, 68):
        return 0.0
    left = landmarks[LEFT_EYE].mean(axis=0)
    right = landmarks[RIGHT_EYE].mean(axis=0)
    return math.atan2(float(right[1] - left[1]), float(right[0] - left[0]))


def face_transform(landmarks: np.ndarray, size: int, margin: float = DEFAULT_MARGIN) -> tuple[float, ...]:
    """Return the PIL affine coefficients mapping a ``size`` x ``size`` aligned face crop to the image.

    The crop is the square (in the eye-levelled frame) around ``landmarks`` (K, 2 pixel coordinates)
    grown by ``margin`` of its side on each side; output pixel (u, v) samples input
    ``(a u + b v + c, d u + e v + f)``.
    """
    pts = np.asarray(landmarks, dtype=np.float64)
    theta = eye_angle(pts)
    cos, sin = math.cos(theta), math.sin(theta)
    centre = pts.mean(axis=0)
    # Landmarks in the levelled frame: rotate by -theta about their mean.
    rel = pts - centre
    levelled = np.stack([rel[:, 0] * cos + rel[:, 1] * sin, -rel[:, 0] * sin + rel[:, 1] * cos], axis=1)
    lo, hi = levelled.min(axis=0), levelled.max(axis=0)
    side = max(float((hi - lo).max()), 1.0) * (1 + 2 * margin)
    mid = (lo + hi) / 2
    cx = centre[0] + mid[0] * cos - mid[1] * sin
    cy = centre[1] + mid[0] * sin + mid[1] * cos
    scale = side / size
    # PIL works in continuous coordinates (pixel i spans [i, i + 1)); landmarks index pixel centres.
    # (u, v) -> centre + scale * ((u - size/2) * (cos, sin) + (v - size/2) * (-sin, cos)).
    a, b = scale * cos, -scale * sin
    d, e = scale * sin, scale * cos
    half = size / 2
    return (a, b, cx + 0.5 - (a + b) * half, d, e, cy + 0.5 - (d + e) * half)


def load_face_image(frame: Frame, size: int | None = None, margin: float = DEFAULT_MARGIN) -> Image.Image:
    """Return the RGB face image of ``frame`` (PIL), ``size`` x ``size`` pixels when ``size`` is given.

    With ``frame.landmarks`` the face is cut out as a square around the landmarks (``margin`` of the
    side added on each side) and rotated so the eye line is level; pixels outside the image are black.
    Without landmarks the image is taken as a face crop: centre-cropped to a square and resized.
    Raises PainctlError when the file is not an image or the landmarks are unusable.
    """
    img = open_rgb(frame.image)
    if frame.landmarks is not None:
        pts = np.asarray(frame.landmarks, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] < 3 or not np.all(np.isfinite(pts)):
            raise PainctlError(f"{frame.image}: landmarks must be finite (K, 2) points, got shape {pts.shape}")
        if size is None:
            span = pts.max(axis=0) - pts.min(axis=0)
            size = max(int(round(float(span.max()) * (1 + 2 * margin))), 1)
        coeffs = face_transform(pts, size, margin)
        native = int(round(math.hypot(coeffs[0], coeffs[3]) * size))  # the crop's side in image pixels
        if native <= 1.5 * size:
            return img.transform((size, size), Image.Transform.AFFINE, coeffs, resample=Image.Resampling.BILINEAR, fillcolor=(0, 0, 0))
        # Shrinking more than 1.5x: cut out at the image's own scale, then resize with a filter as
        # wide as the shrink (an affine transform samples points, so a face rendered at 224 px and
        # read at 64 would alias its noise and edges, unlike the same face rendered at 128).
        crop = img.transform((native, native), Image.Transform.AFFINE, face_transform(pts, native, margin),
                             resample=Image.Resampling.BILINEAR, fillcolor=(0, 0, 0))
        return crop.resize((size, size), Image.Resampling.BILINEAR)
    if img.width != img.height:
        side = min(img.width, img.height)
        left, top = (img.width - side) // 2, (img.height - side) // 2
        img = img.crop((left, top, left + side, top + side))
    if size is not None and img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.BILINEAR)
    return img


def check_images(frames: list[Frame]) -> None:
    """Check that every frame's image file exists and has an image header PIL reads (cheap: pixels are
    not decoded), so a bad file stops a long run before it starts. Raises PainctlError naming the file."""
    from painctl import console

    for frame in console.track(frames, total=len(frames), description="checking images"):
        try:
            with Image.open(frame.image) as img:
                if img.width < 1 or img.height < 1:
                    raise PainctlError(f"{frame.image}: image has no pixels")
        except FileNotFoundError:
            raise PainctlError(f"{frame.image}: no such image file") from None
        except (Image.UnidentifiedImageError, Image.DecompressionBombError) as exc:
            raise PainctlError(f"{frame.image}: not an image PIL can read ({exc.__class__.__name__})") from None
        except OSError as exc:
            raise PainctlError(f"{frame.image}: unreadable image ({exc})") from None
