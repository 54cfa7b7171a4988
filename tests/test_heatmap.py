"""heatmap: zero on neutral faces, positive where the face moves, aligned with the render, per-AU maps."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from PIL import Image

from tests.conftest import cli, read


def test_zero_on_neutral_positive_on_pain_and_aligned(heat, rig):
    from painctl.artefact import open_artefact
    from painctl.renderer import Camera, Mesh, render, studio_lights

    views, out = heat
    d = read(out)
    art = open_artefact(rig)
    assert d["heatmap"].shape == (18, 64, 64) and d["heatmap"].dtype == np.float32
    assert d["au_heatmap"].shape == (18, 6, 64, 64)
    assert not d["heatmap"][d["is_neutral"]].any() and not d["au_heatmap"][d["is_neutral"]].any()
    changed = explained = 0
    for i in np.flatnonzero(~d["is_neutral"]):
        h = d["heatmap"][i]
        res = render(Mesh(art.read("vertices", int(d["rig_row"][i])), art.read("faces")), Camera.from_dict(json.loads(d["camera"][i])), studio_lights(), 64)
        assert h.max() > 1e-3  # millimetres of movement
        assert not h[~res.mask].any()  # nothing off the face: aligned with alpha
        # Where the RGB pair differs visibly, the heatmap says the face moved.
        pain = np.asarray(Image.open(views / d["image"][i].decode()), np.int16)
        neutral = np.asarray(Image.open(views / d["image"][d["neutral_image_row"][i]].decode()), np.int16)
        # Silhouette pixels change by occlusion, not movement: look inside the face only.
        inside = res.mask.copy()
        for axis in (0, 1):
            for shift in (1, -1):
                inside &= np.roll(res.mask, shift, axis=axis)
        moved = (np.abs(pain - neutral).max(-1) > 12) & inside
        # Pooled over the images below: a turned view may show only a handful of changed pixels.
        changed += int(moved.sum())
        explained += int((h[moved] > 2e-4).sum())
        # Each AU alone: zero where that AU is off, somewhere positive where it is on.
        for j in range(6):
            assert (d["au_heatmap"][i, j].max() > 0) == (d["au"][i, j] > 0)
        assert (views / d["image"][i].decode()).is_file() and (out / d["heatmap_png"][i].decode()).is_file()
    assert changed >= 30 and explained / changed > 0.9


def test_au4_moves_the_brows_au10_the_lip(heat):
    d = read(heat[1])
    frontal = (d["view"] == b"yaw+0_pitch+0") & ~d["is_neutral"]
    for i in np.flatnonzero(frontal):
        ys = np.arange(64)[:, None]
        for j, upper in ((0, True), (4, False)):
            m = d["au_heatmap"][i, j].astype(np.float32)
            if d["au"][i, j] > 0:
                centre = float((m * ys).sum() / m.sum())
                assert (centre < 32) == upper


def test_stats_figure_and_reader(heat):
    from painctl.datasets.artefact import load_artefact_frames

    out = heat[1]
    img = Image.open(out / "stats.png")
    assert img.width > 400 and img.height > 300
    d = read(out)
    with h5py.File(out / "data.h5") as f:
        assert f["stats/au_mean"].shape[0] == 6 and sorted(f["stats/pspi_levels"][()].tolist()) == [4.0, 9.0]
    frames = load_artefact_frames(out)
    assert len(frames) == len(d["image"]) and all(f.heatmap is not None and f.heatmap.is_file() for f in frames)


def test_stats_figure_is_cropped_to_the_face(heat, rig):
    from painctl.artefact import open_artefact
    from painctl.facemodels import face_model_of
    from painctl.plots.heatmap import face_crop, upright, uv_values

    art = open_artefact(rig)
    uv, uv_faces, faces = art.read("uv"), art.read("uv_faces"), art.read("faces")
    with h5py.File(heat[1] / "data.h5") as f:
        moved = uv_values(f["stats/au_mean"][()].max(0), faces, uv_faces, len(uv))
    lo, hi = face_crop(uv, uv_faces, moved)
    # The face is a small part of the UV square (the head island spans 0.35 x 0.67, the moving
    # face with its margin 0.20 x 0.27) ...
    assert np.all(hi - lo < 0.3)
    # ... and the box holds it: brows, eye corners, nose and mouth corners each have a UV point inside.
    corner_of = np.full(len(uv), -1)
    corner_of[uv_faces.reshape(-1)] = faces.reshape(-1)
    inside = np.all((uv >= lo) & (uv <= hi), axis=1)
    landmarks = face_model_of(art).landmarks()
    for name in ("left_brow", "right_brow", "left_eye_outer", "right_eye_outer", "nose_tip", "mouth_left", "mouth_right"):
        assert inside[corner_of == landmarks[name]].any(), name
    # Drawn upright: brows above the mouth, the subject's left on the image's right as in a frontal view.
    turn = upright(uv[inside & (corner_of >= 0)], art.read("vertices", 0)[corner_of[inside & (corner_of >= 0)]])
    drawn = {name: (uv[corner_of == landmarks[name]] @ turn.T).mean(0) for name in ("left_brow", "right_brow", "mouth_left")}
    assert drawn["left_brow"][1] > drawn["mouth_left"][1] and drawn["left_brow"][0] > drawn["right_brow"][0]
    # The panels show face, not white paper: the old figure (whole face region incl. eyeballs and
    # teeth, small panels) is 6% non-white here and 7% on real data; the cropped one 36% here
    # (half the PSPI rows are empty) and 52% on real data.
    image = np.asarray(Image.open(heat[1] / "stats.png").convert("RGB"))
    assert (image.min(-1) < 240).mean() > 0.25


def test_same_bytes(heat, tmp_path):
    cli("-q", "heatmap", str(heat[0]), str(tmp_path / "again"))
    a, b = read(heat[1]), read(tmp_path / "again")
    for key in ("heatmap", "au_heatmap", "heatmap_png"):
        assert np.array_equal(a[key], b[key])
    for rel in a["heatmap_png"]:
        assert (heat[1] / rel.decode()).read_bytes() == (tmp_path / "again" / rel.decode()).read_bytes()
    # The maps' digests were hashed as they were written: they are those of the file as read back.
    from painctl.artefact.store import dataset_digests

    recorded = json.loads((tmp_path / "again" / "manifest.json").read_text())["checksums"]["datasets"]
    assert recorded == dataset_digests(tmp_path / "again" / "data.h5") and {"heatmap", "au_heatmap"} <= set(recorded)


def test_wrong_rig_and_wrong_input(painctl, heat, rig, tmp_path):
    other = tmp_path / "other"
    cli("-q", "rig", "--pspi", "2", str(rig.parent / "heads"), str(other))
    result = painctl("heatmap", "--rig", str(other), str(heat[0]), str(tmp_path / "out"))
    assert result.code == 1 and "digest differs" in result.stderr and not (tmp_path / "out").exists()
    result = painctl("heatmap", str(rig), str(tmp_path / "out"))
    assert result.code == 1 and "expected 'render-views'" in result.stderr and not (tmp_path / "out").exists()


def test_shards_heatmap_and_merge_into_the_whole_run(heat, rig, tmp_path):
    """Shards of the chain merge into the unsharded heatmaps; the pooled /stats equal the whole run's
    (the second shard's rows point to neutral faces by global row, which it must map to its own)."""
    heads = rig.parent / "heads"
    parts = []
    for k in (1, 2):
        part = tmp_path / f"shard-{k}"
        part.mkdir()
        cli("-q", "rig", "--pspi", "4,9", "--per-identity", "2", "--shard", f"{k}/2", str(heads), str(part / "rig"))
        cli("-q", "render-views", "--size", "64", "--jobs", "1", "--camera-model", "none", str(part / "rig"), str(part / "views"))
        cli("-q", "heatmap", str(part / "views"), str(part / "heat"))
        parts.append(str(part / "heat"))
    cli("-q", "merge", str(tmp_path / "heat"), *parts)
    whole, merged = read(heat[1]), read(tmp_path / "heat")
    np.testing.assert_array_equal(merged["heatmap"], whole["heatmap"])
    with h5py.File(heat[1] / "data.h5") as a, h5py.File(tmp_path / "heat" / "data.h5") as b:
        for key in a["stats"]:
            np.testing.assert_allclose(b["stats"][key][()], a["stats"][key][()], rtol=1e-4, atol=1e-7, err_msg=key)
    assert Image.open(tmp_path / "heat" / "stats.png").width > 400


def test_each_identitys_faces_rigged_together_give_the_bytes_of_one_face_at_a_time(anny_model):
    """faces_per_au_displacement (one deformer call per identity, each distinct AU level once) gives
    exactly what rigging every face's six AUs alone, face by face, gives; an AU at 0 moves nothing."""
    from painctl.rigging.deform import DirectRig
    from painctl.rigging.displacement import faces_per_au_displacement

    rig = DirectRig.for_model(anny_model)
    neutral = anny_model.neutral(np.full((1, len(anny_model.phenotype_names)), 0.4))[0].astype(np.float32)
    left = np.array([[3, 2, 0, 1, 4, 1], [3, 0, 2, 1, 0, 0], [0, 0, 0, 0, 0, 0], [1, 5, 5, 0, 2, 1]], np.float32)
    right = left.copy()
    right[1, 0] = 2  # one side stronger: its own level pair
    got = faces_per_au_displacement(rig, neutral, left, right)
    assert got.shape == (4, 6, len(neutral)) and got.dtype == np.float32
    for r in range(len(left)):
        eye = np.eye(6)
        moved = rig.deform(neutral, eye * left[r][None], eye * right[r][None])
        want = np.linalg.norm(moved - neutral[None], axis=-1).astype(np.float32)
        assert got[r].tobytes() == want.tobytes(), r
        on = (left[r] > 0) | (right[r] > 0)
        assert (got[r].max(1) > 1e-4).tolist() == on.tolist()


def test_displacement_stats_do_not_depend_on_the_order_faces_come_in():
    from painctl.rigging.displacement import DisplacementStats

    rng = np.random.default_rng(0)
    rows = np.array([3, 5, 8, 9, 12])
    au = rng.integers(0, 4, (5, 6)).astype(np.float32)
    alone, total = rng.random((5, 6, 40)).astype(np.float32), rng.random((5, 40)).astype(np.float32)
    results = []
    for order in ([0, 1, 2, 3, 4], [4, 2, 0, 3, 1]):
        stats = DisplacementStats(rows, au, 40)
        for k in order:
            assert stats.wants(rows[k])
            stats.add(rows[k], alone[k], total[k])
            assert not stats.wants(rows[k])
        results.append(stats.result())
    for key in results[0]:
        assert results[0][key].tobytes() == results[1][key].tobytes(), key
    active = au > 0
    np.testing.assert_allclose(results[0]["au_mean"][0], alone[active[:, 0], 0].mean(0), rtol=1e-6)
    unfinished = DisplacementStats(rows, au, 40)
    unfinished.add(rows[1], alone[1], total[1])
    with pytest.raises(ValueError, match="never added"):
        unfinished.result()


@pytest.mark.slow
def test_transfer_rigged_identities_each_use_their_own_neutral(anny_model):
    """Deformation transfer caches unit offsets per identity: the per-AU displacement of a second
    identity must be its own, not the first's offsets applied to it (heatmaps once reused them)."""
    from painctl.rigging.displacement import faces_per_au_displacement
    from painctl.rigging.transfer import TransferRig

    phenotypes = np.array([[0.5] * len(anny_model.phenotype_names), [0.9] + [0.2] * (len(anny_model.phenotype_names) - 1)])
    first, second = anny_model.neutral(phenotypes).astype(np.float32)
    rig = TransferRig(anny_model, first, anny_model.faces)
    au = np.array([[3, 0, 0, 0, 4, 0]], np.float32)
    faces_per_au_displacement(rig, first, au, au, identity=0)
    after_first = faces_per_au_displacement(rig, second, au, au, identity=1)
    # The second identity rigged afresh (an identity key the rig has not seen), AU4 and AU10 alone.
    eye = np.eye(6)[[0, 4]]
    moved = rig.deform(second, eye * au, eye * au, identity=7)
    alone = np.linalg.norm(moved - second[None], axis=-1).astype(np.float32)
    assert after_first[0, [0, 4]].tobytes() == alone.tobytes()
    assert not np.array_equal(alone, faces_per_au_displacement(rig, first, au, au, identity=0)[0, [0, 4]])
