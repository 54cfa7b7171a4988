"""painctl rig: exact PSPI labels, AU regions, closed eyes, no skin through skin, determinism,
shards, deformation transfer accuracy, and the bad inputs."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from painctl.artefact import open_artefact
from painctl.facs import AU_NAMES, pspi


@pytest.fixture(scope="module")
def heads(tmp_path_factory, anny_model):
    from painctl.stages.sample_mesh import sample_mesh

    return sample_mesh(tmp_path_factory.mktemp("rig") / "heads", 4, balance="age,gender", seed=3)


def _sha(path):
    return hashlib.sha256((path / "data.h5").read_bytes()).hexdigest()


def test_pspi_of_every_face_equals_the_request_and_neutral_comes_first(painctl, heads, tmp_path):
    out = tmp_path / "pain"
    r = painctl("rig", "--pspi", "1,8,16", "--per-identity", "3", heads, out)
    assert r.code == 0, r.stderr
    art = open_artefact(out)
    assert art.rows() == 4 * 4
    is_neutral = art.read("is_neutral")
    assert is_neutral.tolist() == [True, False, False, False] * 4
    p = art.read("pspi")
    au = art.read("au")
    np.testing.assert_array_equal(p, pspi(au))
    assert sorted(p[~is_neutral].tolist()) == sorted([1.0, 8.0, 16.0] * 4)
    assert np.all(au[is_neutral] == 0) and np.all(art.read("displacement")[is_neutral] == 0)
    assert np.all(art.read("neutral_row") == np.repeat(np.arange(4) * 4, 4))
    ids = art.read("identity")
    assert ids.tolist() == np.repeat(open_artefact(heads).read("identity"), 4).tolist()
    assert art.read("gender").shape == (16,) and art.read("phenotype").shape[0] == 16


def _anny_frame(anny_model):
    v = anny_model.neutral(np.full((1, len(anny_model.phenotype_names)), 0.5))[0]
    lm = anny_model.landmarks()
    eye_y = np.mean([v[lm[k]][1] for k in ("left_eye_inner", "right_eye_inner", "left_eye_outer", "right_eye_outer")])
    mouth_y = np.mean([v[lm[k]][1] for k in ("mouth_left", "mouth_right")])
    return v, eye_y, mouth_y, v[lm["nose_tip"]][1]


@pytest.mark.parametrize("au_name", AU_NAMES)
def test_each_au_moves_its_own_region(anny_model, au_name):
    """Face units and correctives together (at level 3 and at 5) move the AU's own region."""
    from painctl.rigging.deform import DirectRig

    v, eye_y, mouth_y, nose_y = _anny_frame(anny_model)
    rig = DirectRig.for_model(anny_model)
    for level in (3, 5):
        a = np.zeros((1, 6))
        a[0, AU_NAMES.index(au_name)] = 1 if au_name == "AU43" else level
        d = np.linalg.norm(rig.deform(v, a, a)[0].astype(np.float64) - v, axis=1)
        _assert_in_region(au_name, v, d, eye_y, mouth_y, nose_y)


def _assert_in_region(au_name, v, d, eye_y, mouth_y, nose_y):
    assert d.max() > 5e-4, "the AU must visibly move the face (> 0.5 mm)"
    y = (v[:, 1] * d).sum() / d.sum()  # displacement-weighted height of the motion
    below_mouth = d[v[:, 1] < mouth_y - 0.01].max()
    above_brow = d[v[:, 1] > eye_y + 0.03].max()
    expected = {
        "AU4": lambda: y > eye_y and below_mouth == 0,
        "AU6": lambda: mouth_y < y < eye_y and above_brow < 1e-3,
        "AU7": lambda: abs(y - eye_y) < 0.012 and below_mouth == 0 and above_brow == 0,
        "AU9": lambda: mouth_y < y < eye_y and below_mouth < 5e-4,
        "AU10": lambda: mouth_y < y < nose_y and above_brow == 0,
        "AU43": lambda: abs(y - eye_y) < 0.012 and below_mouth == 0,
    }[au_name]
    assert expected(), f"{au_name}: weighted height {y:.3f} (eyes {eye_y:.3f}, nose {nose_y:.3f}, mouth {mouth_y:.3f})"


def _visible(vertices, faces, triangle_mask, yaws=(0,)):
    from painctl.renderer import Mesh, frame_camera, render, studio_lights

    count = 0
    for yaw in yaws:
        r = render(Mesh(vertices, faces), frame_camera(vertices, yaw=yaw), studio_lights(), 192)
        t = r.triangle[r.triangle >= 0]
        count += int(triangle_mask[t].sum())
    return count


def _phenotypes(anny_model):
    rng = np.random.default_rng(0)
    return [anny_model.sample_phenotype(rng, age, gender, eth) for age, gender, eth in
            [(20, "male", "caucasian"), (85, "male", "african"), (85, "female", "asian"), (20, "female", "african"), (50, "male", "asian")]]


