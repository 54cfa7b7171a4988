"""Beards and stubble for some men: a bed of hair painted into the skin under hair shells, bound to the skin so they move with the mouth.

The beard area is the skin below the nose and the cheek line, down under the chin, leaving the
lips bare; a moustache keeps only the upper lip and grows down to a millimetre or so above its
red (never over it, so the upper lip's contour that a landmarker reads moves with AU9/AU10).

A real beard at 224-512 px is a mass of hair: where it is dense the skin does not show through.
Shells alone cannot draw that: they are cut out strand by strand (no blending), so skin showed
between every strand, and dark strands scattered over bare skin read as scribbles or dirt. So a
beard is two layers. Under it, painted into the head's texture (:mod:`painctl.appearance.paint`,
:func:`painted_hair`), a bed of short hairs as dense as the beard grows there
(:func:`beard_density`: full on the chin, jaw and upper lip, thinner on the upper cheeks, in
slow patches), which hides the skin where the beard is dense and thins out hair by hair towards
its edges; mip-mapped, it averages to the hair's colour at 224 px and keeps a grain of hair at
512. Over it the shells (:func:`painctl.appearance.hair.build_shells`) with the beard's own
texture (:func:`beard_texture`: many fine, short curling hairs in clumps that taper to their
tips, not a strand per column), which give the mass its strands, tufts and a soft, irregular
outline. Stubble is painted only: bristles of a day or three are a tenth of a millimetre thick
and a millimetre long, which a camera at 224-512 px sees as a blue-grey shadow (dark hair under
the skin) with a dot per bristle over the beard area (grey bristles, unpigmented, as dots
only), not as hair standing off the face (as
shells, they drew a solid grey mask on the cheeks that hid the face from a face detector at 30
degrees). Whether a man has a beard, and which, is drawn from ``rng_for(seed, STREAM, index)``
by age and ancestry (:data:`BEARD_WEIGHTS`); women have none. The painted hairs are a hash of
their cells (seeded by the identity index), so the same seed gives the same bytes.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from painctl.appearance.hair import GREY, Shells, _bumps, _smoothstep, ancestry_of, build_shells, head_frame, identity_hair_colour
from painctl.appearance.lips import lip_shape, upper_lip_excess
from painctl.appearance.paint import SkinPaint, hash_noise, texel_points
from painctl.appearance.parts import Identity, Part, register
from painctl.seeding import rng_for

#: The seeding stream of beards (see painctl.seeding.rng_for).
STREAM = 14250

BEARDS = ("none", "stubble", "moustache", "short_beard", "full_beard")
#: Beard weights by ancestry (men only); East Asian and African men's facial hair is sparser on
#: average, so more of them are clean-shaven or stubbled.
BEARD_WEIGHTS = {
    "african": {"none": 5, "stubble": 3, "moustache": 1, "short_beard": 1.5, "full_beard": 0.5},
    "asian": {"none": 6, "stubble": 3, "moustache": 1, "short_beard": 0.7, "full_beard": 0.3},
    "caucasian": {"none": 4, "stubble": 3, "moustache": 1, "short_beard": 1.5, "full_beard": 1},
}
#: Strand colour of beard shells relative to the beard's colour (the shells' layers shade it down;
#: 2.6, not 2: over the painted bed of hair, strands darker than it read as black scribbles),
#: at least :data:`BEARD_DARKEST` in its brightest channel (sRGB: black hair reflects a little
#: light, and with no highlight a black beard lifted only 2x drew as a black hole), and the
#: strand-length cut of the layer on the skin (the painted layer stands in for the roots).
BEARD_LIFT = 2.6
BEARD_DARKEST = 0.1
BEARD_ROOT_CUT = 0.3
BEARD_EDGE_POWER = 2.0
#: The beard's highlight strength (the hair shader's Kajiya-Kay lobes: its primary lobe is white):
#: none. On
#: dark hair even a faint white lobe adds far more light than the hair's own colour reflects (at
#: 0.1 the moustache drew a grey-blue band on the upper lip, at 0.008 it still made black hair
#: mid grey), and a beard's coarse, crossing hairs show no highlight band a camera at 224-512 px
#: resolves; its form comes from the shells' root shadowing and the gaps between its hairs.
BEARD_SPECULAR = 0.0
#: (shell thickness m, layers) per beard (stubble is painted, not shells).
BEARD_SHAPES = {"moustache": (0.005, 3), "short_beard": (0.005, 3), "full_beard": (0.012, 5)}


def beard_weights(gender: str | None, ancestry: str) -> dict[str, float]:
    """Return the probability of each beard in :data:`BEARDS` for this gender and ancestry."""
    if gender != "male":
        return {b: float(b == "none") for b in BEARDS}
    w = BEARD_WEIGHTS[ancestry]
    total = sum(w.values())
    return {b: w[b] / total for b in BEARDS}


class Beard(Part):
    """One man's beard or stubble: shells bound to the face (beards) over hair painted into the skin."""

    name = "beard"
    label = "beard"

    def __init__(self, kind: str, shells: Shells | None, info: dict, identity: Identity | None = None, painted: dict | None = None):
        self.kind, self.shells, self.info = kind, shells, info
        #: For the hair painted into the skin: the identity, and the bristles' linear ``colour``
        #: (3,) and per-vertex ``coverage`` (V,) 0-1, painted on first use.
        self.identity, self.painted = identity, painted
        self._paint: SkinPaint | None = None

    def meshes(self, vertices, au):
        return [] if self.shells is None else [self.shells.mesh(vertices)]

    def paint(self, size: int) -> SkinPaint | None:
        """Return the beard's hair painted on a ``size`` x ``size`` head texture (0: on the vertex
        colours only), built once per size; None for a clean-shaven man."""
        ident = self.identity
        if self.painted is None or ident is None or (size and ident.uv is None):
            return None
        if self._paint is None or self._paint.size != size:
            density = self.painted["coverage"]
            rows = cols = np.zeros(0, np.int64)
            texel_cover, colour = np.zeros(0), self.painted.get("vertex_colour", self.painted["colour"])
            if size:
                texels = texel_points(ident, size, "skin")
                d = texels.interpolate(density)
                keep = d > 1e-3
                rows, cols, d, points = texels.rows[keep], texels.cols[keep], d[keep], texels.points[keep]
                texel_cover, colour = painted_hair(points, d, self.kind, self.painted, head_frame(ident).centre, int(ident.index))
            self._paint = SkinPaint(rows, cols, texel_cover, colour, size, vertex_coverage=density * self.painted["under"] * 0.8)
        return self._paint

    def dress(self, head, vertices, au):
        paint = self.paint(head.texture.shape[0] if head.textured else 0)
        return head if paint is None else paint.dress(head)

    def record(self):
        return {"beard": self.kind, **self.info}

    def skin_cover(self, triangle, barycentric):
        # Stubble is a shadow in the skin, not hair a segmentation would outline.
        if self.painted is None or self.shells is None:
            return None
        # The painted bed is the vertices' density interpolated over each triangle (:meth:`paint`).
        density = np.asarray(self.painted["coverage"], np.float64)
        return np.einsum("kc,kc->k", barycentric, density[self.identity.faces[triangle]])


