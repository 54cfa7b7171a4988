"""FLAME files: restricted unpickling (chumpy without chumpy, hostile pickles refused), validation,
and the shape/expression/LBS forward, on small synthetic files with FLAME's key names and layout."""

from __future__ import annotations

import os
import pickle
import sys
import types

import numpy as np
import pytest
import scipy.sparse
import trimesh

from painctl.errors import PainctlError
from painctl.facemodels.flame import FlameModel, rodrigues
from painctl.facemodels.unpickle import load_pickle

EYE_CENTRES = {3: (0.03, 0.03, 0.08), 4: (-0.03, 0.03, 0.08)}  # FLAME joint 3 = left eye (+X)


def synthetic_flame(seed: int = 0, components: int = 400) -> dict:
    """A FLAME-shaped model: an ellipsoid head with two eyeballs, random shape/expression/pose bases."""
    rng = np.random.default_rng(seed)
    head = trimesh.creation.icosphere(subdivisions=2)
    head_v = head.vertices * [0.08, 0.11, 0.1]
    parts_v, parts_f, owner = [head_v], [head.faces], []
    owner_head = np.where((head_v[:, 1] < -0.03) & (head_v[:, 2] > 0), 2, 1)  # jaw in front-below, else neck
    owner.append(owner_head)
    offset = len(head_v)
    for joint, centre in EYE_CENTRES.items():
        eye = trimesh.creation.icosphere(subdivisions=1, radius=0.012)
        parts_v.append(eye.vertices + centre)
        parts_f.append(eye.faces + offset)
        owner.append(np.full(len(eye.vertices), joint))
        offset += len(eye.vertices)
    v = np.concatenate(parts_v)
    owner = np.concatenate(owner)
    V = len(v)
    weights = np.zeros((V, 5))
    weights[np.arange(V), owner] = 1.0
    regressor = np.zeros((5, V))
    bottom = np.flatnonzero(head_v[:, 1] < -0.09)
    regressor[0, bottom] = regressor[1, bottom] = 1.0 / len(bottom)
    jaw_pivot = np.flatnonzero((np.abs(head_v[:, 1]) < 0.03) & (np.abs(head_v[:, 0]) > 0.07))
    regressor[2, jaw_pivot] = 1.0 / len(jaw_pivot)
    for joint in EYE_CENTRES:
        ids = np.flatnonzero(owner == joint)
        regressor[joint, ids] = 1.0 / len(ids)
    return {
        "v_template": v,
        "f": np.concatenate(parts_f).astype(np.uint32),
        "shapedirs": rng.normal(0, 1e-3, (V, 3, components)),
        "posedirs": rng.normal(0, 1e-3, (V, 3, 36)),
        "J_regressor": scipy.sparse.csc_matrix(regressor),
        "weights": weights,
        "kintree_table": np.array([[2**32 - 1, 0, 1, 1, 1], [0, 1, 2, 3, 4]], dtype=np.int64),
        "bs_style": "lbs",
    }


def write_pickle(path, data) -> str:
    with open(path, "wb") as fh:
        pickle.dump(data, fh, protocol=2)
    return str(path)


def write_chumpy_pickle(path, data) -> str:
    """Pickle with shapedirs/v_template as objects of a fake ``chumpy.ch.Ch`` class (as old FLAME files)."""
    module = types.ModuleType("chumpy.ch")

    class Ch:
        def __init__(self, x):
            self.x = x
            self._dirty_vars = set()

    Ch.__module__ = "chumpy.ch"
    Ch.__qualname__ = "Ch"
    module.Ch = Ch
    pkg = types.ModuleType("chumpy")
    pkg.ch = module
    saved = {k: sys.modules.get(k) for k in ("chumpy", "chumpy.ch")}
    sys.modules["chumpy"], sys.modules["chumpy.ch"] = pkg, module
    try:
        wrapped = dict(data, shapedirs=Ch(data["shapedirs"]), v_template=Ch(data["v_template"]))
        return write_pickle(path, wrapped)
    finally:
        for key, value in saved.items():
            if value is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = value


