"""A body under the head: neck, shoulders and upper chest (part ``body``, label skin) in a garment
(part ``garment``, label clothing): a hospital gown, a crew-neck or a V-neck T-shirt.

The bust is cut from anny's full body built with the identity's own phenotype
(:mod:`painctl.facemodels.anny_bust`), so it is the body that head belongs to; it meets the head
on the ring of vertices the two share, which the rig never moves, so the neck is closed in every
frame while the bust stays still (expressions do not move the neck). The garment is a shell a few
millimetres off the skin below a collar line (a level set on the bust, clipped so its edge is
smooth), closed at the collar by a band turned in to the skin, and textured with a procedural
cloth map (rib band and stitching, knit or weave grain, folds, a print on some gowns) in the
cloth's own coordinates (arc length round the neck, height). Neck skin takes the colour the head
shows where they meet and the face's albedo further down (sampled from the head's texture, its
baked light divided out, or its vertex colours, on the first frame), so the seam hardly shows.

Only anny heads have a body to cut: for FLAME and ``--model-mesh`` heads (no anny phenotype, or
another topology) both builders return None and the head is drawn as before.

Draws (seeded by ``rng_for(seed, STREAM, index)``): the garment kind, its colour (a palette per
kind, lightness jittered), a print on some gowns and the fit (offset from the skin, fold depth).
How they depend on the identity is in :data:`GOWN_SHARE`, :data:`VNECK_SHARE` and the palettes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from painctl.appearance.parts import Identity, Part, register
from painctl.renderer.colour import linear_to_srgb, srgb_to_linear

#: Random stream of the body and garment draws (see painctl.seeding.rng_for).
STREAM = 14100
GARMENTS = ("hospital_gown", "tshirt_crew", "tshirt_vneck")
#: Share of hospital gowns: higher for older people, who are most of a ward's patients.
GOWN_SHARE = {"under_60": 0.4, "60_and_over": 0.55}
#: Share of V-necks among T-shirts, by gender (None: unknown).
VNECK_SHARE = {"female": 0.45, "male": 0.25, None: 0.35}
#: Gown colours (sRGB) and their prints (None = plain), drawn uniformly.
GOWN_COLOURS = {
    "pale_blue": (0.62, 0.74, 0.84), "teal": (0.42, 0.66, 0.68), "mint": (0.66, 0.80, 0.70),
    "white": (0.86, 0.87, 0.87), "navy": (0.20, 0.28, 0.46), "lavender": (0.70, 0.68, 0.82),
}
GOWN_PRINTS = (None, None, "dots", "diamonds", "crosses")
#: T-shirt colours (sRGB), drawn uniformly.
TSHIRT_COLOURS = {
    "white": (0.88, 0.88, 0.86), "heather_grey": (0.56, 0.57, 0.58), "charcoal": (0.22, 0.23, 0.25),
    "black": (0.07, 0.07, 0.08), "navy": (0.12, 0.16, 0.30), "red": (0.62, 0.12, 0.14),
    "forest_green": (0.16, 0.35, 0.22), "burgundy": (0.40, 0.10, 0.16), "sky_blue": (0.45, 0.62, 0.80),
    "mustard": (0.78, 0.62, 0.22), "pink": (0.86, 0.58, 0.66), "olive": (0.40, 0.42, 0.22),
}
#: Skin this far below the collar line (metres) is hidden by the garment and not drawn.
SKIN_HIDDEN_M = 0.03
#: Cloth texture: metres per texel and the extent of the (around, down) coordinates.
TEXEL_M = 0.00125
#: Width of the collar band (rib or binding), metres.
BAND_M = {"hospital_gown": 0.01, "tshirt_crew": 0.018, "tshirt_vneck": 0.016}
AROUND_M = 0.7
DOWN_M = 0.27
#: Height of the cloth coordinates' origin (metres, head frame): above every collar.
TOP_M = 0.05


@dataclass
class Bust:
    """One identity's bust in the head's frame: ``vertices`` (B,3) float32 metres, ``faces`` (G,3),
    ``head_index`` (B,) the head vertex each ring vertex is (-1 off the ring), ``mean`` (B,3) the same
    vertices on anny's mean body (anatomical reference for the collar line). ``covered`` (G,) bool,
    set when a garment is built on it, marks the triangles hidden deep under the garment."""

    vertices: np.ndarray
    faces: np.ndarray
    head_index: np.ndarray
    mean: np.ndarray
    covered: np.ndarray | None = None


_LAST: list = [None, None]


def fit_bust(identity: Identity) -> Bust | None:
    """Return the identity's bust joined to its neutral head, or None when the head is not anny's.

    The bust is anny's full body at the identity's phenotype; where it meets the head (the ring of
    shared vertices) it takes the head's vertices exactly. None when the identity has no anny
    phenotype, another topology, or a head that is not anny's with that phenotype (ring off by
    more than 2 mm). The last identity's bust is kept, so the body and garment parts share it.
    """
    if _LAST[0] is identity:
        return _LAST[1]
    bust = _fit(identity)
    _LAST[0], _LAST[1] = identity, bust
    return bust


def _fit(identity: Identity) -> Bust | None:
    if identity.phenotype is None or np.asarray(identity.phenotype).shape != (11,):
        return None
    from painctl.facemodels.anny_bust import load_bust_basis

    basis = load_bust_basis()
    if identity.faces.shape != basis.head_faces.shape or not np.array_equal(identity.faces, basis.head_faces):
        return None
    vertices = basis.vertices(identity.phenotype)
    ring = basis.head_index >= 0
    head = np.asarray(identity.neutral, np.float32)[basis.head_index[ring]]
    shift = (head - vertices[ring]).mean(0)
    if np.abs(head - vertices[ring] - shift).max() > 0.002:
        return None
    vertices = vertices + shift
    vertices[ring] = head  # bit for bit the head's, so the two meshes share their edge exactly
    return Bust(vertices, basis.faces, basis.head_index, basis.mean)


# ------------------------------------------------------------------------------------- the draws

def draw_garment(identity: Identity) -> dict:
    """Draw the identity's garment: kind, colour name and sRGB, print, fit (offsets in metres), collar
    shape (metres on anny's mean body) and fold depth; a fixed number of draws from its stream."""
    from painctl.seeding import rng_for

    rng = rng_for(identity.seed, STREAM, identity.index)
    u = rng.random(12)
    older = identity.age_years is not None and identity.age_years >= 60
    gown_share = GOWN_SHARE["60_and_over" if older else "under_60"]
    if u[0] < gown_share:
        kind = "hospital_gown"
    else:
        kind = "tshirt_vneck" if u[1] < VNECK_SHARE.get(identity.gender, VNECK_SHARE[None]) else "tshirt_crew"
    palette = GOWN_COLOURS if kind == "hospital_gown" else TSHIRT_COLOURS
    names = list(palette)
    colour_name = names[min(int(u[2] * len(names)), len(names) - 1)]
    colour = np.clip(np.asarray(palette[colour_name]) * (0.92 + 0.16 * u[3]), 0.0, 1.0)
    style = {"kind": kind, "colour_name": colour_name, "colour": [round(float(c), 4) for c in colour]}
    if kind == "hospital_gown":
        style["print"] = GOWN_PRINTS[min(int(u[4] * len(GOWN_PRINTS)), len(GOWN_PRINTS) - 1)]
        style["print_colour"] = [0.95, 0.95, 0.95] if colour.mean() < 0.6 else [0.22, 0.30, 0.50]
        style["print_period_m"] = round(0.014 + 0.01 * float(u[5]), 4)
        style["offset_m"] = round(0.007 + 0.006 * float(u[6]), 4)
        style["neck_drop_m"] = round(0.01 + 0.015 * float(u[7]), 4)
        style["folds"] = round(0.16 + 0.08 * float(u[8]), 3)
    else:
        style["print"] = None
        style["offset_m"] = round(0.0025 + 0.002 * float(u[6]), 4)
        style["neck_drop_m"] = round(-0.006 + 0.008 * float(u[7]), 4)
        style["folds"] = round(0.07 + 0.06 * float(u[8]), 3)
        if kind == "tshirt_vneck":
            style["v_depth_m"] = round(0.03 + 0.03 * float(u[10]), 4)
    style["fold_seed"] = int(rng.integers(2**31))
    return style


# ---------------------------------------------------------------------------------- the collar

def collar_field(mean: np.ndarray, ring: np.ndarray, style: dict) -> np.ndarray:
    """Return (B,) metres: height of each bust vertex above the garment's collar line (negative =
    covered), measured on anny's mean body ``mean`` (B,3) so the line sits on the same anatomy on
    every body: a tilted ring round the base of the neck (low in front, high at the nape), with a
    V in front for V-necks and a wider, lower scoop for gowns. ``ring`` (B,) bool marks the
    vertices the bust shares with the head."""
    ring = mean[ring]
    zc = float(ring[:, 2].mean())
    x, y, z = mean[:, 0], mean[:, 1], mean[:, 2] - zc
    theta = np.arctan2(x, z)
    front = (np.abs(x) < 0.004) & (z > 0) & (y < ring[:, 1].min()) & (y > -0.12)
    notch = float(y[front][np.argmin(z[front])]) if front.any() else -0.035
    lift = 0.06 if style["kind"] == "hospital_gown" else 0.045
    line = notch + 0.008 - style["neck_drop_m"] + lift * (1.0 - np.cos(theta)) / 2.0
    if style["kind"] == "tshirt_vneck":
        depth = style["v_depth_m"]
        # The V's arms meet the crew line 5 cm either side of the midline and climb steeply past
        # it, so the crew line takes over before the sides of the neck (no step where z = 0).
        vee = notch + 0.008 - depth + np.abs(x) * depth / 0.05 + 3.0 * np.maximum(np.abs(x) - 0.05, 0.0)
        line = np.where(z > 0, np.minimum(line, vee), line)
    # Off the neck at the sides and back the collar never strays out over the shoulders: the
    # further a point lies from the neck's axis, the more surely it is covered.
    reach = 0.075 if style["kind"] == "hospital_gown" else 0.062
    side = np.clip((np.abs(theta) - np.pi / 6) / (np.pi / 4), 0.0, 1.0)
    return (y - line - 1.5 * side * np.maximum(np.hypot(x, z) - reach, 0.0)).astype(np.float64)


def clip_below(vertices: np.ndarray, faces: np.ndarray, field: np.ndarray):
    """Cut a mesh along the zero level of a per-vertex ``field``, keeping where it is negative.

    Returns (parents (N,2) int, weights (N,) float: new vertex n = (1-w) P[a] + w P[b] for
    parents (a, b); faces (K,3) into the new vertices; edge (N,) bool: on the cut). Cut points are
    shared between neighbouring triangles, so the result stays one connected surface with a
    smooth edge."""
    faces = np.asarray(faces, np.int64)
    inside = field < 0
    keep_v = np.flatnonzero(inside)
    local = np.full(len(field), -1, np.int64)
    local[keep_v] = np.arange(len(keep_v))
    s = inside[faces]
    n = s.sum(1)
    whole = local[faces[n == 3]]
    cut = faces[(n == 1) | (n == 2)]
    sc = inside[cut]
    lone = np.where((sc.sum(1) == 1)[:, None], sc, ~sc)  # the odd one out: the inside corner of 1, the outside of 2
    k = np.argmax(lone, axis=1)
    # Rotate so the odd one out comes first, keeping the winding.
    a, b, c = (cut[np.arange(len(cut)), (k + i) % 3] for i in range(3))
    edges = np.concatenate([np.stack([a, b], 1), np.stack([a, c], 1)])
    keys = np.sort(edges, 1)
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel() + len(keep_v)
    ab, ac = inverse[: len(cut)], inverse[len(cut):]
    one = sc.sum(1) == 1
    tris = [whole,
            np.stack([local[a[one]], ab[one], ac[one]], 1),
            np.stack([ab[~one], local[b[~one]], local[c[~one]]], 1),
            np.stack([ab[~one], local[c[~one]], ac[~one]], 1)]
    t = field[unique[:, 0]] / (field[unique[:, 0]] - field[unique[:, 1]])
    parents = np.concatenate([np.stack([keep_v, keep_v], 1), unique])
    weights = np.concatenate([np.zeros(len(keep_v)), t])
    edge = np.zeros(len(parents), bool)
    edge[len(keep_v):] = True
    return parents, weights, np.concatenate(tris).astype(np.int32), edge


def refine_near(points: np.ndarray, faces: np.ndarray, marked: np.ndarray, frozen: np.ndarray):
    """Split the triangles ``marked`` (F,) bool 1-to-4 and their neighbours 1-to-2 or 1-to-3, so the
    result has no T-junctions; edges between two ``frozen`` (P,) vertices are never split (the ring
    the bust shares with the head). ``points`` (P,D) may carry any per-vertex columns (positions,
    mean-body positions); new vertices are edge midpoints. Returns (points (P',D), faces (F',3))."""
    faces = np.asarray(faces, np.int64)
    sides = np.stack([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]], 1)  # (F,3,2): ab, bc, ca
    keys = np.sort(sides, -1)
    wanted = np.unique(keys[marked].reshape(-1, 2), axis=0)
    wanted = wanted[~(frozen[wanted[:, 0]] & frozen[wanted[:, 1]])]
    # Each side's midpoint (its new vertex), -1 where the side stays whole: a sorted search of
    # the sides' codes a * P + b among the wanted ones (np.unique sorted them the same way).
    n_points = len(points)
    codes = keys[..., 0] * n_points + keys[..., 1]
    wanted_codes = wanted[:, 0] * n_points + wanted[:, 1]
    at = np.minimum(np.searchsorted(wanted_codes, codes), max(len(wanted_codes) - 1, 0))
    found = wanted_codes[at] == codes if len(wanted_codes) else np.zeros(codes.shape, bool)
    mid = np.where(found, n_points + at, -1).astype(np.int64)
    split = mid >= 0
    count = split.sum(1)
    todo = np.flatnonzero(count > 0)
    # Rotate each split triangle so its corners run a, b, c with the split sides in a fixed
    # pattern: one split side first (ab); two split sides ab and bc (ca kept); all three from 0.
    cnt = count[todo]
    r = np.where(cnt == 1, np.argmax(split[todo], 1), np.where(cnt == 2, (np.argmin(split[todo], 1) + 1) % 3, 0))
    turn = (r[:, None] + np.arange(3)[None, :]) % 3
    a, b, c = (faces[todo, turn[:, i]] for i in range(3))
    mab, mbc, mca = (mid[todo, turn[:, i]] for i in range(3))
    tris = np.zeros((len(todo), 4, 3), np.int64)
    one, two, three = cnt == 1, cnt == 2, cnt == 3
    tris[one, 0] = np.stack([a, mab, c], 1)[one]
    tris[one, 1] = np.stack([mab, b, c], 1)[one]
    tris[two, 0] = np.stack([mab, b, mbc], 1)[two]
    tris[two, 1] = np.stack([a, mab, mbc], 1)[two]
    tris[two, 2] = np.stack([a, mbc, c], 1)[two]
    for k, tri in enumerate(([a, mab, mca], [mab, b, mbc], [mca, mbc, c], [mab, mbc, mca])):
        tris[three, k] = np.stack(tri, 1)[three]
    used = np.arange(4)[None, :] < np.choose(cnt - 1, [2, 3, 4])[:, None] if len(todo) else np.zeros((0, 4), bool)
    out = [faces[count == 0], tris[used]]
    new = 0.5 * (points[wanted[:, 0]] + points[wanted[:, 1]])
    return np.concatenate([points, new]), np.concatenate(out).astype(np.int32)