def _triangles_of(anny_model, *regions):
    mask = np.zeros(anny_model.vertex_count, bool)
    for name in regions:
        mask[anny_model.region_vertices()[name]] = True
    return mask[anny_model.faces].all(1)


@pytest.mark.parametrize("corrective", [True, False], ids=["corrective", "solve-only"])
def test_au43_closes_the_eyes_on_every_phenotype(anny_model, corrective):
    from painctl.rigging.deform import DirectRig

    rig = DirectRig.for_model(anny_model, corrective=corrective)
    eyes = _triangles_of(anny_model, "left_eye", "right_eye")
    closed = np.array([[0, 0, 0, 0, 0, 1.0]])
    for ph in _phenotypes(anny_model):
        neutral = anny_model.neutral(ph[None])[0]
        assert _visible(neutral, anny_model.faces, eyes) > 50
        face = rig.deform(neutral, closed, closed)[0]
        assert _visible(face, anny_model.faces, eyes) == 0


def test_no_au_combination_pushes_the_eye_socket_through_the_lids(anny_model):
    from painctl.rigging.deform import DirectRig

    rig = DirectRig.for_model(anny_model)
    sockets = _triangles_of(anny_model, "left_eye_socket", "right_eye_socket")
    worst = np.array([[5, 5, 5, 5, 5, 0], [5, 5, 5, 5, 5, 1], [0, 5, 5, 0, 0, 0], [0, 5, 0, 0, 0, 1], [0, 0, 5, 0, 0, 1]], float)
    for ph in _phenotypes(anny_model):
        neutral = anny_model.neutral(ph[None])[0]
        baseline = _visible(neutral, anny_model.faces, sockets, yaws=(0, -30, 30))
        for face in rig.deform(neutral, worst, worst):
            assert _visible(face, anny_model.faces, sockets, yaws=(0, -30, 30)) <= baseline


def test_self_intersections_counts_skin_through_skin():
    import trimesh

    from painctl.rigging.validation import self_intersections

    a = trimesh.creation.box(extents=(1, 1, 1))
    assert self_intersections(a.vertices, a.faces) == 0
    b = a.copy()
    b.apply_translation((0.5, 0.3, 0.2))
    both = trimesh.util.concatenate([a, b])
    assert self_intersections(both.vertices, both.faces) > 0


def test_skin_resting_on_skin_is_not_counted_as_passing_through_it():
    """Lids resting on each other at AU43 leave a lower-lid edge ending a fraction of a micrometre
    in front of an upper-lid triangle, pointing away from it: touching, not crossing (the ray test
    alone reported it: the rig's lids of an 18-year-old head at every AU = 5). Moved through the
    triangle's plane, the same edge crosses it."""
    from painctl.rigging.validation import self_intersections

    # Upper-lid triangle, then the lower lid's edge (metres; 0.45 um and 557 um in front of it).
    lids = np.array([[-0.03012578934431076, 0.1456698626279831, 0.13142526149749756],
                     [-0.024954551830887794, 0.14436118304729462, 0.13037630915641785],
                     [-0.029984276741743088, 0.14490067958831787, 0.132097989320755],
                     [-0.03004218451678753, 0.14526863396167755, 0.13177116215229034],
                     [-0.030097300186753273, 0.14453470706939697, 0.13168932497501373]])
    faces = np.array([[0, 1, 2], [3, 4, 4]])  # the edge 3-4 as a degenerate face of its own
    assert self_intersections(lids, faces) == 0
    normal = np.cross(lids[1] - lids[0], lids[2] - lids[0])
    through = lids.copy()
    through[3] -= 2e-6 * normal / np.linalg.norm(normal)  # 1.5 um behind the triangle
    assert self_intersections(through, faces) == 1


def _eye_skin_triangles(anny_model, vertices):
    """Triangles within 3 cm of either eyeball, minus the eyeballs and the socket lining (which
    anny's own neutral head already crosses)."""
    regions = anny_model.region_vertices()
    centres = [vertices[regions[side]].mean(0) for side in ("left_eye", "right_eye")]
    near = np.min([np.linalg.norm(vertices - c, axis=1) for c in centres], axis=0) < 0.03
    for name in ("left_eye", "right_eye", "left_eye_socket", "right_eye_socket"):
        near[regions[name]] = False
    return anny_model.faces[near[anny_model.faces].all(1)]


def test_lid_budgets_keep_skin_from_passing_through_skin(anny_model):
    """AU6/AU7 (and AU4 alone, with AU7 or AU9, AU6 with AU9) at maximum, correctives included, add
    no edge-triangle crossing around the eyes."""
    from painctl.rigging.deform import DirectRig
    from painctl.rigging.validation import self_intersections

    from painctl.rigging.au_correctives import CorrectiveRegions

    rig = DirectRig(anny_model.expression_basis(), anny_model.expression_names, "test",
                    au_regions=CorrectiveRegions.for_model(anny_model))
    combos = np.array([[0, 5, 5, 0, 0, 0], [0, 5, 0, 0, 0, 0], [0, 0, 5, 0, 0, 0], [5, 0, 5, 0, 0, 0], [5, 5, 5, 0, 0, 0],
                       [5, 0, 0, 5, 0, 0], [0, 5, 0, 5, 0, 0], [5, 5, 5, 5, 5, 0], [5, 0, 0, 0, 0, 0], [3, 4, 2, 5, 1, 0]], float)
    for ph in _phenotypes(anny_model):
        neutral = anny_model.neutral(ph[None])[0]
        faces = _eye_skin_triangles(anny_model, neutral)
        assert self_intersections(neutral, faces) == 0
        for combo, face in zip(combos, rig.deform(neutral, combos, combos)):
            assert self_intersections(face, faces) == 0, combo


