"""UV textures from images: texel rasterisation, back-projection through a camera, symmetry, surface and pull-push fill.

Arrays in, arrays out; the texture stage (:mod:`painctl.stages.texture`) reads and writes the files.

    texels = uv_texels(uv, uv_faces, 1024)                 # which triangle and where, per texel
    baked = bake_texture(image, render_result, camera, vertices, faces, texels)
    texture, coverage = project_texture(image, result, camera, vertices, faces, texels)  # bake, mirror, fill

Texture images follow the OBJ convention: uv (0,0) is the bottom-left corner, so texel row 0 is v = 1.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field

import numpy as np

#: A texel counts as seen when the surface faces the camera at least this much (cosine of the view angle).
MIN_VIEW_COSINE = 0.25
#: A texel's surface point is visible when its depth is within this many metres of the rendered depth.
DEPTH_TOLERANCE = 2e-3


@dataclass
class UVTexels:
    """Where each texel of a (size x size) texture lies on the mesh.

    triangle (H,W) int32 face index, -1 for texels outside every UV triangle; barycentric (H,W,3)
    float32 weights of that face's corners (zeros outside).
    """

    triangle: np.ndarray
    barycentric: np.ndarray
    #: What depends only on the layout (and the topology), worked out once per process: one
    #: UVTexels serves every identity of a run (see :func:`uv_texels`). Arrays in it are read-only.
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def _cached(self, key, make):
        if key not in self._cache:
            value = make()
            for array in value if isinstance(value, tuple) else (value,):
                array.setflags(write=False)
            self._cache[key] = value
        return self._cache[key]

    @property
    def mask(self) -> np.ndarray:
        """(H,W) bool: texels that lie inside some UV triangle (read-only)."""
        return self._cached("mask", lambda: self.triangle >= 0)

    def inside(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The K texels inside the layout in row-major order: (rows (K,), cols (K,), triangle (K,)
        int32, barycentric (K,3) float32), read-only."""
        def make():
            mask = self.mask
            rows, cols = np.nonzero(mask)
            return rows, cols, self.triangle[mask], self.barycentric[mask]
        return self._cached("inside", make)

    def inside_barycentric64(self) -> np.ndarray:
        """(K,3) float64 barycentric weights of the inside texels (read-only)."""
        return self._cached("bary64", lambda: self.inside()[3].astype(np.float64))

    def inside_corners(self, faces: np.ndarray) -> np.ndarray:
        """(K,3) int64 corner vertex ids of the inside texels' triangles on ``faces`` (F,3) (read-only)."""
        faces = np.ascontiguousarray(faces)
        key = ("corners", faces.shape, hashlib.sha1(faces.astype(np.int64).tobytes()).hexdigest())
        return self._cached(key, lambda: faces[self.inside()[2]].astype(np.int64))

    def inside_points(self, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
        """Return the surface point (K,C) float32 of the inside texels (:meth:`inside` order) on a
        mesh with ``vertices`` (V,C): :meth:`points` at the mask, without the full-size array."""
        return np.einsum("kc,kcd->kd", self.inside()[3], np.asarray(vertices, np.float32)[self.inside_corners(faces)])

    def points(self, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
        """Return the surface point (H,W,3) float32 of every texel on a mesh with ``vertices`` (V,3), zeros outside."""
        out = np.zeros(self.triangle.shape + (np.asarray(vertices).shape[-1],), np.float32)
        out[self.mask] = self.inside_points(vertices, faces)
        return out


def uv_texels(uv: np.ndarray, uv_faces: np.ndarray, size: int) -> UVTexels:
    """Rasterise the UV layout: for each texel centre of a ``size`` x ``size`` texture, the face whose
    UV triangle holds it and its barycentric weights. ``uv`` (T,2) in [0,1], ``uv_faces`` (F,3).
    Cached per layout and size (the layout is the same for every identity of a face model)."""
    # Every part of every identity passes the same two arrays (render-views' plan): found by
    # their ids (held, so the ids stay theirs) and checked equal to the copies the entry was made
    # from, without converting and hashing a layout on each call.
    entry = _BY_ID.get((id(uv), id(uv_faces), int(size)))
    if entry is not None and np.array_equal(entry[2], uv) and np.array_equal(entry[3], uv_faces):
        return entry[4]
    texels = _uv_texels_hashed(uv, uv_faces, size)
    while len(_BY_ID) >= 8:
        _BY_ID.pop(next(iter(_BY_ID)))
    _BY_ID[(id(uv), id(uv_faces), int(size))] = (uv, uv_faces, np.array(uv), np.array(uv_faces), texels)
    return texels


#: uv_texels' results by the ids of the arrays given (the arrays, copies of them, the result).
_BY_ID: dict[tuple, tuple] = {}


def _uv_texels_hashed(uv: np.ndarray, uv_faces: np.ndarray, size: int) -> UVTexels:
    uv = np.ascontiguousarray(uv, np.float64)
    uv_faces = np.ascontiguousarray(uv_faces, np.int64)
    key = hashlib.sha1(uv.tobytes() + uv_faces.tobytes()).hexdigest()
    return _uv_texels(key, int(size), uv.tobytes(), uv.shape, uv_faces.tobytes(), uv_faces.shape)


@functools.lru_cache(maxsize=8)
def _uv_texels(key: str, size: int, uv_bytes: bytes, uv_shape, faces_bytes: bytes, faces_shape) -> UVTexels:
    uv = np.frombuffer(uv_bytes, np.float64).reshape(uv_shape)
    uv_faces = np.frombuffer(faces_bytes, np.int64).reshape(faces_shape)
    # Texel (row, col) centre in pixel units: x = u*W - 0.5, y = (1 - v)*H - 0.5.
    px = np.stack([uv[:, 0] * size - 0.5, (1.0 - uv[:, 1]) * size - 0.5], axis=1)
    tri = px[uv_faces]  # (F,3,2)
    triangle = np.full((size, size), -1, np.int32)
    bary = np.zeros((size, size, 3), np.float32)
    lo = np.clip(np.floor(tri.min(1)).astype(int), 0, size - 1)
    hi = np.clip(np.ceil(tri.max(1)).astype(int), 0, size - 1)
    for f in range(len(tri)):
        (x0, y0), (x1, y1) = lo[f], hi[f]
        a, b, c = tri[f]
        det = (b[0] - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (b[1] - a[1])
        if abs(det) < 1e-12:
            continue
        xs, ys = np.meshgrid(np.arange(x0, x1 + 1), np.arange(y0, y1 + 1))
        w1 = ((xs - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (ys - a[1])) / det
        w2 = ((b[0] - a[0]) * (ys - a[1]) - (xs - a[0]) * (b[1] - a[1])) / det
        w0 = 1.0 - w1 - w2
        inside = (w0 >= -1e-9) & (w1 >= -1e-9) & (w2 >= -1e-9)
        if not inside.any():
            continue
        rows, cols = ys[inside], xs[inside]
        triangle[rows, cols] = f
        bary[rows, cols] = np.stack([w0[inside], w1[inside], w2[inside]], axis=1)
    return UVTexels(triangle, bary)


def mirror_vertices(vertices: np.ndarray) -> np.ndarray:
    """Return (V,) int64: for each vertex of a left/right symmetric mesh (x = 0 mirror plane), the
    vertex nearest to its mirror image (-x, y, z)."""
    from scipy.spatial import cKDTree

    verts = np.asarray(vertices, np.float64)
    mirrored = verts * np.array([-1.0, 1.0, 1.0])
    return cKDTree(verts).query(mirrored)[1].astype(np.int64)


def _project(points: np.ndarray, camera, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel x, y (continuous, 0 at the left/top edge) and view-axis depth of world ``points`` (K,3)."""
    rot = camera.rotation()
    cam = (points - camera.position()) @ rot.T
    depth = -cam[:, 2]
    focal = camera.focal_pixels(height)
    safe = np.where(depth > 1e-9, depth, 1e-9)
    x = cam[:, 0] / safe * focal + width / 2.0
    y = height / 2.0 - cam[:, 1] / safe * focal
    return x, y, depth


def _sample_bilinear(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Sample ``image`` (H,W,C) at continuous pixel coordinates (edge at 0) with bilinear weights."""
    height, width = image.shape[:2]
    fx = np.clip(x - 0.5, 0, width - 1)
    fy = np.clip(y - 0.5, 0, height - 1)
    x0 = np.floor(fx).astype(int)
    y0 = np.floor(fy).astype(int)
    x1 = np.minimum(x0 + 1, width - 1)
    y1 = np.minimum(y0 + 1, height - 1)
    ax = (fx - x0)[:, None]
    ay = (fy - y0)[:, None]
    top = image[y0, x0] * (1 - ax) + image[y0, x1] * ax
    bottom = image[y1, x0] * (1 - ax) + image[y1, x1] * ax
    return top * (1 - ay) + bottom * ay


def _visible(points: np.ndarray, normals: np.ndarray, result, camera) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Project ``points`` (K,3) with unit ``normals`` (K,3); return pixel x, y, the view cosine and a
    visibility mask (in the image, in front of the rendered depth within DEPTH_TOLERANCE)."""
    height, width = result.triangle.shape
    x, y, depth = _project(points, camera, width, height)
    col = np.clip(np.floor(x).astype(int), 0, width - 1)
    row = np.clip(np.floor(y).astype(int), 0, height - 1)
    inside = (x >= 0) & (x < width) & (y >= 0) & (y < height) & (depth > 0)
    # Compare with the nearest rendered depth around the pixel, so texels on a silhouette or a
    # triangle border are not lost to rasterisation's pixel-centre rule.
    rendered = result.depth[row, col]
    for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0)):
        rendered = np.minimum(rendered, result.depth[np.clip(row + dr, 0, height - 1), np.clip(col + dc, 0, width - 1)])
    visible = inside & np.isfinite(rendered) & (depth <= rendered + DEPTH_TOLERANCE) & (result.triangle[row, col] >= 0)
    to_camera = camera.position() - points
    to_camera /= np.maximum(np.linalg.norm(to_camera, axis=1, keepdims=True), 1e-12)
    cosine = np.einsum("kd,kd->k", normals, to_camera)
    return x, y, cosine, visible


@dataclass
class BakedTexture:
    """A texture back-projected from one image: colour (H,W,3) float32 in [0,1], weight (H,W) float32
    (view-angle weight, 0 where unseen) and seen (H,W) bool (texels the camera saw directly)."""

    colour: np.ndarray
    weight: np.ndarray
    seen: np.ndarray


def bake_texture(image: np.ndarray, result, camera, vertices: np.ndarray, faces: np.ndarray, texels: UVTexels) -> BakedTexture:
    """Back-project ``image`` (H,W,3) float [0,1], rendered as ``result`` (a RenderResult of the same
    mesh and ``camera``), onto the texels of a mesh (``vertices`` (V,3) metres, ``faces`` (F,3)).

    A texel is seen when its surface point passes the depth test against the render and faces the
    camera with a view cosine of at least MIN_VIEW_COSINE; its weight is that cosine (grazing views
    carry stretched, less reliable colour).
    """
    from painctl.renderer import vertex_normals

    mask = texels.mask
    points = texels.inside_points(vertices, faces).astype(np.float64)
    normals = texels.inside_points(vertex_normals(vertices, faces), faces).astype(np.float64)
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    x, y, cosine, visible = _visible(points, normals, result, camera)
    seen = visible & (cosine >= MIN_VIEW_COSINE)
    colour = np.zeros(mask.shape + (3,), np.float32)
    weight = np.zeros(mask.shape, np.float32)
    seen_map = np.zeros(mask.shape, bool)
    rows, cols = texels.inside()[:2]
    sampled = _sample_bilinear(np.asarray(image, np.float32), x[seen], y[seen])
    colour[rows[seen], cols[seen]] = sampled
    weight[rows[seen], cols[seen]] = cosine[seen]
    seen_map[rows[seen], cols[seen]] = True
    return BakedTexture(colour, weight, seen_map)


def mirror_fill(baked: BakedTexture, image: np.ndarray, result, camera, vertices: np.ndarray, faces: np.ndarray, texels: UVTexels,
                shading: np.ndarray | None = None) -> BakedTexture:
    """Fill texels the camera did not see from their mirror-image surface point, where that one was seen.

    The mirror point of a texel on face (a, b, c) with weights w is sum(w_i * vertices[m(corner_i)]),
    m the vertex mirror map, so it lies on the actual (possibly asymmetric) surface. Texels it fills
    get the mirror's view weight times 0.9 (one step less trusted than a direct view). With
    ``shading`` (V,3), the linear irradiance factor each vertex had in ``image``, the mirror's
    colour is carried over in linear light times the texel's own irradiance over the mirror's (the
    key light falls on one side of the face more than on the other).
    """
    from painctl.renderer import vertex_normals

    mirror = mirror_vertices(vertices)
    todo = texels.mask & ~baked.seen
    if not todo.any():
        return baked
    all_rows, all_cols = texels.inside()[:2]
    pick = ~baked.seen[all_rows, all_cols]  # the todo texels, in the same row-major order
    rows, cols = all_rows[pick], all_cols[pick]
    corners = mirror[texels.inside_corners(faces)[pick]]  # (K,3)
    w = texels.inside_barycentric64()[pick]
    verts = np.asarray(vertices, np.float64)
    points = np.einsum("kc,kcd->kd", w, verts[corners])
    normals = np.einsum("kc,kcd->kd", w, vertex_normals(vertices, faces).astype(np.float64)[corners])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    x, y, cosine, visible = _visible(points, normals, result, camera)
    ok = visible & (cosine >= MIN_VIEW_COSINE)
    colour, weight = baked.colour.copy(), baked.weight.copy()
    sampled = _sample_bilinear(np.asarray(image, np.float32), x[ok], y[ok])
    if shading is not None:
        from painctl.renderer.colour import linear_to_srgb, srgb_to_linear

        own = _texel_shading(shading, texels.inside_corners(faces)[pick][ok], w[ok])
        there = _texel_shading(shading, corners[ok], w[ok])
        sampled = linear_to_srgb(srgb_to_linear(sampled) * own / there).astype(np.float32)
    colour[rows[ok], cols[ok]] = sampled
    weight[rows[ok], cols[ok]] = 0.9 * cosine[ok]
    return BakedTexture(colour, weight, baked.seen)


def pull_push(colour: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Fill every texel with weight 0 by pull-push: average down a pyramid of weighted colours, then
    push the coarse levels back up into the holes. ``colour`` (H,W,C), ``weight`` (H,W) >= 0.
    Returns (H,W,C) float32 where texels with weight > 0 keep their colour exactly."""
    colour = np.asarray(colour, np.float32)
    weight = np.clip(np.asarray(weight, np.float32), 0.0, 1.0)
    if weight.max() <= 0:
        return colour
    out = _pull_push(colour * weight[..., None], _weight_pyramid(weight))
    known = weight > 0
    out[known] = colour[known]
    return out


@dataclass
class _Level:
    """One level of a pull-push pyramid, all from the weights (the colours' part is done per call):
    ``safe`` (h,w,1) weights for un-premultiplying, ``alpha``/``rest`` (h,w,1) the blend with the
    level below, ``scale`` (h/2,w/2,1) its normalisation, ``padded`` (ph, pw) its even size."""

    safe: np.ndarray
    alpha: np.ndarray
    rest: np.ndarray
    scale: np.ndarray | None
    padded: tuple[int, int]


_PYRAMIDS: dict = {}


def _weight_pyramid(weight: np.ndarray) -> list[_Level]:
    """The levels of :func:`_pull_push` for ``weight`` (H,W) float32 in [0,1]: every identity of a
    run fills by the same layout mask, so they are kept (the last few weights) and reused."""
    key = (weight.shape, hashlib.sha1(np.ascontiguousarray(weight).tobytes()).hexdigest())
    if key not in _PYRAMIDS:
        levels = []
        while True:
            height, width = weight.shape
            safe = np.maximum(weight, 1e-12)[..., None]
            alpha = np.minimum(weight, 1.0)[..., None]
            if height <= 1 and width <= 1:
                levels.append(_Level(safe, alpha, 1.0 - alpha, None, (height, width)))
                break
            ph, pw = height + height % 2, width + width % 2
            w = weight
            if (ph, pw) != (height, width):
                w = np.zeros((ph, pw), np.float32)
                w[:height, :width] = weight
            coarse_w = w.reshape(ph // 2, 2, pw // 2, 2).sum((1, 3))
            scale = np.minimum(coarse_w, 1.0) / np.maximum(coarse_w, 1e-12)
            levels.append(_Level(safe, alpha, 1.0 - alpha, scale[..., None], (ph, pw)))
            weight = coarse_w * scale
        if len(_PYRAMIDS) >= 4:
            _PYRAMIDS.pop(next(iter(_PYRAMIDS)))
        _PYRAMIDS[key] = levels
    return _PYRAMIDS[key]


def _pull_push(premult: np.ndarray, levels: list[_Level]) -> np.ndarray:
    level = levels[0]
    height, width = premult.shape[:2]
    here = premult / level.safe
    if level.scale is None:
        return here
    ph, pw = level.padded
    p = premult
    if (ph, pw) != (height, width):
        p = np.zeros((ph, pw, premult.shape[2]), np.float32)
        p[:height, :width] = premult
    # Pull: a coarse texel is the weighted mean of its 2x2 children, its weight their (capped) sum.
    coarse_p = p.reshape(ph // 2, 2, pw // 2, 2, -1).sum((1, 3))
    coarse = _pull_push(coarse_p * level.scale, levels[1:])
    # Push: upsample the filled coarse level bilinearly and blend it in where weights are low.
    up = _upsample(coarse, ph, pw)[:height, :width]
    return (here * level.alpha + up * level.rest).astype(np.float32)


def _upsample(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear 2x upsampling (texel centres, clamped edges) of ``image`` (h,w,C) to (height,width,C)
    with height <= 2h and width <= 2w: each output texel is 3/4 its parent plus 1/4 the neighbour
    on its side, done with slices (fancy indexing was the cost of the whole fill)."""
    def double(a: np.ndarray, axis: int) -> np.ndarray:
        a = np.moveaxis(a, axis, 0)
        before = np.concatenate([a[:1], a[:-1]])
        after = np.concatenate([a[1:], a[-1:]])
        out = np.empty((2 * len(a),) + a.shape[1:], a.dtype)
        out[0::2] = 0.75 * a + 0.25 * before
        out[1::2] = 0.75 * a + 0.25 * after
        return np.moveaxis(out, 0, axis)

    return double(double(np.asarray(image, np.float32), 0), 1)[:height, :width]


#: Vertices whose view cosine is at least this anchor the surface fill (grazing colours are unreliable).
ANCHOR_VIEW_COSINE = 0.45
#: Seen texels blend into the surface fill as their view cosine falls from this value to MIN_VIEW_COSINE.
BLEND_VIEW_COSINE = 0.55


def surface_fill(baked: BakedTexture, texels: UVTexels, faces: np.ndarray, n_vertices: int, shading: np.ndarray | None = None) -> np.ndarray:
    """Fill the texels no view saw with a harmonic interpolation over the mesh surface.

    Vertex colours are the weighted mean of the seen texels around each vertex; vertices with
    enough frontal weight (ANCHOR_VIEW_COSINE) are held fixed and the rest solve the mesh graph's
    Laplace equation, so the fill is smooth across the surface and identical on both sides of every
    UV seam (a texel-space fill such as pull-push sees the two sides as far apart). Seen texels keep
    their colour, fading into the fill toward grazing views so no edge marks where the view ended.
    With ``shading`` (n_vertices,3), the linear irradiance factor each vertex had in the image, the
    fill runs on the colour divided by it (the skin's albedo, in linear light) and each filled texel
    gets its own irradiance back: the colour a texel would have shown under the image's light.
    Returns (S,S,3) float32; texels outside the layout are left 0 (fill those with pull_push).
    """
    from scipy.sparse import identity
    from scipy.sparse.linalg import spsolve

    faces = np.ascontiguousarray(faces, np.int64)
    mask = texels.mask
    rows, cols = texels.inside()[:2]
    corners = texels.inside_corners(faces)  # (K,3)
    bary = texels.inside_barycentric64()
    weight = baked.weight[rows, cols].astype(np.float64)
    colour = baked.colour[rows, cols].astype(np.float64)
    if shading is not None:
        from painctl.renderer.colour import linear_to_srgb, srgb_to_linear

        # Why: a lid fold or the skin under the nose hides from the frontal camera facing away
        # from the key light; filled with its lit neighbours' colour it came out too bright once
        # render-views relit it by its own (low) light.
        light = _texel_shading(shading, corners, bary)
        unlit = srgb_to_linear(colour) / light
    else:
        unlit = colour
    contribution = bary * weight[:, None]  # (K,3)
    index = corners.reshape(-1)
    vertex_weight = np.bincount(index, contribution.reshape(-1), minlength=n_vertices)
    weighted = (contribution[..., None] * unlit[:, None, :]).reshape(-1, 3)
    vertex_sum = np.stack([np.bincount(index, weighted[:, c], minlength=n_vertices) for c in range(3)], axis=1)
    vertex_frontal = np.bincount(index, bary.reshape(-1), minlength=n_vertices)
    mean_cos = vertex_weight / np.maximum(vertex_frontal, 1e-12)  # texel-averaged view weight per vertex
    known = (vertex_weight > 1e-6) & (mean_cos >= ANCHOR_VIEW_COSINE)
    values = np.zeros((n_vertices, 3))
    if known.any():
        values[known] = vertex_sum[known] / vertex_weight[known, None]
        fallback = values[known].mean(0)
    else:
        fallback = np.full(3, 0.5)
    unknown = ~known
    if unknown.any():
        laplacian = _graph_laplacian(faces.tobytes(), faces.shape, n_vertices)
        u = np.flatnonzero(unknown)
        k = np.flatnonzero(known)
        # A faint pull toward the mean keeps parts with no anchor at all (inner mouth, hidden eyeballs) solvable.
        eps = 1e-4
        system = laplacian[u][:, u] + eps * identity(len(u), format="csr")
        rhs = -(laplacian[u][:, k] @ values[k]) + eps * fallback
        values[u] = np.asarray(spsolve(system.tocsc(), rhs)).reshape(len(u), 3)
    fill = np.einsum("kc,kcd->kd", bary, values[corners])
    if shading is not None:
        fill = linear_to_srgb(fill * light)
    seen_weight = np.where(weight > 0, _smoothstep_array(MIN_VIEW_COSINE, BLEND_VIEW_COSINE, weight), 0.0)[:, None]
    out = np.zeros(mask.shape + (3,), np.float32)
    out[rows, cols] = np.clip(colour * seen_weight + fill * (1.0 - seen_weight), 0.0, 1.0)
    return out


#: Photo shading (:func:`photo_shading`): the measured light replaces the lights' model fully on
#: surfaces the model gives at most DIM_SHADING[0], not at all from DIM_SHADING[1] up.
DIM_SHADING = (0.3, 0.6)


def photo_shading(baked: BakedTexture, albedo: np.ndarray, texels: UVTexels, faces: np.ndarray, model: np.ndarray) -> np.ndarray:
    """Return the (V,3) linear irradiance factor each vertex had in the photo ``baked`` came from.

    ``albedo`` (S,S,3) sRGB [0,1] is the skin's unlit colour in the texels' layout (the photo's
    own, from render-neutral) and ``model`` (V,3) the factor the photo's lights give each vertex's
    normal (what render-views relights by). The photo spreads light under the skin (subsurface
    scattering), so a crevice the lights barely reach, such as the fold of an open upper lid, is
    lit several times more in it than the model says; relit by the model, that skin came out of a
    closed eye bright orange on dark skin. Where the model is dim the seen texels' colour over
    their albedo (bary- and view-weighted per vertex) replaces it where it is larger; lit surfaces
    keep the model, so the photo's highlights stay in the texture as before.
    """
    from painctl.renderer.colour import srgb_to_linear

    faces = np.ascontiguousarray(faces, np.int64)
    model = np.asarray(model, np.float64)
    rows, cols = texels.inside()[:2]
    corners = texels.inside_corners(faces)
    bary = texels.inside_barycentric64()
    if albedo.shape[:2] != texels.mask.shape:
        from PIL import Image

        albedo = np.asarray(Image.fromarray(np.round(np.clip(albedo, 0, 1) * 255).astype(np.uint8)).resize(texels.mask.shape[::-1], Image.BILINEAR),
                            np.float32) / 255.0
    pigment = srgb_to_linear(albedo[rows, cols])
    seen = baked.seen[rows, cols] & (pigment.min(1) > 0.01)
    light = srgb_to_linear(baked.colour[rows, cols][seen]) / pigment[seen]
    contribution = (bary[seen] * baked.weight[rows, cols][seen, None]).reshape(-1)
    index = corners[seen].reshape(-1)
    n = len(model)
    total = np.bincount(index, contribution, minlength=n)
    measured = np.stack([np.bincount(index, contribution * np.repeat(light[:, c], 3), minlength=n) for c in range(3)], 1)
    known = total > 1e-6
    measured[known] /= total[known, None]
    measured[~known] = model[~known]
    dim = np.clip((DIM_SHADING[1] - model.mean(1)) / (DIM_SHADING[1] - DIM_SHADING[0]), 0.0, 1.0)[:, None]
    return (model + dim * np.maximum(measured - model, 0.0)).astype(np.float32)


#: Irradiance factors below this are raised to it before a colour is divided by them (a guard:
#: the studio rig's ambient alone gives 0.19, its least on anny's heads).
MIN_SHADING = 0.05


def _texel_shading(shading: np.ndarray, corners: np.ndarray, bary: np.ndarray) -> np.ndarray:
    """The (K,3) irradiance factor at K texels: per-vertex ``shading`` (V,3) at their ``corners``
    (K,3) vertex indices, mixed by ``bary`` (K,3), at least MIN_SHADING."""
    return np.maximum(np.einsum("kc,kcd->kd", bary, np.asarray(shading, np.float64)[corners]), MIN_SHADING)


@functools.lru_cache(maxsize=4)
def _graph_laplacian(faces_bytes: bytes, faces_shape, n_vertices: int):
    """The mesh graph's Laplacian (V,V) csr of int64 ``faces`` (as bytes): the same for every
    identity of a face model, so built once per process."""
    from scipy.sparse import coo_matrix

    faces = np.frombuffer(faces_bytes, np.int64).reshape(faces_shape)
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    edges = np.concatenate([edges, edges[:, ::-1]])
    adjacency = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n_vertices, n_vertices)).tocsr()
    adjacency.data[:] = 1.0
    return (coo_matrix((np.asarray(adjacency.sum(1)).ravel(), (np.arange(n_vertices), np.arange(n_vertices))), shape=adjacency.shape) - adjacency).tocsr()


def _smoothstep_array(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def project_texture(image: np.ndarray, result, camera, vertices: np.ndarray, faces: np.ndarray, texels: UVTexels,
                    shading: np.ndarray | None = None, baked: BakedTexture | None = None) -> tuple[np.ndarray, float]:
    """The whole frontal texturing: back-project ``image`` (H,W,3) float [0,1], fill unseen texels
    by left/right symmetry, then smoothly over the mesh surface (:func:`surface_fill`, seamless
    across UV seams), then pull-push the gutter around UV islands so filtering never blends in
    black. ``shading`` (V,3), the linear irradiance factor each vertex had in ``image`` (the light
    it was rendered under; None: fill as if the light were even), makes every filled texel the skin
    under its own light, as the seen ones are. ``baked``: :func:`bake_texture` of these arguments,
    when the caller has it already. Returns the texture (S,S,3) float32 in [0,1] and the
    coverage: the fraction of in-layout texels seen directly."""
    if baked is None:
        baked = bake_texture(image, result, camera, vertices, faces, texels)
    baked = mirror_fill(baked, image, result, camera, vertices, faces, texels, shading)
    filled = surface_fill(baked, texels, faces, len(vertices), shading)
    texture = np.clip(pull_push(filled, texels.mask.astype(np.float32)), 0.0, 1.0)
    inside = texels.mask.sum()
    coverage = float(baked.seen.sum() / inside) if inside else 0.0
    return texture, coverage


def uv_islands(uv_faces: np.ndarray, n_uv: int) -> np.ndarray:
    """Return (F,) int64 island labels: faces joined through shared UV rows form one island."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    uv_faces = np.asarray(uv_faces, np.int64)
    f = np.repeat(np.arange(len(uv_faces)), 3)
    graph = coo_matrix((np.ones(len(f)), (f, uv_faces.reshape(-1))), shape=(len(uv_faces), n_uv)).tocsr()
    # Faces are linked when they share a uv row: connected components of F x F = G G^T.
    _, labels = connected_components(graph @ graph.T, directed=False)
    return labels.astype(np.int64)


def repack_uv(uv: np.ndarray, uv_faces: np.ndarray, face_scale: np.ndarray, padding: float = 0.006) -> tuple[np.ndarray, np.ndarray]:
    """Repack a UV layout so the islands that are used fill the unit square.

    ``face_scale`` (F,) float: the relative texel density wanted for each face (0 drops a face's
    island from the atlas: its faces map to one corner texel). Each island keeps its shape, is
    scaled by the largest face_scale among its faces and shelf-packed. Returns (uv_new (T',2)
    float32, uv_faces_new (F,3) int32), one uv row per island corner (islands do not share rows).
    """
    uv = np.asarray(uv, np.float64)
    uv_faces = np.asarray(uv_faces, np.int64)
    islands = uv_islands(uv_faces, len(uv))
    count = islands.max() + 1
    scale = np.zeros(count)
    np.maximum.at(scale, islands, np.asarray(face_scale, np.float64))
    boxes = []
    for k in range(count):
        if scale[k] <= 0:
            continue
        rows = np.unique(uv_faces[islands == k])
        lo, hi = uv[rows].min(0), uv[rows].max(0)
        boxes.append((k, rows, lo, (hi - lo) * scale[k]))

    def shelf(unit: float) -> dict | None:
        placed, x, y, shelf_h = {}, padding, padding, 0.0
        for k, rows, lo, size in sorted(boxes, key=lambda b: -b[3][1]):
            w, h = size * unit
            if x + w + padding > 1.0:
                x, y, shelf_h = padding, y + shelf_h + padding, 0.0
            if x + w + padding > 1.0 or y + h + padding > 1.0:
                return None
            placed[k] = (x, y)
            x += w + padding
            shelf_h = max(shelf_h, h)
        return placed

    low, high = 0.0, 1.0 / max(max(b[3].max() for b in boxes), 1e-9)
    for _ in range(40):  # the largest scale at which every island fits
        mid = (low + high) / 2
        low, high = (mid, high) if shelf(mid) is not None else (low, mid)
    placed = shelf(low)
    new_uv = np.zeros((len(uv) + 1, 2))
    new_uv[-1] = (padding / 2, padding / 2)  # where dropped faces point
    remap = np.full(len(uv), len(uv), np.int64)
    for k, rows, lo, size in boxes:
        ox, oy = placed[k]
        new_uv[rows] = (uv[rows] - lo) * scale[k] * low + (ox, oy)
        remap[rows] = rows
    # A uv row shared by a kept and a dropped island stays with the kept one (rows are per island here).
    new_faces = remap[uv_faces]
    keep = np.isin(islands, [b[0] for b in boxes])
    new_faces[~keep] = len(uv)
    return new_uv.astype(np.float32), new_faces.astype(np.int32)