# --------------------------------------------------------------------------------- the garment

def garment_geometry(bust: Bust, style: dict):
    """Return the garment's (vertices (N,3) float32, faces (K,3), uv (N,2) in [0,1], collar) for
    ``bust``: the shell below the collar, offset along the skin normals (close at the collar,
    ``offset_m`` further down), with a band at the collar turned in to the skin; ``collar`` is the
    cut's (around, down) cloth coordinates in metres, two (C,) arrays."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import dijkstra

    from painctl.renderer import vertex_normals

    # Finer triangles along the collar (twice halved), so the cut edge runs smooth.
    points = np.concatenate([bust.vertices, bust.mean, vertex_normals(bust.vertices, bust.faces)], 1).astype(np.float64)
    fine = bust.faces
    frozen = bust.head_index >= 0
    for _ in range(2):
        field = collar_field(points[:, 3:6], frozen, style)
        near = (np.abs(field[fine]).min(1) < 0.012) | ((field[fine] < 0).any(1) & (field[fine] > 0).any(1))
        points, fine = refine_near(points, fine, near, np.r_[frozen, np.zeros(len(points) - len(frozen), bool)])
        frozen = np.r_[frozen, np.zeros(len(points) - len(frozen), bool)]
    field = collar_field(points[:, 3:6], frozen, style)
    parents, w, faces, edge = clip_below(points[:, :3], fine, field)
    lerp = lambda p: (1.0 - w)[:, None] * p[parents[:, 0]] + w[:, None] * p[parents[:, 1]]  # noqa: E731
    skin = lerp(points[:, :3])
    normals = lerp(points[:, 6:9])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-9)
    # Distance over the surface from the collar, for the fit.
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    length = np.linalg.norm(skin[e[:, 0]] - skin[e[:, 1]], axis=1)
    graph = coo_matrix((length, (e[:, 0], e[:, 1])), shape=(len(skin),) * 2).tocsr()
    down = dijkstra(graph, directed=False, indices=np.flatnonzero(edge), min_only=True)
    down = np.where(np.isfinite(down), down, DOWN_M)
    # Close at the collar, looser below (a gown hangs off the chest).
    ease = np.clip(down / 0.04, 0.0, 1.0)
    ease = ease * ease * (3 - 2 * ease)
    offset = 0.0015 + (style["offset_m"] - 0.0015) * ease
    shell = skin + normals * offset[:, None]
    if style["kind"] == "hospital_gown":
        shell = _relax(shell, faces, ease, rounds=6)
        # Smoothing shrinks convex parts (the shoulders) towards the skin: keep most of the offset.
        short = 0.7 * offset - np.einsum("ij,ij->i", shell - skin, normals)
        shell += normals * np.maximum(short, 0.0)[:, None]
    # The cloth's own coordinates, as if cut from a flat sheet: arc length round the neck's axis
    # and height below the top of the garment (the collar is a curve in them, see cloth_texture).
    zc = float(bust.vertices[bust.head_index >= 0][:, 2].mean())
    rel = skin - np.array([0.0, 0.0, zc])
    around = np.arctan2(rel[:, 0], rel[:, 2]) * np.hypot(rel[:, 0], rel[:, 2])
    # Height keeps a print's rows level across the chest, where the views look; it stretches the
    # print down the slope of the shoulders, seen edge-on from the front.
    height = TOP_M - skin[:, 1]
    # The band: the collar edge turned in under the cloth to just below the skin.
    edge_ids = np.flatnonzero(edge)
    inner = skin[edge_ids] - normals[edge_ids] * 0.0008
    vertices = np.concatenate([shell, inner]).astype(np.float32)
    remap = np.full(len(shell), -1, np.int64)
    remap[edge_ids] = len(shell) + np.arange(len(edge_ids))
    boundary = _boundary_edges(faces)
    on_cut = boundary[edge[boundary[:, 0]] & edge[boundary[:, 1]]]
    band = np.concatenate([
        np.stack([on_cut[:, 0], on_cut[:, 1], remap[on_cut[:, 1]]], 1),
        np.stack([on_cut[:, 0], remap[on_cut[:, 1]], remap[on_cut[:, 0]]], 1),
    ]).astype(np.int32)
    uv_around = np.concatenate([around, around[edge_ids]])
    uv_down = np.concatenate([height, height[edge_ids] + 0.001])  # the turned-in band: rib colour
    uv = np.stack([0.5 + uv_around / (2 * AROUND_M), 1.0 - np.clip(uv_down, 0.0, DOWN_M) / DOWN_M], 1).astype(np.float32)
    return vertices, np.concatenate([faces, band]), uv, (around[edge_ids], height[edge_ids])


def _relax(points: np.ndarray, faces: np.ndarray, weight: np.ndarray, rounds: int) -> np.ndarray:
    """Smooth ``points`` towards their neighbours' mean ``rounds`` times, by ``weight`` (0 = fixed)."""
    from scipy.sparse import coo_matrix

    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    e = np.concatenate([e, e[:, ::-1]])
    adj = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(len(points),) * 2).tocsr()
    adj.data[:] = 1.0
    degree = np.maximum(np.asarray(adj.sum(1)).ravel(), 1.0)
    boundary = np.zeros(len(points), bool)
    boundary[_boundary_edges(faces).ravel()] = True
    w = (0.5 * weight * ~boundary)[:, None]
    for _ in range(rounds):
        points = points + w * (adj @ points / degree[:, None] - points)
    return points


