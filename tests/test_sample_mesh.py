"""The anny face model in painctl's frame, demographics with exact balance, and sample-mesh artefacts."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from painctl.facemodels.demographics import (
    Demographics,
    balanced_cells,
    parse_age_groups,
    parse_balance,
    parse_groups,
)
from painctl.errors import PainctlError

# ------------------------------------------------------------------------------------ the model


def test_anny_shapes_and_capabilities(anny_model):
    m = anny_model
    assert m.name == "anny" and m.version
    assert m.faces.shape == (9014, 3) and m.faces.dtype == np.int32
    assert m.vertex_count == 4538
    assert m.uv.dtype == np.float32 and m.uv.min() >= 0 and m.uv.max() <= 1
    assert m.uv_faces.shape == m.faces.shape and m.uv_faces.max() < len(m.uv)
    assert len(m.phenotype_names) == 11 and {"age", "gender", "african", "asian", "caucasian"} <= set(m.phenotype_names)
    assert len(m.expression_names) == 52 and m.expression_names[0] == "browDownLeft"
    assert {"eyeBlinkLeft", "cheekSquintRight", "noseSneerLeft", "mouthShrugUpper"} <= set(m.expression_names)
    assert m.capabilities.identity_sampling and m.capabilities.expressions == "arkit52"
    assert m.capabilities.demographics == {"age", "gender", "ethnicity"}


def test_frame_is_y_up_facing_plus_z(anny_model):
    m = anny_model
    regions, marks = m.region_vertices(), m.landmarks()
    rng = np.random.default_rng(0)
    for verts in m.neutral(rng.random((3, 11))):
        face = regions["face"]
        front = verts[face[np.argmax(verts[face, 2])]]  # the nose tip leads toward +Z
        assert np.linalg.norm(front - verts[marks["nose_tip"]]) < 0.005
        eyes_y = verts[np.concatenate([regions["left_eye"], regions["right_eye"]]), 1].mean()
        assert eyes_y > verts[marks["mouth_left"], 1] > verts[marks["chin"], 1]  # +Y is up
        assert verts[regions["left_eye"], 0].mean() > 0 > verts[regions["right_eye"], 0].mean()  # own left is +X
        assert verts[marks["left_brow"], 1] > verts[marks["left_upper_lid"], 1] > verts[marks["left_lower_lid"], 1]
        assert 0.1 < np.ptp(verts[:, 1]) < 0.4  # metres


def test_regions_and_landmarks_are_symmetric(anny_model):
    m = anny_model
    verts = m.neutral(np.full((1, 11), 0.5))[0]
    regions, marks = m.region_vertices(), m.landmarks()
    assert len(regions["left_eye"]) == len(regions["right_eye"]) > 20
    mirrored = np.sort(verts[regions["left_eye"]] * [-1, 1, 1], axis=0)
    np.testing.assert_allclose(mirrored, np.sort(verts[regions["right_eye"]], axis=0), atol=2e-3)
    assert len(marks) >= 12 and len(set(marks.values())) == len(marks)
    for left, right in [("left_eye_outer", "right_eye_outer"), ("mouth_left", "mouth_right"), ("left_brow", "right_brow")]:
        np.testing.assert_allclose(verts[marks[left]] * [-1, 1, 1], verts[marks[right]], atol=1e-3)
    assert set(marks.values()) <= set(regions["skin"].tolist())


def test_expressions_are_linear_and_named_in_anny_order(anny_model):
    m = anny_model
    rng = np.random.default_rng(1)
    pheno, expr = rng.random((2, 11)), rng.random((2, 52)) * 0.6
    basis = m.expression_basis()
    np.testing.assert_allclose(m.expressive(pheno, expr), m.neutral(pheno) + np.einsum("ne,evc->nvc", expr, basis), atol=2e-6)
    # eyeBlinkLeft closes the subject's left eye (lid meets lid) and leaves the right one open.
    blink = np.zeros((1, 52))
    blink[0, m.expression_names.index("eyeBlinkLeft")] = 1.0
    marks = m.landmarks()
    open_, shut = m.neutral(pheno[:1])[0], m.expressive(pheno[:1], blink)[0]

    def gap(v, side):
        return v[marks[f"{side}_upper_lid"], 1] - v[marks[f"{side}_lower_lid"], 1]

    assert gap(shut, "left") < 0.3 * gap(open_, "left")
    assert gap(shut, "right") == pytest.approx(gap(open_, "right"), abs=1e-6)


def test_age_goes_through_annys_calibration(anny_model):
    m = anny_model
    np.testing.assert_allclose(m.age_to_phenotype([18, 64, 110]), [0.77, 0.83, 1.0], atol=1e-9)
    years = np.array([18.0, 25.5, 40.0, 65.0, 90.0])
    np.testing.assert_allclose(m.phenotype_to_age(m.age_to_phenotype(years)), years, atol=1e-9)


@pytest.mark.parametrize("gender", ["female", "male"])
@pytest.mark.parametrize("ethnicity", ["african", "asian", "caucasian", "mixed:african+caucasian"])
def test_sampled_phenotypes_express_their_demographics(anny_model, gender, ethnicity):
    rng = np.random.default_rng(7)
    rows = np.array([anny_model.sample_phenotype(rng, 70.0, gender, ethnicity) for _ in range(5)])
    assert rows.min() >= 0 and rows.max() <= 1
    back = anny_model.describe_phenotype(rows)
    np.testing.assert_allclose(back["age_years"], 70.0, atol=1e-9)
    assert set(back["gender"]) == {gender} and set(back["ethnicity"]) == {ethnicity}
    assert len({r.tobytes() for r in rows}) == 5  # jitter: no two identities alike


def test_sample_phenotype_rejects_unknown_groups(anny_model):
    with pytest.raises(PainctlError, match="ethnicity"):
        anny_model.sample_phenotype(np.random.default_rng(0), 30.0, "male", "martian")


# ------------------------------------------------------------------------------- demographics


@pytest.mark.parametrize("total", [0, 1, 7, 13, 42, 66, 2500])
@pytest.mark.parametrize("shape", [(12,), (2, 2, 3), (2, 2, 6), (2, 3)])
def test_balanced_cells_are_exact_and_deterministic(total, shape):
    cells = int(np.prod(shape))
    dealt = balanced_cells(total, shape, seed=3)
    counts = np.bincount(dealt, minlength=cells)
    assert counts.sum() == total and counts.max() - counts.min() <= 1
    # Each factor's groups stay within one of each other too.
    for axis, coord in enumerate(np.unravel_index(dealt, shape)):
        marginal = np.bincount(coord, minlength=shape[axis])
        assert marginal.max() - marginal.min() <= 1
    np.testing.assert_array_equal(dealt, balanced_cells(total, shape, seed=3))
    if total > cells:
        assert not np.array_equal(dealt, balanced_cells(total, shape, seed=4))


def test_parsers():
    assert [str(g) for g in parse_age_groups("young:18-40, elderly:65-90")] == ["young:18-40", "elderly:65-90"]
    assert parse_balance("ethnicity,age") == ("age", "ethnicity")
    assert parse_groups("african,mixed", ("african", "asian", "mixed:african+asian"), "x") == ("african", "mixed:african+asian")
    for bad in ["young", "young:40-18", "a:1-2,a:3-4", "old:60-200", ""]:
        with pytest.raises(PainctlError):
            parse_age_groups(bad)
    with pytest.raises(PainctlError, match="unknown factor"):
        parse_balance("age,height")


def test_assignment_balances_every_cell():
    demo = Demographics(parse_age_groups("young:18-40,elderly:65-90"), ("female", "male"), ("african", "asian", "caucasian"), ("age", "gender", "ethnicity"))
    dealt = demo.assign(30, seed=0)
    counts = Counter(zip(dealt["age"], dealt["gender"], dealt["ethnicity"]))
    assert set(counts) == set(itertools.product(("young", "elderly"), ("female", "male"), ("african", "asian", "caucasian")))
    assert max(counts.values()) - min(counts.values()) <= 1


# ------------------------------------------------------------------------------- the artefact


@pytest.fixture(scope="module")
def balanced(tmp_path_factory):
    from painctl.stages.sample_mesh import sample_mesh

    out = tmp_path_factory.mktemp("sm") / "heads"
    sample_mesh(out, 26, balance="age,gender,ethnicity", seed=5)
    return out


def test_artefact_datasets(balanced, anny_model):
    from painctl.artefact import IDENTITY, open_artefact
    from painctl.facemodels import face_model_of

    art = open_artefact(balanced, stage="sample-mesh", require={**IDENTITY, "uv": "T,2:f", "uv_faces": "F,3:i"})
    assert art.rows() == 26
    attrs = art.attrs()
    assert attrs["face_model"] == "anny" and attrs["face_model_version"] == anny_model.version
    assert face_model_of(art) is anny_model
    verts = art.read("vertices")
    assert verts.dtype == np.float32 and verts.shape == (26, 4538, 3)
    np.testing.assert_array_equal(art.read("faces"), anny_model.faces)
    ids = art.read("identity")
    assert list(ids) == [f"id{i:06d}" for i in range(26)]
    assert list(art.attrs("phenotype")["names"]) == list(anny_model.phenotype_names)
    # The stored labels agree with what the stored phenotypes express, and meshes with phenotypes.
    back = anny_model.describe_phenotype(art.read("phenotype"))
    assert (back["gender"] == art.read("gender")).all() and (back["ethnicity"] == art.read("ethnicity")).all()
    np.testing.assert_allclose(back["age_years"], art.read("age_years"), atol=1e-3)
    np.testing.assert_array_equal(anny_model.neutral(art.read("phenotype", slice(3, 5))), verts[3:5])
    assert len({v.tobytes() for v in verts}) == 26  # no two identities are the same mesh


def test_balance_is_exact_and_ages_lie_in_their_groups(balanced):
    from painctl.artefact import open_artefact

    art = open_artefact(balanced)
    cells = Counter(zip(art.read("age_group"), art.read("gender"), art.read("ethnicity")))
    assert len(cells) == 12 and max(cells.values()) - min(cells.values()) <= 1
    ages, groups = art.read("age_years"), art.read("age_group")
    assert ((ages >= 18) & (ages <= 40))[groups == "young"].all()
    assert ((ages >= 65) & (ages <= 90))[groups == "elderly"].all()


def test_same_seed_same_bytes_other_seed_other_meshes(tmp_path, balanced):
    from painctl.stages.sample_mesh import sample_mesh

    again = sample_mesh(tmp_path / "again", 26, balance="age,gender,ethnicity", seed=5)
    assert (again / "data.h5").read_bytes() == (balanced / "data.h5").read_bytes()
    other = sample_mesh(tmp_path / "other", 26, balance="age,gender,ethnicity", seed=6)
    assert (other / "data.h5").read_bytes() != (balanced / "data.h5").read_bytes()


def test_custom_groups_and_mixed_ethnicities(tmp_path):
    from painctl.artefact import open_artefact
    from painctl.stages.sample_mesh import sample_mesh

    out = sample_mesh(tmp_path / "mixed", 9, balance="ethnicity,age", age_groups="mid:45-50,old:80-85",
                      ethnicities="caucasian,mixed:african+asian,mixed:asian+caucasian")
    art = open_artefact(out)
    assert Counter(art.read("ethnicity")) == {"caucasian": 3, "mixed:african+asian": 3, "mixed:asian+caucasian": 3}
    ages, groups = art.read("age_years"), art.read("age_group")
    assert set(groups) == {"mid", "old"} and ((ages >= 45) & (ages <= 50))[groups == "mid"].all()
    assert ((ages >= 80) & (ages <= 85))[groups == "old"].all()


@pytest.mark.parametrize("fmt", ["obj", "ply"])
def test_export_writes_mesh_files_any_viewer_reads(tmp_path, anny_model, fmt):
    import trimesh

    from painctl.artefact import open_artefact
    from painctl.stages.sample_mesh import sample_mesh

    art = open_artefact(sample_mesh(tmp_path / "exp", 2, export=fmt, seed=1))
    files = art.read("mesh_file")
    assert list(files) == [f"meshes/id00000{i}.{fmt}" for i in range(2)]
    verts = art.read("vertices")
    for i, rel in enumerate(files):
        mesh = trimesh.load(art.resolve(rel), process=False, force="mesh")
        assert len(mesh.faces) == len(anny_model.faces)
        if fmt == "obj":  # seams split: positions repeat, texture coordinates come along
            assert mesh.visual.uv.shape == (len(mesh.vertices), 2)
            np.testing.assert_allclose(mesh.vertices[mesh.faces], verts[i][anny_model.faces], atol=1e-7)
        else:
            np.testing.assert_allclose(mesh.vertices, verts[i], atol=1e-7)


def test_vertices_equal_annys_own_forward_and_ignore_batching(anny_model):
    rng = np.random.default_rng(11)
    pheno, expr = rng.random((5, 11)), rng.random((5, 52)) * 0.5
    got = anny_model.expressive(pheno, expr)
    np.testing.assert_allclose(got, anny_model.anny_forward(pheno, expr), atol=1e-6)
    # Each row's bytes do not depend on which other rows it is computed with (shards rely on it).
    assert got[2:].tobytes() == anny_model.expressive(pheno[2:], expr[2:]).tobytes()
    assert got[3:4].tobytes() == anny_model.expressive(pheno[3:4], expr[3:4]).tobytes()


def test_cache_hit_does_not_build_the_model(tmp_path):
    import subprocess
    import sys

    from painctl.stages.sample_mesh import sample_mesh

    out = sample_mesh(tmp_path / "heads", 3, balance="gender", seed=2)
    code = (
        "import sys; from painctl.stages.sample_mesh import sample_mesh; "
        f"sample_mesh({str(out)!r}, 3, balance='gender', seed=2); "
        "print('anny' in sys.modules, 'torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"] and "cache hit" in result.stderr


def test_region_landmarks_match_landmarks(anny_model):
    regions = anny_model.region_vertices()
    assert regions["landmarks"].tolist() == list(anny_model.landmarks().values())
    regions["face"][:] = -1  # callers get copies
    assert (anny_model.region_vertices()["face"] >= 0).all()
