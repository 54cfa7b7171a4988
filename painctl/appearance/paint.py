"""Hair painted into the head's skin: a coverage-weighted tint of its texture (or vertex colours).

Hair finer than a pixel (a brow's bed of hairs, the lash line, stubble) cannot be drawn as
cut-out cards: without blending, a strand covers a pixel or misses it, and at 224 px a brow of
sub-pixel strands breaks into specks. Real photographs see such hair as the fraction of each pixel
it covers. A :class:`SkinPaint` layer holds that fraction (``coverage``, 0-1) on the texels of the
neutral head and the hair's colour, and tints the texture by it once per identity, so mip-mapped
texture filtering averages it as a camera would. Cards drawn over it add the strands a close view
resolves.

The textured head holds the light of the photo it was baked from; the hair is painted under that
same light by tinting each texel multiplicatively, ``texel * ((1 - a) + a * hair / skin)``, with
``skin`` the median linear colour of the layer's texels (the skin the hair grows from), so the
shading in the texture survives under the hair; the hair's share of a texel brighter than that
median is capped at :data:`MAX_SHADING` (a baked highlight is the skin's sheen, not the hair's).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import numpy as np

from painctl.renderer.colour import linear_to_srgb, srgb_to_linear


@dataclass
class HeadTexels:
    """Texels (``rows``, ``cols``) of a head texture and where they lie on the neutral head:
    ``points`` (K,3) metres, unit ``normals`` (K,3), and the ``corners`` (K,3) vertex ids and
    ``bary`` (K,3) weights of their triangles (to interpolate per-vertex values)."""

    rows: np.ndarray
    cols: np.ndarray
    points: np.ndarray
    normals: np.ndarray
    corners: np.ndarray
    bary: np.ndarray

    def interpolate(self, values: np.ndarray) -> np.ndarray:
        """Return per-vertex ``values`` (V,) interpolated at the texels (K,)."""
        return np.einsum("kc,kc->k", self.bary, np.asarray(values, np.float64)[self.corners])


def texel_points(identity, size: int, region: str = "face") -> HeadTexels:
    """Return the ``size`` texture's texels on the identity's neutral head that lie on triangles
    of ``region`` (all texels if the head has no such region)."""
    from painctl.appearance.uv import uv_texels

    texels = uv_texels(identity.uv, identity.uv_faces, size)
    faces = np.asarray(identity.faces)
    keep = np.ones(len(faces), bool)
    if region in identity.regions:
        member = np.zeros(len(identity.neutral), bool)
        member[np.asarray(identity.regions[region])] = True
        keep = member[faces].all(1)
    return texels_on(texels, faces, identity.neutral, keep)


def texels_on(texels, faces: np.ndarray, neutral: np.ndarray, keep: np.ndarray) -> HeadTexels:
    """Return the texels of the raster ``texels`` (:func:`painctl.appearance.uv.uv_texels`) that lie
    on the triangles of ``faces`` (F,3) where ``keep`` (F,) is set, with their points and unit
    normals on the ``neutral`` head (V,3) metres.

    Made once per (raster, faces, head, keep) and handed back to every later call (hair and beard
    ask for the same skin texels of one identity): its arrays are read-only."""
    faces = np.asarray(faces)
    v = np.asarray(neutral, np.float64)
    keep = np.asarray(keep, bool)
    key = (id(texels), faces.dtype.str, faces.shape, v.shape, keep.shape,
           hashlib.sha1(np.ascontiguousarray(faces).tobytes() + v.tobytes() + keep.tobytes()).digest())
    entry = _TEXELS_ON.get(key)
    if entry is not None and entry[0] is texels:
        return entry[1]
    found = _texels_on(texels, faces, v, keep)
    for array in (found.rows, found.cols, found.points, found.normals, found.corners, found.bary):
        array.setflags(write=False)
    while len(_TEXELS_ON) >= 8:
        _TEXELS_ON.pop(next(iter(_TEXELS_ON)))
    # The raster is held with the result, so its id is not reused while the entry lives.
    _TEXELS_ON[key] = (texels, found)
    return found


#: texels_on's results by (raster id, layout and head digest): (the raster, the HeadTexels).
_TEXELS_ON: dict[tuple, tuple] = {}


def _texels_on(texels, faces: np.ndarray, v: np.ndarray, keep: np.ndarray) -> HeadTexels:
    from painctl.renderer import vertex_normals

    if hasattr(texels, "inside"):
        # The raster's inside texels (row-major, as np.nonzero gives them) are worked out once per layout.
        rows, cols, tri, _ = texels.inside()
        pick = np.flatnonzero(keep[tri])
        rows, cols, tri = np.take(rows, pick), np.take(cols, pick), np.take(tri, pick)
        bary = np.take(texels.inside_barycentric64(), pick, axis=0)
    else:
        tri = texels.triangle
        mask = tri >= 0
        mask[mask] = keep[tri[mask]]
        rows, cols = np.nonzero(mask)
        tri = tri[rows, cols]
        bary = texels.barycentric[rows, cols].astype(np.float64)
    corners = np.take(faces, tri, axis=0)
    # Each texel's three corners (points, normals) copied as one row of its triangle's, the same
    # (K,3,3) arrays as indexing the vertices by ``corners``, at a third of the gathers (fancy
    # indexing: np.take is slow on 72-byte rows).
    f = len(faces)
    by_triangle = v[faces].reshape(f, 9)
    points = np.einsum("kc,kcd->kd", bary, by_triangle[tri].reshape(-1, 3, 3))
    by_triangle = vertex_normals(v, faces).astype(np.float64)[faces].reshape(f, 9)
    normals = np.einsum("kc,kcd->kd", bary, by_triangle[tri].reshape(-1, 3, 3))
    # The length as np.linalg.norm sums it, (x^2 + y^2) + z^2, without its temporaries.
    length = normals[:, :1] * normals[:, :1]
    length += normals[:, 1:2] * normals[:, 1:2]
    length += normals[:, 2:] * normals[:, 2:]
    np.sqrt(length, out=length)
    normals /= np.maximum(length, 1e-12)
    return HeadTexels(rows, cols, points, normals, corners, bary)


def hash_noise(points: np.ndarray, cell_m: float, stretch=(1.0, 1.0, 1.0), seed: int = 0) -> np.ndarray:
    """Return (K,) uniform 0-1 values, one per ``cell_m`` metre cell of ``points`` (K,3) (cells
    scaled by ``stretch`` per axis): a deterministic grain with no interpolation, for hair roots."""
    q = np.floor(points / (cell_m * np.asarray(stretch, np.float64))).astype(np.int64)
    h = (q[:, 0] * 73856093) ^ (q[:, 1] * 19349663) ^ (q[:, 2] * 83492791) ^ (seed * 2654435761)
    h = (h ^ (h >> 13)) * 1274126177
    h = h ^ (h >> 16)
    return (h & 0xFFFFFF).astype(np.float64) / float(0xFFFFFF)


#: The most light (relative to the skin's median texel) that hair painted into the skin reflects.
MAX_SHADING = 1.2


@dataclass
class SkinPaint:
    """Hair of linear-RGB ``colour`` (3,) or (K,3) covering ``coverage`` (K,) of the texels
    (``rows``, ``cols``) of a ``size`` x ``size`` head texture; ``vertex_coverage`` (V,) is the
    same on the head's vertices, for untextured (vertex-coloured) heads.

    A painted texel is ``texel * (1 - a) + a * colour * min(texel / skin, MAX_SHADING)``: the hair
    keeps the light baked into the texel (``skin`` is the layer's median texel), up to a cap."""

    rows: np.ndarray
    cols: np.ndarray
    coverage: np.ndarray
    colour: np.ndarray
    size: int
    vertex_coverage: np.ndarray | None = None

    def __post_init__(self) -> None:
        self._cache: tuple | None = None

    def apply(self, texture: np.ndarray) -> np.ndarray:
        """Return a copy of ``texture`` (H,W,3) sRGB with the hair painted in (unchanged if its size differs)."""
        if texture.shape[:2] != (self.size, self.size) or not len(self.rows):
            return texture
        out = np.array(texture, np.float32, copy=True)
        lin = srgb_to_linear(out[self.rows, self.cols, :3])
        skin = np.median(lin, axis=0)
        a = np.clip(self.coverage, 0.0, 1.0)[:, None]
        # The hair takes the texel's shading relative to the skin's median, capped: a highlight
        # baked into the skin is skin's sheen, and multiplied by light hair it burnt out white.
        shading = np.minimum(lin / np.maximum(skin, 1e-4), MAX_SHADING)
        out[self.rows, self.cols, :3] = linear_to_srgb(lin * (1.0 - a) + a * np.asarray(self.colour, np.float64) * shading)
        return out

    def dress(self, head):
        """Return ``head`` (a renderer Mesh) with the hair painted into its texture or vertex colours.

        The painted texture is made once per source texture and handed back for every frame (the
        renderer keeps an uploaded texture per array)."""
        if head.textured:
            if self._cache is None or self._cache[0] is not head.texture:
                self._cache = (head.texture, self.apply(head.texture))
            return replace(head, texture=self._cache[1])
        if head.vertex_colors is None or self.vertex_coverage is None or len(self.vertex_coverage) != len(head.vertex_colors):
            return head
        mean = np.asarray(self.colour, np.float64).reshape(-1, 3).mean(0)
        a = np.clip(self.vertex_coverage, 0.0, 1.0)[:, None]
        lin = srgb_to_linear(head.vertex_colors)
        return replace(head, vertex_colors=linear_to_srgb(lin * (1.0 - a) + mean[None] * a).astype(np.float32))
