"""A procedural skin model: a UV albedo texture and specular/roughness maps for one identity.

    params = skin_params(phenotype_names, phenotype, age_years, seed, index)
    uv, uv_faces = face_atlas(faces, uv, uv_faces, regions)       # face-filling UV layout
    maps = skin_maps(vertices, faces, uv, uv_faces, regions, landmarks, params, size=512)
    Mesh(vertices, faces, uv=uv, uv_faces=uv_faces, texture=maps.albedo,
         specular=maps.specular, roughness=maps.roughness)

Colour follows a two-pigment model: linear reflectance = base * exp(-melanin * mu_m - haemoglobin * mu_h),
with melanin from the identity's ancestry mix and haemoglobin raised on cheeks, nose and lips.
Every pattern (blotches, pores and fine relief, age spots, wrinkles, brows, moles, freckles,
stubble, the eyes' sclera, iris, catchlight and lid margins) is a function of the texel's 3D point
on the mesh, so it is continuous across UV seams. Ages are in years, lengths in metres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from painctl.renderer.colour import linear_to_srgb, srgb_to_linear
from painctl.appearance.uv import UVTexels, repack_uv, uv_texels

#: Linear-RGB absorption of melanin and haemoglobin per unit concentration (melanin absorbs blue most,
#: haemoglobin green), and the pigment-free reflectance, fitted (haemoglobin 0.1) so a light skin
#: (melanin 0.05) is sRGB (0.80, 0.62, 0.52) and a dark one (melanin 0.45) sRGB (0.43, 0.28, 0.20).
#: Measured light skin reflects about sRGB (0.75-0.85, 0.55-0.65, 0.45-0.55), linear 0.5-0.7 in red
#: and 0.17-0.26 in blue (the ColorChecker's "light skin" patch, made to match skin, is (0.76, 0.59,
#: 0.51)); dark skin sits near its "dark skin" patch (0.45, 0.32, 0.27). An earlier fit put light skin
#: at (0.87, 0.69, 0.59), paler than measured, which the studio rig burnt out to white. Medium skin
#: (melanin 0.2) moved from (0.67, 0.50, 0.40) to (0.64, 0.47, 0.37); dark skin did not move.
MELANIN_ABSORPTION = np.array([3.44, 4.19, 4.9])
HAEMOGLOBIN_ABSORPTION = np.array([0.3, 1.8, 1.2])
BASE_REFLECTANCE = np.array([0.74, 0.505, 0.336])
#: Random streams (painctl.seeding.rng_for) of the per-identity marks and of the eyes.
MARKS_STREAM = 14600
EYES_STREAM = 14500
#: Melanin per ancestry weight (african, asian, caucasian).
ANCESTRY_MELANIN = {"african": 0.45, "asian": 0.2, "caucasian": 0.05}

IRIS_COLOURS = {
    "brown": (0.28, 0.15, 0.07),
    "dark": (0.12, 0.07, 0.04),
    "hazel": (0.42, 0.32, 0.15),
    "green": (0.30, 0.42, 0.25),
    "blue": (0.32, 0.45, 0.62),
}


@dataclass
class SkinParams:
    """One identity's skin: melanin and haemoglobin concentrations, age in years, iris and hair
    colour (sRGB), and a seed for its patterns."""

    melanin: float
    haemoglobin: float
    age_years: float
    iris: tuple[float, float, float]
    hair: tuple[float, float, float]
    seed: int
    #: Marks drawn per identity (see :func:`skin_params`): how many moles, freckle density (0-1) and
    #: stubble shadow density (0-1, men only).
    moles: int = 0
    freckles: float = 0.0
    stubble: float = 0.0

    def to_dict(self) -> dict:
        return {"melanin": self.melanin, "haemoglobin": self.haemoglobin, "age_years": self.age_years,
                "iris": list(self.iris), "hair": list(self.hair), "seed": self.seed,
                "moles": self.moles, "freckles": self.freckles, "stubble": self.stubble}


@dataclass
class SkinMaps:
    """UV maps of one identity: albedo (S,S,3) float32 sRGB [0,1]; specular (S,S) float32 reflectance
    at normal incidence; roughness (S,S) float32 in [0,1]."""

    albedo: np.ndarray
    specular: np.ndarray
    roughness: np.ndarray


def skin_params(phenotype_names, phenotype: np.ndarray, age_years: float, seed: int, index: int) -> SkinParams:
    """Derive one identity's SkinParams from its phenotype (P,) (names include african, asian,
    caucasian when the model has them; equal thirds otherwise), its age in years (NaN: 35) and
    (seed, global index) for the random parts."""
    from painctl.seeding import rng_for

    rng = rng_for(seed, "skin", index)
    names = [str(n) for n in phenotype_names]
    weights = {k: float(phenotype[names.index(k)]) if k in names else 1.0 / 3.0 for k in ANCESTRY_MELANIN}
    total = sum(weights.values()) or 1.0
    melanin = sum(ANCESTRY_MELANIN[k] * w / total for k, w in weights.items())
    melanin = float(np.clip(melanin * np.exp(rng.normal(0.0, 0.12)), 0.02, 0.6))
    age = 35.0 if not np.isfinite(age_years) else float(age_years)
    haemoglobin = float(np.clip(0.1 + rng.normal(0.0, 0.02), 0.05, 0.18))
    light = weights["caucasian"] / total
    u = rng.random()
    if u < light * 0.6:
        iris = IRIS_COLOURS[["blue", "green", "hazel"][int(rng.integers(3))]]
    else:
        iris = IRIS_COLOURS["dark" if melanin > 0.3 else "brown"]
    hair = np.array([0.06, 0.045, 0.035]) if rng.random() > light * 0.5 else np.array([0.35, 0.24, 0.14])
    grey = hair_grey(age)
    hair = hair * (1 - grey) + np.asarray(GREY_HAIR) * grey
    pattern_seed = int(rng.integers(2**31))
    # Marks come from their own stream so that adding them left every earlier draw as it was.
    marks = rng_for(seed, MARKS_STREAM, index)
    # Melanocytic naevi: light-skinned adults have about 10-40 on the whole body, few on the face;
    # darker skin has fewer. Freckles (ephelides) are common only in light skin and fade with age.
    moles = int(marks.poisson(1.0 + 3.0 * light))
    freckles = float(marks.uniform(0.3, 1.0)) if marks.random() < 0.3 * light * (1.0 if age < 50 else 0.5) else 0.0
    male = ("gender" in names and float(phenotype[names.index("gender")]) < 0.5)
    # A visible stubble shadow on some men (shaved that morning or a day before), none on women.
    stubble = float(marks.uniform(0.35, 1.0)) if male and marks.random() < 0.45 else 0.0
    return SkinParams(melanin, haemoglobin, age, tuple(float(c) for c in iris), tuple(float(c) for c in hair), pattern_seed,
                      moles, freckles, stubble)


#: Texel density of the face (brows to chin, ear to ear) relative to the rest of the head in the
#: skin atlas. In the MakeHuman atlas the face shares one island with the scalp, neck and ears and
#: got about 5% of a texture (at 512 px, 1.3 mm a texel: coarser than a 224 px render of it, and
#: brows, lash line and stubble painted into it blurred to a smudge); as its own island at 2.5x
#: it gets about a quarter (0.5 mm a texel).
FACE_DENSITY = 2.5


def split_island(uv: np.ndarray, uv_faces: np.ndarray, faces: np.ndarray, region, n_vertices: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut the triangles of ``region`` (vertex ids) out of the UV islands they share with others:
    their corners get their own uv rows (copies), so a repack can scale them on their own. Returns
    (uv (T',2), uv_faces (F,3)); unchanged when the region is unknown or empty."""
    if region is None or len(region) == 0:
        return uv, uv_faces
    member = np.zeros(n_vertices, bool)
    member[np.asarray(region)] = True
    inside = member[np.asarray(faces)].all(1)
    uv = np.asarray(uv)
    uv_faces = np.array(uv_faces, np.int64, copy=True)
    rows = np.unique(uv_faces[inside])
    remap = np.full(len(uv), -1, np.int64)
    remap[rows] = len(uv) + np.arange(len(rows))
    uv_faces[inside] = remap[uv_faces[inside]]
    return np.concatenate([uv, uv[rows]]), uv_faces