@pytest.fixture
def flame_file(tmp_path):
    return write_pickle(tmp_path / "flame.pkl", synthetic_flame())


def test_plain_pickle_loads_and_neutral_is_template_plus_shape(flame_file):
    raw = synthetic_flame()
    model = FlameModel.from_file(flame_file)
    assert model.n_shape == 300 and model.n_expr == 100
    assert model.faces.dtype == np.int32 and model.faces.shape == raw["f"].shape
    assert model.capabilities.expressions == "flame-pca" and not model.capabilities.demographics
    betas = np.random.default_rng(1).normal(size=(2, 300))
    got = model.neutral(betas)
    want = raw["v_template"][None] + np.einsum("nk,vck->nvc", betas, raw["shapedirs"][:, :, :300])
    assert got.dtype == np.float32 and got.shape == (2, len(raw["v_template"]), 3)
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_expression_and_jaw_follow_linear_blend_skinning(flame_file):
    raw = synthetic_flame()
    model = FlameModel.from_file(flame_file)
    betas = np.zeros((1, 300))
    expr = np.zeros((1, 103))
    expr[0, :100] = np.random.default_rng(2).normal(size=100)
    expr[0, 100] = 0.3  # jaw_rx
    got = model.expressive(betas, expr)[0].astype(np.float64)
    # Independent reference: shaped + expression + pose correctives, then rigid jaw about its joint.
    shaped = raw["v_template"] + np.einsum("k,vck->vc", expr[0, :100], raw["shapedirs"][:, :, 300:])
    joints = raw["J_regressor"].toarray() @ shaped
    r_jaw = rodrigues(np.array([[0.3, 0.0, 0.0]]))[0]
    feature = np.zeros((4, 3, 3))
    feature[1] = r_jaw - np.eye(3)  # joints 1..4: neck, jaw, eyes
    posed = shaped + np.einsum("vck,k->vc", raw["posedirs"], feature.reshape(-1))
    owner = np.argmax(raw["weights"], axis=1)
    want = posed.copy()
    jaw = owner == 2
    want[jaw] = (posed[jaw] - joints[2]) @ r_jaw.T + joints[2]
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert jaw.any() and np.abs(got[jaw] - shaped[jaw]).max() > 1e-3  # the jaw really moved


def test_chumpy_pickle_loads_without_importing_chumpy(tmp_path):
    path = write_chumpy_pickle(tmp_path / "old.pkl", synthetic_flame())
    assert b"chumpy.ch" in open(path, "rb").read()
    sys.modules.pop("chumpy", None)
    raw = load_pickle(path)
    assert "chumpy" not in sys.modules
    assert isinstance(raw["shapedirs"], np.ndarray) and raw["shapedirs"].shape[2] == 400
    model = FlameModel.from_file(path)
    np.testing.assert_allclose(model.neutral(np.zeros((1, 300)))[0], synthetic_flame()["v_template"], atol=1e-6)


def test_npz_matches_pickle(tmp_path, flame_file):
    raw = synthetic_flame()
    raw_npz = {k: (v.toarray() if scipy.sparse.issparse(v) else v) for k, v in raw.items()}
    np.savez(tmp_path / "flame.npz", **raw_npz)
    a = FlameModel.from_file(tmp_path / "flame.npz")
    b = FlameModel.from_file(flame_file)
    betas = np.random.default_rng(3).normal(size=(3, 300))
    np.testing.assert_array_equal(a.neutral(betas), b.neutral(betas))
    assert "npz" in a.version and "pkl" in b.version


class _Hostile:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_hostile_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    path = write_pickle(tmp_path / "evil.pkl", {"v_template": _Hostile(marker)})
    with pytest.raises(PainctlError, match=r"refusing to load.*system"):
        load_pickle(path)
    with pytest.raises(PainctlError, match="refusing"):
        FlameModel.from_file(path)
    assert not marker.exists()