@pytest.mark.parametrize("corrective", [True, False], ids=["corrective", "solve-only"])
def test_closed_eyes_keep_skin_from_passing_through_skin(anny_model, corrective):
    """AU43 = 1, alone and with the other AUs at maximum, adds no edge-triangle crossing around the eyes;
    nor does AU43 = 0.6, a frame on the way to closure in a --sequence. anny's blink alone does cross
    there (its upper lid overshoots the lower one): the lid-contact solve, or the corrective
    prediction of it, is what keeps them apart."""
    from painctl.rigging.deform import DirectRig
    from painctl.rigging.validation import self_intersections

    rig = DirectRig.for_model(anny_model, corrective=corrective)
    blink_only = DirectRig(anny_model.expression_basis(), anny_model.expression_names, "no lid contact")
    combos = np.array([[0, 0, 0, 0, 0, 1], [5, 0, 0, 0, 0, 1], [0, 5, 0, 0, 0, 1], [0, 0, 5, 0, 0, 1], [5, 5, 5, 5, 5, 1],
                       [0, 0, 0, 0, 0, 0.6]], float)
    for ph in _phenotypes(anny_model):
        neutral = anny_model.neutral(ph[None])[0]
        faces = _eye_skin_triangles(anny_model, neutral)
        assert self_intersections(blink_only.deform(neutral, combos[:1], combos[:1])[0], faces) > 0
        for combo, face in zip(combos, rig.deform(neutral, combos, combos)):
            assert self_intersections(face, faces) == 0, combo


#: Four of the 100 heads drawn by ``sample-mesh -n 250 --balance age,gender,ethnicity --seed 7`` whose
#: eye-region skin passed through itself before AU4's brow limit, the eye-corner tie and the lower
#: lid's own skin (anny phenotype values in the model's order): a 23-year-old Asian female (AU4 = 5
#: with AU7; AU4, AU6 and AU7 at the outer corner), an 86-year-old African male (AU4 with AU6), a
#: 77-year-old Asian female (AU4, AU6 and AU7) and a 27-year-old Asian male (AU4 alone).
FOLDED_HEADS = np.array([
    [0.9381, 0.7766, 0.0780, 0.5205, 0.2217, 0.1370, 0.5, 0.5, 0.0060, 0.9888, 0.0053],
    [0.0356, 0.9145, 0.9149, 0.5632, 0.2941, 0.4663, 0.5, 0.5, 0.9790, 0.0057, 0.0153],
    [0.9389, 0.8796, 0.2046, 0.9098, 0.3207, 0.2625, 0.5, 0.5, 0.0138, 0.9798, 0.0064],
    [0.0794, 0.7822, 0.3237, 0.0006, 0.3406, 0.2560, 0.5, 0.5, 0.0053, 0.9915, 0.0032]])


def test_heads_that_folded_at_a_maximal_frown_keep_skin_from_passing_through_skin(anny_model):
    from painctl.rigging.deform import DirectRig
    from painctl.rigging.validation import self_intersections

    rig = DirectRig.for_model(anny_model)
    combos = np.array([[5, 0, 0, 0, 0, 0], [5, 0, 5, 0, 0, 0], [5, 5, 0, 0, 0, 0], [5, 5, 5, 0, 0, 0], [0, 0, 5, 0, 0, 0]], float)
    for ph in FOLDED_HEADS:
        neutral = anny_model.neutral(ph[None])[0]
        faces = _eye_skin_triangles(anny_model, neutral)
        assert self_intersections(neutral, faces) == 0
        for combo, face in zip(combos, rig.deform(neutral, combos, combos)):
            assert self_intersections(face, faces) == 0, (ph[:2], combo)


