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

from painctl.appearance.hair import GREY, Shells, _smoothstep, ancestry_of, build_shells, head_frame, identity_hair_colour, strand_texture
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
    """One man's beard or stubble as shells bound to the face."""

    name = "beard"
    label = "hair"

    def __init__(self, kind: str, shells: Shells | None, info: dict, identity: Identity | None = None, stubble: dict | None = None):
        self.kind, self.shells, self.info = kind, shells, info
        #: For stubble: the identity and the bristles' linear colour and density, painted on first use.
        self.identity, self.stubble = identity, stubble
        self._paint: SkinPaint | None = None

    def meshes(self, vertices, au):
        return [] if self.shells is None else [self.shells.mesh(vertices)]

    def paint(self, size: int) -> SkinPaint | None:
        """Return the stubble painted on a ``size`` x ``size`` head texture (0: on the vertex
        colours only), built once per size; None for other beards."""
        ident = self.identity
        if self.stubble is None or ident is None or (size and ident.uv is None):
            return None
        if self._paint is None or self._paint.size != size:
            cover = beard_coverage(ident, "stubble") * self.stubble["density"]
            rows = cols = np.zeros(0, np.int64)
            texel_cover = np.zeros(0)
            if size:
                texels = texel_points(ident, size, "skin")
                # Bristles: a grain of 0.3 mm cells, darker where more of them stand.
                grain = hash_noise(texels.points, 0.0003, seed=int(ident.index) + 1)
                texel_cover = texels.interpolate(cover) * (0.55 + 0.45 * grain)
                keep = texel_cover > 1e-3
                rows, cols, texel_cover = texels.rows[keep], texels.cols[keep], texel_cover[keep]
            self._paint = SkinPaint(rows, cols, texel_cover, self.stubble["linear"], size, vertex_coverage=cover * 0.75)
        return self._paint

    def dress(self, head, vertices, au):
        paint = self.paint(head.texture.shape[0] if head.textured else 0)
        return head if paint is None else paint.dress(head)

    def record(self):
        return {"beard": self.kind, **self.info}


def beard_coverage(identity: Identity, kind: str) -> np.ndarray:
    """Return (V,) coverage 0-1 of the beard ``kind`` on the identity's neutral head."""
    v = identity.neutral.astype(np.float64)
    lm = identity.landmarks
    frame = head_frame(identity)
    mouth = 0.5 * (v[lm["mouth_left"]] + v[lm["mouth_right"]])
    half_w = 0.5 * abs(v[lm["mouth_left"], 0] - v[lm["mouth_right"], 0])
    nose_base = frame.nose_y - 0.014
    ear_x = float(np.abs(frame.ear[:, 0]).mean())
    ear_y = float(frame.ear[:, 1].mean())
    ax = np.abs(v[:, 0])
    # The cheek line climbs from beside the nose to the sideburn in front of the ear.
    cheek = np.interp(ax, [0.0, 0.025, ear_x - 0.012], [nose_base, nose_base, ear_y - 0.004])
    cover = _smoothstep(-0.006, 0.006, cheek - v[:, 1])
    cover *= _smoothstep(frame.chin_y - 0.03, frame.chin_y - 0.012, v[:, 1])  # a little way under the chin
    cover *= _smoothstep(ear_x - 0.004, ear_x - 0.014, ax)                   # not over the ears
    cover *= v[:, 2] > frame.ear[:, 2].mean() - 0.005                          # not round the neck
    # Lips stay bare: an ellipse round the mouth (vermilion ~8 mm above, ~10 mm below the lip line).
    dy = v[:, 1] - mouth[1]
    b = np.where(dy > 0, 0.0085, 0.0105)
    lips = ((v[:, 0] - mouth[0]) / (half_w + 0.002)) ** 2 + (dy / b) ** 2
    cover *= _smoothstep(1.0, 1.35, lips)
    if kind == "moustache":
        cover *= _smoothstep(mouth[1] + 0.002, mouth[1] + 0.007, v[:, 1]) * _smoothstep(half_w + 0.008, half_w + 0.001, ax)
    skin = np.zeros(len(v), bool)
    skin[identity.regions["skin"]] = True
    return np.where(skin, cover, 0.0)


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
    if kind == "stubble":
        from painctl.renderer.colour import srgb_to_linear

        # A few days' growth covers at most about half the skin; grey bristles mixed as the eye sees them.
        density = float(rng.uniform(0.3, 0.5))
        linear = srgb_to_linear((1.0 - grey) * colour + grey * np.asarray(GREY) * 0.85)
        return Beard(kind, None, {**info, "density": round(density, 3)}, identity, {"density": density, "linear": linear})
    thickness_m, layers = BEARD_SHAPES[kind]
    cover = beard_coverage(identity, kind)
    frame = head_frame(identity)
    texture = strand_texture(rng, colour, grey, 0.5 if ancestry == "african" else 0.2)
    # Thinner towards its edges, so a beard thins out instead of ending in a step.
    thickness = thickness_m * rng.uniform(0.8, 1.2) * (0.3 + 0.7 * cover)
    # Beard strands radiate from a pole in front of the nose: down the chin, out and down the cheeks
    # (the pole keeps the strand coordinates away from their singular points on the beard).
    shells = build_shells(identity.neutral.astype(np.float64), identity.faces, cover, thickness, layers, np.array([0.0, 0.45, 1.0]),
                          frame.centre, texture, offset_m=0.0004)
    if shells is None:
        return Beard("none", None, {})
    # Facial hair is coarser and less aligned than scalp hair: a weaker, broader highlight.
    shells.specular, shells.roughness = 0.05, 0.8
    return Beard(kind, shells, info)


@register("beard")
def builder(identity: Identity) -> Beard | None:
    """Build the identity's beard ("none" for women and clean-shaven men; None on unknown heads)."""
    return build_beard(identity)
