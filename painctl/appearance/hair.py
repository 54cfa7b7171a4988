"""Scalp hair: a style, a colour and a hairline per identity, drawn as textured hair shells.

Hair is a stack of shells over the hair-bearing skin: copies of those head vertices pushed out
along their neutral normals (or, for hair that hangs, out to a curtain below the widest part of
the skull). Every shell samples one strand texture whose alpha is each strand's length; a layer
at height h keeps the strands longer than h, so the stack thins towards its outside and its
silhouette is ragged like hair, not a helmet. The scalp's strand texture (:func:`scalp_texture`)
lays strands out in clumps with their own width, colour, greying and lengths that vary along
them; flyaway wisps (:func:`build_flyaways`) break the outline. The strand coordinates run along
meridians from a pole (the crown whorl, or the knot of tied-back hair), bent by a smooth random
field, which gives the Kajiya-Kay highlight of the renderer's hair branch its band across the
strands. The shells are bound to the head's vertices
(position + a fixed displacement), so they follow the rigged head in every frame at the cost of
one gather and an add.

Why the hairline is built as it is: the strand texture is mipmapped, so at 224-512 px a pixel
averages many strands and the strand cut (alpha against the per-vertex cut-off) acts as one
threshold on their mean length. A smooth coverage then ends the hair in one hard line, the
shape of the head's ~9 mm triangles (a block on close crops), whatever the strands do. So in
front of the ears the triangles the hairline crosses are split twice (:func:`refine_hairline`,
about 2.3 mm, points bound to the head by fixed weights), the coverage there is broken into
tufts (:func:`_tufts`: locks reaching down, gaps of skin), its ramp is 2 cm, the layer on the
skin reaches a little further than the stack (:data:`ROOT_SPREAD`), and the roots painted into
the scalp take the coverage per texel. Light and grey hair scatter light through themselves:
their inner layers are lit nearly as the outside (:func:`inner_shade`), and locks differ little
in colour and greying (:data:`CLUMP_TINT`, :data:`CLUMP_GREY`), where before every parting and
lock ran from crown to tip as a light or dark stripe (straw). Flyaways are short, rooted just
under the outer layer and lie along the outline (rooted a centimetre deep in thick hair they
climbed radially through its sparse outer layers, and long ones left it at up to 17 degrees: a
halo of pen strokes round black hair), and the
highlight's strength varies little and slowly over the head (per-vertex patches read as gloss).

Style, colour, greying and hairline are drawn per identity from ``rng_for(seed, STREAM, index)``,
conditioned on gender, ancestry and age (tables :data:`STYLE_WEIGHTS`, :func:`hair_colour`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from painctl.appearance.parts import Identity, Part, register
from painctl.seeding import rng_for

#: The seeding stream of scalp hair (see painctl.seeding.rng_for).
STREAM = 14200

STYLES = ("close_crop", "short", "medium", "long_tied", "curly", "coily", "receding", "bald")

#: Style weights by gender and ancestry, before age: receding and bald grow with age for men
#: (see :func:`style_weights`). Coily is the common natural texture of African hair, straight
#: short/medium/tied cuts of East Asian hair; every ancestry gets every style it wears.
STYLE_WEIGHTS = {
    ("male", "african"): {"close_crop": 4, "short": 1, "medium": 0, "long_tied": 0, "curly": 1, "coily": 3},
    ("male", "asian"): {"close_crop": 2, "short": 4, "medium": 2, "long_tied": 0, "curly": 1, "coily": 0},
    ("male", "caucasian"): {"close_crop": 2, "short": 4, "medium": 1, "long_tied": 0, "curly": 2, "coily": 0},
    ("female", "african"): {"close_crop": 1, "short": 1, "medium": 1, "long_tied": 2, "curly": 2, "coily": 4},
    ("female", "asian"): {"close_crop": 0, "short": 2, "medium": 4, "long_tied": 3, "curly": 1, "coily": 0},
    ("female", "caucasian"): {"close_crop": 0, "short": 2, "medium": 3, "long_tied": 3, "curly": 2, "coily": 0},
}


@dataclass(frozen=True)
class StyleShape:
    """The geometry of a style: shell ``thickness_m`` on top, ``layers``, strand ``curl`` (0 straight
    .. 1 coily), whether it ``hangs`` to the jaw over the ears, has a ``fringe`` falling over the
    forehead, is ``tied`` back into a bun, or keeps only the ``horseshoe`` round the sides and back."""

    thickness_m: float
    layers: int
    curl: float = 0.0
    hangs: bool = False
    fringe: float = 0.0
    tied: bool = False
    horseshoe: bool = False
    recession_m: float = 0.0


SHAPES = {
    "close_crop": StyleShape(0.004, 3),
    "short": StyleShape(0.018, 6, fringe=0.4),
    "medium": StyleShape(0.02, 7, hangs=True, fringe=0.6),
    "long_tied": StyleShape(0.008, 5, tied=True),
    "curly": StyleShape(0.024, 7, curl=0.55),
    "coily": StyleShape(0.026, 8, curl=1.0),
    "receding": StyleShape(0.01, 5, recession_m=0.035),
    "bald": StyleShape(0.005, 3, horseshoe=True),
}


def style_weights(gender: str | None, ancestry: str, age_years: float | None) -> dict[str, float]:
    """Return the probability of each style in :data:`STYLES` for this gender, ancestry and age."""
    gender = gender if gender in ("male", "female") else "female"
    weights = {s: float(w) for s, w in STYLE_WEIGHTS[(gender, ancestry)].items()}
    age = 40.0 if age_years is None else float(age_years)
    # Male pattern baldness: about a third of men by 45 and half by 65 show recession or more.
    if gender == "male":
        total = sum(weights.values())
        losing = np.clip((age - 25.0) / 50.0, 0.0, 0.7)
        weights = {s: w * (1.0 - losing) / total for s, w in weights.items()}
        weights["receding"] = losing * 0.55
        weights["bald"] = losing * 0.45
    else:
        weights["receding"] = weights["bald"] = 0.0
    total = sum(weights.values())
    return {s: weights.get(s, 0.0) / total for s in STYLES}


def ancestry_of(identity: Identity) -> str:
    """Return the identity's dominant ancestry (african, asian, caucasian); caucasian when unknown."""
    group = identity.ethnicity or "caucasian"
    if group.startswith("mixed:"):
        group = group[len("mixed:"):].split("+")[0]
    return group if group in ("african", "asian", "caucasian") else "caucasian"


#: Natural hair colours, sRGB 0-1, from black to light blond, and red.
PALETTE = {
    "black": (0.035, 0.030, 0.028),
    "dark_brown": (0.10, 0.068, 0.048),
    "brown": (0.22, 0.14, 0.085),
    "light_brown": (0.38, 0.26, 0.16),
    "blond": (0.62, 0.48, 0.30),
    "red": (0.42, 0.15, 0.06),
}
COLOUR_WEIGHTS = {
    "african": {"black": 8, "dark_brown": 2},
    "asian": {"black": 8, "dark_brown": 2},
    "caucasian": {"black": 1, "dark_brown": 3, "brown": 3, "light_brown": 2, "blond": 2, "red": 0.5},
}
#: Grey hair: white strands of this colour mixed in; greying starts about this age (years) by ancestry.
GREY = (0.78, 0.77, 0.74)
#: How much of the scalp under the hair takes the hair's colour (the roots' shadow).
SCALP_PAINT = 0.8
GREYING_ONSET = {"african": 48.0, "asian": 44.0, "caucasian": 40.0}
#: The fraction of the scalp's texels that are fine hairs painted into the skin, at full coverage.
FINE_HAIR_DENSITY = 0.5
#: How much a fine hair's texel takes the hair's colour (a hair is finer than the texel).
FINE_HAIR_ALPHA = 0.4
#: How dark the painted roots are against the hair's own colour (in the shade of the hair over them).
ROOT_SHADOW = 0.65


def hair_colour(rng: np.random.Generator, ancestry: str, age_years: float | None) -> tuple[str, np.ndarray, float]:
    """Draw a natural colour for ``ancestry``: (name, sRGB (3,), fraction of grey strands 0-1 at this age)."""
    names = list(COLOUR_WEIGHTS[ancestry])
    p = np.array([COLOUR_WEIGHTS[ancestry][n] for n in names], float)
    name = names[int(rng.choice(len(names), p=p / p.sum()))]
    rgb = np.array(PALETTE[name]) * rng.uniform(0.85, 1.15)
    age = 40.0 if age_years is None else float(age_years)
    onset = GREYING_ONSET[ancestry] + rng.normal(0.0, 6.0)
    grey = float(np.clip((age - onset) / 30.0, 0.0, 0.95))
    return name, np.clip(rgb, 0.0, 1.0), grey


def identity_hair_colour(identity: Identity) -> tuple[str, np.ndarray, float]:
    """Return the identity's hair colour (name, sRGB (3,), grey fraction): one draw shared by scalp hair, brows and beard."""
    return hair_colour(rng_for(identity.seed, STREAM, identity.index, 1), ancestry_of(identity), identity.age_years)