#: How far (metres) the beard's edges fade from full to none: the cheek line, and the neckline
#: under the jaw; and the amplitude of the random wobble of both (a beard's edge is not a line).
CHEEK_FADE_M = 0.012
NECK_FADE_M = 0.012
EDGE_WOBBLE_M = 0.004
#: How far (metres) the moustache's edge under the nose fades from full to none, centred on the
#: nostrils' sill.
MOUSTACHE_FADE_M = 0.004


def _jaw_line(v: np.ndarray, normals: np.ndarray, skin: np.ndarray, mouth_y: float, ear_x: float) -> tuple[np.ndarray, np.ndarray]:
    """Return knots (|x| metres, y metres) of the underside of the jaw: in 1 cm bins of |x|, the
    lowest skin point whose normal faces down (the throat corner under the chin, rising to the
    angle of the jaw), ending at the mouth's height in front of the ear."""
    p, n = v[skin], normals[skin]
    under = (n[:, 1] < -0.5) & (p[:, 1] < mouth_y)
    ax = np.abs(p[:, 0])
    xs, ys = [], []
    for lo in np.arange(0.0, ear_x - 0.02, 0.01):
        sel = under & (ax >= lo) & (ax < lo + 0.01)
        if sel.sum() >= 3:
            xs.append(lo + 0.005)
            ys.append(float(np.percentile(p[sel, 1], 10)))
    xs.append(ear_x - 0.008)
    ys.append(max(mouth_y - 0.01, ys[-1] if ys else mouth_y - 0.01))
    return np.array(xs), np.maximum.accumulate(np.array(ys))  # the jaw rises from the chin to the ear


#: How far (metres) beyond the upper lip's vermilion a beard starts and grows to full: a
#: moustache is a mass down to a millimetre or so above the lip's red, never on it. (Down to
#: 0.2 mm, a black moustache joined the red and a face landmarker lost the upper lip's contour
#: on a dark short beard: lip-nose at AU9 = 5 read +2.5% frontal and +28% at 30 degrees where
#: it reads -13% and -12% now; exposing the skin under the nose instead was worse, +52%.)
LIP_CLEARANCE_M = (0.0012, 0.003)


def subnasale(v: np.ndarray, skin: np.ndarray, lm: dict, mouth: np.ndarray) -> int | None:
    """Return the vertex of the head ``v`` (V,3) at its subnasale: the deepest midline ``skin``
    vertex between the nose tip (landmark ids ``lm``) and 4 mm above the ``mouth`` (3,), or None."""
    s = v[skin]
    between = (np.abs(s[:, 0]) < 0.002) & (s[:, 1] < v[lm["nose_tip"], 1]) & (s[:, 1] > mouth[1] + 0.004) & (s[:, 2] > mouth[2] - 0.01)
    if not between.any():
        return None
    return int(skin[between][np.argmin(s[between, 2])])


