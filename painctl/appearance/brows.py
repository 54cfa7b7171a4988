"""Eyebrows as hair: a few hundred tapered strand cards per brow, bound to the brow-ridge skin.

Each brow follows an arch from just inside the inner eye corner to beyond the outer one. Under
the strands the brow's bed of hair is painted into the head's skin (:mod:`painctl.appearance.paint`,
coverage-weighted, in the brows' own colour): at 224 px a brow hair is a fraction of a pixel,
which cut-out cards alone draw as specks, and a camera sees as a soft, textured band. Strands are rooted inside the arch, lie close to the skin and point up and out near the
nose, out along the body and out and down at the tail, as brows grow. Every card corner is bound
to the skin triangle under it (:mod:`painctl.appearance.binding`), so the brows move with AU4
(brow lowerer) and with the cheek and lid actions around them. Shape, density, length and colour
are drawn per identity from ``rng_for(seed, STREAM, index)``.

Brows grey later and less than the scalp, as salt-and-pepper (:func:`brow_grey`): a share of the
strands white, the rest pigmented, over a bed of the pigmented hairs with the white ones in their
shadow, so a grey brow stays darker than the skin round it and still reads as a brow. One uniform
grey mix of every hair and the bed (up to 0.66 grey) drew elderly brows as pale smudges: over the
bed, 1 - brow/skin luminance on a flat light skin at 88 years was 0.12-0.21 (0.40-0.51 of the same
heads at 30), and on a dark skin the brows were lighter than the skin (-0.38); salt-and-pepper
measures 0.27-0.32 (0.78-0.90 of the young brows) and 0.23 (tests/test_appearance_brows.py).
FaceMesh's AU4 brow-height fall (12 sweep heads, 512 px, level 5, views 0 / -30 / +30): -35.3 /
-28.4 / -31.7% with the uniform mix, -35.1 / -31.6 / -31.5% salt-and-pepper; at -30 the six
elderly heads' median went -26.9 -> -31.8% (the six young ones -30.0%, unchanged): the dark-skinned
woman of 85, whose brows were lighter than her skin, -21.8 -> -36.9%.
"""

from __future__ import annotations

import numpy as np

from painctl.appearance.binding import Binding, bind, project_front
from painctl.appearance.hair import GREY, identity_hair_colour
from painctl.appearance.paint import SkinPaint, hash_noise, texel_points
from painctl.appearance.parts import Identity, Part, register
from painctl.renderer.colour import linear_to_srgb, srgb_to_linear
from painctl.seeding import rng_for

#: The seeding stream of brows and lashes (see painctl.seeding.rng_for); lashes use STREAM + 1.
STREAM = 14300
#: The most of the skin the brows' painted bed covers (skin shows through the densest brow).
BED_MAX = 0.82
#: The segmentation evaluates the bed on triangles with a corner within this distance (metres) of
#: a vertex inside the brows (the head's triangles there are about 5.6 mm).
LABEL_REACH_M = 0.008
#: Pieces along each brow in which the bed's grain has one direction.
BED_PIECES = 6
#: Brows grey later and less than the scalp: none until the scalp is :data:`GREY_LAG` grey, then
#: rising to :data:`GREY_MAX` of the strands white where the scalp is fully grey (0.95). Until
#: 2026-12 the brows took 0.7 x the scalp's grey (up to 0.66) as one uniform mix of every hair and
#: the bed: elderly brows were pale, low-contrast smudges, and at 30 degrees FaceMesh put the
#: turned eye's brow points above the lowered brow (AU4 = 5: brow height -21% median on the six
#: elderly sweep heads against -35% on the six young ones).
GREY_LAG = 0.3
GREY_MAX = 0.4
#: How light a white hair reads in the painted bed, against GREY: white hairs over skin lie in
#: their own and their neighbours' shadow, and the bed is mostly the pigmented hairs' mass.
BED_WHITE = 0.4
#: How light a white strand card is against GREY (linear, a range): a card is several times wider
#: than a hair, so at full GREY a white strand covered its pixel with far more white than a hair does.
WHITE_STRAND = (0.45, 0.7)


def brow_grey(scalp_grey: float) -> float:
    """Return the share 0-1 of white brow hairs for a scalp whose share of grey hair is ``scalp_grey``."""
    return float(GREY_MAX * np.clip((scalp_grey - GREY_LAG) / (0.95 - GREY_LAG), 0.0, 1.0))


