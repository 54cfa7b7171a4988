"""FLAME (2020, 2023, 2023 Open) from a user-supplied .pkl or .npz: shape and expression PCA with
linear blend skinning over its five joints (global, neck, jaw, left eye, right eye), as in smplx.lbs.

FLAME already works in metres with +Y up and the face toward +Z, so its transform to painctl's
frame is the identity. The file is read through :mod:`painctl.facemodels.unpickle`, checked for
FLAME's keys and shapes, and never imports chumpy.
"""

from __future__ import annotations

import hashlib
import os
from functools import cached_property
from pathlib import Path

import numpy as np

from painctl.errors import PainctlError
from painctl.facemodels.base import Capabilities, FaceModel

REQUIRED_KEYS = ("v_template", "f", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table")
JOINTS = ("global", "neck", "jaw", "left_eye", "right_eye")
PARENTS = (-1, 0, 1, 1, 1)
#: FLAME's shapedirs hold 300 identity components, then the expression components.
SHAPE_COMPONENTS = 300
#: Identity sampling draws this many leading shape coefficients from N(0, 1), clipped; the rest stay 0.
SAMPLED_SHAPE_COMPONENTS = 100
SAMPLE_CLIP = 2.5
#: Largest file painctl reads as a FLAME model (the real ones are ~50-100 MB).
MAX_FILE_BYTES = 2 << 30


class FlameModel(FaceModel):
    """FLAME behind the FaceModel interface.

    Phenotype: the shape coefficients (``shape000``...). Expression: the expression coefficients
    (``expr000``...) followed by the jaw's axis-angle (``jaw_rx``, ``jaw_ry``, ``jaw_rz``, radians).
    """

    name = "flame"
    capabilities = Capabilities(identity_sampling=True, demographics=frozenset(), expressions="flame-pca")

    def __init__(self, arrays: dict[str, np.ndarray], path: str, kind: str, file_digest: str) -> None:
        self.spec = f"flame:{path}"
        self.version = kind
        self.file_digest = file_digest
        self.v_template = arrays["v_template"]
        self.faces = arrays["f"]
        shapedirs = arrays["shapedirs"]
        self.n_shape = min(SHAPE_COMPONENTS, shapedirs.shape[2])
        self.n_expr = shapedirs.shape[2] - self.n_shape
        self.shapedirs = shapedirs[:, :, : self.n_shape]
        self.exprdirs = shapedirs[:, :, self.n_shape :]
        V = self.v_template.shape[0]
        # (V, 3, 36) -> (36, V*3) as smplx does, so pose_feature @ posedirs gives offsets.
        self.posedirs = arrays["posedirs"].reshape(V * 3, -1).T
        self.J_regressor = arrays["J_regressor"]
        self.weights = arrays["weights"]
        self.parents = np.array(PARENTS)
        self.uv = arrays.get("uv")
        self.uv_faces = arrays.get("uv_faces")
        self.phenotype_names = tuple(f"shape{i:03d}" for i in range(self.n_shape))
        self.expression_names = tuple(f"expr{i:03d}" for i in range(self.n_expr)) + ("jaw_rx", "jaw_ry", "jaw_rz")

    # ------------------------------------------------------------------------------ loading

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "FlameModel":
        """Read and validate a FLAME .pkl or .npz file; PainctlError if missing, unsafe or malformed."""
        path = Path(path)
        where = str(path)
        if not path.exists():
            raise PainctlError(f"{where}: no such FLAME file")
        if not path.is_file():
            raise PainctlError(f"{where}: is not a file (expected a FLAME .pkl or .npz)")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise PainctlError(f"{where}: {size} bytes is too large for a FLAME model")
        digest = file_digest(path)
        with open(path, "rb") as fh:
            head = fh.read(4)
        if head.startswith(b"PK"):
            raw, kind = _read_npz(path), "npz"
        else:
            from painctl.facemodels.unpickle import load_pickle

            raw, kind = load_pickle(path), "pkl"
        arrays = validate_flame(raw, where)
        kind = f"FLAME {kind}, {arrays['shapedirs'].shape[2]} components"
        return cls(arrays, str(path), kind, digest)

    # ------------------------------------------------------------------------------ sampling

    def sample_phenotype(self, rng: np.random.Generator, age_years=None, gender=None, ethnicity=None) -> np.ndarray:
        """Draw (n_shape,) shape coefficients: the leading ones N(0, 1) clipped to +-2.5, the rest 0."""
        if age_years is not None or gender is not None or ethnicity is not None:
            raise PainctlError("FLAME has no age, gender or ethnicity controls")
        out = np.zeros(self.n_shape)
        k = min(SAMPLED_SHAPE_COMPONENTS, self.n_shape)
        out[:k] = np.clip(rng.standard_normal(k), -SAMPLE_CLIP, SAMPLE_CLIP)
        return out

    # ------------------------------------------------------------------------------ meshes

    def expressive(self, phenotype: np.ndarray, expression: np.ndarray) -> np.ndarray:
        """Return (N, V, 3) float32 vertices: shape and expression blendshapes, then LBS with the jaw pose."""
        betas = self.check_phenotype(phenotype)
        expr = self.check_expression(expression, betas.shape[0])
        pose = np.zeros((betas.shape[0], len(JOINTS), 3))
        pose[:, JOINTS.index("jaw")] = expr[:, self.n_expr :]
        return self.lbs(betas, expr[:, : self.n_expr], pose).astype(np.float32)

    def lbs(self, betas: np.ndarray, expr: np.ndarray, pose: np.ndarray) -> np.ndarray:
        """Linear blend skinning as in smplx.lbs: (N, n_shape), (N, n_expr), (N, 5, 3) axis-angle
        -> (N, V, 3) float64 vertices."""
        v_shaped = self.v_template[None] + np.einsum("nk,vck->nvc", betas, self.shapedirs)
        if self.n_expr:
            v_shaped = v_shaped + np.einsum("nk,vck->nvc", expr, self.exprdirs)
        joints = np.einsum("jv,nvc->njc", self.J_regressor, v_shaped)
        rot = rodrigues(pose.reshape(-1, 3)).reshape(pose.shape[0], len(JOINTS), 3, 3)
        pose_feature = (rot[:, 1:] - np.eye(3)).reshape(pose.shape[0], -1)
        v_posed = v_shaped + (pose_feature @ self.posedirs).reshape(v_shaped.shape)
        transforms = rigid_transforms(rot, joints, self.parents)
        per_vertex = np.einsum("vj,njab->nvab", self.weights, transforms)
        homog = np.concatenate([v_posed, np.ones(v_posed.shape[:2] + (1,))], axis=2)
        return np.einsum("nvab,nvb->nva", per_vertex, homog)[..., :3]

    def expression_basis(self, phenotype: np.ndarray | None = None) -> None:
        """FLAME's expressions include the jaw rotation, which is not linear: no basis."""
        return None

    # ------------------------------------------------------------------------------ regions
    # Eyeballs are the vertices skinned mostly to the eye joints; face the skin in front of the
    # eyeballs' back; jaw the skin skinned mostly to the jaw. Landmarks are heuristic, on the
    # template (FLAME ships its own landmark embedding separately).

    @cached_property
    def _regions(self) -> dict[str, np.ndarray]:
        v = self.v_template
        owner = np.argmax(self.weights, axis=1)
        regions: dict[str, np.ndarray] = {}
        eyes = [np.flatnonzero(owner == JOINTS.index(j)) for j in ("left_eye", "right_eye")]
        # Subject's left is +X in painctl's frame; trust the geometry over the joint's name.
        eyes.sort(key=lambda ids: -v[ids, 0].mean() if ids.size else 0.0)
        regions["left_eye"], regions["right_eye"] = eyes
        eyeball = np.zeros(len(v), bool)
        eyeball[np.concatenate(eyes)] = True
        skin = np.flatnonzero(~eyeball)
        regions["skin"] = skin
        regions["jaw"] = skin[owner[skin] == JOINTS.index("jaw")]
        back = v[np.concatenate(eyes), 2].min() if eyeball.any() else np.median(v[:, 2])
        regions["face"] = skin[v[skin, 2] > back]
        return regions

    @cached_property
    def _landmarks(self) -> dict[str, int]:
        v = self.v_template
        r = self._regions
        face = r["face"] if r["face"].size else r["skin"]
        p = v[face]

        def pick(mask: np.ndarray, key: np.ndarray) -> int:
            ids = face[mask] if mask.any() else face
            vals = key[mask] if mask.any() else key
            return int(ids[np.argmax(vals)])

        out = {"nose_tip": pick(np.ones(len(face), bool), p[:, 2])}
        nose = v[out["nose_tip"]]
        for side in ("left", "right"):
            eye = v[r[f"{side}_eye"]] if r[f"{side}_eye"].size else nose[None]
            c = eye.mean(0)
            near = np.linalg.norm(p - c, axis=1) < 0.03
            out[f"{side}_eye_outer"] = pick(near, np.abs(p[:, 0]) - np.abs(p[:, 1] - c[1]))
            out[f"{side}_eye_inner"] = pick(near, -np.abs(p[:, 0]) - np.abs(p[:, 1] - c[1]))
            above = (np.abs(p[:, 0] - c[0]) < 0.01) & (p[:, 1] > c[1] + 0.01) & (p[:, 1] < c[1] + 0.035)
            out[f"{side}_brow"] = pick(above, p[:, 2])
        below = p[:, 1] < nose[1] - 0.015
        mouth = below & (p[:, 1] > nose[1] - 0.045) & (p[:, 2] > nose[2] - 0.04)
        out["mouth_left"] = pick(mouth, p[:, 0])
        out["mouth_right"] = pick(mouth, -p[:, 0])
        out["chin"] = pick(below & (np.abs(p[:, 0]) < 0.01), -p[:, 1] + p[:, 2])
        return out


def file_digest(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes (recorded in manifests so a changed FLAME file is not a cache hit)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def rodrigues(axis_angle: np.ndarray) -> np.ndarray:
    """(K, 3) axis-angle vectors (radians) -> (K, 3, 3) rotation matrices."""
    angle = np.linalg.norm(axis_angle, axis=1, keepdims=True)
    axis = axis_angle / np.maximum(angle, 1e-12)
    x, y, z = axis.T
    zeros = np.zeros_like(x)
    k = np.stack([zeros, -z, y, z, zeros, -x, -y, x, zeros], axis=1).reshape(-1, 3, 3)
    s, c = np.sin(angle)[:, :, None], np.cos(angle)[:, :, None]
    return np.eye(3) + s * k + (1 - c) * (k @ k)


def rigid_transforms(rot: np.ndarray, joints: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """Chain (N, J, 3, 3) local rotations about (N, J, 3) rest joints down the kinematic tree;
    return (N, J, 4, 4) transforms taking rest-pose points to posed points (smplx's A)."""
    n, j = joints.shape[:2]
    rel = joints.copy()
    rel[:, 1:] -= joints[:, parents[1:]]
    local = np.zeros((n, j, 4, 4))
    local[:, :, :3, :3] = rot
    local[:, :, :3, 3] = rel
    local[:, :, 3, 3] = 1.0
    world = [local[:, 0]]
    for i in range(1, j):
        world.append(world[parents[i]] @ local[:, i])
    chain = np.stack(world, axis=1)
    # Remove the rest joint location so the transform applies to rest-pose vertices.
    offset = np.einsum("njab,njb->nja", chain[:, :, :3, :3], joints)
    chain[:, :, :3, 3] -= offset
    return chain


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except ValueError as exc:
        raise PainctlError(f"{path}: npz holds pickled objects, which painctl does not load ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - a damaged zip is one clear error
        raise PainctlError(f"{path}: not a readable .npz file ({exc.__class__.__name__}: {exc})") from None


def _dense(value: object, where: str, key: str) -> np.ndarray:
    """An array from an ndarray or a scipy sparse matrix (rebuilt from its validated parts)."""
    import scipy.sparse

    if scipy.sparse.issparse(value):
        try:
            rebuilt = scipy.sparse.csr_matrix(value.tocsr(), copy=True)
            rebuilt.check_format(full_check=True)
            return rebuilt.toarray()
        except Exception as exc:  # noqa: BLE001
            raise PainctlError(f"{where}: {key} is a damaged sparse matrix ({exc})") from None
    try:
        array = np.asarray(value)
    except Exception:  # noqa: BLE001
        raise PainctlError(f"{where}: {key} is not an array") from None
    if array.dtype == object:
        raise PainctlError(f"{where}: {key} is not a numeric array")
    return array


def validate_flame(raw: object, where: str) -> dict[str, np.ndarray]:
    """Check FLAME's keys, shapes, dtypes and index ranges; return float64/int arrays ready for use."""
    if not isinstance(raw, dict):
        raise PainctlError(f"{where}: not a FLAME model (expected a dict of arrays, got {type(raw).__name__})")
    missing = [k for k in REQUIRED_KEYS if k not in raw]
    if missing:
        raise PainctlError(f"{where}: not a FLAME model (missing {', '.join(missing)})")
    a = {k: _dense(raw[k], where, k) for k in REQUIRED_KEYS}

    def fail(key: str, expected: str) -> PainctlError:
        return PainctlError(f"{where}: {key} has shape {a[key].shape}, expected {expected}")

    v = a["v_template"]
    if v.ndim != 2 or v.shape[1] != 3 or v.shape[0] < 4:
        raise fail("v_template", "(V, 3)")
    V = v.shape[0]
    f = a["f"]
    if f.ndim != 2 or f.shape[1] != 3 or f.shape[0] < 1 or f.dtype.kind not in "iu":
        raise PainctlError(f"{where}: f must be (F, 3) integer triangles, got {f.shape} {f.dtype}")
    if f.min() < 0 or f.max() >= V:
        raise PainctlError(f"{where}: f indexes vertices outside 0..{V - 1}")
    if a["shapedirs"].ndim != 3 or a["shapedirs"].shape[:2] != (V, 3) or a["shapedirs"].shape[2] < 1:
        raise fail("shapedirs", f"({V}, 3, K)")
    if a["posedirs"].shape != (V, 3, 36):
        raise fail("posedirs", f"({V}, 3, 36)")
    if a["J_regressor"].shape != (len(JOINTS), V):
        raise fail("J_regressor", f"({len(JOINTS)}, {V})")
    if a["weights"].shape != (V, len(JOINTS)):
        raise fail("weights", f"({V}, {len(JOINTS)})")
    kintree = a["kintree_table"]
    if kintree.shape != (2, len(JOINTS)):
        raise fail("kintree_table", f"(2, {len(JOINTS)})")
    parents = kintree[0].astype(np.int64)
    parents[0] = -1  # stored as an unsigned "none"
    if tuple(parents.tolist()) != PARENTS:
        raise PainctlError(f"{where}: kintree_table parents {parents.tolist()} are not FLAME's {list(PARENTS)}")
    out = {k: a[k].astype(np.float64) for k in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights")}
    for key, value in out.items():
        if not np.all(np.isfinite(value)):
            raise PainctlError(f"{where}: {key} holds NaN or infinite values")
    out["f"] = f.astype(np.int32)
    if "vt" in raw and "ft" in raw:
        vt, ft = _dense(raw["vt"], where, "vt"), _dense(raw["ft"], where, "ft")
        if vt.ndim == 2 and vt.shape[1] == 2 and ft.shape == f.shape and ft.min() >= 0 and ft.max() < len(vt):
            out["uv"] = vt.astype(np.float32)
            out["uv_faces"] = ft.astype(np.int32)
    return out
