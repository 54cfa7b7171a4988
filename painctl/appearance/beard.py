"""Beards and stubble for some men: hair shells over the beard area, bound to the skin so they move with the mouth.

The beard area is the skin below the nose and the cheek line, down under the chin, leaving the
lips bare; a moustache keeps only the upper lip. Shells and strand textures are those of scalp
hair (:func:`painctl.appearance.hair.build_shells`). Stubble is painted into the skin instead
(:mod:`painctl.appearance.paint`): bristles of a day or three are a tenth of a millimetre thick
and a millimetre long, which a camera at 224-512 px sees as a shadow over the beard area, not as
hair standing off the face (as shells, they drew a solid grey mask on the cheeks that hid the face
from a face detector at 30 degrees). Whether a man has a beard, and which, is
drawn from ``rng_for(seed, STREAM, index)`` by age and ancestry (:data:`BEARD_WEIGHTS`); women
have none.
"""

from __future__ import annotations

import numpy as np

from painctl.appearance.hair import GREY, Shells, _bumps, _smoothstep, ancestry_of, build_shells, head_frame, identity_hair_colour, strand_texture
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
#: Fraction of the strand texture's strands a beard keeps, and how much of the skin under a
#: beard's full middle takes its colour (the painted layer under the shells).
BEARD_STRAND_DENSITY = 0.5
BEARD_PAINT = 0.75
#: Strand colour of beard shells relative to the beard's colour (the shells' layers shade it down),
#: and the strand-length cut of the layer on the skin (the painted layer stands in for the roots).
BEARD_LIFT = 2.0
BEARD_ROOT_CUT = 0.3
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
    label = "hair"

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
            cover = self.painted["coverage"]
            rows = cols = np.zeros(0, np.int64)
            texel_cover = np.zeros(0)
            if size:
                texels = texel_points(ident, size, "skin")
                # Bristles: a grain of 0.3 mm cells, darker where more of them stand.
                grain = hash_noise(texels.points, 0.0003, seed=int(ident.index) + 1)
                texel_cover = texels.interpolate(cover) * (0.55 + 0.45 * grain)
                keep = texel_cover > 1e-3
                rows, cols, texel_cover = texels.rows[keep], texels.cols[keep], texel_cover[keep]
            self._paint = SkinPaint(rows, cols, texel_cover, self.painted["colour"], size, vertex_coverage=cover * 0.75)
        return self._paint

    def dress(self, head, vertices, au):
        paint = self.paint(head.texture.shape[0] if head.textured else 0)
        return head if paint is None else paint.dress(head)

    def record(self):
        return {"beard": self.kind, **self.info}


#: How far (metres) the beard's edges fade from full to none: the cheek line, and the neckline
#: under the jaw; and the amplitude of the random wobble of both (a beard's edge is not a line).
CHEEK_FADE_M = 0.009
NECK_FADE_M = 0.012
EDGE_WOBBLE_M = 0.004


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
    # The cheek line climbs from beside the nose to the sideburn in front of the ear.
    cheek = np.interp(ax, [0.0, 0.025, ear_x - 0.012], [nose_base, nose_base, ear_y - 0.004])
    cover = _smoothstep(-0.5 * CHEEK_FADE_M, 0.5 * CHEEK_FADE_M, cheek + wobble - v[:, 1])
    # The neckline: a little below the underside of the jaw, so the beard covers the jaw's
    # underside and fades out where it turns into the neck.
    jaw_x, jaw_y = _jaw_line(v, vertex_normals(v, identity.faces).astype(np.float64), skin, float(mouth[1]), ear_x)
    neck = np.interp(ax, jaw_x, jaw_y) - 0.004 + wobble
    cover *= _smoothstep(neck - NECK_FADE_M, neck, v[:, 1])
    cover *= _smoothstep(ear_x - 0.004, ear_x - 0.016, ax)                     # not over the ears
    cover *= _smoothstep(ear_z - 0.012, ear_z + 0.004, v[:, 2] + wobble)          # not round the back of the neck
    # Lips stay bare: an ellipse round the mouth (vermilion ~8 mm above, ~8 mm below the lip
    # line); the beard starts right under the lower lip (a wider bare band there read as a seam).
    dy = v[:, 1] - mouth[1]
    b = np.where(dy > 0, 0.0085, 0.008)
    lips = ((v[:, 0] - mouth[0]) / (half_w + 0.002)) ** 2 + (dy / b) ** 2
    cover *= _smoothstep(1.0, 1.25, lips)
    if kind == "moustache":
        cover *= _smoothstep(mouth[1] + 0.002, mouth[1] + 0.007, v[:, 1]) * _smoothstep(half_w + 0.008, half_w + 0.001, ax)
    on_skin = np.zeros(len(v), bool)
    on_skin[skin] = True
    return np.where(on_skin, cover, 0.0)