def test_hostile_pickle_through_the_cli(tmp_path):
    from tests.conftest import run_painctl

    marker = tmp_path / "pwned"
    path = write_pickle(tmp_path / "evil.pkl", [_Hostile(marker)])
    result = run_painctl("sample-mesh", "-n", "2", "--model", f"flame:{path}", tmp_path / "out")
    err = result.stderr.decode()
    assert result.returncode == 1
    assert err.startswith("painctl: error:") and "refusing" in err and "Traceback" not in err
    assert not marker.exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.pop("weights"), "missing weights"),
        (lambda d: d.update(posedirs=d["posedirs"][:, :, :9]), "posedirs has shape"),
        (lambda d: d.update(f=d["f"] + 10_000), "outside"),
        (lambda d: d.update(kintree_table=np.array([[2**32 - 1, 0, 0, 0, 0], [0, 1, 2, 3, 4]])), "parents"),
        (lambda d: d.update(v_template=d["v_template"] * np.nan), "NaN"),
    ],
)
def test_malformed_flame_is_one_clear_error(tmp_path, change, message):
    data = synthetic_flame()
    change(data)
    path = write_pickle(tmp_path / "bad.pkl", data)
    with pytest.raises(PainctlError, match=message):
        FlameModel.from_file(path)


def test_missing_damaged_and_non_dict_files(tmp_path):
    with pytest.raises(PainctlError, match="no such FLAME file"):
        FlameModel.from_file(tmp_path / "absent.pkl")
    (tmp_path / "junk.pkl").write_bytes(b"\x80\x02this is not a pickle")
    with pytest.raises(PainctlError, match="not a readable pickle"):
        FlameModel.from_file(tmp_path / "junk.pkl")
    write_pickle(tmp_path / "list.pkl", [1, 2, 3])
    with pytest.raises(PainctlError, match="expected a dict"):
        FlameModel.from_file(tmp_path / "list.pkl")
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 truncated zip")
    with pytest.raises(PainctlError, match="not a readable .npz"):
        FlameModel.from_file(tmp_path / "broken.npz")


def test_regions_and_landmarks_in_painctl_frame(flame_file):
    model = FlameModel.from_file(flame_file)
    regions, verts = model.region_vertices(), model.v_template
    assert verts[regions["left_eye"], 0].mean() > 0 > verts[regions["right_eye"], 0].mean()
    marks = model.landmarks()
    assert {"nose_tip", "left_eye_outer", "right_eye_outer", "mouth_left", "mouth_right", "chin"} <= set(marks)
    assert marks["nose_tip"] == regions["face"][np.argmax(verts[regions["face"], 2])]
    assert all(0 <= i < len(verts) for i in marks.values())


def test_sample_mesh_with_flame(tmp_path, painctl, flame_file):
    from painctl.artefact import open_artefact
    from painctl.facemodels import face_model_of

    out = tmp_path / "heads"
    result = painctl("sample-mesh", "-n", "5", "--model", f"flame:{flame_file}", "--seed", "4", out)
    assert result.code == 0, result.stderr
    art = open_artefact(out)
    assert art.attrs()["face_model"] == "flame" and art.attrs()["face_model_path"] == os.path.abspath(flame_file)
    assert np.isnan(art.read("age_years")).all() and set(art.read("gender")) == {"unknown"}
    phen = art.read("phenotype")
    assert phen.shape == (5, 300) and np.abs(phen[:, :100]).max() <= 2.5 and not phen[:, 100:].any()
    model = face_model_of(art)
    np.testing.assert_allclose(art.read("vertices"), model.neutral(phen), atol=1e-6)
    refused = painctl("sample-mesh", "-n", "4", "--model", f"flame:{flame_file}", "--balance", "age", tmp_path / "x")
    assert refused.code == 1 and "no control over age" in refused.stderr