def test_a_maximal_frown_brings_the_brow_down_to_the_lids_top_and_no_further(anny_model):
    """AU4 = 5 lowers the brow no further than BROW_DROP_LIMIT times its height above the top of the
    upper lid margin: a Caucasian head, whose brow reaches that about where the scale's E does, keeps
    E within a point; an Asian head of FOLDED_HEADS, whose fuller lid sits higher, stops well short."""
    from painctl.rigging.au_correctives import BROW_DROP_LIMIT, E_CHANGE, brow_gaps, face_measures
    from painctl.rigging.deform import DirectRig

    rig = DirectRig.for_model(anny_model)
    frown = np.array([[5, 0, 0, 0, 0, 0]], float)
    points = rig.au_regions.points
    caucasian = anny_model.sample_phenotype(np.random.default_rng(0), 30, "male", "caucasian")
    changes = []
    for ph in (caucasian, FOLDED_HEADS[0]):
        neutral = anny_model.neutral(np.asarray(ph, float)[None])[0].astype(np.float64)
        face = rig.deform(neutral, frown, frown)[0].astype(np.float64)
        drop = neutral[list(points.brow), 1] - face[list(points.brow), 1]
        assert np.all(drop <= BROW_DROP_LIMIT * brow_gaps(neutral, rig.au_regions) * (1 + 1e-3))
        changes.append(face_measures(face, points)["brow"] / face_measures(neutral, points)["brow"] - 1)
    assert np.all(np.abs(changes[0] - E_CHANGE["AU4"]) < 0.01)
    assert np.all(changes[1] > E_CHANGE["AU4"] + 0.05)


def test_same_seed_same_bytes_and_shards_merge_to_one_run(painctl, heads, tmp_path):
    args = ["--pspi", "1-16", "--per-identity", "2", "--seed", "5"]
    assert painctl("rig", *args, heads, tmp_path / "a").code == 0
    assert painctl("rig", *args, heads, tmp_path / "b").code == 0
    assert _sha(tmp_path / "a") == _sha(tmp_path / "b")
    assert painctl("rig", *args, "--shard", "1/2", heads, tmp_path / "s1").code == 0
    assert painctl("rig", *args, "--shard", "2/2", heads, tmp_path / "s2").code == 0
    assert painctl("merge", tmp_path / "m", tmp_path / "s1", tmp_path / "s2").code == 0
    whole, merged = open_artefact(tmp_path / "a"), open_artefact(tmp_path / "m")
    for name in ("vertices", "au", "pspi", "identity", "neutral_row", "displacement", "is_neutral"):
        np.testing.assert_array_equal(whole.read(name), merged.read(name))
    other = tmp_path / "c"
    assert painctl("rig", "--pspi", "1-16", "--per-identity", "2", "--seed", "6", heads, other).code == 0
    assert _sha(other) != _sha(tmp_path / "a")


def test_worker_processes_write_the_bytes_of_one(painctl, heads, tmp_path):
    """--jobs spreads the identities over worker processes: the same bytes as one process, sequence
    frames and per-side labels included, and the closing line counts every worker's eyes."""
    args = ["--pspi", "1-16", "--per-identity", "3", "--sequence", "3", "--asymmetry", "1", "--seed", "2"]
    one = painctl("rig", *args, "--jobs", "1", heads, tmp_path / "one")
    two = painctl("rig", *args, "--jobs", "2", heads, tmp_path / "two")
    assert one.code == 0 and two.code == 0, one.stderr + two.stderr
    assert _sha(tmp_path / "one") == _sha(tmp_path / "two")
    closing = [next(line for line in r.stderr.splitlines() if line.startswith("closing eyes")) for r in (one, two)]
    assert closing[0] == closing[1]
    assert painctl("rig", *args, "--jobs", "0", heads, tmp_path / "zero").code == 2


def test_fixed_aus_asymmetry_and_prior(painctl, heads, tmp_path):
    r = painctl("rig", "--au", "AU4=2.5,AU6=2,AU9=1,AU43=1", "--per-identity", "2", "--asymmetry", "1", heads, tmp_path / "asym")
    assert r.code == 0, r.stderr
    art = open_artefact(tmp_path / "asym")
    pain = ~art.read("is_neutral")
    left, right, au = art.read("au_left")[pain], art.read("au_right")[pain], art.read("au")[pain]
    np.testing.assert_allclose(au, np.tile([2.5, 2, 0, 1, 0, 1], (len(au), 1)), atol=1e-6)
    assert np.all(np.abs(left - right) <= 1 + 1e-6) and np.any(np.abs(left - right) > 0)
    np.testing.assert_allclose(art.read("pspi")[pain], 2.5 + 2 + 1 + 1)
    prior = tmp_path / "prior.csv"
    prior.write_text("AU4,AU6,AU7,AU9,AU10,AU43,weight\n2,1,0,0,3,0,5\n0,0,1,0,0,0,1\n")
    assert painctl("rig", "--pspi", "6", "--per-identity", "3", "--prior", prior, heads, tmp_path / "prior").code == 0
    only = open_artefact(tmp_path / "prior")
    sel = ~only.read("is_neutral")
    assert np.all(only.read("au")[sel] == [2, 1, 0, 0, 3, 0])