def face_atlas(faces: np.ndarray, uv: np.ndarray, uv_faces: np.ndarray, regions: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """A UV layout for texturing: the model's islands repacked to fill the square, the face cut
    into an island of its own at :data:`FACE_DENSITY` times the texel density of the rest, the eyes
    enlarged 5x (in the MakeHuman atlas they are a few texels) and the mouth and eye-socket
    linings shrunk. Returns (uv (T,2) float32, uv_faces (F,3) int32)."""
    faces = np.asarray(faces)
    v = int(faces.max()) + 1
    uv, uv_faces = split_island(uv, uv_faces, faces, regions.get("face"), v)
    scale = np.ones(len(faces))
    for name, factor in (("face", FACE_DENSITY), ("mouth_cavity", 0.35), ("tongue", 0.35), ("left_eye_socket", 0.35), ("right_eye_socket", 0.35),
                         ("left_eye", 5.0), ("right_eye", 5.0)):
        member = np.zeros(v, bool)
        member[np.asarray(regions[name])] = True
        scale[member[faces].all(1)] = factor
    return repack_uv(uv, uv_faces, scale)


#: Noise up to this many cycles per metre (wavelength >= 6.7 mm, above the head mesh's edge length)
#: is evaluated at the vertices and interpolated, which is exact enough and ~100x cheaper than per texel.
SMOOTH_NOISE_LIMIT = 150.0


def _noise(points: np.ndarray, frequency: float, rng: np.random.Generator, waves: int = 24) -> np.ndarray:
    """Smooth band-limited noise (K,) with unit variance: a sum of random plane waves of about
    ``frequency`` cycles per metre evaluated at ``points`` (K,3)."""
    directions = rng.normal(size=(waves, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    k = directions * (2 * np.pi * frequency * rng.uniform(0.7, 1.4, size=(waves, 1)))
    phase = rng.uniform(0, 2 * np.pi, size=waves)
    # float32 is plenty for a pattern and halves the cost of the (K, waves) cosine.
    arg = np.asarray(points, np.float32) @ k.T.astype(np.float32) + phase.astype(np.float32)
    return (np.cos(arg).sum(1) * np.sqrt(2.0 / waves)).astype(np.float64)


def _noise_slope(points: np.ndarray, along: np.ndarray, frequency: float, rng: np.random.Generator, waves: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_noise` (K,) at ``points`` (K,3) and its derivative (K,) along unit directions
    ``along`` (K,3), per metre, from one set of random plane waves."""
    directions = rng.normal(size=(waves, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    k = directions * (2 * np.pi * frequency * rng.uniform(0.7, 1.4, size=(waves, 1)))
    phase = rng.uniform(0, 2 * np.pi, size=waves)
    arg = np.asarray(points, np.float32) @ k.T.astype(np.float32) + phase.astype(np.float32)
    scale = np.sqrt(2.0 / waves)
    value = np.cos(arg).sum(1) * scale
    slope = -(np.sin(arg) * (np.asarray(along, np.float32) @ k.T.astype(np.float32))).sum(1) * scale
    return value.astype(np.float64), slope.astype(np.float64)


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(((points - a) @ ab) / max(float(ab @ ab), 1e-12), 0.0, 1.0)
    return np.linalg.norm(points - (a + t[:, None] * ab), axis=1)


class _Texels:
    """The masked texels of one identity's atlas as the painters see them: ``points`` (K,3) metres
    on the mesh, their triangles ``tri`` (K,), the triangles' corner vertices ``corners`` (K,3) and
    barycentric ``weights`` (K,3); ``lm`` the landmarks' positions, ``age`` the ageing factor (0 at
    35 years, 1 at 80 and over) and ``rng`` the identity's pattern stream, drawn in a fixed order."""

    def __init__(self, verts: np.ndarray, faces: np.ndarray, texels: UVTexels, regions: dict, landmarks: dict, params: SkinParams) -> None:
        self.verts, self.faces, self.regions = verts, faces, regions
        self.rng = np.random.default_rng(params.seed)
        self.mask = texels.mask
        self.points = texels.inside_points(verts, faces).astype(np.float64)
        self.tri = texels.inside()[2]
        self.corners = texels.inside_corners(faces)
        self.weights = texels.inside_barycentric64()
        self.lm = {k: verts[i] for k, i in landmarks.items()}
        self.age = np.clip((params.age_years - AGEING_START_YEARS) / AGEING_SPAN_YEARS, 0.0, 1.0)

    def face_in(self, name: str) -> np.ndarray:
        """(K,) bool: texels on triangles whose corners all lie in region ``name``."""
        member = np.zeros(len(self.verts), bool)
        member[np.asarray(self.regions[name])] = True
        return member[self.faces].all(1)[self.tri]

    def noise(self, frequency: float, stretch=(1.0, 1.0, 1.0)) -> np.ndarray:
        """Unit-variance noise per masked texel at ``frequency`` cycles/m (space scaled by ``stretch``)."""
        if frequency <= SMOOTH_NOISE_LIMIT:
            at_vertices = _noise(self.verts * np.asarray(stretch), frequency, self.rng)
            return np.einsum("kc,kc->k", self.weights, at_vertices[self.corners])
        return _noise(self.points * np.asarray(stretch), frequency, self.rng, waves=12)


#: Skin ages (creases, spots, pore depth) from this age over this many years (factor 0 to 1).
AGEING_START_YEARS = 35.0
AGEING_SPAN_YEARS = 45.0
#: Log-amplitude of melanin's slow variation over the face (25 cycles/m, ~4 cm blotches) and of its
#: finer mottling (90 cycles/m), which grows by up to 60% with age; haemoglobin's at 30 cycles/m.
MELANIN_BLOTCH = 0.10
MELANIN_MOTTLE = 0.03
#: The melanin at and above which those log-amplitudes stop growing the skin's colour variation:
#: a relative change of melanin changes reflectance in proportion to the melanin itself (green by
#: exp(-melanin * 4.19 * change)), so at 0.10 dark skin (0.45) varied by 19% at the 4 cm scale
#: against 2% on light skin and read as dirty blotches around the mouth and chin. Above this, the
#: relative amplitudes shrink as 1/melanin: dark skin's blotches are then as strong (6%) as medium skin's.
MELANIN_VARIATION_CAP = 0.15
HAEMOGLOBIN_BLOTCH = 0.15
#: Extra haemoglobin of the cheeks' flush (Gaussian of 18 mm radius, 32 mm below the eye and 35 mm
#: behind the nose tip) and of the nose tip (12 mm): the blood-richest parts of a face.
CHEEK_FLUSH = 0.09
CHEEK_RADIUS_M = 0.018
NOSE_FLUSH = 0.07
NOSE_RADIUS_M = 0.012
#: Age spots: up to this many at age factor 1 on light skin (fewer, as age**1.5, before). Solar
#: lentigines, the age spots of light skin, are flat tan-to-brown macules with sharp edges, mostly
#: 2-10 mm across on the face; in dark skin they are rare, and what shows with age are fewer, smaller
#: dark macules and papules (dermatosis papulosa nigra: 1-5 mm, on the cheeks). So the spots here
#: are discs with a soft rim (not Gaussians), SPOT_DIAMETER_LIGHT (mm) across on light skin and
#: SPOT_DIAMETER_DARK on dark skin, AGE_SPOTS_DARK_SHARE as many there, and each darkens the skin's
#: green reflectance by a fraction in SPOT_DARKENING whatever its tone. The Gaussians before, 0.8-2.5
#: mm in radius with melanin raised by 25-70% everywhere, blurred over 3-10 mm and darkened dark skin
#: by up to 70%: on elderly dark-skinned faces they read as dirty smudges under the eyes.
AGE_SPOTS = 40
AGE_SPOTS_DARK_SHARE = 0.4
SPOT_DIAMETER_LIGHT, SPOT_DIAMETER_DARK = (2.0, 6.0), (1.0, 2.5)
SPOT_DARKENING = (0.1, 0.3)
#: The share of a spot's radius over which its rim fades to the skin around it.
SPOT_RIM = 0.35
#: The melanin of light (caucasian) and dark (african) skin between which the spots change kind.
SPOT_LIGHT_MELANIN, SPOT_DARK_MELANIN = 0.08, 0.4
#: Fine grain of the albedo: relative amplitude at 700 cycles/m (1.4 mm), doubling with age.
GRAIN = 0.03
#: Elderly creases darken the albedo by this much per unit crease at age factor 1.
CREASE_DARKENING = 0.35
#: The vermilion's pigment (where it lies: painctl.appearance.lips): melanin slightly raised,
#: haemoglobin 0.42 (lips are redder because their epidermis is thin over dense capillaries).
LIP_MELANIN = 1.05
LIP_HAEMOGLOBIN = 0.42
#: Brows: how densely hair covers the brow (at most, and its loss with age).
BROW_DENSITY_MAX = 0.92
#: The colour (sRGB) of grey hair in :func:`skin_params`' hair colour.
GREY_HAIR = (0.62, 0.6, 0.58)
#: Brows grey later and less than the scalp, salt-and-pepper (painctl.appearance.brows): their
#: painted hair takes this share of the scalp's grey, its white hairs this light against GREY_HAIR
#: (in the pigmented ones' shadow). A brow painted in the scalp's grey (up to 85%) was a pale band,
#: lighter than dark skin, that showed through the brows part's bed.
BROW_GREY_SHARE = 0.35
BROW_WHITE = 0.4


def hair_grey(age_years: float) -> float:
    """Return the share 0-0.85 of grey in the hair colour of :func:`skin_params` at ``age_years``."""
    return float(np.clip((age_years - 45.0) / 30.0, 0.0, 0.85))


def brow_colour(params: SkinParams) -> np.ndarray:
    """Return (3,) the linear colour of the painted brows: the hair's pigment (``params.hair`` less
    its grey) with :data:`BROW_GREY_SHARE` of the grey, its white hairs darkened by BROW_WHITE."""
    grey = hair_grey(params.age_years)
    hair = np.asarray(params.hair, np.float64)
    pigment = (hair - np.asarray(GREY_HAIR) * grey) / (1.0 - grey)
    g = BROW_GREY_SHARE * grey
    return srgb_to_linear(pigment * (1.0 - g) + np.asarray(GREY_HAIR) * BROW_WHITE * g)
#: Specular reflectance of skin at normal incidence (f0 of a water-like surface, n ~ 1.4), the base
#: roughness, the oilier T-zone's smoother sheen, and the roughness of lips and brow hair.
#: Roughness is the shader's (GGX alpha = roughness^2, plus a weaker lobe at 0.6x roughness: see
#: painctl.renderer.moderngl_backend). Skin's measured specular lobe is broad: a Torrance-Sparrow
#: (Beckmann) m of about 0.3-0.45 over the face (Weyrich et al. 2006), about GGX alpha: roughness
#: 0.55-0.67; here 0.66 on the cheeks and 0.48 on the oily T-zone. At 0.5 (alpha 0.25, 0.16 on the
#: T-zone) under a point-like key the forehead showed a small disc that clipped to white on pale skin.
SKIN_F0 = 0.028
SKIN_ROUGHNESS = 0.6
TZONE_SMOOTHING = 0.12
#: Extra f0 of the oily T-zone (forehead, nose, chin), and extra roughness of the skin outside it:
#: in a photograph the T-zone has a soft highlight the matte cheeks lack. Sebum (n ~ 1.47) has an
#: f0 of about 0.036-0.04: the T-zone shines more because its oil film is smoother, hardly because
#: it reflects more (0.022, which made f0 0.05, doubled the hot spot).
SHEEN_F0 = 0.01
MATTE_ROUGHENING = 0.06
LIP_ROUGHNESS = 0.3
BROW_ROUGHNESS = 0.6
#: Inner surfaces painted flat: (linear albedo, roughness) of the mouth cavity, tongue and eye sockets.
INTERIORS = (("mouth_cavity", (0.12, 0.02, 0.02), 0.3), ("tongue", (0.45, 0.12, 0.12), 0.35),
             ("left_eye_socket", (0.35, 0.12, 0.10), 0.3), ("right_eye_socket", (0.35, 0.12, 0.10), 0.3))


def skin_maps(vertices: np.ndarray, faces: np.ndarray, uv: np.ndarray, uv_faces: np.ndarray, regions: dict[str, np.ndarray],
              landmarks: dict[str, int], params: SkinParams, size: int = 512, texels: UVTexels | None = None) -> SkinMaps:
    """Paint one identity's albedo, specular and roughness maps (size x size) for the mesh
    ``vertices`` (V,3) metres (+Y up, face toward +Z), ``faces`` (F,3), UV layout (uv, uv_faces),
    the face model's ``regions`` (vertex id sets) and ``landmarks`` (name -> vertex id).

    The parts are painted in order, each over the last: pigments, fine relief, elderly creases,
    marks, lips, brows, the material maps, the eyes and the inner surfaces."""
    texels = texels if texels is not None else uv_texels(uv, uv_faces, size)
    t = _Texels(np.asarray(vertices, np.float64), np.asarray(faces), texels, regions, landmarks, params)
    linear = pigment_reflectance(t, params)
    linear *= (1 + GRAIN * t.noise(700) * (1 + t.age))[:, None]
    linear *= micro_relief(t.points, t.verts, t.faces, t.corners, t.weights, t.lm, t.age, t.rng)[:, None]
    if t.age > 0:
        linear *= (1 - CREASE_DARKENING * t.age * np.clip(elderly_creases(t), 0, 1.5))[:, None]
    linear = paint_marks(linear, t.points, t.verts, regions, t.lm, params, t.rng)
    lips = lip_weight(t)
    lip_linear = BASE_REFLECTANCE * np.exp(-(params.melanin * LIP_MELANIN) * MELANIN_ABSORPTION - LIP_HAEMOGLOBIN * HAEMOGLOBIN_ABSORPTION)
    linear = linear * (1 - lips[:, None]) + lip_linear * lips[:, None]
    density = brow_density(t)
    linear = linear * (1 - density[:, None]) + brow_colour(params) * density[:, None]
    specular, roughness = surface_material(t, lips, density)
    paint_eyes(linear, specular, roughness, t.points, t.verts, regions, t.lm, t.face_in, params)
    for name, colour, rough in INTERIORS:
        on = t.face_in(name)
        linear[on] = colour
        roughness[on] = rough
    return _to_maps(t.mask, linear, specular, roughness)


def pigment_reflectance(t: _Texels, params: SkinParams) -> np.ndarray:
    """(K,3) linear albedo of the two-pigment model: melanin and haemoglobin varying over the
    surface, flushed cheeks and nose tip, and age spots."""
    lm, points = t.lm, t.points
    damp = min(1.0, MELANIN_VARIATION_CAP / max(params.melanin, 1e-6))
    melanin = params.melanin * np.exp(damp * (MELANIN_BLOTCH * t.noise(25) + MELANIN_MOTTLE * t.noise(90) * (1 + 0.6 * t.age)))
    haemoglobin = params.haemoglobin * np.exp(HAEMOGLOBIN_BLOTCH * t.noise(30))
    for side in ("left", "right"):
        eye = (lm[f"{side}_eye_outer"] + lm[f"{side}_eye_inner"]) / 2
        cheek = eye + np.array([0.35 * (eye[0] - lm["nose_tip"][0]), -0.032, 0.0])
        cheek[2] = lm["nose_tip"][2] - 0.035
        haemoglobin += CHEEK_FLUSH * np.exp(-np.sum((points - cheek) ** 2, 1) / (2 * CHEEK_RADIUS_M**2))
    haemoglobin += NOSE_FLUSH * np.exp(-np.sum((points - lm["nose_tip"]) ** 2, 1) / (2 * NOSE_RADIUS_M**2))
    face_ids = np.asarray(t.regions["face"])
    near = _Nearby(points)
    dark = float(np.clip((params.melanin - SPOT_LIGHT_MELANIN) / (SPOT_DARK_MELANIN - SPOT_LIGHT_MELANIN), 0.0, 1.0))
    diameter = (1 - dark) * np.asarray(SPOT_DIAMETER_LIGHT) + dark * np.asarray(SPOT_DIAMETER_DARK)
    drawn = int(round(AGE_SPOTS * t.age**1.5))
    kept = int(round(drawn * (1 - (1 - AGE_SPOTS_DARK_SHARE) * dark)))
    for spot in range(drawn):
        centre = t.verts[face_ids[t.rng.integers(len(face_ids))]]
        radius = 0.0005 * t.rng.uniform(*diameter)
        # The melanin a spot adds is chosen for the darkening it makes: the same relative melanin
        # darkens dark skin many times more than light skin (reflectance falls as exp(-melanin)).
        darkening = t.rng.uniform(*SPOT_DARKENING)
        if spot >= kept:
            continue  # drawn all the same, so every later draw of the stream stays where it was
        k = near(centre, radius)
        d = np.linalg.norm(points[k] - centre, axis=1)
        disc = 1.0 - _smoothstep((1 - SPOT_RIM) * radius, radius, d)
        melanin[k] += disc * -np.log1p(-darkening) / MELANIN_ABSORPTION[1]
    return BASE_REFLECTANCE * np.exp(-melanin[:, None] * MELANIN_ABSORPTION - haemoglobin[:, None] * HAEMOGLOBIN_ABSORPTION)


#: Moles are Gaussians; beyond this many radii exp(-d^2/2r^2) < 3e-18, so they change
#: nothing there (1 + 0.7 * 3e-18 rounds to exactly 1 in float64) and only nearer texels are evaluated.
SPOT_REACH = 10.0


class _Nearby:
    """Texels near a point, found through the texels sorted by x (K,3) metres."""

    def __init__(self, points: np.ndarray) -> None:
        self.order = np.argsort(points[:, 0], kind="stable")
        self.x = points[self.order, 0]

    def __call__(self, centre: np.ndarray, reach: float) -> np.ndarray:
        """Indices (ascending) of every texel within ``reach`` metres of ``centre`` in x, a superset of those within ``reach``."""
        lo, hi = np.searchsorted(self.x, [centre[0] - reach, centre[0] + reach], side="left")
        return np.sort(self.order[lo:hi])


def elderly_creases(t: _Texels) -> np.ndarray:
    """(K,) crease strength of aged skin: forehead lines, crow's feet, nasolabial folds and the
    under-eye line (placed by the landmarks; lengths in metres)."""
    lm, points = t.lm, t.points
    crease = np.zeros(len(points))
    brow_y = (lm["left_brow"][1] + lm["right_brow"][1]) / 2
    # Forehead: 8-50 mm above the brows, within 3-5 cm of the midline.
    forehead = _smoothstep(brow_y + 0.008, brow_y + 0.016, points[:, 1]) * (1 - _smoothstep(brow_y + 0.038, brow_y + 0.05, points[:, 1]))
    forehead *= (1 - _smoothstep(0.03, 0.048, np.abs(points[:, 0]))) * (points[:, 2] > lm["nose_tip"][2] - 0.06)
    # A few long, gently bowed horizontal lines (9.5 mm apart) that break up along their length, as real ones do.
    forehead *= np.clip(0.5 + 0.7 * t.noise(35), 0, 1)
    wave = np.sin(2 * np.pi * (points[:, 1] + 2.5 * points[:, 0] ** 2 + 0.0008 * t.noise(25)) / 0.0095)
    crease += 0.8 * forehead * np.clip(wave, 0, 1) ** 10
    for side in ("left", "right"):
        # Crow's feet: 14 lines per radian fanning 4-20 mm out from the outer eye corner.
        outer = lm[f"{side}_eye_outer"]
        d = points - outer
        r = np.hypot(d[:, 0], d[:, 1])
        sign = 1.0 if outer[0] > 0 else -1.0
        angle = np.arctan2(d[:, 1], sign * d[:, 0])
        fan = _smoothstep(0.004, 0.008, r) * (1 - _smoothstep(0.014, 0.02, r)) * (np.abs(angle) < 0.9) * (sign * d[:, 0] > 0)
        crease += 0.7 * fan * np.clip(np.sin(angle * 14 + 2 * t.noise(60)), 0, 1) ** 6
        # Nasolabial fold: from beside the nose wing to beside the mouth corner, 1.6 mm wide.
        corner = lm[f"mouth_{side}"]
        wing = lm["nose_tip"] + np.array([sign * 0.02, -0.005, -0.02])
        fold_end = corner + np.array([sign * 0.006, -0.004, 0.0])
        d_fold = _segment_distance(points, wing, fold_end)
        crease += 1.4 * np.exp(-(d_fold / 0.0016) ** 2) * (points[:, 2] > corner[2] - 0.02)
        # Under-eye line: it follows the lid's curve 7-8 mm below it and fades out at both ends.
        lower = lm[f"{side}_lower_lid"]
        along = (points[:, 0] - lower[0]) / 0.012
        line_y = lower[1] - 0.0075 + 0.004 * along**2
        ends = np.clip(1 - along**2, 0, 1) ** 1.5
        crease += 0.6 * np.exp(-(np.abs(points[:, 1] - line_y) / 0.0013) ** 2) * ends * (points[:, 2] > lower[2] - 0.015)
    return crease


def lip_weight(t: _Texels) -> np.ndarray:
    """(K,) weight of the vermilion (:func:`painctl.appearance.lips.vermilion_weight`): up to the
    upper lip's own border and a band below the lip margin, with a soft (1.6 mm) edge."""
    from painctl.appearance.lips import vermilion_weight

    return vermilion_weight(t.points, t.verts, t.regions, t.age)


def brow_density(t: _Texels) -> np.ndarray:
    """(K,) hair cover of the painted brows: an arc above each eye (from 4 mm inside the inner
    corner to 7 mm past the outer one, at least 11 mm above the upper lid, 3.2 mm half-height
    tapering outward), broken up by strand-like noise and thinning with age."""
    lm, points = t.lm, t.points
    brows = np.zeros(len(points))
    strands = 0.5 + 0.5 * np.clip(t.noise(500, stretch=(1.0, 4.0, 1.0)), -1, 1)
    for side in ("left", "right"):
        inner, outer = lm[f"{side}_eye_inner"], lm[f"{side}_eye_outer"]
        sign = 1.0 if outer[0] > inner[0] else -1.0
        x0, x1 = inner[0] - sign * 0.004, outer[0] + sign * 0.007
        along = (points[:, 0] - x0) / (x1 - x0)
        top = lm[f"{side}_upper_lid"][1]
        centre_y = max(lm[f"{side}_brow"][1], top + 0.011) + 0.004 * np.sin(np.pi * np.clip(along, 0, 1) * 0.85) - 0.003 * np.clip(along - 0.7, 0, 1)
        half_h = 0.0032 * (1 - 0.45 * np.clip(along, 0, 1))
        inside = (1 - _smoothstep(half_h * 0.6, half_h * 1.2, np.abs(points[:, 1] - centre_y))) * _smoothstep(-0.08, 0.05, along) * (1 - _smoothstep(0.95, 1.08, along))
        brows = np.maximum(brows, inside * (points[:, 2] > lm[f"{side}_upper_lid"][2] - 0.02))
    return np.clip(brows * (0.45 + 0.55 * strands) * (1 - 0.3 * t.age), 0, BROW_DENSITY_MAX)


#: Height of the sheen's forehead above the brows (metres): the brow-to-hairline height of adults is
#: about 5-6 cm (Farkas' norms); the sheen fades out over its top 1.5 cm.
FOREHEAD_TOP_M = 0.055


def sheen_weight(t: _Texels) -> np.ndarray:
    """(K,) 0-1: how oily and smooth the skin is at each texel: the forehead, the nose (bridge
    to tip) and, less, the chin are the sebaceous T-zone, shinier than the cheeks in photographs."""
    p = t.points
    brow_y = 0.5 * (t.lm["left_brow"][1] + t.lm["right_brow"][1])
    nasion = np.array([0.0, brow_y - 0.004, 0.5 * (t.lm["left_brow"][2] + t.lm["right_brow"][2])])
    front = p[:, 2] > t.lm["nose_tip"][2] - 0.05
    # The forehead ends at the hairline (5-6 cm above the brows): the scalp is not sebaceous T-zone,
    # and a bald or close-cropped crown with the forehead's sheen shone like a mirror.
    forehead = _smoothstep(brow_y + 0.004, brow_y + 0.015, p[:, 1]) * (1 - _smoothstep(brow_y + FOREHEAD_TOP_M - 0.015, brow_y + FOREHEAD_TOP_M, p[:, 1]))
    forehead = forehead * (1 - _smoothstep(0.03, 0.05, np.abs(p[:, 0]))) * front
    nose = np.exp(-(_segment_distance(p, nasion, t.lm["nose_tip"]) / 0.009) ** 2)
    chin = 0.5 * np.exp(-(np.linalg.norm(p - t.lm["chin"], axis=1) / 0.014) ** 2) if "chin" in t.lm else 0.0
    return np.clip(np.maximum(np.maximum(forehead, nose), chin), 0.0, 1.0)


def surface_material(t: _Texels, lips: np.ndarray, brows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(K,) specular f0 and (K,) roughness of skin: a slightly varying roughness, the shinier
    T-zone (:func:`sheen_weight`: higher f0, smoother), lips and brow hair."""
    sheen = sheen_weight(t)
    specular = SKIN_F0 + SHEEN_F0 * sheen
    roughness = SKIN_ROUGHNESS + 0.04 * t.noise(60)
    roughness += MATTE_ROUGHENING * (1.0 - sheen) - TZONE_SMOOTHING * sheen
    roughness = roughness * (1 - lips) + LIP_ROUGHNESS * lips
    roughness = roughness * (1 - brows) + BROW_ROUGHNESS * brows
    return specular, roughness


def _to_maps(mask: np.ndarray, linear: np.ndarray, specular: np.ndarray, roughness: np.ndarray) -> SkinMaps:
    """Scatter the per-texel values into (S,S) maps, filling the gutter around the islands so
    texture filtering never blends in black."""
    from painctl.appearance.uv import pull_push

    albedo = np.zeros(mask.shape + (3,), np.float32)
    albedo[mask] = linear_to_srgb(linear)
    weight = mask.astype(np.float32)
    albedo = pull_push(albedo, weight)
    spec_map = np.zeros(mask.shape, np.float32)
    rough_map = np.zeros(mask.shape, np.float32)
    spec_map[mask] = specular
    rough_map[mask] = np.clip(roughness, 0.05, 1.0)
    material = pull_push(np.stack([spec_map, rough_map], -1), weight)
    return SkinMaps(np.clip(albedo, 0, 1).astype(np.float32), material[..., 0].astype(np.float32), material[..., 1].astype(np.float32))


#: Fine relief of skin (pores and the criss-cross of its surface lines): spatial frequency in cycles
#: per metre (wavelength ~1.2 mm, the finest the 0.5 mm texels of a 1024 px atlas resolve), the
#: key light it is shaded under (the studio key: the shader has no normal maps, so the relief's
#: shading is baked into the albedo), and how strongly it shades.
RELIEF_FREQUENCY = 830.0
RELIEF_LIGHT = np.array([-0.45, 0.55, 0.75])
RELIEF_SHADE = 0.05


def micro_relief(points, verts, faces, corners, weights, lm, age: float, rng) -> np.ndarray:
    """Return (K,) albedo factors of the skin's fine relief at texel ``points`` (K,3): a random height
    field lit from the key light's side (its derivative along the light's direction in the tangent
    plane) with pits darkened, denser and deeper on the nose, cheeks and chin and with age."""
    from painctl.renderer import vertex_normals

    normals = np.einsum("kc,kcd->kd", weights, vertex_normals(verts, faces).astype(np.float64)[corners])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    along = RELIEF_LIGHT / np.linalg.norm(RELIEF_LIGHT)
    along = along - (normals @ along)[:, None] * normals
    along /= np.maximum(np.linalg.norm(along, axis=1, keepdims=True), 1e-12)
    h0, dh = _noise_slope(points, along, RELIEF_FREQUENCY, rng, waves=12)
    tip = lm["nose_tip"]
    # Pores are largest and densest on the nose and the central cheeks.
    density = 0.5 + 0.5 * np.exp(-(((points[:, 0] - tip[0]) / 0.035) ** 2 + ((points[:, 1] - tip[1]) / 0.03) ** 2))
    slope = np.clip(dh / (2 * np.pi * RELIEF_FREQUENCY), -1.5, 1.5)
    pits = np.clip(h0 - 1.2, 0, 1)
    return 1 + density * (1 + 0.5 * age) * (RELIEF_SHADE * slope - 0.08 * pits)


#: Horizontal visible iris diameter over palpebral fissure length. Adults have an iris of 11.7 mm
#: (HVID 11.0-12.5 mm) in a fissure of 28-31 mm (Farkas' anthropometric norms), about 0.39; anny's
#: fissures measure 22-26 mm corner to corner, and a true 11.7 mm iris fills half of them (the
#: "doll eye" look), so the iris is painted in proportion to the fissure instead, within 9.5-11.5 mm.
IRIS_TO_FISSURE = 0.42
IRIS_DIAMETER_M = (0.0095, 0.0115)


def _lid_curves(verts: np.ndarray, ring: np.ndarray, inner: np.ndarray, outer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split a lid margin ring (R,3) into its upper and lower halves (by the line between the eye
    corners), each resampled densely along x: returns (upper (U,3), lower (L,3))."""
    p = verts[ring]
    t = (p[:, 0] - inner[0]) / (outer[0] - inner[0])
    line_y = inner[1] + t * (outer[1] - inner[1])
    halves = []
    for half in (p[:, 1] >= line_y, p[:, 1] < line_y):
        q = np.vstack([inner, p[half], outer])
        q = q[np.argsort(q[:, 0])]
        xs = np.linspace(q[0, 0], q[-1, 0], 200)
        halves.append(np.stack([xs, np.interp(xs, q[:, 0], q[:, 1]), np.interp(xs, q[:, 0], q[:, 2])], 1))
    return halves[0], halves[1]


def paint_eyes(linear, specular, roughness, points, verts, regions, lm, face_in, params: SkinParams) -> None:
    """Paint both eyes into the per-texel arrays in place (linear RGB (K,3), specular (K,), roughness
    (K,)): a sclera that is not white (darker toward the corners and under the upper lid, faint
    vessels, yellowing with age), an iris with radial fibres, crypts, a collarette and a limbal
    ring, a pupil, a catchlight, the pink caruncle at the inner corner; on the skin, the lash line
    along the upper lid and the wet, pink margin of the lower lid."""
    from scipy.spatial import cKDTree

    rng = np.random.default_rng([params.seed, EYES_STREAM])
    age = np.clip((params.age_years - 20.0) / 60.0, 0.0, 1.0)
    pupil_fraction = rng.uniform(0.3, 0.4)
    collarette_tint = rng.uniform(0.0, 0.5)
    hair = srgb_to_linear(params.hair)
    for side in ("left", "right"):
        inner, outer = lm[f"{side}_eye_inner"], lm[f"{side}_eye_outer"]
        fissure = float(np.linalg.norm(outer - inner))
        upper, lower = _lid_curves(verts, np.asarray(regions[f"{side}_lid_margin"]), inner, outer)
        # Skin along the lid margins: a dark lash line above, the lower lid's wet pink rim below.
        near = np.linalg.norm(points - (inner + outer) / 2, axis=1) < fissure
        on_eye = face_in(f"{side}_eye")
        lid = near & ~on_eye
        if lid.any():
            d_up = cKDTree(upper).query(points[lid])[0]
            d_low = cKDTree(lower).query(points[lid])[0]
            lash = 0.55 * np.exp(-((d_up / 0.0008) ** 2))
            linear[lid] = linear[lid] * (1 - lash[:, None]) + hair * 0.5 * lash[:, None]
            wet = 0.6 * np.exp(-((d_low / 0.0006) ** 2))
            linear[lid] = linear[lid] * (1 - wet[:, None]) + np.array([0.45, 0.2, 0.18]) * wet[:, None]
            roughness[lid] = roughness[lid] * (1 - wet) + 0.12 * wet
            specular[lid] = specular[lid] * (1 - wet) + 0.05 * wet
        if not on_eye.any():
            continue
        ball = verts[np.asarray(regions[f"{side}_eye"])]
        cx, cy = ball[:, 0].mean(), ball[:, 1].mean()
        iris_r = float(np.clip(IRIS_TO_FISSURE * fissure, *IRIS_DIAMETER_M)) / 2
        p = points[on_eye]
        dx, dy = p[:, 0] - cx, p[:, 1] - cy
        r = np.hypot(dx, dy)
        theta = np.arctan2(dy, dx)
        # Iris: radial fibres at several frequencies, crypts, a collarette, a darker rim.
        fibres = np.zeros(len(p))
        for k, amp in ((23, 0.12), (41, 0.1), (67, 0.08), (97, 0.06)):
            fibres += amp * np.sin(theta * k + rng.uniform(0, 6.3) + 2.0 * np.sin(theta * 3 + rng.uniform(0, 6.3)))
        # High-frequency patterns are evaluated on the eye's texels only (a few thousand).
        crypts = np.clip(_noise(p, 2200, rng, waves=12), -2, 2) * 0.08
        rr = r / iris_r
        iris = srgb_to_linear(params.iris) * (0.85 + fibres + crypts)[:, None] * (1.05 - 0.35 * _smoothstep(0.7, 1.0, rr))[:, None]
        collarette = np.exp(-(((rr - 0.55) / 0.08) ** 2))
        # Around the pupil light irises turn warmer (the amber ring of hazel eyes); dark ones stay dark.
        amber = srgb_to_linear(params.iris) * np.array([1.5, 1.15, 0.55])
        iris = iris * (1 - collarette_tint * np.clip(1.2 - rr, 0, 1)[:, None]) + amber * collarette_tint * np.clip(1.2 - rr, 0, 1)[:, None]
        iris *= (1 + 0.25 * collarette)[:, None]
        limbus = (0.35 + 0.35 * (1 - age)) * np.exp(-(((rr - 0.97) / 0.08) ** 2))
        iris *= (1 - limbus)[:, None]
        # Sclera: off-white, shaded toward the corners, faintly veined, yellowing with age.
        half = fissure / 2
        sclera = np.array([0.62, 0.60, 0.58]) * (1 - 0.1 * age) + np.array([0.0, -0.02, -0.08]) * age
        corner = _smoothstep(0.35, 1.0, np.abs(dx) / half)
        sclera = sclera * (1 - 0.35 * corner)[:, None]
        veins = np.clip(_noise(p * np.array([1.0, 3.0, 1.0]), 900, rng, waves=12) - 1.2, 0, 1) * corner * (0.5 + age)
        sclera = sclera * (1 - veins[:, None] * np.array([0.0, 0.5, 0.5]))
        w_iris = (1 - _smoothstep(iris_r * 0.96, iris_r * 1.04, r))[:, None]
        colour = sclera * (1 - w_iris) + iris * w_iris
        w_pupil = (1 - _smoothstep(iris_r * pupil_fraction * 0.9, iris_r * pupil_fraction * 1.1, r))[:, None]
        colour = colour * (1 - w_pupil) + np.array([0.006, 0.006, 0.007]) * w_pupil
        # The upper lid and lashes shade the top of the eye; a tear meniscus glints along the lower lid.
        y_up = np.interp(p[:, 0], upper[:, 0], upper[:, 1])
        y_low = np.interp(p[:, 0], lower[:, 0], lower[:, 1])
        colour *= (1 - 0.45 * np.exp(-np.clip(y_up - p[:, 1], 0, None) / 0.0016))[:, None]
        colour *= (1 - 0.2 * np.exp(-np.clip(p[:, 1] - y_low, 0, None) / 0.0008))[:, None]
        # The caruncle: pink tissue in the inner corner.
        caruncle = np.exp(-((np.linalg.norm(p[:, :2] - inner[:2], axis=1) / 0.0022) ** 2))
        colour = colour * (1 - caruncle[:, None]) + np.array([0.50, 0.20, 0.18]) * caruncle[:, None]
        # Catchlight: the key light's reflection on the cornea, up and toward the light.
        glint = np.exp(-(((dx + 0.35 * iris_r) ** 2 + (dy - 0.4 * iris_r) ** 2) / (0.0005**2)))
        colour = colour * (1 - glint[:, None]) + np.array([1.0, 1.0, 1.0]) * glint[:, None]
        linear[on_eye] = colour
        # No specular lobe on the eyeball: the catchlight painted above is the key's reflection in
        # the cornea. anny's eyeball is a 12 mm sphere, not the cornea's 7.8 mm bulge, and the
        # renderer's lights are as wide as a window (LIGHT_SPREAD), so a lobe there spread the
        # light's reflection over the whole iris as a grey veil.
        specular[on_eye] = 0.0
        roughness[on_eye] = 0.08


def paint_marks(linear, points, verts, regions, lm, params: SkinParams, rng) -> np.ndarray:
    """Return ``linear`` (K,3) with the identity's moles (small raised brown naevi), freckles (faint
    spots over nose and cheeks, light skin only) and stubble shadow (the beard area greyed by cut
    hair under the skin, some men only)."""
    marks = np.random.default_rng([params.seed, MARKS_STREAM])
    face_ids = np.asarray(regions["face"])
    out = linear.copy() if params.moles else linear
    near = _Nearby(points) if params.moles else None
    for _ in range(params.moles):
        centre = verts[face_ids[marks.integers(len(face_ids))]]
        radius = marks.uniform(0.0007, 0.0018)
        k = near(centre, SPOT_REACH * radius)
        w = np.exp(-np.sum((points[k] - centre) ** 2, 1) / (2 * radius**2)) * 0.85
        mole = BASE_REFLECTANCE * np.exp(-(params.melanin * 3 + 0.6) * MELANIN_ABSORPTION)
        out[k] = out[k] * (1 - w[:, None]) + mole * w[:, None]
    tip = lm["nose_tip"]
    if params.freckles > 0:
        spread = np.exp(-(((points[:, 0] - tip[0]) / 0.04) ** 2 + ((points[:, 1] - tip[1] - 0.01) / 0.022) ** 2)) * (points[:, 2] > tip[2] - 0.05)
        spots = np.zeros(len(points))
        near = spread > 1e-3
        spots[near] = np.clip(_noise(points[near], 1100, rng, waves=12) - 1.3, 0, 1) * spread[near] * params.freckles
        out = out * (1 - 0.35 * spots)[:, None] * np.array([1.0, 0.93, 0.88]) ** spots[:, None]
    if params.stubble > 0:
        mouth_y = (lm["mouth_left"][1] + lm["mouth_right"][1]) / 2
        chin = lm["chin"]
        # The beard area: upper lip, chin, jaw and lower cheeks; its upper edge runs from the
        # sideburn down to the corner of the mouth.
        top = mouth_y + 0.022 - 0.5 * np.abs(points[:, 0])
        # The moustache area's edges are soft (a hard-edged box there painted a grey rectangle over
        # the upper lip of dark skin at 512 px).
        upper_lip = (1 - _smoothstep(tip[1] - 0.011, tip[1] - 0.006, points[:, 1])) * (1 - _smoothstep(0.02, 0.028, np.abs(points[:, 0])))
        area = (_smoothstep(0.0, 0.006, top - points[:, 1]) * (points[:, 1] > chin[1] - 0.05)) + upper_lip * _smoothstep(mouth_y - 0.002, mouth_y + 0.002, points[:, 1])
        area = np.clip(area, 0, 1) * (points[:, 2] > chin[2] - 0.09)
        from scipy.spatial import cKDTree

        # Clear of the lips' vermilion, which carries no hair (the lip painting covers ~8 mm from the margin).
        lips = cKDTree(verts[np.asarray(regions["lip_margin"])]).query(points)[0]
        area *= _smoothstep(0.008, 0.012, lips)
        grain = np.zeros(len(points))
        grown = area > 0
        grain[grown] = 0.6 + 0.4 * np.clip(_noise(points[grown], 1400, rng, waves=12), -1, 1)
        density = 0.35 * params.stubble * area * grain
        hair = srgb_to_linear(params.hair) * 0.8 + np.array([0.0, 0.0, 0.01])
        out = out * (1 - density[:, None]) + hair * density[:, None]
    return out
