"""The mesh a render takes: geometry, optional UV texture or vertex colours, and a skin material."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from painctl.errors import PainctlError

#: Albedo (sRGB, 0-1) used when a mesh has neither a texture nor vertex colours: a mid skin tone.
DEFAULT_ALBEDO = (0.78, 0.60, 0.50)


@dataclass
class Mesh:
    """A triangle mesh to render.

    vertices (V,3) float32 metres; faces (F,3) int32 vertex indices. Albedo comes from ``texture``
    (H,W,3) float32 sRGB in [0,1] sampled at ``uv`` (T,2) through ``uv_faces`` (F,3) (or through
    ``faces`` when uv has one row per vertex), else from ``vertex_colors`` (V,3) sRGB [0,1], else
    :data:`DEFAULT_ALBEDO`. ``specular`` (reflectance at normal incidence, 0-1) and ``roughness``
    (0-1) are scalars, per-vertex arrays (V,), or UV maps (H,W) sampled like the texture.
    ``wrap`` widens the diffuse lobe for the soft look of skin (0 = plain Lambert). A texture
    may be (H,W,4): its alpha cuts the surface out where it is below ``alpha_cutoff`` (hair cards,
    lashes). ``shading`` overrides the render call's shading flag for this mesh (None: follow it),
    so a part drawn with an unlit, pre-lit head can still be lit.

    ``strand_tangents`` (V,3) makes the mesh hair (cards, shells): it is lit with an anisotropic
    (Kajiya-Kay) highlight across these strand directions, ``specular`` is then the highlight's
    strength and ``roughness`` its width; the texture's rgb multiplies the vertex colours (strand
    shading times hair colour) and its alpha (strand length) is cut out below ``strand_cutoff``
    (V,), per vertex so shell layers can cut longer strands (default: ``alpha_cutoff``); its
    texture tiles (uv wraps around the head).
    """

    vertices: np.ndarray
    faces: np.ndarray
    vertex_colors: np.ndarray | None = None
    uv: np.ndarray | None = None
    uv_faces: np.ndarray | None = None
    texture: np.ndarray | None = None
    specular: float | np.ndarray = 0.04
    roughness: float | np.ndarray = 0.45
    wrap: float = 0.25
    alpha_cutoff: float = 0.5
    shading: bool | None = None
    strand_tangents: np.ndarray | None = None
    strand_cutoff: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.vertices = np.ascontiguousarray(self.vertices, dtype=np.float32)
        self.faces = np.ascontiguousarray(self.faces, dtype=np.int32)
        v = len(self.vertices)
        if self.vertices.ndim != 2 or self.vertices.shape[1] != 3:
            raise PainctlError(f"mesh vertices must have shape (V, 3), got {self.vertices.shape}")
        if self.faces.ndim != 2 or self.faces.shape[1] != 3 or len(self.faces) == 0:
            raise PainctlError(f"mesh faces must have shape (F, 3) with F > 0, got {self.faces.shape}")
        if self.faces.min() < 0 or self.faces.max() >= v:
            raise PainctlError(f"mesh faces index vertices outside 0..{v - 1}")
        if not np.all(np.isfinite(self.vertices)):
            raise PainctlError("mesh vertices contain NaN or infinite values")
        if self.vertex_colors is not None:
            self.vertex_colors = np.ascontiguousarray(self.vertex_colors, dtype=np.float32)
            if self.vertex_colors.shape != (v, 3):
                raise PainctlError(f"vertex colours must have shape ({v}, 3), got {self.vertex_colors.shape}")
        if self.texture is not None:
            self.texture = np.asarray(self.texture, dtype=np.float32)
            if self.texture.ndim != 3 or self.texture.shape[2] not in (3, 4):
                raise PainctlError(f"texture must have shape (H, W, 3) or (H, W, 4), got {self.texture.shape}")
            if self.uv is None:
                raise PainctlError("a textured mesh needs uv coordinates")
        if self.uv is not None:
            self.uv = np.ascontiguousarray(self.uv, dtype=np.float32)
            if self.uv.ndim != 2 or self.uv.shape[1] != 2:
                raise PainctlError(f"uv must have shape (T, 2), got {self.uv.shape}")
            if self.uv_faces is None:
                if len(self.uv) != v:
                    raise PainctlError("uv without uv_faces must have one row per vertex")
                self.uv_faces = self.faces
            self.uv_faces = np.ascontiguousarray(self.uv_faces, dtype=np.int32)
            if self.uv_faces.shape != self.faces.shape:
                raise PainctlError(f"uv_faces must have the shape of faces {self.faces.shape}, got {self.uv_faces.shape}")
            if self.uv_faces.min() < 0 or self.uv_faces.max() >= len(self.uv):
                raise PainctlError(f"uv_faces index uv rows outside 0..{len(self.uv) - 1}")
        if self.strand_tangents is not None:
            self.strand_tangents = np.ascontiguousarray(self.strand_tangents, dtype=np.float32)
            if self.strand_tangents.shape != (v, 3):
                raise PainctlError(f"strand tangents must have shape ({v}, 3), got {self.strand_tangents.shape}")
        if self.strand_cutoff is not None:
            self.strand_cutoff = np.ascontiguousarray(self.strand_cutoff, dtype=np.float32)
            if self.strand_cutoff.shape != (v,) or self.strand_tangents is None:
                raise PainctlError(f"strand cutoff must have shape ({v},) and come with strand tangents")
        for name in ("specular", "roughness"):
            value = getattr(self, name)
            if np.ndim(value) == 0:
                setattr(self, name, float(value))
                continue
            array = np.asarray(value, dtype=np.float32)
            if array.shape == (v,):
                pass
            elif array.ndim == 2 and self.uv is not None:
                pass
            else:
                raise PainctlError(f"{name} must be a scalar, ({v},) per vertex, or an (H, W) UV map with uv given; got {array.shape}")
            setattr(self, name, array)

    @property
    def textured(self) -> bool:
        return self.texture is not None

    def vertex_normals(self) -> np.ndarray:
        """Return area-weighted smooth unit normals (V,3) float32 (computed once per Mesh: a Mesh is
        not changed after it is made; treat the array as read-only)."""
        cached = self.__dict__.get("_vertex_normals")
        if cached is None:
            cached = self.__dict__["_vertex_normals"] = vertex_normals(self.vertices, self.faces)
        return cached


def face_offsets(meshes) -> np.ndarray:
    """Return (M+1,) int64 cumulative face counts of ``meshes`` drawn together in one render.

    A render of several meshes numbers triangles across them in order: mesh ``m`` owns triangle
    ids ``offsets[m] <= t < offsets[m+1]``; :func:`mesh_index` maps a triangle image to mesh ids.
    """
    return np.concatenate([[0], np.cumsum([len(m.faces) for m in meshes])]).astype(np.int64)


def mesh_index(triangle: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Return (H,W) int32: which mesh (0..M-1) each pixel of a ``triangle`` image shows, -1 on background."""
    index = np.searchsorted(offsets, triangle, side="right").astype(np.int32) - 1
    index[triangle < 0] = -1
    return index


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Return area-weighted unit vertex normals (V,3) float32 of a triangle mesh (outward for CCW faces)."""
    v = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces)
    # Each corner's positions gathered as one contiguous column of ids (np.take), and the cross
    # product of the edges spelt out as np.cross computes it (a1*b2 - a2*b1, ...): the same numbers.
    columns = np.ascontiguousarray(faces.T)
    p0 = np.take(v, columns[0], axis=0)
    a, b = np.take(v, columns[1], axis=0) - p0, np.take(v, columns[2], axis=0) - p0
    corners = faces.reshape(-1)
    normals = np.empty((len(v), 3))
    for k, (i, j) in enumerate(((1, 2), (2, 0), (0, 1))):
        face_n = a[:, i] * b[:, j]  # length = 2 * area
        face_n -= a[:, j] * b[:, i]
        # Each face adds its area-weighted normal to its three corners (bincount is the fast scatter-add).
        normals[:, k] = np.bincount(corners, weights=np.repeat(face_n, 3), minlength=len(v))
    # The length as np.linalg.norm sums it, (x^2 + y^2) + z^2.
    length = normals[:, :1] * normals[:, :1]
    length += normals[:, 1:2] * normals[:, 1:2]
    length += normals[:, 2:] * normals[:, 2:]
    np.sqrt(length, out=length)
    normals = np.where(length > 0, normals / np.maximum(length, 1e-30), np.array([0.0, 0.0, 1.0]))
    return normals.astype(np.float32)
