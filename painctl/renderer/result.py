"""What one render returns: colour, coverage, depth and the surface point behind every pixel."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class RenderResult:
    """Per-pixel render outputs for an image H pixels tall and W wide (row 0 is the top).

    rgb (H,W,3) float32 sRGB in [0,1] (in 8-bit steps k/255 from the moderngl backend, as PNGs
    store it), black where nothing was drawn; alpha (H,W) float32, 1 on the
    mesh and 0 on the background; depth (H,W) float32 metres along the camera's view axis (not
    along the ray), +inf on the background; triangle (H,W) int32 face index, -1 on the background;
    barycentric (H,W,3) float32 perspective-correct weights of the face's three corners (sum 1 on
    the mesh, 0 on the background).
    """

    rgb: np.ndarray
    alpha: np.ndarray
    depth: np.ndarray
    triangle: np.ndarray
    barycentric: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """Return the (H,W) bool coverage mask."""
        return self.triangle >= 0

    @property
    def size(self) -> tuple[int, int]:
        """Return (width, height) in pixels."""
        return int(self.triangle.shape[1]), int(self.triangle.shape[0])

    def rgb_uint8(self) -> np.ndarray:
        """Return rgb as (H,W,3) uint8 (rounded), ready to save as PNG."""
        return (np.clip(self.rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
