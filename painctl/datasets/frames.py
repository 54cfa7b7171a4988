"""One labelled face image, whatever dataset it came from: the unit ViTPain trains and tests on."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Frame:
    """A face image with its labels.

    ``subject`` is the person (UNBC subject, synthetic identity): splits are made by it, never by
    frame. ``au`` has shape (6,) in :data:`painctl.facs.AU_NAMES` order, NaN where not annotated.
    ``view`` names the camera for multi-view synthetic data ("" for real video); neutral references
    are taken from the same subject (and the same view when there is one). ``landmarks`` are (K, 2)
    pixel coordinates used to crop and align the face (None when the image is already a face crop).
    ``heatmap`` is a float32 .npy/PNG path of the pain-region heatmap where the dataset has one.
    """

    image: Path
    subject: str
    pspi: float
    au: np.ndarray = field(default_factory=lambda: np.full(6, np.nan, dtype=np.float32))
    view: str = ""
    is_neutral: bool = False
    landmarks: np.ndarray | None = None
    heatmap: Path | None = None
    key: str = ""  # a stable, unique name for the frame (for prediction CSVs)
