"""The sRGB transfer curve, both ways: shading and pigment mixing happen in linear light."""

from __future__ import annotations

import functools

import numpy as np


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """Encode linear RGB (any shape, clipped to [0, 1]) with the sRGB transfer curve."""
    c = np.clip(linear, 0.0, 1.0)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * np.power(c, 1 / 2.4) - 0.055)


def srgb_to_linear(srgb) -> np.ndarray:
    """Decode sRGB values (any shape, clipped to [0, 1]) to linear RGB, float64."""
    codes = eight_bit_codes(srgb)
    if codes is not None:
        # A render's colour is k/255: a lookup of the same 256 values is exact and ~10x cheaper.
        return _decode_table()[codes]
    return _decode(np.asarray(srgb, np.float64))


def _decode(c: np.ndarray) -> np.ndarray:
    c = np.clip(c, 0.0, 1.0)
    return np.where(c <= 0.04045, c / 12.92, np.power((c + 0.055) / 1.055, 2.4))


#: Arrays smaller than this are decoded directly: the 8-bit check would cost more than it saves.
_TABLE_MIN_SIZE = 4096
_STEP = np.float32(1.0 / 255.0)


def eight_bit_codes(values, min_size: int = _TABLE_MIN_SIZE) -> np.ndarray | None:
    """Return the uint8 codes k of a float32 array (any shape) whose every value is exactly
    k * float32(1/255) (what the moderngl backend reads back), else None (also for arrays of fewer than ``min_size`` values)."""
    if not isinstance(values, np.ndarray) or values.dtype != np.float32 or values.size < min_size:
        return None
    scaled = values * np.float32(255.0)
    if not (scaled.min() >= 0.0 and scaled.max() <= 255.0):
        return None
    codes = np.rint(scaled).astype(np.uint8)
    if not np.array_equal(codes.astype(np.float32) * _STEP, values):
        return None
    return codes


@functools.lru_cache(maxsize=None)
def _decode_table() -> np.ndarray:
    """srgb_to_linear of the 256 float32 values k * float32(1/255), as float64."""
    return _decode(np.asarray(np.arange(256, dtype=np.float32) * _STEP, np.float64))