def _bare_lips(identity: Identity, v: np.ndarray, mouth: np.ndarray, half_w: float) -> np.ndarray:
    """Return (V,) 0-1: 0 on the lips, rising to 1 away from them.

    Above the mouth the bare area is the upper lip's vermilion, up to the lip's own border, where
    the skin texture's red and the segmentation's lips end
    (:func:`painctl.appearance.lips.upper_lip_excess`), and the beard grows to full over
    :data:`LIP_CLEARANCE_M` beyond it. Below the mouth (and on a
    head without a lip margin) an ellipse round the mouth, 8.5 mm above the lip line and 8 mm
    below it, as before (the beard starts right under the lower lip)."""
    dy = v[:, 1] - mouth[1]
    lips = ((v[:, 0] - mouth[0]) / (half_w + 0.002)) ** 2 + (dy / np.where(dy > 0, 0.0085, 0.008)) ** 2
    ellipse = _smoothstep(1.0, 1.25, lips)
    shape = lip_shape(v, identity.regions)
    if shape is None:
        return ellipse
    # Beside the mouth and behind its front (inside the mouth, the cheeks' inner side)
    # upper_lip_excess is infinite: nothing there is lips. Under the mouth the ellipse: the beard
    # starts right under the lower lip (the vermilion's full 9.5 mm left a bare band there that
    # read as a seam).
    bare = _smoothstep(LIP_CLEARANCE_M[0], LIP_CLEARANCE_M[1], upper_lip_excess(v, shape))
    return np.where(v[:, 1] > shape.centre[1], bare, ellipse)


def beard_coverage(identity: Identity, kind: str, rng: np.random.Generator | None = None) -> np.ndarray:
    """Return (V,) coverage 0-1 of the beard ``kind`` on the identity's neutral head.

    The beard fills the cheeks below a line from beside the nose to the sideburn and runs down
    under the jaw to a neckline that follows the jaw (the throat corner under the chin, rising
    to the angle of the jaw), not a level cut across the neck. Both edges fade over about a
    centimetre and wobble by ``rng`` (no wobble without one); the lips stay bare."""
    from painctl.renderer import vertex_normals

    v = identity.neutral.astype(np.float64)
    lm = identity.landmarks
    frame = head_frame(identity)
    mouth = 0.5 * (v[lm["mouth_left"]] + v[lm["mouth_right"]])
    half_w = 0.5 * abs(v[lm["mouth_left"], 0] - v[lm["mouth_right"], 0])
    nose_base = frame.nose_y - 0.014
    ear_x = float(np.abs(frame.ear[:, 0]).mean())
    ear_y = float(frame.ear[:, 1].mean())
    ear_z = float(frame.ear[:, 2].mean())
    ax = np.abs(v[:, 0])
    skin = np.asarray(identity.regions["skin"])
    wobble = np.zeros(len(v)) if rng is None else EDGE_WOBBLE_M * (_bumps(rng, v, 0.03) + 0.5 * _bumps(rng, v, 0.012))
    # The cheek line climbs from beside the nose to the sideburn in front of the ear; under the
    # nose it runs up to the nostrils' sill (the head's own subnasale), so a moustache fills the
    # upper lip from the sill to the lip's red (cut at the nose's base less its fade, it kept a
    # strip of a millimetre or two above the lip; cut 10 mm under the nose tip with the cheeks'
    # 12 mm fade, it thinned to a line at AU10 = 5, where the lip's border rises to 4 mm under
    # the sill).
    sn = subnasale(v, skin, lm, mouth)
    sill = float(v[lm["nose_tip"], 1] - 0.014) if sn is None else float(v[sn, 1])
    cheek = np.interp(ax, [0.0, 0.012, 0.025, ear_x - 0.012], [sill, sill, nose_base, ear_y - 0.004])
    # Under the nose the edge follows the nostrils: a wobble of several millimetres there cut a
    # moustache down to a strip over the lip; it fades there over MOUSTACHE_FADE_M, not the cheeks'.
    cheek_wobble = wobble * (0.25 + 0.75 * _smoothstep(0.012, 0.03, ax))
    fade = np.interp(ax, [0.0, 0.012, 0.025], [MOUSTACHE_FADE_M, MOUSTACHE_FADE_M, CHEEK_FADE_M])
    cover = _smoothstep(-0.5 * fade, 0.5 * fade, cheek + cheek_wobble - v[:, 1])
    # The neckline: a little below the underside of the jaw, so the beard covers the jaw's
    # underside and fades out where it turns into the neck.
    jaw_x, jaw_y = _jaw_line(v, vertex_normals(v, identity.faces).astype(np.float64), skin, float(mouth[1]), ear_x)
    neck = np.interp(ax, jaw_x, jaw_y) - 0.004 + wobble
    cover *= _smoothstep(neck - NECK_FADE_M, neck, v[:, 1])
    cover *= _smoothstep(ear_x - 0.004, ear_x - 0.016, ax)                     # not over the ears
    cover *= _smoothstep(ear_z - 0.012, ear_z + 0.004, v[:, 2] + wobble)          # not round the back of the neck
    cover *= _bare_lips(identity, v, mouth, half_w)
    if kind == "moustache":
        cover *= _smoothstep(mouth[1] - 0.001, mouth[1] + 0.002, v[:, 1]) * _smoothstep(half_w + 0.008, half_w + 0.001, ax)
    on_skin = np.zeros(len(v), bool)
    on_skin[skin] = True
    return np.where(on_skin, cover, 0.0)