def _boundary_edges(faces: np.ndarray) -> np.ndarray:
    """Return (E,2) edges used by one triangle, in the winding of that triangle."""
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    key = np.sort(e, 1)
    _, inverse, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    return e[counts[inverse.ravel()] == 1]


def cloth_texture(style: dict, collar: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Return the garment's albedo map (H,W,3) float32 sRGB over (around, down) metres: base colour,
    knit or weave grain, soft folds, a print on some gowns, and the collar band with its stitching
    along the ``collar`` curve ((around, down) of the cut, metres)."""
    from painctl.seeding import rng_for

    rng = rng_for(style["fold_seed"], STREAM)
    weave = _weave(style["kind"])
    height, width = weave.shape
    # Folds: a few soft creases falling from the neckline and across the chest, drawn on a coarse
    # grid (they are smooth) and enlarged.
    step = 4
    u = (np.arange(0, width, step) + 0.5) * TEXEL_M - AROUND_M
    v = (np.arange(0, height, step) + 0.5) * TEXEL_M
    uu, vv = np.meshgrid(u, v)
    folds = np.ones(uu.shape)
    for _ in range(7):
        angle = rng.normal(0.0, 0.5) + (np.pi / 2 if rng.random() < 0.3 else 0.0)
        period = rng.uniform(0.035, 0.09)
        phase = rng.uniform(0, 2 * np.pi)
        along = uu * np.cos(angle) + vv * np.sin(angle)
        crease = np.sin(2 * np.pi * along / period + phase + 0.6 * np.sin(vv * 25 + phase))
        folds -= style["folds"] / 7 * np.maximum(crease, 0.0) ** 3 * np.clip(vv / 0.03, 0, 1)
    folds = np.repeat(np.repeat(folds.astype(np.float32), step, 0), step, 1)[:height, :width]
    shade = (folds * weave)[..., None]
    colour = srgb_to_linear(np.asarray(style["colour"])).astype(np.float32)[None, None, :] * shade
    if style.get("print"):
        colour = _print(colour, shade, style)
    # The collar band (rib for T-shirts, a binding for gowns) and its stitch lines follow the cut.
    u = (np.arange(width) + 0.5) * TEXEL_M - AROUND_M
    order = np.argsort(collar[0])
    below = ((np.arange(height) + 0.5) * TEXEL_M)[:, None] - np.interp(u, collar[0][order], collar[1][order])[None, :]
    band = BAND_M[style["kind"]]
    colour = np.where(((below > -0.004) & (below < band))[..., None], colour * _rib(style["kind"])[None, :, None], colour)
    stitch = (np.abs(below - band) < 0.0008) | ((np.abs(below - band + 0.003) < 0.0005) & (np.sin(2 * np.pi * u / 0.004) > 0)[None, :])
    colour = np.where(stitch[..., None], colour * 0.7, colour)
    # sRGB encoding through a table: the map has a quarter of a million texels per identity.
    return _SRGB_TABLE[np.minimum((np.maximum(colour, 0.0) * (len(_SRGB_TABLE) - 1) + 0.5).astype(np.int32), len(_SRGB_TABLE) - 1)]


_SRGB_TABLE = linear_to_srgb(np.linspace(0.0, 1.0, 8192)).astype(np.float32)


@lru_cache(maxsize=4)
def _weave(kind: str) -> np.ndarray:
    """(H,W) float64 light multiplier of a garment kind's cloth, the same on every garment of that
    kind: jersey wales (T-shirts) or a plain weave (gowns) with per-thread irregularity."""
    width, height = int(round(2 * AROUND_M / TEXEL_M)), int(round(DOWN_M / TEXEL_M))
    u = (np.arange(width) + 0.5) * TEXEL_M - AROUND_M
    v = (np.arange(height) + 0.5) * TEXEL_M
    uu, vv = np.meshgrid(u, v)
    gown = kind == "hospital_gown"
    if gown:
        grain = 0.03 * np.sin(2 * np.pi * uu / 0.0011) * np.sin(2 * np.pi * vv / 0.0011)
    else:
        grain = 0.035 * np.abs(np.sin(np.pi * uu / 0.0012)) - 0.02
    noise = np.random.default_rng(STREAM).standard_normal((height, width))
    return (1.0 + grain + 0.03 * noise).astype(np.float32)


def _rib(kind: str) -> np.ndarray:
    """(W,) light multiplier across the collar band: a knitted rib for T-shirts; a gown's binding is
    a folded strip of the same cloth, a shade lighter where it turns."""
    u = (np.arange(int(round(2 * AROUND_M / TEXEL_M))) + 0.5) * TEXEL_M - AROUND_M
    if kind == "hospital_gown":
        return np.full(len(u), 1.12, np.float32)
    return (0.93 * (1.0 + 0.06 * np.sin(2 * np.pi * u / 0.0016))).astype(np.float32)


def _print(colour: np.ndarray, shade: np.ndarray, style: dict) -> np.ndarray:
    """Stamp the gown's print (dots, diamonds or crosses on a half-drop lattice) over ``colour``,
    under the same ``shade`` (H,W,1) of folds and weave."""
    height, width = colour.shape[:2]
    p = style["print_period_m"]
    u = ((np.arange(width) + 0.5) * TEXEL_M - AROUND_M) / p
    v = ((np.arange(height) + 0.5) * TEXEL_M) / p
    uu, vv = np.meshgrid(u, v)
    cu = (uu + 0.5 * (np.floor(vv) % 2)) % 1.0 - 0.5
    cv = vv % 1.0 - 0.5
    if style["print"] == "dots":
        motif = np.hypot(cu, cv) < 0.14
    elif style["print"] == "diamonds":
        motif = np.abs(cu) + np.abs(cv) < 0.18
    else:
        motif = ((np.abs(cu) < 0.05) & (np.abs(cv) < 0.2)) | ((np.abs(cv) < 0.05) & (np.abs(cu) < 0.2))
    ink = srgb_to_linear(np.asarray(style["print_colour"])).astype(np.float32)[None, None, :] * shade
    return np.where(motif[..., None], ink, colour)


# ------------------------------------------------------------------------------------ the skin

def head_skin_albedo(head, bust: Bust, lights, regions: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return the bust's skin albedo (linear RGB) as (typical (3,), at the ring (R,3)) matched to the
    head's renderer Mesh under ``lights``: ``typical`` is the head's own albedo, the median over the
    face (``regions["face"]``, else the ring) of its texture with the baked diffuse light divided
    out (or of its vertex colours); at the ring each value is what makes the lit bust show there
    what the head shows (its unlit texture, or its lit vertex colour), held within 0.7-1.4 of
    ``typical``, since the texture under the jaw and at the nape is filled in from the lit face."""
    from painctl.renderer import irradiance, vertex_normals

    ring_mask = bust.head_index >= 0
    ring = bust.head_index[ring_mask]
    face = np.asarray((regions or {}).get("face", ring))
    head_light = irradiance(vertex_normals(head.vertices, head.faces), lights, head.wrap).astype(np.float64)
    bust_light = irradiance(vertex_normals(bust.vertices, bust.faces)[ring_mask], lights, head.wrap).astype(np.float64)
    if head.texture is None:
        albedo = srgb_to_linear(head.vertex_colors)
        shown = albedo[ring] * head_light[ring]
    else:
        # One uv per vertex (a corner's); texture rows run top-down, uv v upwards (OBJ convention).
        corner_uv = np.zeros((len(head.vertices), 2))
        corner_uv[head.faces.ravel()] = head.uv[head.uv_faces.ravel()]
        tex = head.texture[..., :3]
        h, w = tex.shape[:2]
        rows = np.clip(((1.0 - corner_uv[:, 1]) * h).astype(int), 0, h - 1)
        cols = np.clip((corner_uv[:, 0] * w).astype(int), 0, w - 1)
        texels = srgb_to_linear(tex[rows, cols])
        albedo = texels / np.maximum(head_light, 0.05)
        # What the head shows at a ring vertex: its texture a little inside the faces that meet
        # there (a corner's own texel lies on the UV island's edge, in the bake's bleed).
        touching = np.flatnonzero(np.isin(head.faces, ring).any(1))
        inner_uv = head.uv[head.uv_faces[touching]].mean(1)
        inner = srgb_to_linear(tex[np.clip(((1.0 - inner_uv[:, 1]) * h).astype(int), 0, h - 1), np.clip((inner_uv[:, 0] * w).astype(int), 0, w - 1)])
        total, count = np.zeros((len(head.vertices), 3)), np.zeros(len(head.vertices))
        for k in range(3):
            np.add.at(total, head.faces[touching, k], inner)
            np.add.at(count, head.faces[touching, k], 1.0)
        shown = total[ring] / np.maximum(count[ring], 1.0)[:, None]
    typical = np.median(albedo[face], axis=0)
    return typical, np.clip(shown / np.maximum(bust_light, 0.05), 0.7 * typical, 1.4 * typical)


class BodySkin(Part):
    """The bust's skin: neck, shoulders and the upper chest above and just under the collar."""

    name = "body"
    label = "skin"

    def __init__(self, identity: Identity, bust: Bust) -> None:
        # The whole bust, also under the garment, so that it stands alone with --without garment.
        self.bust = bust
        self.faces = bust.faces
        self.lights = identity.texture_lights
        self.identity = identity
        self.mesh = None
        self.albedo = None

    def dress(self, head, vertices, au):
        if self.albedo is None:
            self.albedo = self._albedo(head)
        return head

    def _albedo(self, head) -> np.ndarray:
        """Per-vertex sRGB: the head's skin at the ring, fading to its median a few cm below."""
        from scipy.spatial import cKDTree

        from painctl.renderer import studio_lights

        lights = self.lights if self.lights is not None else studio_lights()
        if head.texture is not None or head.vertex_colors is not None:
            typical, at_ring = head_skin_albedo(head, self.bust, lights, self.identity.regions)
        else:
            typical = melanin_albedo(self.identity)
            at_ring = np.tile(typical, (int((self.bust.head_index >= 0).sum()), 1))
        ring_points = self.bust.vertices[self.bust.head_index >= 0]
        distance, nearest = cKDTree(ring_points).query(self.bust.vertices)
        fade = np.exp(-distance / 0.015)[:, None]
        linear = typical[None, :] + fade * (at_ring[nearest] - typical[None, :])
        return linear_to_srgb(np.clip(linear, 0.0, 1.0)).astype(np.float32)

    def meshes(self, vertices, au):
        if self.mesh is None:
            from painctl.renderer import Mesh

            if self.albedo is None:
                self.albedo = linear_to_srgb(np.tile(melanin_albedo(self.identity), (len(self.bust.vertices), 1))).astype(np.float32)
            # Skin deep under a garment is never seen: leave it out (the whole bust when bare).
            faces = self.faces if self.bust.covered is None else self.faces[~self.bust.covered]
            # Less sheen than the face (the neck and chest are not oily): a highlight the head's
            # baked texture does not have would show as a pale band below the seam.
            self.mesh = Mesh(self.bust.vertices, faces, vertex_colors=self.albedo, specular=0.02, roughness=0.75)
        return [self.mesh]

    def record(self) -> dict:
        return {"vertices": int(len(self.bust.vertices)), "triangles": int(len(self.faces))}


def melanin_albedo(identity: Identity) -> np.ndarray:
    """Linear skin albedo (3,) from the identity's ancestry mix (painctl.appearance.skin's melanin model), used
    when the head gives no colour to match."""
    from painctl.appearance.skin import ANCESTRY_MELANIN, BASE_REFLECTANCE, HAEMOGLOBIN_ABSORPTION, MELANIN_ABSORPTION

    weights = {"african": 1.0, "asian": 1.0, "caucasian": 1.0}
    if identity.phenotype is not None:
        from painctl.facemodels.anny_bust import load_bust_basis

        labels = load_bust_basis().phenotype_labels
        weights = {k: float(identity.phenotype[labels.index(k)]) for k in weights if k in labels}
    total = max(sum(weights.values()), 1e-6)
    melanin = sum(ANCESTRY_MELANIN[k] * w / total for k, w in weights.items())
    return BASE_REFLECTANCE * np.exp(-melanin * MELANIN_ABSORPTION - 0.1 * HAEMOGLOBIN_ABSORPTION)


class Garment(Part):
    """The garment over the bust: a textured cloth shell below the collar line."""

    name = "garment"
    label = "clothing"

    def __init__(self, bust: Bust, style: dict) -> None:
        from painctl.renderer import Mesh

        vertices, faces, uv, collar = garment_geometry(bust, style)
        field = collar_field(bust.mean, bust.head_index >= 0, style)
        bust.covered = (field[bust.faces] < -SKIN_HIDDEN_M).all(1)
        self.style = style
        # Cloth: little sheen, a broad lobe, and a softer terminator than bare Lambert.
        self.mesh = Mesh(vertices, faces, uv=uv, texture=cloth_texture(style, collar), specular=0.02, roughness=0.9, wrap=0.2)

    def meshes(self, vertices, au):
        return [self.mesh]

    def record(self) -> dict:
        keys = ("kind", "colour_name", "colour", "print", "offset_m", "neck_drop_m", "v_depth_m")
        return {k: self.style[k] for k in keys if k in self.style}


@register("body")
def build_body(identity: Identity) -> Part | None:
    """The bust's skin for an anny identity, None for other heads."""
    bust = fit_bust(identity)
    if bust is None:
        return None
    bust.covered = None  # until this build's garment (built next, unless left out) covers it
    return BodySkin(identity, bust)


@register("garment")
def build_garment(identity: Identity) -> Part | None:
    """The garment over the bust for an anny identity, None for other heads."""
    bust = fit_bust(identity)
    return None if bust is None else Garment(bust, draw_garment(identity))
