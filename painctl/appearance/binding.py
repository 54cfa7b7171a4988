"""Binding points to a deforming head: each point is stored in the local frame of one head triangle.

A point p bound to triangle (a, b, c) keeps coordinates (alpha, beta, gamma) with
``p = a + alpha (b - a) + beta (c - a) + gamma n`` (n the unit normal, gamma in metres), fixed on
the neutral head and re-evaluated on every frame's vertices. Points on the skin (gamma = 0) follow
it exactly; points off it (a lash tip, a brow hair lifted off the skin) turn with the triangle, so
a lash rotates with its lid as the lid closes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Binding:
    """N points bound to head triangles: ``tri`` (N,3) vertex ids, ``coords`` (N,3) (alpha, beta, gamma)."""

    tri: np.ndarray
    coords: np.ndarray

    def evaluate(self, vertices: np.ndarray) -> np.ndarray:
        """Return the (N,3) float32 positions of the bound points on ``vertices`` (V,3) metres."""
        a, b, c = (vertices[self.tri[:, k]].astype(np.float64) for k in range(3))
        e1, e2 = b - a, c - a
        n = np.cross(e1, e2)
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
        al, be, ga = self.coords[:, :1], self.coords[:, 1:2], self.coords[:, 2:3]
        return (a + al * e1 + be * e2 + ga * n).astype(np.float32)


def bind(points: np.ndarray, vertices: np.ndarray, tri: np.ndarray) -> Binding:
    """Bind ``points`` (N,3) to the given triangles ``tri`` (N,3) vertex ids of the neutral ``vertices``."""
    a, b, c = (vertices[tri[:, k]].astype(np.float64) for k in range(3))
    e1, e2 = b - a, c - a
    n = np.cross(e1, e2)
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    d = points.astype(np.float64) - a
    gamma = (d * n).sum(1)
    d = d - gamma[:, None] * n
    # Solve d = alpha e1 + beta e2 in the triangle's plane (2x2 normal equations).
    g11, g12, g22 = (e1 * e1).sum(1), (e1 * e2).sum(1), (e2 * e2).sum(1)
    r1, r2 = (d * e1).sum(1), (d * e2).sum(1)
    det = np.maximum(g11 * g22 - g12 * g12, 1e-30)
    alpha = (r1 * g22 - r2 * g12) / det
    beta = (r2 * g11 - r1 * g12) / det
    return Binding(np.asarray(tri, np.int64), np.stack([alpha, beta, gamma], axis=1))


def project_front(xy: np.ndarray, vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project points ``xy`` (N,2) metres along -Z onto the front-most of ``faces`` (F,3) of ``vertices``.

    Returns (points (N,3) on the surface, triangle vertex ids (N,3)); a point no face covers gets
    the nearest face's plane (by centroid).
    """
    xy = np.asarray(xy, np.float64)
    faces = np.asarray(faces)
    # Only faces whose xy box meets the points' box (5 mm margin) can hold them.
    corners = vertices[faces][..., :2]
    lo_xy, hi_xy = xy.min(axis=0) - 0.005, xy.max(axis=0) + 0.005
    near_box = ((corners.max(axis=1) >= lo_xy) & (corners.min(axis=1) <= hi_xy)).all(axis=1)
    if near_box.any():
        faces = faces[near_box]
    tri = vertices[faces].astype(np.float64)  # (F,3,3)
    p0 = tri[:, 0, :2]
    d1, d2 = tri[:, 1, :2] - p0, tri[:, 2, :2] - p0
    det = d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]
    ok = np.abs(det) > 1e-14
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    centroid = tri.mean(axis=1)
    best = np.zeros(len(xy), np.int64)
    z_best = np.full(len(xy), -np.inf)
    for lo in range(0, len(xy), 256):  # chunks of points against every face: (256, F) arrays
        q = xy[lo:lo + 256]
        r = q[:, None, :] - p0[None]
        u = (r[..., 0] * d2[None, :, 1] - r[..., 1] * d2[None, :, 0]) * inv[None]
        v = (d1[None, :, 0] * r[..., 1] - d1[None, :, 1] * r[..., 0]) * inv[None]
        inside = ok[None] & (u >= -1e-9) & (v >= -1e-9) & (u + v <= 1 + 1e-9)
        z = tri[None, :, 0, 2] + u * (tri[None, :, 1, 2] - tri[None, :, 0, 2]) + v * (tri[None, :, 2, 2] - tri[None, :, 0, 2])
        z = np.where(inside, z, -np.inf)
        f = np.argmax(z, axis=1)
        zf = z[np.arange(len(q)), f]
        # Uncovered points: the nearest face by centroid, at its centroid's depth.
        near = np.argmin(((centroid[None, :, :2] - q[:, None]) ** 2).sum(-1), axis=1)
        covered = np.isfinite(zf)
        best[lo:lo + 256] = np.where(covered, f, near)
        z_best[lo:lo + 256] = np.where(covered, zf, centroid[near, 2])
    return np.column_stack([xy, z_best]), faces[best].astype(np.int64)