def strand_texture(rng: np.random.Generator, colour: np.ndarray, grey: float, curl: float, width: int = 1024, height: int = 128, stubble: bool = False,
                   density: float = 1.0) -> np.ndarray:
    """Return an (height, width, 4) float32 strand texture: rgb each strand's colour, alpha its length 0-1.

    Columns are strands (running along v), bundled in clumps of similar length; ``curl`` bends
    them sideways in waves (0 straight .. 1 tight coils); ``grey`` of them are white; ``stubble``
    breaks them into short bristles with bare skin between (close crops, stubble); ``density``
    below 1 shows each strand along only about that fraction of its length, in segments at
    random offsets (the short separate hairs of a beard, with skin between them).
    """
    tex = np.zeros((height, width, 4), np.float32)
    # Texels between strands take the hair's mean colour: texture filtering blends them into the
    # strands' edges, and black there drew a dark fringe round every strand.
    tex[..., :3] = (1.0 - grey) * np.asarray(colour) * 0.9 + grey * np.asarray(GREY) * 0.925
    n_strands = width
    # Curly and coily hair is springy and dense out to its surface: longer strands on average.
    clump = rng.uniform(0.5 + 0.35 * curl, 1.0, n_strands // 4 + 1)
    length = np.clip(np.repeat(clump, 4)[:n_strands] * rng.uniform(0.6, 1.0, n_strands), 0.0, 1.0)
    shade = rng.uniform(0.7, 1.1, n_strands)
    is_grey = rng.random(n_strands) < grey
    rgb = np.where(is_grey[:, None], np.asarray(GREY)[None] * rng.uniform(0.85, 1.0, (n_strands, 1)), colour[None] * shade[:, None])
    rows = np.arange(height)
    # Waves repeat a whole number of times along v so the texture tiles.
    cycles = np.round(1 + curl * 15) * np.where(rng.random(n_strands) < 0.5, 1, 2)
    phase = rng.uniform(0, 2 * np.pi, n_strands)
    amp = curl * rng.uniform(6.0, 20.0, n_strands)
    x = (np.arange(n_strands)[:, None] + amp[:, None] * np.sin(2 * np.pi * cycles[:, None] * rows[None] / height + phase[:, None]))
    order = np.argsort(length)  # longer strands drawn last, so they win where strands cross
    for k in order:
        cols = np.floor(x[k]).astype(int) % width
        for dx in (0, 1):
            c = (cols + dx) % width
            tex[rows, c, :3] = rgb[k]
            tex[rows, c, 3] = length[k]
    if stubble:
        # Bristles: each strand shows as a few short dashes along v, at random offsets.
        dash = (np.arange(height)[:, None] + rng.integers(0, height, width)[None]) % (height // 16) < rng.integers(1, 4, width)[None]
        keep = rng.random(width) < 0.6
        tex[..., 3] *= dash & keep[None]
    if density < 1.0:
        # Short hairs: each column is cut into segments of its own period (a 16th, 8th or 4th of
        # the tile, so the texture still tiles), offset and length, and each segment is its own
        # hair with its own colour: a dark hair in a grey beard is a dash, not a line down the chin.
        period = rng.choice(np.array([height // 16, height // 8, height // 4]), size=width, p=[0.3, 0.5, 0.2])
        on = np.clip(rng.normal(density, 0.2, width), 0.05, 1.0) * period
        along = np.arange(height)[:, None] + rng.integers(0, height, width)[None]
        tex[..., 3] *= (along % period[None]) < on[None]
        segment = (along // period[None]) % (height // period[None])
        is_grey = rng.random((height // (height // 16), width)) < grey
        shade = rng.uniform(0.7, 1.1, (height // (height // 16), width))
        columns = np.arange(width)[None]
        tex[..., :3] = np.where(is_grey[segment, columns][..., None], np.asarray(GREY) * 0.92,
                                np.asarray(colour) * shade[segment, columns][..., None])
    return tex


#: How many strand layouts (:func:`strand_layout`) a seed has per texture kind; each identity
#: draws one, and paints its own colours over it.
LAYOUTS = 8


@functools.lru_cache(maxsize=4 * LAYOUTS)
def strand_layout(seed: int, layout: int, curl: float, stubble: bool, width: int = 1024, height: int = 128) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Return where the strands of a scalp-hair texture lie: (owner (height, width) int32, the strand
    drawn at each texel or -1; alpha (height, width) float32, its length there 0-1; clump (n,) int,
    the clump of each strand; the number of clumps). A pure function of its arguments (drawn from
    ``rng_for(seed, STREAM, 5, layout, ...)``) kept per process: laying out ~1,000 strands costs
    tens of ms, colouring them (:func:`scalp_texture`) under one.

    The strands lie in clumps (locks 0.5-2.5 mm wide at the scalp's scale) placed at random: a
    clump shares a length, a slant and a wave, so the surface breaks into locks instead of combed
    stripes, and at 224 px, where a pixel averages about ten strands, the clumps still differ.
    Each strand has its own width (1-3 texels) and a length that varies along it (hairs end at
    different places, so the cut hairline and the outer layers break into separate hairs); its
    side texels are shorter than its core, so outer layers keep only the cores (tips thinner);
    ``stubble`` breaks strands into short bristles.
    """
    rng = rng_for(seed, STREAM, 5, layout, int(round(curl * 100)), int(stubble))
    # Clumps side by side round the tile, 6-26 texels wide with narrow partings between them.
    widths = rng.integers(6, 27, width // 8)
    gaps = rng.integers(0, 4, len(widths))
    starts = np.concatenate([[0], np.cumsum(widths + gaps)[:-1]])
    keep = starts < width
    widths, starts = widths[keep], starts[keep]
    n_clumps = len(widths)
    # Curly and coily hair is springy and dense out to its surface: longer strands on average.
    clump_len = rng.uniform(0.55 + 0.3 * curl, 1.0, n_clumps)
    clump_slant = rng.integers(-2, 3, n_clumps)  # texels across the tile's height: the tile still tiles
    clump_amp = (1.0 + 14.0 * curl) * rng.uniform(0.5, 1.5, n_clumps)
    clump_cycles = np.round(1 + curl * 15) * rng.integers(1, 3, n_clumps)
    clump_phase = rng.uniform(0, 2 * np.pi, n_clumps)
    # Strands: about one per texel of clump, at random places in it.
    c = np.repeat(np.arange(n_clumps), widths)
    n = len(c)
    x0 = starts[c] + rng.uniform(0.0, 1.0, n) * widths[c]
    length = np.clip(clump_len[c] * rng.uniform(0.8, 1.0, n), 0.0, 1.0).astype(np.float32)
    t = (np.arange(height) / height).astype(np.float32)[None]
    wave = clump_amp[c, None] * np.sin(2 * np.pi * clump_cycles[c, None] * t + clump_phase[c, None])
    # Strands of a clump wander a little about its wave, and curls spring apart.
    own_wave = rng.uniform(0.2, 0.8, (n, 1)) * (1.0 + 6.0 * curl) * np.sin(2 * np.pi * rng.integers(1, 3, (n, 1)) * t + rng.uniform(0, 2 * np.pi, (n, 1)))
    core = np.floor(x0[:, None] + clump_slant[c, None] * t + wave + own_wave).astype(np.int64) % width
    # Hairs end at different places: each strand's length dips along it (a whole number of times a tile).
    along = 1.0 - 0.25 * (0.5 + 0.5 * np.sin(2 * np.pi * rng.integers(1, 4, (n, 1)) * t + rng.uniform(0, 2 * np.pi, (n, 1))))
    alpha = (length[:, None] * along).astype(np.float32)
    strand_w = rng.choice(np.array([1, 2, 3]), size=n, p=[0.35, 0.45, 0.2])
    rows = np.broadcast_to(np.arange(height)[None], core.shape)
    flat = [(rows * width + core).reshape(-1)]
    a, s = [alpha.reshape(-1)], [np.repeat(np.arange(n), height)]
    for dx, need in ((1, 2), (-1, 3)):
        sel = strand_w >= need
        flat.append((rows[sel] * width + (core[sel] + dx) % width).reshape(-1))
        a.append((alpha[sel] * 0.8).reshape(-1))  # a strand's sides are shorter: outer layers keep its core
        s.append(np.repeat(np.flatnonzero(sel), height))
    flat, a, s = np.concatenate(flat), np.concatenate(a), np.concatenate(s)
    # Longer strands win where strands cross: per texel the write with the largest alpha.
    top = np.zeros(height * width, np.float32)
    np.maximum.at(top, flat, a)
    owner = np.full(height * width, -1, np.int32)
    win = a == top[flat]
    owner[flat[win]] = s[win]
    top, owner = top.reshape(height, width), owner.reshape(height, width)
    if stubble:
        # Bristles: each strand shows as a few short dashes along v, at random offsets.
        dash = (np.arange(height)[:, None] + rng.integers(0, height, width)[None]) % (height // 16) < rng.integers(1, 4, width)[None]
        top = top * (dash & (rng.random(width) < 0.6)[None])
    for arr in (owner, top, c):
        arr.setflags(write=False)
    return owner, top, c, n_clumps


#: The spread (log sd) of the clumps' colour offset and of their share of grey strands.
CLUMP_TINT = 0.05
CLUMP_GREY = 0.25


def scalp_texture(rng: np.random.Generator, colour: np.ndarray, grey: float, curl: float, seed: int = 0, stubble: bool = False) -> np.ndarray:
    """Return a (128, 1024, 4) float32 strand texture of scalp hair: rgb each strand's colour,
    alpha its length 0-1 (the shells cut it per layer, :func:`build_shells`).

    Unlike :func:`strand_texture` (one strand a column, evenly spaced) the strands are those of
    one of the seed's :data:`LAYOUTS` layouts (:func:`strand_layout`, drawn with ``rng``), in
    clumps; ``rng`` colours them: a clump shares a colour offset, each strand has its own shade
    and hue, and ``grey`` of the strands are grey or white, more in some clumps than others (salt
    and pepper), each with its own amount of pigment left.
    """
    owner, alpha, c, n_clumps = strand_layout(int(seed), int(rng.integers(LAYOUTS)), float(curl), bool(stubble))
    colour = np.asarray(colour, np.float64)
    n = len(c)
    # Clumps differ a little in colour and greying (strands, finer than a pixel, differ more); more,
    # and on light and grey hair a lock's offset ran crown to tip as a hard light or dark stripe
    # (straw), not as texture within the mass.
    clump_tint = np.exp(rng.normal(0.0, CLUMP_TINT, n_clumps))
    clump_grey = np.clip(grey * np.exp(rng.normal(0.0, CLUMP_GREY, n_clumps)), 0.0, 1.0)
    is_grey = rng.random(n) < clump_grey[c]
    pigment = rng.uniform(0.0, 0.3, n) ** 2 / 0.3  # what is left of the colour in a grey hair: mostly none
    white = np.asarray(GREY)[None] * rng.uniform(0.85, 1.05, (n, 1)) * np.array([1.0, 1.0, 0.96])[None] ** rng.uniform(-1.0, 2.0, (n, 1))
    own = colour[None] * (clump_tint[c] * rng.uniform(0.75, 1.25, n))[:, None] * np.exp(rng.normal(0.0, 0.05, (n, 3)))
    rgb = np.where(is_grey[:, None], pigment[:, None] * own + (1.0 - pigment[:, None]) * white, own)
    # Texels between strands (owner -1, the last row) take the hair's mean colour: texture
    # filtering blends them into the strands' edges, and black there drew a dark fringe round every strand.
    table = np.concatenate([rgb, ((1.0 - grey) * colour * 0.9 + grey * np.asarray(GREY) * 0.8)[None]]).astype(np.float32)
    tex = np.empty(owner.shape + (4,), np.float32)
    tex[..., :3] = table[owner]
    tex[..., 3] = alpha
    return tex


def _pole_uv(directions: np.ndarray, pole: np.ndarray, repeat: int) -> np.ndarray:
    """Return (N,2) strand coordinates of unit ``directions`` around ``pole``: u across (azimuth), v along (polar angle)."""
    pole = pole / np.linalg.norm(pole)
    e1 = np.cross(pole, [1.0, 0.0, 0.0] if abs(pole[0]) < 0.9 else [0.0, 1.0, 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(pole, e1)
    # Offset by half a tile: llvmpipe leaves a one-texel crack where u changes sign.
    u = np.arctan2(directions @ e2, directions @ e1) / (2 * np.pi) * repeat + 0.5
    v = np.arccos(np.clip(directions @ pole, -1.0, 1.0)) / np.pi * 6.0
    return np.stack([u, v], axis=1)


def _unwrap_corners(uv: np.ndarray, faces: np.ndarray, period: float) -> tuple[np.ndarray, np.ndarray]:
    """Give each face its own three uv rows, with u unwrapped across the azimuth seam (period ``period``)."""
    corner = uv[faces]  # (F,3,2)
    u = corner[..., 0]
    ref = u[:, :1]
    u = u - np.round((u - ref) / period) * period
    corner = np.stack([u, corner[..., 1]], axis=-1)
    return corner.reshape(-1, 2).astype(np.float32), np.arange(3 * len(faces), dtype=np.int32).reshape(-1, 3)


@dataclass
class Shells:
    """Hair shells bound to head vertices: layer vertex j of layer k sits at ``root[j] + disp[k, j]``.

    ``root`` is the neutral head's vertex ``ids[j]`` moved by ``follow[j]`` (0-1) of that vertex's
    displacement in the frame: hair near the hairline and beards follow the skin; hair over the
    cranium stays put, so the expression solve's sub-millimetre jitter of the scalp does not
    flicker a neutral face's hair against its pain face's.
    """

    ids: np.ndarray          # (N,) head vertex ids
    disp: np.ndarray         # (K, N, 3) metres
    faces: np.ndarray        # (F,3) into the N ids
    cutoff: np.ndarray       # (K, N) strand-length cut per layer vertex
    tangent: np.ndarray      # (N,3) strand direction
    shade: np.ndarray        # (K,) root-to-tip shading (self-shadowing of the inner layers)
    uv: np.ndarray           # (N,2)
    texture: np.ndarray
    specular: float = 0.09
    roughness: float = 0.5
    rest: np.ndarray | None = None    # (N,3) neutral positions of the ids
    follow: np.ndarray | None = None  # (N,) 0-1
    layer_shift: np.ndarray | None = None  # (K,2) strand-coordinate offset of each layer
    #: (N, V) sparse weights of each root over the head's vertices, where the roots are not head
    #: vertices (shells refined at the hairline, see :func:`refine_hairline`); else None and the
    #: roots are the vertices ``ids``.
    bind: object = None

    def __post_init__(self) -> None:
        k, n = self.cutoff.shape
        # Outermost layer first: where it is opaque the layers under it fail the depth test
        # before they are shaded (the shell stack's overdraw is most of its cost).
        layer_faces = self.faces[None] + (np.arange(k) * n)[::-1, None, None]
        # A face whose corners all cut strands longer than the longest (alpha <= 1) never shows a
        # texel: left out, it costs no overdraw (the hairline's and outer layers' cut-out faces;
        # the shading of faces beside them changes a little, their vertex normals no longer
        # averaging the faces left out).
        shows = (self.cutoff.reshape(-1)[layer_faces] <= 1.0).any(axis=2)
        self._faces = layer_faces[shows].reshape(-1, 3)
        self._last: tuple[np.ndarray, object] | None = None
        uv = np.tile(self.uv, (k, 1))
        if self.layer_shift is not None:
            uv = uv + np.repeat(self.layer_shift, n, axis=0)
        self._uv, self._uv_faces = _unwrap_corners(uv, self._faces, float(HAIR_UV_REPEAT))
        self._colours = np.repeat(self.shade[:, None], n, axis=1).reshape(-1, 1) * np.ones((1, 3), np.float32)
        self._tangents = np.tile(self.tangent, (k, 1))
        self._cut = self.cutoff.reshape(-1)

    def mesh(self, vertices: np.ndarray):
        """Return the renderer Mesh of these shells on this frame's head ``vertices`` (V,3) metres."""
        from painctl.renderer import Mesh

        here = vertices[self.ids] if self.bind is None else (self.bind @ vertices).astype(np.float32)
        if self.rest is not None and self.follow is not None:
            here = (self.rest + self.follow[:, None] * (here - self.rest)).astype(np.float32)
        # Most expressions leave the scalp where it was: hand back the same Mesh, whose upload
        # data the renderer keeps.
        if self._last is not None and np.array_equal(self._last[0], here):
            return self._last[1]
        pos = (here[None] + self.disp).reshape(-1, 3)
        mesh = Mesh(pos, self._faces, vertex_colors=self._colours, uv=self._uv, uv_faces=self._uv_faces, texture=self.texture,
                    specular=self.specular, roughness=self.roughness, strand_tangents=self._tangents, strand_cutoff=self._cut)
        self._last = (here.copy(), mesh)
        return mesh


#: How many times the strand texture tiles around the pole.
HAIR_UV_REPEAT = 6


def build_shells(neutral: np.ndarray, faces: np.ndarray, coverage: np.ndarray, thickness: np.ndarray, layers: int, pole: np.ndarray,
                 centre: np.ndarray, texture: np.ndarray, outer: np.ndarray | None = None, min_layer: np.ndarray | None = None,
                 offset_m: float = 0.0008, tangent: np.ndarray | None = None, follow: np.ndarray | None = None,
                 uv: np.ndarray | None = None, root_cut: float = 0.04, layer_shift: np.ndarray | None = None,
                 bend: np.ndarray | None = None, normals: np.ndarray | None = None, bind=None,
                 root_coverage: np.ndarray | None = None, inner_shade: float = 0.35) -> Shells | None:
    """Build hair shells over the head vertices where ``coverage`` (V,) > 0.

    ``thickness`` (V,) metres pushes layers out along the neutral normals; ``outer`` (V,3), where
    finite, is instead the outermost layer's position (hanging hair). ``min_layer`` (V,) 0-1 thins
    out the layers below that height, fully 0.3 below it (a fringe lies over the skin with its
    outer strands only). The
    strand direction runs away from ``pole`` (a direction from ``centre``) along the surface unless
    ``tangent`` (V,3) is given. ``follow`` (V,) 0-1 says how much each root follows the skin in a
    frame (default 1: all of it). ``uv`` (V,2) gives the strand coordinates (u across, v along
    the strands; u tiles every :data:`HAIR_UV_REPEAT`) instead of those round the pole.
    ``root_cut`` is the strand-length cut of the first layer, on the skin (low: the roots hide
    the scalp; higher: skin shows between them). ``layer_shift`` (layers,2) offsets each layer's
    strand coordinates, so each layer shows other strands (beards: short hairs at every height,
    not one strand pattern repeated up the stack, which read as a woven moire when seen at an
    angle). ``bend`` (V,) radians turns the strand direction about the normal (strands that sweep
    off the meridians). ``normals`` (V,3) replaces the normals of ``neutral``'s faces and ``bind``
    (V, head vertices) sparse gives each point as weights over the head's vertices (points made by
    :func:`refine_hairline`). ``root_coverage`` (V,) 0-1, where given, cuts the first layer (on
    the skin) instead of ``coverage``: higher below the hairline, it lets separate hairs of that
    layer reach further down than the stack. ``inner_shade`` is the first layer's shading (the
    inner layers' self-shadowing rises from it to 1 at the outside). Returns None when nothing is
    covered.
    """
    from painctl.renderer import vertex_normals

    covered = coverage > 1e-3
    # A face with any covered corner is drawn: the cut-off interpolates across it, so the
    # hairline runs through triangles instead of along their edges.
    face_ok = covered[faces].any(axis=1)
    if not face_ok.any():
        return None
    ids = np.unique(faces[face_ok])
    remap = -np.ones(len(neutral), np.int64)
    remap[ids] = np.arange(len(ids))
    sub_faces = remap[faces[face_ok]]
    normals = (vertex_normals(neutral, faces) if normals is None else normals)[ids].astype(np.float64)
    p = neutral[ids].astype(np.float64)
    heights = (np.arange(layers) + 1.0) / layers
    base = p + offset_m * normals
    tip = base + thickness[ids, None] * normals
    if outer is not None:
        hang = np.isfinite(outer[ids, 0])
        tip[hang] = outer[ids][hang]
    disp = base[None] - p[None] + heights[:, None, None] * (tip - base)[None]
    disp[0] = base - p  # the first layer lies on the skin: the strands' roots cover the scalp
    c = coverage[ids]
    heights_cut = np.concatenate([[root_cut], heights[1:] * 0.95])
    # Linear in coverage, so the cut moves smoothly through the triangles at the hairline.
    cutoff = heights_cut[:, None] + 1.2 * (1.0 - c[None])
    if root_coverage is not None:
        cutoff[0] = heights_cut[0] + 1.2 * (1.0 - root_coverage[ids])
    if min_layer is not None:
        # A ramp, not a switch: a layer's cut rises as it falls below min_layer (interpolated over
        # a triangle, a switch cut the layers under a fringe off along the triangles' edges).
        cutoff = cutoff + 1.2 * np.clip((min_layer[ids][None] - heights[:, None]) / 0.3, 0.0, 1.0)
    cutoff = np.minimum(cutoff, 9.0)
    if tangent is None:
        away = (p - centre) / np.linalg.norm(p - centre, axis=1, keepdims=True)
        t = away - pole[None] / np.linalg.norm(pole)
        t = t - (t * normals).sum(1, keepdims=True) * normals
    else:
        t = tangent[ids]
    t = t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-9)
    if bend is not None:
        t = np.cos(bend[ids])[:, None] * t + np.sin(bend[ids])[:, None] * np.cross(normals, t)
    if uv is None:
        directions = (p - centre) / np.linalg.norm(p - centre, axis=1, keepdims=True)
        uv = _pole_uv(directions, pole, HAIR_UV_REPEAT)
    else:
        uv = uv[ids]
    shade = (inner_shade + (1.0 - inner_shade) * heights ** 0.6).astype(np.float32)
    return Shells(ids, disp.astype(np.float32), sub_faces, cutoff.astype(np.float32), t.astype(np.float32), shade, uv.astype(np.float32), texture,
                  rest=p.astype(np.float32), follow=np.ones(len(ids), np.float32) if follow is None else follow[ids].astype(np.float32),
                  layer_shift=layer_shift, bind=None if bind is None else bind[ids])


def _split_faces(faces: np.ndarray, mark: np.ndarray, n_points: int) -> tuple[np.ndarray, np.ndarray]:
    """One level of conforming midpoint subdivision: every edge of the faces ``mark`` (F,) is split,
    and every face with split edges is cut into 2, 3 or 4 (so no crack opens at the faces next to
    the marked ones). Returns (new faces (F',3), the split edges (M,2): point ``n_points + m`` is
    the midpoint of edge m). Faces keep their winding."""
    f = np.asarray(faces, np.int64)
    sel = f[mark]
    edges = np.unique(np.sort(np.concatenate([sel[:, [0, 1]], sel[:, [1, 2]], sel[:, [2, 0]]]), axis=1), axis=0)
    big = np.int64(n_points)
    keys = edges[:, 0] * big + edges[:, 1]
    fe = np.stack([f, np.roll(f, -1, axis=1)], axis=-1)  # (F,3,2): edge slot i runs v_i -> v_{i+1}
    fk = fe.min(-1) * big + fe.max(-1)
    pos = np.searchsorted(keys, fk).clip(0, max(len(keys) - 1, 0))
    hit = (keys[pos] == fk) if len(keys) else np.zeros(fk.shape, bool)
    mid = np.where(hit, n_points + pos, -1)
    count = hit.sum(1)
    # Rotate each face so that one split edge is slot 0 (1 split) or the unsplit edge is slot 2 (2 splits).
    r = np.zeros(len(f), np.int64)
    r[count == 1] = np.argmax(hit[count == 1], axis=1)
    r[count == 2] = (np.argmin(hit[count == 2], axis=1) + 1) % 3
    order = (r[:, None] + np.arange(3)[None]) % 3
    v = np.take_along_axis(f, order, axis=1)
    m = np.take_along_axis(mid, order, axis=1)
    a, b, c, ab, bc, ca = v[:, 0], v[:, 1], v[:, 2], m[:, 0], m[:, 1], m[:, 2]
    out = [f[count == 0]]
    k = count == 1
    out += [np.stack([a[k], ab[k], c[k]], 1), np.stack([ab[k], b[k], c[k]], 1)]
    k = count == 2
    out += [np.stack([ab[k], b[k], bc[k]], 1), np.stack([a[k], ab[k], bc[k]], 1), np.stack([a[k], bc[k], c[k]], 1)]
    k = count == 3
    out += [np.stack([a[k], ab[k], ca[k]], 1), np.stack([ab[k], b[k], bc[k]], 1), np.stack([ca[k], bc[k], c[k]], 1),
            np.stack([ab[k], bc[k], ca[k]], 1)]
    return np.concatenate(out).astype(np.int32), edges


#: Midpoint subdivisions of the head's triangles (about 9 mm) where the hairline runs through them:
#: 2 levels make them about 2.3 mm, fine enough for the hairline's shape to be the coverage's, not
#: the triangles' (the cut-off interpolates linearly over a triangle, and 9 mm triangles cut the
#: hairline into straight blocks a few pixels long at 224 px).
HAIRLINE_LEVELS = 2
#: Refined only within this azimuth (radians) of the face: the forehead and temples the views see.
REFINE_AZIMUTH = 1.3


def refine_hairline(neutral: np.ndarray, faces: np.ndarray, skin: np.ndarray, cover_at, levels: int = HAIRLINE_LEVELS):
    """Subdivide the head's triangles where the hair's coverage changes: ``cover_at(points (N,3),
    on_skin (N,) bool) -> (N,)`` 0-1 coverage. Each level splits the skin faces whose corners'
    coverage differs (some corner between 0.02 and 0.98 or corners on both sides) and their
    neighbours' shared edges. Returns (points (P,3) metres, the head's vertices first; faces
    (F',3); on_skin (P,) bool; bind (P, V) sparse float32 weights of each point over the head's
    vertices; unit normals (P,3) interpolated from the head's)."""
    import scipy.sparse as sp

    from painctl.renderer import vertex_normals

    v = np.asarray(neutral, np.float64)
    n_head = len(v)
    on_skin = np.zeros(n_head, bool)
    on_skin[skin] = True
    bind = sp.identity(n_head, dtype=np.float64, format="csr")
    normals = vertex_normals(v, faces).astype(np.float64)
    points, f = v, np.asarray(faces, np.int32)
    # Only in front of the ears, where the views see the hairline (each level costs triangles in
    # every layer of the stack).
    front = np.abs(np.arctan2(v[:, 0], v[:, 2] - np.median(v[:, 2]))) < REFINE_AZIMUTH
    for _ in range(levels):
        c = cover_at(points, on_skin)[f]
        mark = on_skin[f].all(1) & (c.max(1) > 0.02) & (c.min(1) < 0.98) & front[f].all(1)
        if not mark.any():
            break
        f, edges = _split_faces(f, mark, len(points))
        half = sp.csr_matrix((np.full(2 * len(edges), 0.5), (np.repeat(np.arange(len(edges)), 2), edges.reshape(-1))),
                             shape=(len(edges), len(points)))
        bind = sp.vstack([bind, half @ bind], format="csr")
        points = np.concatenate([points, 0.5 * (points[edges[:, 0]] + points[edges[:, 1]])])
        n = 0.5 * (normals[edges[:, 0]] + normals[edges[:, 1]])
        normals = np.concatenate([normals, n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)])
        on_skin = np.concatenate([on_skin, on_skin[edges[:, 0]] & on_skin[edges[:, 1]]])
        front = np.concatenate([front, front[edges[:, 0]] & front[edges[:, 1]]])
    return points, f, on_skin, bind.astype(np.float32), normals


def _smoothstep(lo: float, hi: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3 - 2 * t)


@dataclass(frozen=True)
class HeadFrame:
    """Where things are on a neutral head (metres, painctl frame): skull centre, brow and ear heights."""

    centre: np.ndarray
    brow_y: float
    top_y: float
    ear: np.ndarray       # (2,3) left, right ear centres
    chin_y: float
    nose_y: float


def head_frame(identity: Identity) -> HeadFrame:
    """Locate the skull centre, brows, ears and chin on the identity's neutral head."""
    v = identity.neutral
    lm = identity.landmarks
    skin = v[identity.regions["skin"]]
    brow_y = float(max(v[lm["left_brow"], 1], v[lm["right_brow"], 1]))
    top_y = float(skin[:, 1].max())
    band = skin[np.abs(skin[:, 1] - (brow_y + 0.03)) < 0.01]
    centre = np.array([0.0, brow_y + 0.01, 0.5 * (band[:, 2].min() + band[:, 2].max())])
    eye_y = 0.5 * (v[lm["left_upper_lid"], 1] + v[lm["left_lower_lid"], 1])
    ears = []
    for sign in (1.0, -1.0):
        side = skin[(sign * skin[:, 0] > 0) & (np.abs(skin[:, 1] - (eye_y - 0.01)) < 0.03)]
        far = side[np.argsort(-sign * side[:, 0])[:20]]
        ears.append(far.mean(axis=0))
    return HeadFrame(centre, brow_y, top_y, np.array(ears), float(v[lm["chin"], 1]), float(v[lm["nose_tip"], 1]))


def _azimuth(p: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Azimuth about the vertical axis through ``centre``: 0 at the face, +-pi/2 at the ears, +-pi at the back."""
    return np.arctan2(p[:, 0] - centre[0], p[:, 2] - centre[2])


def _bumps(rng: np.random.Generator, p: np.ndarray, wavelength_m: float = 0.05) -> np.ndarray:
    """Smooth random field over positions ``p`` (N,3) metres, roughly in [-1, 1]."""
    out = np.zeros(len(p))
    for _ in range(6):
        d = rng.normal(size=3)
        d /= np.linalg.norm(d)
        out += np.sin(2 * np.pi * (p @ d) / (wavelength_m * rng.uniform(0.7, 1.4)) + rng.uniform(0, 2 * np.pi))
    return out / np.sqrt(6) / 1.2


def _wobble(rng: np.random.Generator, az: np.ndarray, amplitude: float) -> np.ndarray:
    """A smooth random curve in azimuth (metres): irregularity of a hairline."""
    out = np.zeros_like(az)
    for k in (3, 5, 9, 15):
        out += amplitude / np.sqrt(k) * np.sin(k * az + rng.uniform(0, 2 * np.pi))
    return out


#: Where a hairline's density falls from full to none (metres above and below the hairline): over
#: 2 cm, hairs thinning out one by one (8 mm to 1.4 cm cut a hard edge into the skin at 512 px).
HAIRLINE_RAMP_M = (-0.014, 0.006)

#: The tufts of a hairline: cells this wide (metres; three times as long down the head) whose
#: coverage is raised or lowered by up to this much where it is falling (most at half coverage).
HAIRLINE_TUFT_M = 0.0022
HAIRLINE_TUFT = 0.45


def _tufts(cover: np.ndarray, points: np.ndarray, salt: int) -> np.ndarray:
    """Return ``cover`` (N,) at ``points`` (N,3) broken into tufts where it falls between 0 and 1.

    Hair textures are mipmapped: at 224-512 px a pixel averages many strands, so the strand cut
    (alpha against the per-vertex cut-off) is a threshold on the strands' mean length and ends a
    smooth coverage in one hard line, whatever the strands. Coverage that varies from tuft to
    tuft, on the refined triangles of the hairline (:func:`refine_hairline`), ends it instead in
    locks reaching down and gaps of skin, a density that falls over the ramp."""
    from painctl.appearance.paint import hash_noise

    band = 4.0 * cover * (1.0 - cover)
    noise = hash_noise(np.asarray(points, np.float64), HAIRLINE_TUFT_M, stretch=(1.0, 3.0, 1.0), seed=salt + 13) - 0.5
    return np.where(cover > 0.0, np.clip(cover + 2.0 * HAIRLINE_TUFT * band * noise, 0.0, 1.0), 0.0)


#: A hairline's irregularity: amplitude (metres) of its slow waves (2.5 cm across; finer detail is
#: the strands'), and the largest dip of a widow's peak at the middle of the forehead.
HAIRLINE_ZIGZAG_M = 0.002
WIDOWS_PEAK_M = 0.005


def hairline_detail(rng: np.random.Generator, p: np.ndarray, az: np.ndarray, temple_m: float) -> np.ndarray:
    """Return (N,) metres to add to the hairline's height at points ``p`` (N,3), azimuth ``az``
    (N,) radians from the face: slow waves varying over the surface (not only by azimuth), a
    widow's peak drawn per identity, and notches at the temples that deepen with ``temple_m``."""
    # Only waves the head's ~9 mm triangles can carry: finer ones came out as straight-cut notches.
    # The hairline's fine raggedness is the strands' (their lengths end it hair by hair).
    zigzag = HAIRLINE_ZIGZAG_M * _bumps(rng, p, 0.025)
    # The peak and the notches span 3-4 triangles (about 3 cm): narrower, they came out as cut-out blocks.
    peak = -WIDOWS_PEAK_M * rng.uniform(0.0, 1.0) * np.exp(-(az / 0.25) ** 2)
    notch_at = rng.uniform(0.38, 0.55)
    notch = (0.003 + 0.6 * temple_m) * rng.uniform(0.3, 1.0) * np.exp(-((np.abs(az) - notch_at) / 0.18) ** 2)
    return zigzag + peak + notch


def hair_coverage(frame: HeadFrame, neutral: np.ndarray, skin: np.ndarray, shape: StyleShape, rng: np.random.Generator,
                  forehead_m: float, temple_m: float, detail_rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return per-vertex (coverage 0-1, signed height above the hairline in metres) for a style;
    ``skin`` is the hair-bearing points' ids or an (N,) bool mask; ``detail_rng`` draws the hairline's irregularity (:func:`hairline_detail`; none without it)."""
    p = neutral.astype(np.float64)
    az = np.abs(_azimuth(p, frame.centre))
    front = frame.brow_y + forehead_m + shape.recession_m
    # The hairline's height by azimuth: forehead, temple corners, above the ear, nape.
    knots_a = np.array([0.0, 0.45, 0.8, 1.15, 1.45, 1.9, 2.4, np.pi])
    ear_y = float(frame.ear[:, 1].mean())
    nape = frame.chin_y - 0.005
    knots_y = np.array([front, front + temple_m + 0.8 * shape.recession_m, frame.brow_y + 0.022 + 0.6 * shape.recession_m,
                        ear_y - 0.012, ear_y + 0.025, ear_y + 0.015, nape + 0.015, nape])
    if shape.hangs:
        knots_y[3:] = [frame.nose_y - 0.005, frame.chin_y, frame.chin_y - 0.02, frame.chin_y - 0.03, frame.chin_y - 0.03]
    line = np.interp(az, knots_a, knots_y) + _wobble(rng, az, 0.002)
    if detail_rng is not None:
        detail = hairline_detail(detail_rng, p, _azimuth(p, frame.centre), temple_m)
        if shape.fringe > 0:
            # A fringe hides the front hairline and has its own ragged edge; a zigzag under it
            # only thins the hair where the two meet.
            detail *= 1.0 - _smoothstep(0.9, 0.5, az)
        line = line + detail
    height = p[:, 1] - line
    # The density falls over about a centimetre; each strand's own length ends it hair by hair.
    cover = _smoothstep(HAIRLINE_RAMP_M[0], HAIRLINE_RAMP_M[1], height)
    if not shape.hangs:
        # Ears stay bare unless the hair hangs over them.
        for ear in frame.ear:
            d = np.linalg.norm(p - ear, axis=1)
            cover *= _smoothstep(0.02, 0.028, d)
    if shape.horseshoe:
        # Only the fringe of hair round the sides and back remains on a bald crown.
        cover *= 1.0 - _smoothstep(ear_y + 0.04, ear_y + 0.06, p[:, 1])
    elif shape.recession_m > 0:
        # A thinning crown.
        cover *= 1.0 - 0.5 * _smoothstep(frame.top_y - 0.05, frame.top_y - 0.02, p[:, 1]) * _smoothstep(-0.2, 0.3, np.cos(az))
    skin = np.asarray(skin)
    if skin.dtype == bool and len(skin) == len(p):
        mask = skin
    else:
        mask = np.zeros(len(p), bool)
        mask[skin] = True
    cover[~mask] = 0.0
    return cover, height


#: Flyaway wisps per style: how many, and their length range (metres) out of the hair's surface.
#: Short ones that hug the hair soften its outline; long ones that left it at up to 17 degrees
#: stood off a black head as a halo of single pen-stroke lines (a real flyaway is a tenth of a pixel
#: wide at 512 px: it shows only where it lies along the outline, over the hair's own colour).
FLYAWAYS = {"close_crop": (0, 0.0, 0.0), "short": (40, 0.003, 0.008), "medium": (70, 0.004, 0.012), "long_tied": (40, 0.004, 0.01),
            "curly": (50, 0.003, 0.008), "coily": (30, 0.0015, 0.004), "receding": (30, 0.003, 0.007), "bald": (16, 0.003, 0.006)}
#: How far a wisp leaves the outer shell (radians) and turns off the strand direction (radians, either way).
WISP_LIFT = (0.0, 0.06)
WISP_TURN = 0.3
#: How deep under the outer layer a wisp's root lies, as a fraction of the way to the third layer from the outside.
WISP_ROOT_DEPTH = 0.25
#: How far a wisp's tip arcs back towards the hair, as a fraction of its length.
WISP_ARC = 0.3
#: A wisp's width at its root (metres): a few strands of the strand texture side by side.
WISP_WIDTH_M = 0.0007


def build_flyaways(rng: np.random.Generator, shells: Shells, coverage: np.ndarray, height: np.ndarray, style: str, curl: float,
                   texture: np.ndarray, specular: float, roughness: float):
    """Return a renderer Mesh of flyaway wisps (None for styles without them): thin strand-textured
    ribbons that leave the outer shell at a shallow angle and bend away, so the hair's outline is
    broken by strands instead of ending in the outer shell's clean edge. Each wisp is two crossed
    ribbons (seen from any side), narrowing to a third of its width at the tip, and its strand
    cut-off rises from root to tip, so its strands end one by one: the tips thin out and the
    background shows through them. The roots sit where the hair is full and at least 1 cm above
    the hairline, where the shells do not follow the skin, so the wisps are built once and stay."""
    from painctl.renderer import Mesh

    count, lo, hi = FLYAWAYS[style]
    c = coverage[shells.ids]
    ok = np.flatnonzero((c > 0.95) & (height[shells.ids] > 0.01))
    if count == 0 or len(ok) < 10:
        return None
    pick = rng.choice(ok, size=count, replace=True)
    outer = shells.rest[pick] + shells.disp[-1][pick]
    # Rooted just under the outer layer: rooted deeper (3 layers down, 1 cm in thick hair) a wisp
    # climbed radially through the sparse outer layers and showed at the crown as a spike.
    inner = shells.rest[pick] + WISP_ROOT_DEPTH * shells.disp[max(len(shells.disp) - 3, 0)][pick] + (1.0 - WISP_ROOT_DEPTH) * shells.disp[-1][pick]
    # The outer shell's own normal: its thickness varies (bumps), so it is tilted off the skin's by
    # up to ~40 degrees, and wisps along the skin's strand direction stood off its slopes as spikes.
    from painctl.renderer import vertex_normals

    normal = vertex_normals((shells.rest + shells.disp[-1]).astype(np.float64), shells.faces)[pick].astype(np.float64)
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-9)
    tangent = shells.tangent[pick].astype(np.float64)
    tangent -= (tangent * normal).sum(1, keepdims=True) * normal
    tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-9)
    side = np.cross(normal, tangent)
    side /= np.maximum(np.linalg.norm(side, axis=1, keepdims=True), 1e-9)
    # Leaving the surface at 0-3.5 degrees, turned up to 17 degrees off the strand direction.
    lift = rng.uniform(*WISP_LIFT, count)[:, None]
    turn = rng.uniform(-WISP_TURN, WISP_TURN, count)[:, None]
    start = np.cos(turn) * tangent + np.sin(turn) * side
    start = np.cos(lift) * start + np.sin(lift) * normal
    length = rng.uniform(lo, hi, count)[:, None]
    # Bent by gravity and at random (curls more): a wisp arcs, it does not stick out straight.
    bend = (rng.normal(0.0, 0.06 + 0.2 * curl, (count, 3)) + np.array([0.0, -0.3, 0.0])) * length
    # ... and back towards the hair: an arc along the outline, not a spike standing off it.
    bend -= WISP_ARC * normal * length
    segments = 5
    t = np.linspace(0.0, 1.0, segments + 1)
    # Root inside the hair (between the outer layers), so a wisp grows out of it.
    spine = inner[:, None] + length[:, None] * (t[None, :, None] * start[:, None] * 1.15) + bend[:, None] * t[None, :, None] ** 2
    spine += (outer - inner)[:, None] * np.minimum(t * 3.0, 1.0)[None, :, None]
    half = 0.5 * WISP_WIDTH_M * rng.uniform(0.5, 1.3, count)[:, None] * (1.0 - 0.65 * t)[None]
    across = [side, normal]
    verts, faces, uvs, cut, tans = [], [], [], [], []
    d = np.gradient(spine, axis=1)
    d /= np.maximum(np.linalg.norm(d, axis=2, keepdims=True), 1e-12)
    u0 = rng.uniform(0.0, float(HAIR_UV_REPEAT), count)
    v0 = rng.uniform(0.0, 6.0, count)
    span_u = WISP_WIDTH_M / 0.09  # a wisp shows its own width of strands (a tile spans about 9 cm of scalp)
    n_per = 2 * (segments + 1)
    for k, a in enumerate(across):
        left = spine - half[..., None] * a[:, None]
        right = spine + half[..., None] * a[:, None]
        v = np.stack([left, right], axis=2).reshape(count, n_per, 3)
        verts.append(v)
        uv = np.stack([np.stack([u0 + k * 0.37, u0 + k * 0.37 + span_u], 1)[:, None, :].repeat(segments + 1, 1),
                       (v0[:, None] + length * 20.0 * t[None])[..., None].repeat(2, 2)], axis=-1).reshape(count, n_per, 2)
        uvs.append(uv)
        # Strands end one by one towards the tip: the cut rises from 0.25 to 1.05.
        cut.append(np.repeat(0.25 + 0.8 * t ** 1.5, 2)[None].repeat(count, 0))
        tans.append(np.repeat(d, 2, axis=1))
    base = np.arange(segments) * 2
    quad = np.concatenate([np.stack([base, base + 1, base + 3], 1), np.stack([base, base + 3, base + 2], 1)])
    all_faces = []
    for k in range(len(across)):
        for w in range(count):
            all_faces.append(quad + (k * count + w) * n_per)
    verts = np.concatenate(verts).reshape(-1, 3)
    uv = np.concatenate(uvs).reshape(-1, 2)
    faces = np.concatenate(all_faces).astype(np.int32)
    # Shaded as the shells' outer layers are, a little darker at the root (inside the hair).
    colours = np.repeat(np.concatenate([np.repeat(0.7 + 0.3 * np.minimum(t * 2.0, 1.0), 2)] * (len(across) * count))[:, None], 3, axis=1).astype(np.float32)
    return Mesh(verts, faces, vertex_colors=colours, uv=uv, texture=texture, specular=specular, roughness=roughness,
                strand_tangents=np.concatenate(tans).reshape(-1, 3), strand_cutoff=np.concatenate(cut).reshape(-1))


class ScalpHair(Part):
    """Scalp hair of one identity: shells (and a bun for tied-back hair) bound to the head."""

    name = "hair"
    label = "hair"

    def __init__(self, style: str, colour_name: str, colour: np.ndarray, grey: float, shells: list[Shells], info: dict, bun=None,
                 identity: Identity | None = None, coverage: np.ndarray | None = None, flyaways=None, coverage_at=None):
        self.style, self.colour_name, self.colour, self.grey = style, colour_name, colour, grey
        self.shells = shells
        self.info = info
        self.bun = bun
        #: Flyaway wisps (a renderer Mesh built once, see :func:`build_flyaways`) or None.
        self.flyaways = flyaways
        #: The identity and its per-vertex hair coverage (0-1), for the hair painted into the scalp.
        self.identity, self.coverage = identity, coverage
        #: The scalp's coverage at any points (N,3) of the neutral head, or None: the painted roots
        #: take it per texel, so their hairline is as fine as the texture, not the head's triangles.
        self.coverage_at = coverage_at
        self._paint = None

    def paint(self, size: int):
        """Return the hair's roots painted into the scalp of a ``size`` x ``size`` head texture
        (None for untextured heads): under the shells the scalp takes the hair's colour where they
        cover it, so their cut-out hairline ends on hair-coloured skin, not bare skin, and scalp
        seen between sparse strands (close crops) reads as hair."""
        from painctl.appearance.paint import SkinPaint, hash_noise, texel_points
        from painctl.renderer.colour import srgb_to_linear

        ident = self.identity
        if ident is None or self.coverage is None or not size or ident.uv is None:
            return None
        if self._paint is None or self._paint.size != size:
            texels = texel_points(ident, size, "skin")
            c = np.clip(texels.interpolate(self.coverage) if self.coverage_at is None else self.coverage_at(np.asarray(texels.points, np.float64)), 0.0, 1.0)
            on = np.flatnonzero(c > 1e-3)  # the noise is drawn only where there is hair
            c, points = c[on], texels.points[on]
            # Roots in 0.4 mm tufts, not an even wash: scalp paint with a grain reads as hair.
            grain = hash_noise(points, 0.0004, seed=int(ident.index) + 7)
            # To a power: the wash fades faster than the strands, so the hairline ends in hairs, not in a stain.
            cover = c ** 1.5 * SCALP_PAINT * (0.7 + 0.3 * grain)
            # Fine hairs (cells 0.25 mm across, 2.5 mm down the head) as dense as the coverage: where
            # it falls below the shells' hairline they thin out one by one over several millimetres,
            # hairs at 512 px and a soft fall of density at 224 px. Only where they show over the wash.
            band = np.flatnonzero(cover < FINE_HAIR_ALPHA)
            fine = hash_noise(points[band], 0.00025, stretch=(1.0, 10.0, 1.0), seed=int(ident.index) + 11) < FINE_HAIR_DENSITY * c[band]
            cover[band[fine]] = FINE_HAIR_ALPHA
            keep = on[cover > 1e-3]
            cover = cover[cover > 1e-3]
            # The roots lie in the shadow of the hair over them: darker than the hair (white hair's
            # roots painted its own white read as a pale stain along the hairline).
            colour = srgb_to_linear(ROOT_SHADOW * ((1.0 - self.grey) * np.asarray(self.colour) + self.grey * np.asarray(GREY) * 0.9))
            self._paint = SkinPaint(texels.rows[keep], texels.cols[keep], cover, colour, size)
        return self._paint

    def dress(self, head, vertices, au):
        paint = self.paint(head.texture.shape[0]) if head.textured else None
        return head if paint is None else paint.dress(head)

    def meshes(self, vertices, au):
        out = [s.mesh(vertices) for s in self.shells]
        if self.bun is not None:
            out.append(self.bun(vertices))
        if self.flyaways is not None:
            out.append(self.flyaways)
        return out

    def record(self):
        return {"style": self.style, "colour": self.colour_name, "rgb": [round(float(c), 4) for c in self.colour],
                "grey": round(self.grey, 3), **self.info}


def _bun(frame: HeadFrame, neutral: np.ndarray, texture: np.ndarray, rng: np.random.Generator):
    """A knot of tied-back hair behind the crown: strand-textured shells on an ellipsoid (a function of the frame's vertices)."""
    from painctl.renderer import Mesh

    back = neutral[np.argmin(neutral[:, 2] + 0.5 * np.abs(neutral[:, 1] - (frame.brow_y + 0.02)))]
    radius = np.array([0.032, 0.028, 0.022]) * rng.uniform(0.9, 1.15)
    centre = back + np.array([0.0, 0.0, -0.012])
    n_lat, n_lon = 12, 24
    lat = np.linspace(0.15, np.pi - 0.15, n_lat)
    lon = np.linspace(0, 2 * np.pi, n_lon, endpoint=False)
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    unit = np.stack([np.sin(la) * np.cos(lo), np.cos(la), np.sin(la) * np.sin(lo)], axis=-1).reshape(-1, 3)
    tangent = np.stack([-np.sin(lo), np.zeros_like(lo), np.cos(lo)], axis=-1).reshape(-1, 3)  # wound round the knot
    faces = []
    for i in range(n_lat - 1):
        for j in range(n_lon):
            a, b, c, d = i * n_lon + j, i * n_lon + (j + 1) % n_lon, (i + 1) * n_lon + (j + 1) % n_lon, (i + 1) * n_lon + j
            faces += [(a, b, c), (a, c, d)]
    faces = np.array(faces, np.int32)
    layers = 4
    pos, cut, shade = [], [], []
    for k in range(layers):
        h = (k + 1) / layers
        pos.append(centre + unit * radius * (0.85 + 0.15 * h))
        cut.append(np.full(len(unit), 0.04 if k == 0 else 0.95 * h))
        shade.append(np.full(len(unit), 0.35 + 0.65 * h ** 0.6))
    pos = np.concatenate(pos)
    all_faces = np.concatenate([faces + k * len(unit) for k in range(layers)])
    uv = np.stack([lo.reshape(-1) / (2 * np.pi) * 3.0, la.reshape(-1) / np.pi * 2.0], axis=1)
    uv_c, uv_f = _unwrap_corners(np.tile(uv, (layers, 1)), all_faces, 3.0)
    colours = np.repeat(np.concatenate(shade)[:, None], 3, axis=1)
    tangents = np.tile(tangent, (layers, 1))
    cut = np.concatenate(cut)
    # The knot sits on the cranium, which expressions do not move: it stays where it was built.
    mesh_once = Mesh(pos, all_faces, vertex_colors=colours, uv=uv_c, uv_faces=uv_f, texture=texture,
                     specular=0.09, roughness=0.5, strand_tangents=tangents, strand_cutoff=cut)

    def mesh(vertices):
        return mesh_once

    return mesh


def draw_style(identity: Identity) -> str:
    """Draw the identity's hair style from :func:`style_weights` (its own draw of the hair stream)."""
    weights = style_weights(identity.gender, ancestry_of(identity), identity.age_years)
    rng = rng_for(identity.seed, STREAM, identity.index, 0)
    return STYLES[int(rng.choice(len(STYLES), p=[weights[s] for s in STYLES]))]


def build_hair(identity: Identity, style: str | None = None) -> ScalpHair | None:
    """Draw the identity's hair style, colour and hairline, and build its shells on the neutral head.

    ``style`` forces a style of :data:`STYLES` (the draws of colour and hairline stay the seed's).
    """
    if not identity.regions or "skin" not in identity.regions or "left_brow" not in identity.landmarks:
        return None
    drawn = draw_style(identity)
    style = style or drawn
    rng = rng_for(identity.seed, STREAM, identity.index, 2)
    colour_name, colour, grey = identity_hair_colour(identity)
    shape = SHAPES[style]
    female = identity.gender == "female"
    forehead = rng.uniform(0.044, 0.054) if female else rng.uniform(0.047, 0.06)
    temple = rng.uniform(0.0, 0.006) if female else rng.uniform(0.004, 0.014)
    frame = head_frame(identity)
    head = identity.neutral.astype(np.float64)

    def cover_at(points: np.ndarray, on_skin: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
        """(coverage, height above the hairline, the scalp's own coverage, min_layer or None, fringe)
        at any points on the neutral head: the draws are the same whatever the points (their own
        streams, none per point), so refined points, head vertices and texels agree."""
        line_rng = rng_for(identity.seed, STREAM, identity.index, 6)
        cov, h = hair_coverage(frame, points, on_skin, shape, line_rng, forehead, temple,
                               detail_rng=rng_for(identity.seed, STREAM, identity.index, 3))
        cov = _tufts(cov, points, int(identity.index))
        scalp_cov, fringe, low = cov, np.zeros(len(points)), None
        if shape.fringe > 0:
            # A fringe: strands from the front of the crown fall over the forehead, outer layers only,
            # ending in an uneven line some way above the brows.
            az = _azimuth(points, frame.centre)
            drop = shape.fringe * line_rng.uniform(0.4, 1.0) * (forehead - 0.012)
            front = _smoothstep(0.9, 0.5, np.abs(az))
            edge = h + drop * front + _wobble(line_rng, az, 0.003) * front
            # Its ends thin out over 1-2 cm (strands of many lengths), not in a cut line.
            fringe = (_smoothstep(-0.01, 0.012, edge) - _smoothstep(-0.002, 0.012, h)).clip(0.0, 1.0) * front
            fringe = _tufts(fringe, points, int(identity.index) + 1)
            fringe[~on_skin] = 0.0
            cov = np.maximum(cov, fringe)
            low = np.where((fringe > 0) & (h < 0), 0.4, 0.0)
        return cov, h, scalp_cov, low, fringe

    # The hairline runs through the head's 9 mm triangles: split them there, so its shape is the
    # coverage's (the points are bound to the head's vertices by fixed weights).
    neutral, hair_faces, on_skin, bind, normals = refine_hairline(head, identity.faces, identity.regions["skin"],
                                                                 lambda pts, sk: cover_at(pts, sk)[0] ** ROOT_SPREAD)
    coverage, height, scalp, min_layer, fringe = cover_at(neutral, on_skin)
    thickness = shape.thickness_m * rng.uniform(0.85, 1.2) * (0.25 + 0.75 * _smoothstep(0.0, 0.03, height))
    up = _smoothstep(frame.brow_y, frame.top_y, neutral[:, 1])
    if shape.curl > 0.8:
        thickness *= 0.8 + 0.3 * up  # coily hair stands up on top
    # Hair is not a shell of even thickness: low-frequency bumps, larger for curly hair.
    thickness *= 1.0 + (0.15 + 0.2 * shape.curl) * _bumps(rng, neutral)
    # The strands' own look (texture, bends, layers, highlight, flyaways) from a stream of its own.
    look = rng_for(identity.seed, STREAM, identity.index, 4)
    texture = scalp_texture(look, colour, grey, shape.curl, seed=identity.seed, stubble=shape.thickness_m < 0.006)
    pole = np.array([0.0, 1.0, -0.35])
    tangent = None
    if shape.fringe > 0:
        thickness = np.where(fringe > 0, np.maximum(thickness, 0.004), thickness)
    outer = None
    if shape.hangs:
        outer = _curtain(frame, neutral, np.flatnonzero(on_skin), shape.thickness_m)
    if shape.tied:
        pole = np.array([0.0, 0.15, -1.0])  # strands combed back to the knot
    # A fringe follows the forehead skin it lies on (brow actions move it); from the hairline up
    # the hair stays as on the neutral head.
    follow = 1.0 - _smoothstep(-0.006, 0.0, height)
    uv, bend = _strand_flow(look, neutral, frame.centre, pole)
    # Each layer shows the strands a few texels aside and further along: strands cross between
    # layers instead of one pattern stacked into stripes.
    layer_shift = np.stack([look.uniform(-0.006, 0.006, shape.layers), look.uniform(0.0, 1.0, shape.layers)], axis=1)
    layer_shift[0] = 0.0
    shells = build_shells(neutral, hair_faces, coverage, thickness, shape.layers, pole, frame.centre, texture, outer=outer,
                          min_layer=min_layer, tangent=tangent, follow=follow, uv=uv, layer_shift=layer_shift, bend=bend,
                          normals=normals, bind=bind, root_coverage=coverage ** ROOT_SPREAD, inner_shade=inner_shade(colour, grey))
    if shells is None:
        return None
    specular, roughness = (0.03, 0.85) if shape.thickness_m < 0.006 else (0.09, 0.5)  # cropped hair is bristles: little highlight
    # The highlight comes and goes a little over the head (locks catch the light differently), over
    # 8 cm: per vertex at 3 cm and +-45% it broke into glossy patches on dark hair in side views.
    # Inner layers lie in the outer ones' shadow: their highlight falls with their shading, so the
    # band breaks up into the outer strands that catch the light instead of one sheen.
    shells.specular = (shells.shade[:, None] ** 2 * (specular * (1.0 + HIGHLIGHT_VARIATION * _bumps(look, neutral[shells.ids], 0.08))).clip(0.0, None)[None]
                       ).reshape(-1).astype(np.float32)
    shells.roughness = roughness
    flyaways = build_flyaways(look, shells, coverage, height, style, shape.curl, texture, specular, roughness)
    bun = _bun(frame, head, texture, rng) if shape.tied else None
    info = {"hairline_m": round(float(forehead + shape.recession_m), 4), "thickness_m": round(float(shape.thickness_m), 4),
            "fringe": bool(shape.fringe > 0), "drawn_style": drawn}
    return ScalpHair(style, colour_name, colour, grey, [shells], info, bun=bun, identity=identity, coverage=scalp[:len(head)], flyaways=flyaways,
                     coverage_at=lambda pts: cover_at(pts, np.ones(len(pts), bool))[2])


#: The first layer's coverage is the stack's to this power (under 1: higher where the hair thins), so
#: below the hairline its strands thin out one by one over a few millimetres more than the stack:
#: the hairline is a fall of density into the skin, not the stack's edge.
ROOT_SPREAD = 0.6

def inner_shade(colour: np.ndarray, grey: float) -> float:
    """Return the shading of the innermost hair layer (0-1) for hair of sRGB ``colour`` (3,) and
    ``grey`` fraction: 0.35 for black hair, up to 0.6 for white. Light hair scatters light through
    itself, so its inside is not much darker than its surface; with black hair's self-shadowing,
    every parting between the locks of light or grey hair showed as a dark line from crown to tip."""
    lum = float(np.mean((1.0 - grey) * np.asarray(colour) + grey * np.asarray(GREY)))
    return 0.35 + 0.25 * float(np.clip(lum / GREY[0], 0.0, 1.0))


#: How much the highlight's strength varies over the head (a fraction either way).
HIGHLIGHT_VARIATION = 0.2

#: How far the strands bend off the meridians from the pole: the largest sideways shift of the
#: strand coordinate u (tiles) and of the strand direction (radians), over a few centimetres.
FLOW_BEND_U = 0.05
FLOW_BEND_RAD = 0.35


def _strand_flow(rng: np.random.Generator, neutral: np.ndarray, centre: np.ndarray, pole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (V,2) strand coordinates and (V,) radians of scalp hair: the meridians from ``pole``
    (see :func:`_pole_uv`) bent by a smooth random field, and the angle the strand direction turns
    off them (``bend`` of :func:`build_shells`), so the strands sweep and part in places instead
    of running in parallel lines from the crown, and the highlight band across them wanders."""
    p = neutral.astype(np.float64)
    away = (p - centre) / np.linalg.norm(p - centre, axis=1, keepdims=True)
    uv = _pole_uv(away, pole, HAIR_UV_REPEAT)
    uv[:, 0] += FLOW_BEND_U * _bumps(rng, p, 0.06)
    return uv, FLOW_BEND_RAD * _bumps(rng, p, 0.04)


def _curtain(frame: HeadFrame, neutral: np.ndarray, skin: np.ndarray, thickness: float) -> np.ndarray:
    """Return (V,3) where hanging hair's outer layer lies below the widest part of the skull (NaN above it)."""
    p = neutral
    az = _azimuth(p, frame.centre)
    axis = frame.centre[[0, 2]]
    radial = np.stack([p[:, 0] - axis[0], p[:, 2] - axis[1]], axis=1)
    r = np.linalg.norm(radial, axis=1)
    wide_y = float(frame.ear[:, 1].mean()) + 0.02
    bins = np.linspace(-np.pi, np.pi, 73)
    idx = np.clip(np.digitize(az, bins) - 1, 0, 71)
    ring = np.zeros(len(p), bool)
    ring[skin] = True
    ring &= (p[:, 1] > wide_y) & (p[:, 1] < wide_y + 0.03)
    r_max = np.zeros(72)
    for b in range(72):
        sel = ring & (idx == b)
        r_max[b] = r[sel].max() if sel.any() else 0.0
    # Fill empty bins (the face) from their neighbours.
    good = r_max > 0
    r_max = np.interp(np.arange(72), np.flatnonzero(good), r_max[good], period=72)
    out = np.full((len(p), 3), np.nan)
    below = p[:, 1] < wide_y
    target = np.maximum(r, r_max[idx] + thickness * 0.6)
    # Hair flares a little as it falls from the widest point.
    target = target + thickness * 0.5 * _smoothstep(wide_y, frame.chin_y, p[:, 1])
    scale = target / np.maximum(r, 1e-6)
    out[below, 0] = axis[0] + radial[below, 0] * scale[below]
    out[below, 2] = axis[1] + radial[below, 1] * scale[below]
    out[below, 1] = p[below, 1]
    return out


@register("hair")
def builder(identity: Identity) -> ScalpHair | None:
    """Build the identity's scalp hair (None on a head without known regions)."""
    return build_hair(identity)