class Brows(Part):
    """Both eyebrows of one identity as strand cards bound to the skin."""

    name = "brows"
    label = "brows"

    def __init__(self, binding: Binding, faces: np.ndarray, colours: np.ndarray, tangent_pairs: np.ndarray, info: dict,
                 identity: Identity | None = None, shape: dict | None = None):
        self.binding = binding
        self.faces = faces
        self.colours = colours
        self.tangent_pairs = tangent_pairs  # (S,2) corner ids: strand direction = corner[1] - corner[0]
        self.info = info
        #: The identity and its brow shape (arch, lift, thickness, density, linear colour), for the painted bed.
        self.identity, self.shape = identity, shape
        self._paint: SkinPaint | None = None
        #: For :meth:`skin_cover`: the triangles near the brows (F,) bool and the neutral head (V,3) in float64.
        self._near: np.ndarray | None = None
        self._neutral: np.ndarray | None = None

    def paint(self, size: int) -> SkinPaint | None:
        """Return the brows' bed of hair painted on a ``size`` x ``size`` head texture (0: on the
        head's vertex colours only), built once per size."""
        ident = self.identity
        if ident is None or self.shape is None or (size and ident.uv is None):
            return None
        if self._paint is None or self._paint.size != size:
            rows = cols = np.zeros(0, np.int64)
            cover = np.zeros(0)
            if size:
                texels = texel_points(ident, size, "face")
                rows, cols = texels.rows, texels.cols
                cover = brow_coverage(ident, texels.points, self.shape)
                keep = cover > 1e-3
                rows, cols, cover = rows[keep], cols[keep], cover[keep]
            vertex_cover = brow_coverage(ident, ident.neutral.astype(np.float64), self.shape)
            if "face" in ident.regions:
                vertex_cover[np.setdiff1d(np.arange(len(vertex_cover)), ident.regions["face"])] = 0.0
            self._paint = SkinPaint(rows, cols, cover, self.shape["linear"], size, vertex_coverage=vertex_cover)
        return self._paint

    def dress(self, head, vertices, au):
        paint = self.paint(head.texture.shape[0] if head.textured else 0)
        return head if paint is None else paint.dress(head)

    def meshes(self, vertices, au):
        from painctl.renderer import Mesh

        pos = self.binding.evaluate(vertices)
        t = pos[self.tangent_pairs[:, 1]] - pos[self.tangent_pairs[:, 0]]
        tangents = np.repeat(t, 4, axis=0)
        return [Mesh(pos, self.faces, vertex_colors=self.colours, specular=0.015, roughness=0.8, strand_tangents=tangents)]

    def record(self):
        return dict(self.info)

    def skin_cover(self, triangle, barycentric):
        ident = self.identity
        if ident is None or self.shape is None:
            return None
        if self._near is None:
            # The bed is evaluated on the triangles near the brows only (a few hundred of the head's).
            from scipy.spatial import cKDTree

            v = self._neutral = ident.neutral.astype(np.float64)
            inside = brow_region(ident, v, self.shape) > 0
            near = np.zeros(len(v), bool)
            if inside.any():
                near[np.concatenate(cKDTree(v).query_ball_point(v[inside], LABEL_REACH_M))] = True
            if "face" in ident.regions:
                face = np.zeros(len(v), bool)
                face[ident.regions["face"]] = True
                near &= face
            self._near = near[ident.faces].any(1)
        cover = np.zeros(len(triangle))
        on = self._near[triangle]
        if on.any():
            corners = self._neutral[ident.faces[triangle[on]]]
            cover[on] = brow_region(ident, np.einsum("kc,kcd->kd", barycentric[on], corners), self.shape)
        return cover