def test_sequence_goes_from_neutral_to_apex_and_back(painctl, heads, tmp_path):
    assert painctl("rig", "--pspi", "8", "--sequence", "9", heads, tmp_path / "seq").code == 0
    art = open_artefact(tmp_path / "seq")
    p = art.read("sequence/pspi")
    assert p.shape == (8, 9)
    pain = ~art.read("is_neutral")
    assert np.all(p[pain][:, 0] == 0) and np.all(p[pain][:, -1] == 0)
    assert np.all(p[pain].max(1) == 8)
    seq = art.read("sequence/vertices")
    np.testing.assert_allclose(seq[pain][:, 4], art.read("vertices")[pain], atol=1e-6)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--pspi", "17"], "outside 0-16"),
        (["--pspi", "2.5"], "not reachable"),
        (["--au", "AU4=three"], "not a number"),
        (["--au", "AU5=1"], "NAME=VALUE"),
        (["--au", "AU43=0.5"], "0 or 1"),
        (["--au", "AU6=6"], "outside"),
        (["--pspi", "3", "--asymmetry", "-1"], "asymmetry"),
    ],
)
def test_bad_requests_are_one_line_errors(painctl, heads, tmp_path, args, message):
    r = painctl("rig", *args, heads, tmp_path / "out")
    assert r.code == 2 and message in r.stderr and "Traceback" not in r.stderr  # bad option values are usage errors
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_in_without_identities_and_unfittable_mesh(painctl, tmp_path):
    import trimesh

    from painctl.artefact import ArtefactWriter, write_dataset

    with ArtefactWriter(tmp_path / "empty", "other", {}) as w:
        write_dataset(w.h5, "pspi", np.zeros(3, np.float32))
    r = painctl("rig", "--pspi", "4", tmp_path / "empty", tmp_path / "out")
    assert r.code == 1 and "no identities" in r.stderr
    trimesh.creation.icosphere(subdivisions=1).export(tmp_path / "ball.obj")
    r = painctl("rig", "--pspi", "4", "--model-mesh", tmp_path / "ball.obj", tmp_path / "out")
    assert r.code == 1 and "too few" in r.stderr
    trimesh.creation.box(extents=(1, 0.001, 1)).subdivide().subdivide().subdivide().export(tmp_path / "slab.obj")
    r = painctl("rig", "--pspi", "4", "--model-mesh", tmp_path / "slab.obj", tmp_path / "out")
    assert r.code == 1 and ("degenerate" in r.stderr or "registration could not fit" in r.stderr)
    assert not (tmp_path / "out").exists()


def test_transfer_onto_a_retriangulated_anny_head_matches_direct_rigging(anny_model, tmp_path, painctl):
    """Issue acceptance: RMS error on the face < 10% of the AU's RMS displacement, for every AU."""
    import trimesh

    from painctl.rigging.transfer import TransferRig
    from painctl.rigging.validation import retriangulated_copy, transfer_errors

    rest = anny_model.neutral(np.full((1, len(anny_model.phenotype_names)), 0.5))[0].astype(np.float64)
    faces = anny_model.faces
    # Other vertex count, other connectivity, and no vertex where an anny vertex is.
    v, f = retriangulated_copy(rest, faces, np.random.default_rng(0))
    assert len(v) > len(rest) + 400 and len(f) != len(faces)
    source_edges = set(map(tuple, np.sort(trimesh.Trimesh(rest, faces, process=False).edges_unique, axis=1)))
    shared = sum(tuple(e) in source_edges for e in np.sort(trimesh.Trimesh(v, f, process=False).edges_unique, axis=1))
    assert shared < 0.8 * len(source_edges)
    assert np.median(np.linalg.norm(v[: len(rest)] - rest, axis=1)) > 2e-4  # vertices slid ~0.2 mm+
    rig = TransferRig(anny_model, v, f)
    errors = transfer_errors(anny_model, rest, v, rig.unit_offsets(v))
    assert all(e < 0.10 for e in errors.values()), errors
    # and the CLI path: a mesh file rigged end to end keeps exact labels
    trimesh.Trimesh(v, f, process=False).export(tmp_path / "retri.obj")
    r = painctl("rig", "--pspi", "5", "--model-mesh", tmp_path / "retri.obj", tmp_path / "mesh_pain")
    assert r.code == 0, r.stderr
    art = open_artefact(tmp_path / "mesh_pain")
    assert art.read("vertices").shape == (2, len(v), 3) and art.read("pspi").tolist() == [0.0, 5.0]
    assert art.read("displacement")[1].max() > 1e-3
    assert json.loads((tmp_path / "mesh_pain" / "manifest.json").read_text())["stage"] == "rig"


def test_shipped_lid_corrective_fits_anny_and_is_used(anny_model):
    """The corrective in the package was fitted on anny's lid region, and on the test heads at
    AU43 = 1 its predictions pass the crossing check (the faces above come from it)."""
    from painctl.rigging.deform import DirectRig

    rig = DirectRig.for_model(anny_model)
    assert rig.corrective is not None
    closed = np.array([[0, 0, 0, 0, 0, 1.0], [3, 2, 4, 1, 0, 1]])
    for ph in _phenotypes(anny_model):
        rig.deform(anny_model.neutral(ph[None])[0], closed, closed)
    assert rig.contact.outcomes["predicted"] >= 8


