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
    tri = vertices[faces].astype(np.float64)  # (F,3,3)
    p0, p1, p2 = tri[:, 0, :2], tri[:, 1, :2], tri[:, 2, :2]
    out = np.zeros((len(xy), 3))
    ids = np.zeros((len(xy), 3), np.int64)
    d1, d2 = p1 - p0, p2 - p0
    det = d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]
    centroid = tri.mean(axis=1)
    for i, q in enumerate(np.asarray(xy, np.float64)):
        r = q[None] - p0
        with np.errstate(divide="ignore", invalid="ignore"):
            u = (r[:, 0] * d2[:, 1] - r[:, 1] * d2[:, 0]) / det
            v = (d1[:, 0] * r[:, 1] - d1[:, 1] * r[:, 0]) / det
        inside = (u >= -1e-9) & (v >= -1e-9) & (u + v <= 1 + 1e-9) & np.isfinite(u)
        if inside.any():
            z = tri[:, 0, 2] + u * (tri[:, 1, 2] - tri[:, 0, 2]) + v * (tri[:, 2, 2] - tri[:, 0, 2])
            z = np.where(inside, z, -np.inf)
            f = int(np.argmax(z))
            out[i] = [q[0], q[1], z[f]]
        else:
            f = int(np.argmin(((centroid[:, :2] - q[None]) ** 2).sum(1)))
            out[i] = [q[0], q[1], centroid[f, 2]]
        ids[i] = faces[f]
    return out, ids