def brow_arch(identity: Identity, side: str, t: np.ndarray, arch_m: float, lift_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Return (x, y) metres of the brow's centre line at ``t`` (0 inner end .. 1 tail) on the neutral head."""
    v = identity.neutral
    lm = identity.landmarks
    inner, outer = v[lm[f"{side}_eye_inner"]], v[lm[f"{side}_eye_outer"]]
    sign = 1.0 if outer[0] > inner[0] else -1.0
    x0, x1 = inner[0] - sign * 0.004, outer[0] + sign * 0.007
    top = v[lm[f"{side}_upper_lid"], 1]
    base = max(v[lm[f"{side}_brow"], 1], top + 0.011) + lift_m
    return x0 + (x1 - x0) * t, base + arch_m * np.sin(np.pi * np.clip(t, 0, 1) * 0.85) - 0.003 * np.clip(t - 0.7, 0, 1)


def brow_coverage(identity: Identity, points: np.ndarray, shape: dict) -> np.ndarray:
    """Return (K,) the fraction 0-1 of skin the brows' hair covers at ``points`` (K,3) metres of the
    neutral head, for the brow ``shape`` drawn by :func:`build_brows`.

    The bed (:func:`brow_region`) is broken up by a grain of cells elongated along the hairs' run
    (mostly outward), as hairs do."""
    v = identity.neutral
    lm = identity.landmarks
    # Clumps of a few hairs (2 mm) and single hairs (0.3 mm), both in cells elongated along the
    # hairs' local direction (up at the brow's head, outward along it): hash cells stretched along
    # x alone drew the whole brow as horizontal hatching.
    # (In six pieces along each brow, each with its own direction: one grid turned continuously
    # along the brow would shear its cells into noise.)
    flat = np.zeros((len(points), 3))
    piece = np.zeros(len(points), np.int64)
    for k, side in enumerate(("left", "right")):
        inner, outer = v[lm[f"{side}_eye_inner"]], v[lm[f"{side}_eye_outer"]]
        sign = 1.0 if outer[0] > inner[0] else -1.0
        x0, x1 = inner[0] - sign * 0.004, outer[0] + sign * 0.007
        t = (points[:, 0] - x0) / (x1 - x0)
        mine = (t > -0.3) & (t < 1.3)
        j = np.clip(np.floor(t[mine] * BED_PIECES), 0, BED_PIECES - 1).astype(np.int64)
        a = growth_angle((j + 0.5) / BED_PIECES)
        c, s_ = sign * np.cos(a), np.sin(a)
        p = points[mine]
        flat[mine] = np.stack([p[:, 0] * c + p[:, 1] * s_, -p[:, 0] * s_ + p[:, 1] * c, p[:, 2]], axis=1)
        piece[mine] = j + BED_PIECES * k
    seed = int(identity.index) * 31 + piece
    fine = hash_noise(flat, 0.0003, stretch=(4.0, 1.0, 1.0), seed=seed)
    clumps = hash_noise(flat + 0.0011, 0.0012, stretch=(2.0, 1.0, 1.0), seed=seed + 7)
    grain = 0.55 * fine + 0.45 * clumps
    # Skin shows through even the densest part (a brow is hairs over skin, not a solid band).
    return np.clip(brow_region(identity, points, shape, core=True) * shape["density"] * (0.45 + 0.75 * grain) * 1.3, 0.0, BED_MAX)


def brow_region(identity: Identity, points: np.ndarray, shape: dict, core: bool = False) -> np.ndarray:
    """Return (K,) 0-1 how far ``points`` (K,3) metres of the neutral head lie inside the brows of
    ``shape`` (:func:`build_brows`): 1 over the brow, falling to 0 over its feathered edges; with
    ``core``, thinner where only the hairs' tips reach (the bed's density before its grain).

    The bed runs along the arch the strands are rooted on, as high as their roots spread plus the
    rise of their tips, thinning toward the tail and fading in at the inner head."""
    from painctl.appearance.hair import _smoothstep

    v = identity.neutral
    lm = identity.landmarks
    cover = np.zeros(len(points))
    for side in ("left", "right"):
        inner, outer = v[lm[f"{side}_eye_inner"]], v[lm[f"{side}_eye_outer"]]
        sign = 1.0 if outer[0] > inner[0] else -1.0
        x0, x1 = inner[0] - sign * 0.004, outer[0] + sign * 0.007
        t = (points[:, 0] - x0) / (x1 - x0)
        _, centre = brow_arch(identity, side, np.clip(t, 0, 1), shape["arch_m"], shape["lift_m"])
        half = shape["thickness_m"] * (1.0 - 0.55 * np.clip(t, 0, 1)) * 1.15
        # Tips rise above the roots (hairs grow up and out), most at the brow's head.
        rise = shape["length_m"] * (0.55 - 0.35 * np.clip(t, 0, 1))
        lo, hi = centre - half, centre + half + rise
        # Feathered edges, the upper one more (hair tips), not a painted band's crisp outline.
        soft = 0.0013
        across = _smoothstep(lo - soft, lo + soft, points[:, 1]) * (1 - _smoothstep(hi - soft * 1.8, hi + soft * 1.5, points[:, 1]))
        # Sparse at the head (a few upright hairs), densest over the body, thinning out to the tail.
        along_t = np.interp(t, [-0.06, 0.04, 0.25, 0.6, 0.9, 1.04], [0.0, 0.5, 1.0, 1.0, 0.45, 0.0])
        front = points[:, 2] > v[lm[f"{side}_upper_lid"], 2] - 0.02
        # Densest along the roots' middle line, thinner where only tips reach.
        thin = 1.0 - 0.45 * np.clip((points[:, 1] - centre) / np.maximum(half + rise, 1e-4), 0, 1) if core else 1.0
        cover = np.maximum(cover, across * along_t * front * thin)
    return cover


def growth_angle(t: np.ndarray) -> np.ndarray:
    """Return the hairs' mean growth angle (radians from the outward horizontal, up positive) at
    ``t`` along the brow (0 head .. 1 tail): nearly upright at the head, turning outward over the
    first third, out and a little down at the tail."""
    return np.interp(t, [0.0, 0.12, 0.35, 0.7, 1.0], np.deg2rad([80.0, 62.0, 22.0, 5.0, -18.0]))


def build_brows(identity: Identity) -> Brows | None:
    """Draw the identity's brow shape, density and colour and build the strand cards on its neutral head."""
    lm = identity.landmarks
    if "face" not in identity.regions or not all(f"{s}_{k}" in lm for s in ("left", "right") for k in ("brow", "eye_inner", "eye_outer", "upper_lid")):
        return None
    rng = rng_for(identity.seed, STREAM, identity.index)
    female = identity.gender == "female"
    age = 40.0 if identity.age_years is None else float(identity.age_years)
    # The brows take the scalp hair's colour family, a touch darker; they grey later and less
    # (:func:`brow_grey`), as salt-and-pepper: a share of the strands white, the rest pigmented.
    _, colour, scalp_grey = identity_hair_colour(identity)
    colour = np.clip(colour * rng.uniform(0.7, 0.95), 0, 1)
    grey = brow_grey(scalp_grey)
    density = rng.uniform(0.55, 0.85) if female else rng.uniform(0.75, 1.0)
    # Fewer strands than a brow has hairs: the painted bed carries its mass, the strands its texture.
    # (Not more for older men's bushier brows: 30% more strands there, dark ones rising above the
    # lowered brow, cost the three elderly men 5-10 points of FaceMesh's AU4 brow fall at -30
    # degrees; their strands are longer, below.)
    n_strands = int(round(70 * density))
    arch = rng.uniform(0.003, 0.006) if female else rng.uniform(0.0015, 0.004)
    thick = (rng.uniform(0.0025, 0.0035) if female else rng.uniform(0.0032, 0.0045))
    length = rng.uniform(0.005, 0.007) * (1.25 if (not female and age > 60) else 1.0)
    lift = rng.uniform(-0.001, 0.002)
    # The bed is the pigmented hairs' mass with the white ones in their shadow (BED_WHITE), mixed
    # as the eye sees it (in sRGB): it stays darker than the skin around it, so a grey brow still
    # reads as a brow; the white strands drawn over it give the salt-and-pepper.
    bed = srgb_to_linear((1.0 - grey) * colour + grey * np.asarray(GREY) * BED_WHITE)
    pigment = srgb_to_linear(colour)
    v = identity.neutral.astype(np.float64)
    face_faces = identity.faces[np.isin(identity.faces, identity.regions["face"]).all(axis=1)]
    corners, colours, pairs = [], [], []
    for side in ("left", "right"):
        inner_x = v[lm[f"{side}_eye_inner"], 0]
        outer_x = v[lm[f"{side}_eye_outer"], 0]
        out_sign = 1.0 if outer_x > inner_x else -1.0
        t = np.sort(rng.beta(1.3, 1.6, n_strands))
        x, y = brow_arch(identity, side, t, arch, lift)
        half = thick * (1.0 - 0.55 * t) * (1.15 if t.size else 1)
        across = rng.uniform(-1.0, 1.0, n_strands)
        y = y + across * half
        # Growth direction in the face plane: nearly upright at the head, turning outward along the
        # body, out and a little down at the tail (:func:`growth_angle`); over the body the upper
        # hairs lie flatter and the lower ones rise, so they converge on the brow's middle line
        # (as brows grow) instead of lying parallel like combed hatching.
        angle = growth_angle(t) - np.deg2rad(14) * across * np.clip((t - 0.15) / 0.2, 0, 1)
        # Older brows' hairs are wirier and straggle (18 degrees of spread over 60, 13 before): with
        # dark and white strands side by side at 13 degrees an elderly brow read as combed hatching
        # (coherence 0.26 in test_brows_at_512_px_are_not_hatched_strokes, 0.20 at 18 degrees).
        angle = angle + rng.normal(0, np.deg2rad(18 if age > 60 else 13), n_strands)
        d = np.stack([out_sign * np.cos(angle), np.sin(angle)], axis=1)
        # Short at the head, longest over the body, shorter again at the tail.
        strand_len = length * (0.5 + 0.5 * rng.random(n_strands)) * np.interp(t, [0.0, 0.2, 0.6, 1.0], [0.6, 1.0, 1.0, 0.7])
        root_xy = np.stack([x, y], axis=1)
        tip_xy = root_xy + d * strand_len[:, None]
        # Fine hairs (a fraction of a pixel at 512 px): single hairs, not strokes of a pen.
        width = rng.uniform(0.0004, 0.00065, n_strands)
        side_xy = np.stack([-d[:, 1], d[:, 0]], axis=1) * width[:, None] / 2
        quad = np.stack([root_xy - side_xy, root_xy + side_xy, tip_xy + side_xy * 0.3, tip_xy - side_xy * 0.3], axis=1).reshape(-1, 2)
        points, tri = project_front(quad, v, face_faces)
        # Roots sit in the skin, tips lift off it a little (brow hairs lie at a low angle).
        lift_off = np.tile([0.0002, 0.0002, 0.0009, 0.0009], n_strands)
        normals = np.cross(v[tri[:, 1]] - v[tri[:, 0]], v[tri[:, 2]] - v[tri[:, 0]])
        normals /= np.linalg.norm(normals, axis=1, keepdims=True)
        points = points + normals * lift_off[:, None]
        base = len(corners) and sum(len(c) for c, _ in corners)
        corners.append((points, tri))
        # Pigmented strands in the hairs' own colour, a little lighter or darker each (lit cards
        # read darker than the unlit texture: hence the lift); ``grey`` of them white.
        shade = rng.uniform(1.15, 1.6, n_strands)
        lin = pigment[None] * shade[:, None]
        if grey > 0:  # (drawn only then: brows without grey keep every later draw as it was)
            white = rng.random(n_strands) < grey
            lin = np.where(white[:, None], srgb_to_linear(np.asarray(GREY)) * rng.uniform(*WHITE_STRAND, n_strands)[:, None], lin)
        rgb = linear_to_srgb(lin)
        colours.append(np.repeat(np.clip(rgb, 0, 1), 4, axis=0))
        first = base + 4 * np.arange(n_strands)
        pairs.append(np.stack([first, first + 2], axis=1))
    points = np.concatenate([c for c, _ in corners])
    tri = np.concatenate([t for _, t in corners])
    binding = bind(points, v, tri)
    n = len(points) // 4
    q = 4 * np.arange(n)
    faces = np.concatenate([np.stack([q, q + 1, q + 2], 1), np.stack([q, q + 2, q + 3], 1)])
    info = {"strands": int(n), "arch_m": round(float(arch), 4), "thickness_m": round(float(thick), 4),
            "rgb": [round(float(c), 4) for c in colour], "grey": round(grey, 3)}
    shape = {"arch_m": arch, "lift_m": lift, "thickness_m": thick, "length_m": length, "density": density, "linear": bed}
    return Brows(binding, faces, np.concatenate(colours), np.concatenate(pairs), info, identity, shape)


@register("brows")
def builder(identity: Identity) -> Brows | None:
    """Build the identity's eyebrows (None on a head without brow landmarks)."""
    return build_brows(identity)