@pytest.mark.slow
def test_lid_corrective_fit_predicts_the_contact_solve(anny_model, tmp_path):
    """A corrective fitted to a few contact solves predicts held-out solves better than no
    correction, and survives a save/load round trip."""
    from painctl.rigging.corrective import LidCorrective
    from painctl.rigging.data.fit_lid_corrective import contact_samples, fit_corrective

    # About 30 samples: with 56 features (components=1) 10-14 samples underdetermine the fit.
    train = contact_samples(anny_model, 8, seed=3)
    held_out = contact_samples(anny_model, 3, seed=3, start=10)
    corrective = fit_corrective(anny_model, train, components=1)
    corrective.save(tmp_path / "c.npz")
    loaded = LidCorrective.load(tmp_path / "c.npz")
    predicted = np.stack([loaded.correction(s.neutral_mm, s.weights, anny_model.expression_names) for s in held_out])
    fitted = np.stack([corrective.correction(s.neutral_mm, s.weights, anny_model.expression_names) for s in held_out])
    solved = np.stack([s.correction_mm for s in held_out])
    assert np.allclose(predicted, fitted, atol=1e-3)  # float32 on disk
    assert np.sqrt(((predicted - solved) ** 2).mean()) < 0.5 * np.sqrt((solved ** 2).mean())


def test_a_crossing_prediction_falls_back_to_the_contact_solve(anny_model):
    from painctl.rigging.deform import DirectRig
    from painctl.rigging.validation import self_intersections

    rig = DirectRig.for_model(anny_model, corrective=False)
    neutral = anny_model.neutral(_phenotypes(anny_model)[1][None])[0].astype(np.float64)
    blink = rig.basis[rig._blink].sum(0)
    faces = _eye_skin_triangles(anny_model, neutral)
    assert self_intersections(neutral + blink, faces) > 0
    solved = rig.contact.close(neutral, neutral + blink)
    assert rig.contact.outcomes == {"solved": 1} and rig.contact.eye_outcomes == {"solved": 2}
    assert self_intersections(solved, faces) == 0
    # No correction at all leaves the blink's crossings: the prediction is refused on both eyes,
    # and the solve (started from as far towards it as stays collision-free) still separates them.
    refused = rig.contact.close(neutral, neutral + blink, [np.zeros((rig.contact.n_moving, 3))])
    assert rig.contact.outcomes == {"solved": 2} and rig.contact.eye_outcomes == {"solved": 4}
    assert self_intersections(refused, faces) == 0
    moved = np.linalg.norm(refused - (neutral + blink), axis=1)
    assert moved.max() > 1e-3 and np.all(moved[np.setdiff1d(np.arange(len(neutral)), rig.contact.vertices)] == 0)


