"""Carry any per-vertex quantity into an image through a render's triangle ids and barycentrics."""

from __future__ import annotations

import numpy as np

from painctl.renderer.result import RenderResult


def splat(result: RenderResult, values: np.ndarray, faces: np.ndarray, background: float = 0.0) -> np.ndarray:
    """Interpolate per-vertex ``values`` (V,) or (V,C) over the pixels of ``result``.

    ``faces`` (F,3) must be the faces the result was rendered with (the first mesh's, when several
    were drawn together: pixels of later meshes count as background). Returns float32 (H,W) or
    (H,W,C), aligned pixel for pixel with ``result.rgb``; background pixels hold ``background``.
    """
    values = np.asarray(values, dtype=np.float32)
    scalar = values.ndim == 1
    table = values[:, None] if scalar else values.reshape(len(values), -1)
    height, width = result.triangle.shape
    out = np.full((height, width, table.shape[1]), background, dtype=np.float32)
    mask = (result.triangle >= 0) & (result.triangle < len(faces))
    corners = np.asarray(faces)[result.triangle[mask]]  # (K,3) vertex ids
    weights = result.barycentric[mask]  # (K,3)
    out[mask] = np.einsum("kc,kcd->kd", weights, table[corners])
    if scalar:
        return out[..., 0]
    return out.reshape(height, width, *values.shape[1:])