def beard_uv(identity: Identity) -> np.ndarray:
    """Return (V,2) strand coordinates for beard shells: u round the vertical axis (across the
    strands), v down the face (along them), so beard strands hang down the chin and cheeks with
    no seam or pole on the beard (a pole in front of the face put a seam under the lower lip)."""
    from painctl.appearance.hair import HAIR_UV_REPEAT

    v = identity.neutral.astype(np.float64)
    centre = head_frame(identity).centre
    u = np.arctan2(v[:, 0] - centre[0], v[:, 2] - centre[2]) / (2 * np.pi) * HAIR_UV_REPEAT + 0.5 * HAIR_UV_REPEAT
    return np.stack([u, -v[:, 1] / 0.05], axis=1)


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
    # Grey bristles mixed as the eye sees them.
    linear = srgb_to_linear((1.0 - grey) * colour + grey * np.asarray(GREY) * 0.85)
    if kind == "stubble":
        # A few days' growth covers at most about half the skin.
        density = float(rng.uniform(0.3, 0.5))
        return Beard(kind, None, {**info, "density": round(density, 3)}, identity, {"coverage": cover * density, "colour": linear})
    thickness_m, layers = BEARD_SHAPES[kind]
    frame = head_frame(identity)
    # Beard hair is sparser than scalp hair: skin shows between the strands, more of it at the edges.
    # Coarser than scalp hair (256 strands a tile, ~0.6 mm each on the face), nearly straight
    # (wavy strands cut into short segments drew a knitted chevron pattern), so the beard's
    # strands and clumps show at 512 px instead of averaging to a flat block; its strands are
    # lifted so the shells' root shadowing leaves a dark beard dark, not black.
    texture = strand_texture(rng, np.clip(colour * BEARD_LIFT, 0, 1), grey, 0.1 if ancestry == "african" else 0.0, width=256,
                             density=BEARD_STRAND_DENSITY)
    # Thinner towards its edges, so a beard thins out instead of ending in a step.
    thickness = thickness_m * rng.uniform(0.8, 1.2) * (0.3 + 0.7 * cover)
    # Strands hang down the chin and cheeks (u round the head, v down it: no pole or seam on the beard).
    tangent = np.tile([0.0, -1.0, 0.0], (len(cover), 1))
    shells = build_shells(identity.neutral.astype(np.float64), identity.faces, cover, thickness, layers, np.array([0.0, -1.0, 0.0]),
                          frame.centre, texture, offset_m=0.0004, tangent=tangent, uv=beard_uv(identity), root_cut=BEARD_ROOT_CUT,
                          layer_shift=rng.uniform(0.0, 1.0, (layers, 2)))
    if shells is None:
        return Beard("none", None, {})
    # Facial hair is coarser and less aligned than scalp hair: a weaker, broader highlight.
    shells.specular, shells.roughness = 0.1, 0.65
    # Under the shells the skin takes the beard's colour as densely as the beard grows there, so
    # skin seen between the strands is shadowed by hair and the edges fade into bare skin.
    return Beard(kind, shells, info, identity, {"coverage": BEARD_PAINT * cover ** 1.5, "colour": linear})


@register("beard")
def builder(identity: Identity) -> Beard | None:
    """Build the identity's beard ("none" for women and clean-shaven men; None on unknown heads)."""
    return build_beard(identity)