def test_malformed_lid_corrective_is_a_clear_error(tmp_path):
    from painctl.errors import PainctlError
    from painctl.rigging.corrective import LidCorrective

    np.savez(tmp_path / "bad.npz", topology=np.array("x"), mean=np.zeros(3), components=np.zeros((2, 6)), side=np.zeros(1),
             units=np.zeros((2, 6), "U8"), left=np.zeros((1, 1)), right=np.zeros((1, 1)))
    with pytest.raises(PainctlError, match="inconsistent shapes"):
        LidCorrective.load(tmp_path / "bad.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(PainctlError, match="not a lid corrective"):
        LidCorrective.load(tmp_path / "junk.npz")


def _mouth_skin_triangles(anny_model, vertices):
    """Skin triangles within 3 cm of the upper lip and above the mouth corners: the upper lip, the
    nose base and the cheeks beside them (not the lower lip, which touches the upper one on some
    of anny's neutral heads, nor the mouth cavity, tongue or eyes)."""
    regions = anny_model.region_vertices()
    lm = anny_model.landmarks()
    near = np.linalg.norm(vertices - vertices[lm["upper_lip"]], axis=1) < 0.03
    near &= vertices[:, 1] > (vertices[lm["mouth_left"], 1] + vertices[lm["mouth_right"], 1]) / 2 + 0.001
    keep = np.zeros(len(vertices), bool)
    keep[regions["skin"]] = True
    for name in ("mouth_cavity", "tongue", "left_eye", "right_eye", "left_eye_socket", "right_eye_socket"):
        keep[regions[name]] = False
    near &= keep
    return anny_model.faces[near[anny_model.faces].all(1)]


def test_lip_correctives_keep_skin_from_passing_through_skin(anny_model):
    """AU9 and AU10 at maximum (and with the other AUs) add no crossing of the skin of the upper lip
    and the nose base."""
    from painctl.rigging.deform import DirectRig
    from painctl.rigging.validation import self_intersections

    rig = DirectRig.for_model(anny_model, corrective=False)
    combos = np.array([[0, 0, 0, 5, 0, 0], [0, 0, 0, 0, 5, 0], [0, 0, 0, 5, 5, 0], [5, 5, 5, 5, 5, 0], [0, 0, 0, 2, 3, 0]], float)
    for ph in _phenotypes(anny_model):
        neutral = anny_model.neutral(ph[None])[0]
        faces = _mouth_skin_triangles(anny_model, neutral)
        assert self_intersections(neutral, faces) == 0
        for combo, face in zip(combos, rig.deform(neutral, combos, combos)):
            assert self_intersections(face, faces) == 0, combo


#: Measures that two AUs share by anatomy: both AU6 (the cheek pushing the lower lid up) and AU7
#: (the lids tightening) narrow the eye; both AU9 (levator labii superioris alaeque nasi) and AU10
#: (levator labii superioris) raise the upper lip.
ANATOMICAL = {("AU6", "aperture"), ("AU7", "aperture"), ("AU9", "lip_nose"), ("AU10", "lip_nose")}


@pytest.mark.parametrize("au_name", ["AU4", "AU6", "AU7", "AU9", "AU10"])
def test_each_au_measure_rises_strictly_with_the_level_and_reaches_the_scale(anny_model, au_name):
    """On young and old heads of both genders: the AU's own measure (frontal projection, relative to
    the neutral face) falls strictly from level 1 to 5, reaches the scale's E at 5 (AU4: the
    identity's, at most E_CHANGE's), and the other
    AUs' measures move less than 10% at 5 (couplings listed in ANATOMICAL excepted)."""
    from painctl.rigging.au_correctives import AU_MEASURE, E_CHANGE, face_measures
    from painctl.rigging.deform import DirectRig

    rig = DirectRig.for_model(anny_model)
    points = rig.au_regions.points
    levels = np.zeros((6, 6))
    levels[:, AU_NAMES.index(au_name)] = np.arange(6)
    own = AU_MEASURE[au_name]
    for ph in _phenotypes(anny_model)[:4]:
        neutral = anny_model.neutral(ph[None])[0]
        faces = rig.deform(neutral, levels[1:], levels[1:])
        base = face_measures(neutral, points)
        change = {m: np.array([face_measures(f, points)[m].mean() / base[m].mean() - 1 for f in faces]) for m in base}
        assert np.all(np.diff(np.r_[0.0, change[own]]) < -0.01), (au_name, change[own])
        if au_name == "AU4":
            # The identity's own E: the scale's, or less where the brow reaches the lid's top first
            # (BROW_DROP_LIMIT; an 85-year-old Asian head stops at -0.61).
            assert E_CHANGE["AU4"] - 0.03 < change[own][-1] < E_CHANGE["AU4"] + 0.2
        else:
            assert change[own][-1] == pytest.approx(E_CHANGE[au_name], abs=0.03)
        for measure, values in change.items():
            if measure != own and (au_name, measure) not in ANATOMICAL:
                assert abs(values[-1]) < 0.10, (au_name, measure, values[-1])


def test_corrective_amplitudes_follow_the_identity_not_the_batch(anny_model):
    """The fitted amplitudes depend on the identity's own head (its features' sizes), and a face's
    vertices do not depend on which other faces are rigged with it."""
    from painctl.rigging.deform import DirectRig

    rig = DirectRig.for_model(anny_model)
    a = np.array([[5, 0, 5, 0, 5, 0], [2, 3, 0, 4, 0, 1]], float)
    heads = [anny_model.neutral(ph[None])[0] for ph in _phenotypes(anny_model)[:2]]
    from painctl.rigging.au_correctives import corrective_fields

    amps = [rig.corrective_amplitudes(h, corrective_fields(h, rig.au_regions).reshape(10, *h.shape), a, a) for h in heads]
    assert np.all(amps[0][0, [0, 1, 4, 5, 8, 9]] > 0) and not np.allclose(amps[0], amps[1])
    both = rig.deform(heads[0], a, a)
    np.testing.assert_array_equal(both[1], rig.deform(heads[0], a[1:], a[1:])[0])


def test_au7_upper_lid_part_narrows_open_eyes_and_is_absent_under_closed_eyes(anny_model, monkeypatch):
    """AU7 = 5 on an open eye narrows the aperture to the scale's E with the upper lid doing at least
    a third of it (its open-eye part lowers the margin); at AU43 = 1 the open-eye part is gone: the
    closed face is the same bytes as a rig without it, which the lid contact was made for."""
    import painctl.rigging.deform as deform
    from painctl.rigging.au_correctives import E_CHANGE

    rig = deform.DirectRig.for_model(anny_model)
    lm = anny_model.landmarks()
    au = np.array([[0, 0, 5, 0, 0, 0], [0, 0, 5, 0, 0, 1.0]])
    heads = [anny_model.neutral(ph[None])[0] for ph in _phenotypes(anny_model)[:2]]

    def split(neutral, face):
        down = neutral[lm["left_upper_lid"], 1] - face[lm["left_upper_lid"], 1]
        up = face[lm["left_lower_lid"], 1] - neutral[lm["left_lower_lid"], 1]
        gap = neutral[lm["left_upper_lid"], 1] - neutral[lm["left_lower_lid"], 1]
        return down / (down + up), (down + up) / gap

    with_part = [rig.deform(h, au, au) for h in heads]
    monkeypatch.setattr(deform, "AU7_OPEN_UPPER_SHARE", 0.0)
    without = [rig.deform(h, au, au) for h in heads]
    for h, (opened, closed), (opened_without, closed_without) in zip(heads, with_part, without):
        share, narrowing = split(h, opened)
        # Measured: 0.53-0.57 of the narrowing with the open-eye part, 0.18-0.23 without.
        assert share > 0.35 and split(h, opened_without)[0] < 0.25, share
        assert narrowing == pytest.approx(-E_CHANGE["AU7"], abs=0.05)
        np.testing.assert_array_equal(closed, closed_without)
        assert not np.array_equal(opened, opened_without)


def test_au4_lowers_the_whole_brow_and_lifts_the_upper_lid_most_at_mid_lid(anny_model):
    """AU4 = 5 on young and old heads: the brow's tail, 10 mm lateral of the brow landmark, comes
    down at least 0.75 as far as the landmark (a landmarker reads the whole brow, not one point;
    0.6-0.72 before), and the upper lid margin, raised against the hooding fold, rises at mid-lid
    (where a landmarker reads the lid) by more than 0.1 mm and more than at its outer and inner
    fifths, opening the eye by 2-10% on the mesh (under 10%: issue 15's cross-talk bound; 4% or more
    where the brow comes down the scale's whole E, 2.4% on an 85-year-old Asian head whose brow stops
    at the lid's top first and hoods the lid less)."""
    from painctl.rigging.au_correctives import face_measures
    from painctl.rigging.deform import DirectRig

    rig = DirectRig.for_model(anny_model)
    regions, points = rig.au_regions, rig.au_regions.points
    lm = anny_model.landmarks()
    a = np.zeros((1, 6))
    a[0, AU_NAMES.index("AU4")] = 5
    for ph in _phenotypes(anny_model)[:4]:
        v = anny_model.neutral(ph[None])[0].astype(np.float64)
        d = rig.deform(v, a, a)[0].astype(np.float64) - v
        skin = regions.skin
        opening = face_measures(v + d, points)["aperture"] / face_measures(v, points)["aperture"] - 1
        assert np.all((opening > 0.02) & (opening < 0.10)), opening
        for side, name in enumerate(("left", "right")):
            sign = 1.0 if side == 0 else -1.0
            brow = v[points.brow[side]]
            front = skin[v[skin, 2] > brow[2] - 0.012]
            tail = front[np.argmin(np.hypot(v[front, 0] - (brow[0] + sign * 0.010), v[front, 1] - brow[1]))]
            assert d[tail, 1] < 0.75 * d[points.brow[side], 1] < 0, (name, d[tail, 1], d[points.brow[side], 1])
            margin = regions.lid_margin[side]
            upper = margin[v[margin, 1] > v[lm[f"{name}_eye_inner"], 1]]
            inner, outer = v[lm[f"{name}_eye_inner"], 0], v[lm[f"{name}_eye_outer"], 0]
            t = (v[upper, 0] - inner) / (outer - inner)
            mid, ends = d[upper[np.abs(t - 0.5) < 0.15], 1], d[upper[(t < 0.2) | (t > 0.8)], 1]
            assert mid.size and ends.size and mid.mean() > max(0.1e-3, ends.mean()), (name, mid.mean(), ends.mean())


def test_au4_brow_drop_survives_a_30_degree_view(anny_model):
    """AU4 = 5 on all five test heads: in a 30-degree yawed (orthographic) projection the brow-to-
    eye-corner distance of the eye turned towards the viewer still falls by at least 0.37 of its
    frontal fall, and the other eye's by at least 0.55. The brow's forward motion (BROW_FORWARD_TOP)
    becomes sideways motion in that view, for the near eye in the same direction as its medial draw,
    and cancels part of the lowering: 0.39-0.41 and 0.60-0.75 with 0.6 mm forward per mm lowered at
    the brow, 0.33-0.36 and 0.55-0.70 with 0.8."""
    from painctl.rigging.deform import DirectRig

    rig = DirectRig.for_model(anny_model)
    points = rig.au_regions.points
    a = np.zeros((1, 6))
    a[0, AU_NAMES.index("AU4")] = 5

    def distance(v, yaw):
        t = np.radians(yaw)
        p = np.c_[np.cos(t) * v[:, 0] + np.sin(t) * v[:, 2], v[:, 1]]
        iod = np.linalg.norm(p[points.eye_outer[0]] - p[points.eye_outer[1]])
        return np.array([np.linalg.norm(p[points.brow[s]] - (p[points.eye_outer[s]] + p[points.eye_inner[s]]) / 2) / iod
                         for s in (0, 1)])

    for ph in _phenotypes(anny_model):
        v = anny_model.neutral(ph[None])[0].astype(np.float64)
        face = rig.deform(v, a, a)[0].astype(np.float64)
        frontal = 1 - distance(face, 0) / distance(v, 0)
        for yaw in (-30, 30):
            share = (1 - distance(face, yaw) / distance(v, yaw)) / frontal
            # Positive yaw here turns the face's right side (x < 0) towards the viewer.
            near, far = (1, 0) if yaw > 0 else (0, 1)
            assert share[near] >= 0.37 and share[far] >= 0.55, (yaw, share)
