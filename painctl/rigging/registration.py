"""Fit the built-in neutral head onto another head mesh: landmark (or ICP) alignment, then
non-rigid ICP (trimesh's Amberg et al. 2007), with a residual check that says when it fails."""

from __future__ import annotations

import numpy as np
import trimesh

from painctl.errors import PainctlError

#: Mean distance after registration, as a fraction of the head's height, above which we refuse.
MAX_RESIDUAL = 0.03
MIN_VERTICES = 200


def register_head(source_vertices: np.ndarray, source_faces: np.ndarray, target: trimesh.Trimesh,
                  source_landmarks: dict[str, int] | None = None, target_landmarks: dict[str, int] | None = None,
                  steps: int = 3) -> np.ndarray:
    """Return (V_s, 3) source vertices deformed to lie on ``target`` (both in painctl's frame).

    With landmark vertex ids on both meshes (same names) the rigid+scale start is a Procrustes fit
    of the shared landmarks; otherwise bounding boxes and ICP. Raises PainctlError naming why when
    the target is too small, degenerate, or the fit leaves a residual above MAX_RESIDUAL.
    """
    if len(target.vertices) < MIN_VERTICES or len(target.faces) < MIN_VERTICES:
        raise PainctlError(f"cannot register onto a mesh of {len(target.vertices)} vertices and {len(target.faces)} triangles: too few for a head (need {MIN_VERTICES}+)")
    extent = target.extents
    if not np.all(np.isfinite(target.vertices)) or extent.min() <= 0 or extent.max() / max(extent.min(), 1e-12) > 20:
        raise PainctlError("cannot register: the target mesh is degenerate (flat, non-finite or not head-shaped)")
    source = trimesh.Trimesh(source_vertices, source_faces, process=False)
    shared = sorted(set(source_landmarks or {}) & set(target_landmarks or {}))
    if len(shared) >= 4:
        a = source.vertices[[source_landmarks[k] for k in shared]]
        b = target.vertices[[target_landmarks[k] for k in shared]]
        matrix, _, _ = trimesh.registration.procrustes(a, b, reflection=False, scale=True)
    else:
        scale = target.extents[1] / source.extents[1]
        matrix = np.eye(4)
        matrix[:3, :3] *= scale
        matrix[:3, 3] = target.bounds.mean(0) - scale * source.bounds.mean(0)
        matrix, _, _ = trimesh.registration.icp(source.vertices, target, initial=matrix, max_iterations=40, scale=True)
    source.apply_transform(matrix)
    height = target.extents[1]
    schedule = [[0.02, 3, 0.5, 10], [0.007, 3, 0.5, 10], [0.002, 3, 0.5, 10], [0.0008, 3, 0.5, 10]][:steps]
    fitted = trimesh.registration.nricp_amberg(source, target, steps=schedule, distance_threshold=0.1 * height, use_faces=True, use_vertex_normals=True)
    _, distance, _ = trimesh.proximity.closest_point(target, fitted)
    residual = float(np.mean(distance)) / height
    if not np.isfinite(residual) or residual > MAX_RESIDUAL:
        raise PainctlError(
            f"registration could not fit the built-in head onto this mesh: mean residual {100 * residual:.1f}% of the head's "
            f"height (limit {100 * MAX_RESIDUAL:.0f}%); is it a head in painctl's frame (+Y up, face toward +Z)?"
        )
    return np.asarray(fitted, dtype=np.float64)
