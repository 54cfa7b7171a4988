"""Find and crop the face in a photo with OpenCV's bundled Haar cascade (no download, CPU only)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from painctl.errors import PainctlError

CASCADE = "haarcascade_frontalface_default.xml"
#: Border added around the detected box on each side, as a fraction of its side: the detector's box
#: is tight around eyes-to-mouth, ViTPain's training crops include brows and chin.
DEFAULT_MARGIN = 0.2


@lru_cache(maxsize=1)
def _detector():
    import cv2

    if not hasattr(cv2, "CascadeClassifier"):
        raise PainctlError("this OpenCV has no Haar cascades (OpenCV 5 dropped them): install opencv-python-headless<5 for {crop=True}", params=("crop=True",))
    path = Path(cv2.data.haarcascades) / CASCADE
    detector = cv2.CascadeClassifier(str(path))
    if detector.empty():
        raise PainctlError(f"OpenCV's face detector {path} is missing or unreadable")
    return detector


def detect_faces(image: Image.Image, min_size: int = 24) -> np.ndarray:
    """Return the faces found in ``image`` as int (K, 4) boxes ``x, y, width, height`` in pixels, largest first."""
    import cv2

    grey = np.asarray(image.convert("L"))
    grey = cv2.equalizeHist(grey)
    boxes = _detector().detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(min_size, min_size))
    boxes = np.asarray(boxes, dtype=np.int64).reshape(-1, 4)
    return boxes[np.argsort(-(boxes[:, 2] * boxes[:, 3]), kind="stable")]


def crop_face(image: Image.Image, margin: float = DEFAULT_MARGIN) -> Image.Image | None:
    """Return the largest face of ``image`` as a square RGB crop (``margin`` of its side added on each
    side, black outside the photo), or None when no face is found."""
    boxes = detect_faces(image)
    if not len(boxes):
        return None
    x, y, w, h = (float(v) for v in boxes[0])
    side = max(w, h) * (1 + 2 * margin)
    cx, cy = x + w / 2, y + h / 2
    box = tuple(int(round(v)) for v in (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2))
    return image.convert("RGB").crop(box)


__all__ = ["crop_face", "detect_faces"]