#: How much thinner (0-1) a beard grows on the upper cheeks, beside the moustache and above the
#: mouth's corners, than on the chin, jaw and upper lip; and the depth of its slow patchiness.
CHEEK_THINNING = 0.45
PATCHINESS = 0.15


def beard_density(identity: Identity, kind: str, cover: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """Return (V,) hair density 0-1 of a beard of coverage ``cover`` (:func:`beard_coverage`):
    full on the chin, jaw and moustache, thinner by :data:`CHEEK_THINNING` on the upper cheeks
    (a beard grows sparse towards the cheek line), with slow patches of :data:`PATCHINESS` drawn
    from ``rng`` (none without one)."""
    v = identity.neutral.astype(np.float64)
    lm = identity.landmarks
    mouth = 0.5 * (v[lm["mouth_left"]] + v[lm["mouth_right"]])
    half_w = 0.5 * abs(v[lm["mouth_left"], 0] - v[lm["mouth_right"], 0])
    density = np.asarray(cover, np.float64).copy()
    if kind != "moustache":
        upper_cheek = _smoothstep(mouth[1] - 0.012, mouth[1] + 0.012, v[:, 1]) * _smoothstep(half_w + 0.004, half_w + 0.016, np.abs(v[:, 0] - mouth[0]))
        density *= 1.0 - CHEEK_THINNING * upper_cheek
    if rng is not None:
        density *= 1.0 - PATCHINESS * (0.5 + 0.5 * np.clip(_bumps(rng, v, 0.02), -1.0, 1.0))
    return np.clip(density, 0.0, 1.0)


#: The hairs painted into the skin under a beard (its under-layer): strands about a texel of a
#: 1024 px head texture wide and a few millimetres long, lying down the face in three crossing
#: directions (radians off straight down) with a sideways wave, so that seen at 512 px the layer
#: has the grain of hair, and at 224 px it averages to the hair's colour; the painted coverage at
#: full density, per kind (under the shells' gaps the skin must not show where a beard is dense).
PAINT_HAIR_WIDTH_M = 0.0004
PAINT_HAIR_LENGTH_M = 0.004
PAINT_HAIR_ANGLES = (-0.4, 0.05, 0.45)
PAINT_HAIR_WAVE_M = 0.0005
#: The painted hair is the beard's roots, shaded by the hair over them.
PAINT_ROOT_SHADE = 0.85
BEARD_UNDER = {"moustache": 0.98, "short_beard": 0.97, "full_beard": 0.99}
#: Stubble: bristles in cells of this size (metres), each a dot darker than the shadow between them,
#: and the blue-grey a dark stubble's shadow takes (dark hair seen through the skin, linear RGB).
STUBBLE_DOT_M = 0.0005
STUBBLE_SHADOW = np.array([0.028, 0.034, 0.048])
#: Stubble's coverage at full density: the shadow of its pigmented hairs under the skin, and a
#: bristle's dot over it (times its cell's draw cubed: most bristles are fine, a few catch a pixel).
STUBBLE_SHADOW_COVER, STUBBLE_DOT_COVER = 0.45, 0.55


def stubble_tint(colour: np.ndarray) -> np.ndarray:
    """Return the linear RGB (3,) that short hair of linear ``colour`` (3,) gives the skin it grows
    through: dark hair a blue-grey shadow (hair seen under translucent skin), light hair its own colour."""
    colour = np.asarray(colour, np.float64)
    dark = float(np.clip(1.0 - colour.max() / 0.2, 0.0, 1.0))
    return colour * (1.0 - 0.6 * dark) + 0.6 * dark * STUBBLE_SHADOW


def _cell_hash(seed: int, *ints: np.ndarray) -> np.ndarray:
    """Uniform 0-1 per integer cell (up to three integer arrays): :func:`hash_noise` on whole cells."""
    cells = np.stack([np.asarray(i, np.float64) for i in ints] + [np.zeros(len(ints[0]))] * (3 - len(ints)), axis=1) + 0.5
    return hash_noise(cells, 1.0, seed=seed)


def painted_hair(points: np.ndarray, density: np.ndarray, kind: str, painted: dict, centre: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the beard's under-layer on the texels at ``points`` (K,3) metres of hair ``density``
    (K,) 0-1: coverage (K,) 0-1 and linear colour (K,3).

    A beard's layer is a bed of short hairs (:data:`PAINT_HAIR_WIDTH_M`) lying down the face in
    cylindrical coordinates about ``centre`` (so they run down the chin and the cheeks alike);
    where the density is low only some hairs grow (a hair is present where its cell's draw is
    under the density), so the beard thins out hair by hair towards its edges, over the shadow of
    its pigmented share (``painted["edge_shadow"]``) as stubble's. Stubble is a blue-grey shadow with
    a dot per bristle (grey bristles dots only)."""
    colour = np.asarray(painted["colour"], np.float64)
    x, y = points[:, 0] - centre[0], points[:, 1]
    s = np.arctan2(x, points[:, 2] - centre[2]) * 0.08  # arc length round the face (metres, at 8 cm)
    if kind == "stubble":
        cell_s, cell_y = np.floor(s / STUBBLE_DOT_M), np.floor(y / STUBBLE_DOT_M)
        bristle = _cell_hash(seed + 7, cell_s, cell_y)
        full = np.minimum(1.0, 1.8 * density)
        shadow = stubble_tint(colour)
        grey = float(painted.get("grey", 0.0)) if painted.get("grey_colour") is not None else 0.0
        if grey <= 0.0:
            return full * (STUBBLE_SHADOW_COVER + STUBBLE_DOT_COVER * bristle ** 3), np.tile(shadow, (len(points), 1))
        # A grey or white bristle has no pigment to show through the skin: only the pigmented
        # share of the bristles shadows it, and each grey one is a dot of its own colour. (Grey
        # bristles painted as the dark ones' shadow drew a flat grey wash over the whole jaw, like
        # paint, on an old African man's white stubble.)
        shadow_cover = full * STUBBLE_SHADOW_COVER * (1.0 - grey)
        dot_cover = full * STUBBLE_DOT_COVER * bristle ** 3
        is_grey = _cell_hash(seed + 8, cell_s, cell_y) < grey
        cover = shadow_cover + dot_cover
        share = np.where(is_grey, dot_cover, 0.0) / np.maximum(cover, 1e-9)
        rgb = shadow[None] * (1.0 - share[:, None]) + np.asarray(painted["grey_colour"], np.float64)[None] * share[:, None]
        return cover, rgb
    strands = np.zeros(len(points))
    pick = np.zeros(len(points))
    # Fewer hairs grow as the density falls, and the fill under them falls faster: the edges thin
    # out into separate hairs over bare skin rather than into a shadow.
    grows = density ** 1.5
    for k, angle in enumerate(PAINT_HAIR_ANGLES):
        ca, sa = np.cos(angle), np.sin(angle)
        along = s * sa + y * ca
        across = s * ca - y * sa + PAINT_HAIR_WAVE_M * np.sin(along / 0.0025 + 2.1 * k)
        col = np.floor(across / PAINT_HAIR_WIDTH_M)
        r = along / PAINT_HAIR_LENGTH_M + _cell_hash(seed + 11 * k, col)
        row = np.floor(r)
        h = _cell_hash(seed + 11 * k + 1, col, row)
        length = 0.45 + 0.55 * _cell_hash(seed + 11 * k + 2, col, row)
        t = r - row  # 0 at the cell's lower end, 1 at its upper: the root is up, the tip hangs down
        # A hair fills the upper ``length`` of its cell, fading to its tip; it grows where its draw is under the density.
        on = (h < grows) & (t > 1.0 - length)
        value = np.where(on, 0.55 + 0.45 * (t - (1.0 - length)) / length, 0.0)
        better = value > strands
        strands = np.where(better, value, strands)
        pick = np.where(better, h / np.maximum(grows, 1e-6), pick)
    # Under the hairs a fill of the density squared: dense beard hides the skin, a thin one only
    # shadows it between its hairs.
    cover = painted["under"] * (1.0 - (1.0 - strands) * (1.0 - density ** 3))
    # Each hair a little lighter or darker; a greying beard's hairs grey or dark by their own draw.
    shade = (0.8 + 0.35 * _cell_hash(seed + 5, np.floor(pick * 997)))[:, None]
    rgb = colour[None] * shade * PAINT_ROOT_SHADE
    grey_colour = painted.get("grey_colour")
    if grey_colour is not None:
        is_grey = (pick < painted["grey"])[:, None]
        rgb = np.where(is_grey, np.asarray(grey_colour)[None] * shade * PAINT_ROOT_SHADE, rgb)
    share = float(painted.get("edge_shadow", 0.0))
    if share > 0:
        # Where the beard thins towards its edges the skin between its tufts carries the shadow of
        # the shorter dark hairs there, as stubble does; without it dark tufts stood on bare skin
        # like ink. Only pigmented hair (``share``: 1 - grey) casts it, and only where the hair is sparse.
        tint = stubble_tint(colour)
        edge = share * STUBBLE_SHADOW_COVER * np.minimum(1.0, 1.8 * density) * (1.0 - density ** 3)
        under = edge * (1.0 - cover)
        total = cover + under
        rgb = (rgb * cover[:, None] + tint[None] * under[:, None]) / np.maximum(total, 1e-9)[:, None]
        cover = total
    return cover, rgb


def beard_uv(identity: Identity) -> np.ndarray:
    """Return (V,2) strand coordinates for beard shells: u round the vertical axis (across the
    strands), v down the face (along them), so beard strands hang down the chin and cheeks with
    no seam or pole on the beard (a pole in front of the face put a seam under the lower lip)."""
    from painctl.appearance.hair import HAIR_UV_REPEAT

    v = identity.neutral.astype(np.float64)
    centre = head_frame(identity).centre
    u = np.arctan2(v[:, 0] - centre[0], v[:, 2] - centre[2]) / (2 * np.pi) * HAIR_UV_REPEAT + 0.5 * HAIR_UV_REPEAT
    return np.stack([u, -v[:, 1] / 0.05], axis=1)


#: Beard hairs in the strand texture (texels of about 0.35 mm; one tile is 256 x 128 texels): how
#: many hairs a tile holds, their length range (texels), their spread of direction about "down" and
#: of curl (radians, and radians per texel), and the feature size (texels) of the clumps they
#: gather in and of the patches in which a greying beard greys first. 2,600 hairs one texel wide
#: (1,100 two texels wide, 7-26 long, drew a beard as coarse curly strokes: scribbles at 224 px).
BEARD_HAIRS = 2600
BEARD_HAIR_LENGTH = (5.0, 18.0)
BEARD_ANGLE_SD = 0.45
BEARD_CURL_SD = 0.05
BEARD_CLUMP_TEXELS = 14.0
BEARD_GREY_PATCH_TEXELS = 40.0
#: How much of a hair's reach out of the skin it loses towards its tip (alpha falls along the hair,
#: so the outer shell layers cut its tip off first and the hair tapers).
BEARD_TIP_FALL = 0.5
#: In a greying beard the dark hairs are lighter and the grey ones darker than in a young or a
#: white one (salt and pepper seen at arm's length is a mid grey with a fine grain, not black and
#: white dots): the fraction by which the two move toward each other at full greying.
BEARD_PEPPER_MIX = 0.35
#: How much less a fully grey beard's inner shell layers are shaded than a dark one's.
BEARD_GREY_SHADOW_EASE = 0.6


def _tile_waves(rng: np.random.Generator, shape: tuple[int, int], feature: float, waves: int = 10):
    """Return a smooth random field of texel positions, ``f(x, y)`` -> 0-1, that tiles on an
    (H,W) texture, with features about ``feature`` texels across: a sum of plane waves with whole
    numbers of periods across the tile (cheap to evaluate at a few thousand roots)."""
    h, w = shape
    k = np.maximum(1.0, w / feature / 2.0)
    kx = np.round(rng.normal(0.0, k, waves))
    ky = np.round(rng.normal(0.0, k * h / w, waves))
    kx[(kx == 0) & (ky == 0)] = 1.0
    phase = rng.uniform(0.0, 2 * np.pi, waves)

    def field(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        arg = 2 * np.pi * (np.outer(x, kx) / w + np.outer(y, ky) / h) + phase
        return 0.5 + 0.5 * np.tanh(1.2 * np.sin(arg).sum(axis=1) / np.sqrt(waves / 2.0))

    return field


def beard_texture(rng: np.random.Generator, colour: np.ndarray, grey: float, curl: float = 0.0, width: int = 256, height: int = 128,
                  hairs: int = BEARD_HAIRS) -> np.ndarray:
    """Return an (height, width, 4) float32 strand texture of beard hair that tiles: rgb each
    hair's colour, alpha its length 0-1 (0 between hairs, where the skin shows).

    Unlike scalp hair (a strand per column), a beard is short separate hairs: each is a curve from
    a random root, pointing down the face within :data:`BEARD_ANGLE_SD`, bending with its own curl
    (``curl`` 0-1 adds to it: tightly curling hair), of random length, gathered in clumps (a
    smooth density field), longer where they clump, so the shells' length cut leaves irregular
    tufts and gaps instead of columns. ``grey`` of them are grey, in patches.
    """
    colour = np.asarray(colour, np.float64)
    clump = _tile_waves(rng, (height, width), BEARD_CLUMP_TEXELS)
    patch = _tile_waves(rng, (height, width), BEARD_GREY_PATCH_TEXELS)
    # Roots: many candidates, kept more often where the clump field is high (but everywhere: the
    # bed of hair painted under the shells is even, and tufts over bare gaps read as dirt).
    cand = rng.uniform(0.0, 1.0, (hairs * 2, 2)) * (width, height)
    dense = clump(cand[:, 0], cand[:, 1])
    keep = rng.random(len(cand)) < 0.35 + 0.65 * dense
    roots, density = cand[keep][:hairs], dense[keep][:hairs]
    n = len(roots)
    length = rng.uniform(*BEARD_HAIR_LENGTH, n) * (0.7 + 0.5 * density)
    angle = rng.normal(0.0, BEARD_ANGLE_SD, n)
    bend = rng.normal(0.0, BEARD_CURL_SD + 0.15 * curl, n)
    # Alpha is how far out of the skin a hair reaches: long hairs in clumps stand out of the outer layers.
    reach = np.clip(rng.uniform(0.2, 1.0, n) * (0.5 + 0.6 * density), 0.05, 1.0)
    step = 0.9  # texels: (nearly) every texel a hair crosses is visited
    steps = int(np.ceil(BEARD_HAIR_LENGTH[1] * 1.2 / step))
    s = np.arange(steps) * step
    inside = s[None] <= length[:, None]
    # A steady bend plus a slow wave along the hair: hairs curve one way, then the other.
    wave = rng.uniform(0.0, 0.5, n)[:, None] * np.sin(s[None] / rng.uniform(3.0, 8.0, n)[:, None] + rng.uniform(0, 2 * np.pi, n)[:, None])
    theta = angle[:, None] + bend[:, None] * s[None] + wave
    # v runs down the face: a hair points along +v, swung sideways by its angle.
    x = roots[:, :1] + np.cumsum(np.sin(theta) * step, axis=1)
    y = roots[:, 1:] + np.cumsum(np.cos(theta) * step, axis=1)
    a = reach[:, None] * (1.0 - BEARD_TIP_FALL * s[None] / np.maximum(length[:, None], 1.0))
    ids = np.broadcast_to(np.arange(n)[:, None], x.shape)
    # One texel wide (about 0.35 mm: two or three hairs lying together).
    xi = np.floor(x[inside]).astype(np.int64) % width
    yi = np.floor(y[inside]).astype(np.int64) % height
    # Where hairs cross, the one reaching furthest wins (deterministic: max of a packed key).
    key = np.round(a[inside] * 4095).astype(np.int64) * (n + 1) + ids[inside] + 1
    best = np.zeros(height * width, np.int64)
    np.maximum.at(best, yi * width + xi, key)
    best = best.reshape(height, width)
    hit = best > 0
    winner = best % (n + 1) - 1
    alpha = np.where(hit, (best // (n + 1)) / 4095.0, 0.0)
    # Colours per hair: a little lighter or darker each; grey ones where the beard greys first.
    shade = rng.uniform(0.75, 1.15, n)
    p_grey = np.clip(grey + (patch(roots[:, 0], roots[:, 1]) - 0.5) * 1.2 * min(grey, 1.0 - grey) * 2.0, 0.0, 1.0)
    is_grey = rng.random(n) < p_grey
    grey_rgb = np.asarray(GREY) * rng.uniform(0.8, 0.95, (n, 1))
    mix = BEARD_PEPPER_MIX * 4.0 * grey * (1.0 - grey)
    dark = colour[None] * shade[:, None]
    mid = 0.5 * (np.asarray(GREY) * 0.85 + colour)
    dark = dark + mix * (mid[None] - dark)
    grey_rgb = grey_rgb + mix * (mid[None] - grey_rgb)
    rgb = np.where(is_grey[:, None], grey_rgb, dark)
    tex = np.zeros((height, width, 4), np.float32)
    # Texels between hairs take the mean hair colour: filtering blends them into the hairs' edges.
    tex[..., :3] = rgb.mean(axis=0)
    tex[hit, :3] = rgb[winner[hit]]
    tex[..., 3] = alpha
    return tex


def build_beard(identity: Identity, kind: str | None = None) -> Beard | None:
    """Draw whether (and which) beard the identity wears and build it (a clean-shaven Beard draws nothing; None on unknown heads)."""
    lm = identity.landmarks
    if "skin" not in identity.regions or not all(k in lm for k in ("mouth_left", "mouth_right", "chin", "nose_tip", "left_brow")):
        return None
    rng = rng_for(identity.seed, STREAM, identity.index)
    ancestry = ancestry_of(identity)
    w = beard_weights(identity.gender, ancestry)
    drawn = BEARDS[int(rng.choice(len(BEARDS), p=[w[b] for b in BEARDS]))]
    kind = kind or drawn
    if kind == "none":
        return Beard("none", None, {})
    # A beard takes the scalp hair's colour (same stream and draws as the hair) and greys with it.
    _, colour, grey = identity_hair_colour(identity)
    colour = np.clip(colour * rng.uniform(0.8, 1.05), 0, 1)
    info = {"rgb": [round(float(c), 4) for c in colour], "grey": round(grey, 3)}
    from painctl.renderer.colour import srgb_to_linear

    # The edges' wobble has its own draws, so the draws above keep the beards they drew before.
    cover = beard_coverage(identity, kind, rng_for(identity.seed, STREAM, identity.index, 1))
    if kind == "stubble":
        # A few days' growth covers at most about half the skin; ``grey`` of its bristles are grey
        # dots, the others shadow the skin in the hair's own colour (:func:`painted_hair`).
        density = float(rng.uniform(0.3, 0.5))
        painted = {"coverage": cover * density, "colour": srgb_to_linear(colour), "grey_colour": srgb_to_linear(np.asarray(GREY) * 0.85),
                   "grey": grey, "under": 1.0,
                   # On untextured heads (vertex colours) the bristles mixed as the eye sees them.
                   "vertex_colour": srgb_to_linear((1.0 - grey) * colour + grey * np.asarray(GREY) * 0.85)}
        return Beard(kind, None, {**info, "density": round(density, 3)}, identity, painted)
    thickness_m, layers = BEARD_SHAPES[kind]
    frame = head_frame(identity)
    # Short separate hairs that curl and cross, in clumps (:func:`beard_texture`; a strand per
    # column, as scalp hair has, drew a comb of parallel stripes at 224 px); their colours are
    # lifted so the shells' root shadowing leaves a dark beard dark, not black. The texture and
    # the strands' directions have their own draws, so the draws below keep what they drew before.
    look = rng_for(identity.seed, STREAM, identity.index, 2)
    lift = max(BEARD_LIFT, BEARD_DARKEST / max(float(colour.max()), 1e-3))
    texture = beard_texture(look, np.clip(colour * lift, 0, 1), grey, 0.3 if ancestry == "african" else 0.0)
    # Thinner towards its edges, so a beard thins out instead of ending in a step.
    thickness = thickness_m * rng.uniform(0.8, 1.2) * (0.3 + 0.7 * cover)
    # Strands hang down the chin and cheeks (u round the head, v down it: no pole or seam on the beard).
    v = identity.neutral.astype(np.float64)
    tangent = np.tile([0.0, -1.0, 0.0], (len(cover), 1))
    # The shells' length cut follows the square of the coverage: the beard thins over the outer
    # part of its fade, hair by hair, instead of its clumps ending together in a ragged edge (not
    # a moustache's: the upper lip is a few millimetres of fade, and squared it kept a strip).
    edge = 1.0 if kind == "moustache" else BEARD_EDGE_POWER
    shells = build_shells(v, identity.faces, cover ** edge, thickness, layers, np.array([0.0, -1.0, 0.0]),
                          frame.centre, texture, offset_m=0.0004, tangent=tangent, uv=beard_uv(identity), root_cut=BEARD_ROOT_CUT,
                          layer_shift=rng.uniform(0.0, 1.0, (layers, 2)))
    if shells is None:
        return Beard("none", None, {})
    # Light hair shadows itself less than dark hair (light scattered inside the beard comes out
    # again): a grey beard's inner layers are shaded less, or the layers' light and dark
    # alternating pixel by pixel read as salt-and-pepper speckle at 224 px.
    if grey > 0:
        shells = replace(shells, shade=(1.0 - (1.0 - shells.shade) * (1.0 - BEARD_GREY_SHADOW_EASE * grey)).astype(np.float32))
    # Facial hair is coarser and less aligned than scalp hair: a weak, broad highlight (its white
    # lobe at 0.1 outshone a black beard's own colour and drew a grey-blue band on the upper lip).
    shells.specular, shells.roughness = BEARD_SPECULAR, 0.9
    # Under the shells the skin is painted with a bed of hair as dense as the beard grows there
    # (:func:`painted_hair`), so no skin shows between the strands where the beard is dense and
    # its edges thin out into bare skin hair by hair. In a greying beard the hairs are dark or
    # grey, drawn closer in shade as in the shells' texture.
    mix = BEARD_PEPPER_MIX * 4.0 * grey * (1.0 - grey)
    mid = 0.5 * (np.asarray(GREY) * 0.85 + colour)
    dark = srgb_to_linear(colour + mix * (mid - colour))
    light = srgb_to_linear(np.asarray(GREY) * 0.85 + mix * (mid - np.asarray(GREY) * 0.85))
    density = beard_density(identity, kind, cover, rng_for(identity.seed, STREAM, identity.index, 3))
    painted = {"coverage": density, "colour": dark, "grey_colour": light, "grey": grey, "under": BEARD_UNDER[kind], "edge_shadow": 1.0 - grey}
    return Beard(kind, shells, info, identity, painted)


@register("beard")
def builder(identity: Identity) -> Beard | None:
    """Build the identity's beard ("none" for women and clean-shaven men; None on unknown heads)."""
    return build_beard(identity)
