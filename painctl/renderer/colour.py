"""The sRGB transfer curve, both ways: shading and pigment mixing happen in linear light."""

from __future__ import annotations

import numpy as np


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """Encode linear RGB (any shape, clipped to [0, 1]) with the sRGB transfer curve."""
    c = np.clip(linear, 0.0, 1.0)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * np.power(c, 1 / 2.4) - 0.055)


def srgb_to_linear(srgb) -> np.ndarray:
    """Decode sRGB values (any shape, clipped to [0, 1]) to linear RGB, float64."""
    c = np.clip(np.asarray(srgb, np.float64), 0.0, 1.0)
    return np.where(c <= 0.04045, c / 12.92, np.power((c + 0.055) / 1.055, 2.4))
