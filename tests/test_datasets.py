"""Dataset readers (UNBC-McMaster as shipped, 3D-Pain, painctl artefacts), face crops and splits."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image

from painctl.datasets import detect_format, load_frames
from painctl.datasets.frames import Frame
from painctl.datasets.images import eye_angle, load_face_image
from painctl.datasets.splits import inner_split, read_folds_file, subject_folds
from painctl.errors import PainctlError
from painctl.facs import pspi
from unbc_tree import SEQUENCE_AUS, make_unbc_tree, unbc_pspi


@pytest.fixture(scope="module")
def unbc(tmp_path_factory):
    return make_unbc_tree(tmp_path_factory.mktemp("unbc") / "UNBC", n_subjects=3, n_sequences=2, n_frames=6)


# ------------------------------------------------------------------------------------------ UNBC


def test_unbc_reads_every_frame_with_labels_and_landmarks(unbc):
    assert detect_format(unbc) == "unbc"
    frames = load_frames(unbc)
    assert len(frames) == 3 * 2 * 6
    assert {f.subject for f in frames} == {"042-ll042", "043-jh043", "047-jl047"}
    assert len({f.key for f in frames}) == len(frames)
    by_key = {f.key: f for f in frames}
    f = by_key["042-ll042/ll042t1aaaff/ll042t1aaaff004"]
    # SEQUENCE_AUS[3]: AU4=3 AU6=4 AU7=3 AU9=2 AU10=2 AU43 present (plus AU12, ignored).
    np.testing.assert_array_equal(f.au, [3, 4, 3, 2, 2, 1])
    assert f.pspi == 10.0 == unbc_pspi(SEQUENCE_AUS[3]) and not f.is_neutral
    assert f.landmarks.shape == (66, 2) and f.landmarks.dtype == np.float32
    # Landmark files with either suffix are matched by the frame stem (subject 043 uses plain .txt).
    assert all(fr.landmarks is not None for fr in frames)
    neutral = by_key["042-ll042/ll042t1aaaff/ll042t1aaaff001"]
    assert neutral.is_neutral and neutral.pspi == 0
    np.testing.assert_array_equal(neutral.au, np.zeros(6))  # empty FACS file: coded, nothing present
    # The file labels agree with PSPI computed from the FACS codes for every frame.
    np.testing.assert_allclose([f.pspi for f in frames], pspi(np.stack([f.au for f in frames])))


def test_unbc_missing_facs_file_gives_nan_aus(unbc, tmp_path):
    import shutil

    tree = shutil.copytree(unbc, tmp_path / "u")
    (tree / "Frame_Labels/FACS/042-ll042/ll042t1aaaff/ll042t1aaaff003_facs.txt").unlink()
    frame = {f.key: f for f in load_frames(tree)}["042-ll042/ll042t1aaaff/ll042t1aaaff003"]
    assert np.isnan(frame.au).all() and frame.pspi == 3.0


@pytest.mark.parametrize(
    "which, content, message",
    [
        ("PSPI", "   abc\n", "line 1"),
        ("PSPI", "   3.0e+00  4.0e+00\n", "expected one PSPI number"),
        ("PSPI", "   2.0e+01\n", "outside 0-16"),
        ("FACS", "   4.0e+00   1.0e+00   0   0\n   6.0e+00   x   0   0\n", "line 2"),
        ("FACS", "   4.0e+00   9.0e+00   0   0\n", "outside 0-5"),
    ],
)
def test_unbc_garbage_label_names_file_and_line(unbc, tmp_path, which, content, message):
    import shutil

    tree = shutil.copytree(unbc, tmp_path / "u")
    bad = tree / f"Frame_Labels/{which}/043-jh043/jh043t2abaff/jh043t2abaff002_facs.txt"
    bad.write_text(content)
    with pytest.raises(PainctlError, match=message) as info:
        load_frames(tree)
    assert "jh043t2abaff002_facs.txt" in str(info.value)


def test_unbc_garbage_landmarks(unbc, tmp_path):
    import shutil

    tree = shutil.copytree(unbc, tmp_path / "u")
    bad = tree / "AAM_landmarks/042-ll042/ll042t1aaaff/ll042t1aaaff002_aam.txt"
    bad.write_text("1 2\n3 4 5\n")
    with pytest.raises(PainctlError, match=r"ll042t1aaaff002_aam.txt, line 2"):
        load_frames(tree)


def test_unknown_directory_is_one_clear_error(tmp_path):
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "a.txt").write_text("x")
    (tmp_path / "other").mkdir()
    with pytest.raises(PainctlError, match="not a known dataset"):
        detect_format(tmp_path)
    with pytest.raises(PainctlError, match="no such file"):
        load_frames(tmp_path / "nope")


def test_dataset_one_level_down_is_found(unbc):
    # The archive unpacked into a folder of its own: tmp/<x>/UNBC
    assert detect_format(unbc.parent) == "unbc"


# -------------------------------------------------------------------------------------- 3D-Pain


def _threedpain(root, folder="images"):
    """A tree as earlier painctl exports wrote it: images/, a JSON for neutral faces too, PSPI stored."""
    (root / folder).mkdir(parents=True)
    (root / "annotations").mkdir()
    (root / "heatmaps").mkdir()
    labels = {"flame_sample_0001_pain_3": [2, 1, 3, 0, 2, 1], "flame_sample_0002_pain_1": [1, 0, 0, 1, 0, 0]}
    for base, au in labels.items():
        d = dict(zip(("AU4", "AU6", "AU7", "AU9", "AU10", "AU43"), au), PSPI=float(pspi(np.array(au))))
        (root / "annotations" / f"{base}_annotations.json").write_text(json.dumps(d))
        Image.new("L", (16, 16), 128).save(root / "heatmaps" / f"{base}.png")
    for ident in ("0001", "0002"):
        for kind in ("neutral", "pain_3" if ident == "0001" else "pain_1"):
            for view in range(3):
                Image.new("RGB", (24, 24), (view * 40, 90, 90)).save(root / folder / f"flame_sample_{ident}_{kind}_view_{view:03d}.png")
    # A per-image heatmap wins over the per-base one.
    np.save(root / "heatmaps" / "flame_sample_0001_pain_3_view_001.npy", np.zeros((16, 16), np.float32))
    return root


def test_threedpain_layout(tmp_path):
    root = _threedpain(tmp_path / "3dpain")
    assert detect_format(root) == "3dpain"
    frames = load_frames(root)
    assert len(frames) == 12
    assert {f.subject for f in frames} == {"flame_sample_0001", "flame_sample_0002"}
    assert {f.view for f in frames} == {"view_000", "view_001", "view_002"}
    pain = [f for f in frames if f.subject == "flame_sample_0001" and not f.is_neutral]
    assert len(pain) == 3 and all(f.pspi == 2 + 3 + 2 + 1 for f in pain)
    np.testing.assert_array_equal(pain[0].au, [2, 1, 3, 0, 2, 1])
    assert [f.heatmap.name for f in pain] == ["flame_sample_0001_pain_3.png", "flame_sample_0001_pain_3_view_001.npy", "flame_sample_0001_pain_3.png"]
    neutral = [f for f in frames if f.is_neutral]
    assert len(neutral) == 6 and all(f.pspi == 0 and f.heatmap is None for f in neutral)


def test_threedpain_bad_annotation(tmp_path):
    root = _threedpain(tmp_path / "3dpain")
    (root / "annotations" / "flame_sample_0002_pain_1_annotations.json").write_text('{"AU4": "high"}')
    with pytest.raises(PainctlError, match="flame_sample_0002_pain_1_annotations.json: AU4 must be a number"):
        load_frames(root)


def _released(root):
    """A tree in the layout of the released 3D-Pain data (FACTS.md): meshes_inpainted/, pain JSONs only,
    PSPI sometimes missing (then computed from the AUs) and missing AU keys meaning 0, the authors'
    name suffixes, .png/.jpg/.jpeg, and neutral images named differently from their pain partners."""
    (root / "meshes_inpainted").mkdir(parents=True)
    (root / "annotations").mkdir()
    notes = {
        "flame_sample_0000_pain_1": {"AU4": 2, "AU6": 1, "AU7": 3, "AU9": 0, "AU10": 2, "AU43": 1},  # no PSPI
        "flame_sample_0000_pain_2": {"AU4": 1, "AU7": 2, "PSPI": 3},  # AU6 AU9 AU10 AU43 missing = 0
        "flame_sample_0001_pain_1": {"AU4": 0.5, "AU6": 0, "AU7": 0, "AU9": 1.5, "AU10": 0, "AU43": 0, "PSPI": 2.0},
    }
    for base, labels in notes.items():
        (root / "annotations" / f"{base}_annotations.json").write_text(json.dumps(labels))
    names = [
        "flame_sample_0000_neutral_view_000.png", "flame_sample_0000_neutral_view_001.png",
        "flame_sample_0000_pain_1_textured_view_000_inpainted.jpg", "flame_sample_0000_pain_1_view_001.png",
        "flame_sample_0000_pain_2_textured_view_001_inpainted.jpeg", "flame_sample_0000_pain_2_bg_000.png",
        "flame_sample_0001_neutral_textured_view_000_inpainted.jpg", "flame_sample_0001_pain_1_render_000.png",
        "flame_sample_0001_pain_1_deform_000.png", "flame_sample_0001_pain_1_textured.png",
        "README.png",  # not a dataset image: skipped
    ]
    (root / "heatmaps").mkdir()
    np.save(root / "heatmaps" / "flame_sample_0000_pain_1_heatmap_view_000.npy", np.ones((4, 4), np.float32))
    for k, name in enumerate(names):
        Image.new("RGB", (20, 20), (k * 20, 60, 60)).save(root / "meshes_inpainted" / name)
    return root


def test_threedpain_as_released(tmp_path):
    root = _released(tmp_path / "pain_faces")
    assert detect_format(root) == "3dpain"
    frames = {f.key: f for f in load_frames(root)}
    assert len(frames) == 10 and "README.png" not in frames
    f = frames["flame_sample_0000_pain_1_textured_view_000_inpainted.jpg"]
    assert f.subject == "flame_sample_0000" and not f.is_neutral and f.view == "view_000"
    assert f.heatmap.name == "flame_sample_0000_pain_1_heatmap_view_000.npy"  # same base and view
    assert frames["flame_sample_0000_pain_1_view_001.png"].heatmap is None
    assert f.pspi == 2 + 3 + 2 + 1  # computed from the AUs (no PSPI key)
    np.testing.assert_array_equal(f.au, [2, 1, 3, 0, 2, 1])
    g = frames["flame_sample_0000_pain_2_textured_view_001_inpainted.jpeg"]
    np.testing.assert_array_equal(g.au, [1, 0, 2, 0, 0, 0])
    assert g.pspi == 3 and g.view == "view_001"
    assert frames["flame_sample_0000_pain_2_bg_000.png"].view == "bg_000"
    assert frames["flame_sample_0000_neutral_view_000.png"].is_neutral and frames["flame_sample_0000_neutral_view_000.png"].pspi == 0
    assert frames["flame_sample_0001_neutral_textured_view_000_inpainted.jpg"].view == "view_000"
    assert {frames[k].view for k in frames if k.startswith("flame_sample_0001_pain_1")} == {"render_000", "deform_000", ""}
    # A neutral and its pain partner of the same camera get the same view, whatever their suffixes:
    from painctl.vitpain.pairs import find_references

    listed = list(frames.values())
    refs = find_references(listed)
    for i, frame in enumerate(listed):
        if frame.key == "flame_sample_0000_pain_1_textured_view_000_inpainted.jpg":
            assert [listed[j].key for j in refs[i]] == ["flame_sample_0000_neutral_view_000.png"]
        if frame.key == "flame_sample_0000_pain_1_view_001.png":
            assert [listed[j].key for j in refs[i]] == ["flame_sample_0000_neutral_view_001.png"]


def test_threedpain_pspi_disagreeing_with_aus_names_the_file(tmp_path):
    root = _released(tmp_path / "pain_faces")
    (root / "annotations" / "flame_sample_0001_pain_1_annotations.json").write_text(json.dumps({"AU4": 1, "PSPI": 5}))
    with pytest.raises(PainctlError, match=r"flame_sample_0001_pain_1_annotations.json: PSPI 5 disagrees with its AUs .* = 1\)"):
        load_frames(root)


def test_threedpain_pain_image_without_annotation(tmp_path):
    root = _released(tmp_path / "pain_faces")
    (root / "annotations" / "flame_sample_0001_pain_1_annotations.json").unlink()
    with pytest.raises(PainctlError, match="flame_sample_0001_pain_1_deform_000.png: no annotation file annotations/flame_sample_0001_pain_1_annotations.json"):
        load_frames(root)


def test_threedpain_prefers_meshes_inpainted(tmp_path):
    root = _released(tmp_path / "pain_faces")
    (root / "images").mkdir()
    Image.new("RGB", (8, 8)).save(root / "images" / "flame_sample_0009_neutral_view_000.png")
    assert {f.subject for f in load_frames(root)} == {"flame_sample_0000", "flame_sample_0001"}


# ------------------------------------------------------------------------------ painctl artefact


def test_painctl_artefact_frames(tmp_path):
    from painctl.artefact import ArtefactWriter, write_dataset

    out = tmp_path / "views"
    writer = ArtefactWriter(out, "render-views", {"n": 4})
    with writer:
        (writer.dir / "images").mkdir()
        paths = []
        for i in range(4):
            rel = f"images/{i:04d}.png"
            Image.new("RGB", (20, 20), (i * 50, 0, 0)).save(writer.dir / rel)
            paths.append(rel)
        au = np.array([[0] * 6, [1, 2, 0, 0, 1, 0], [0] * 6, [3, 0, 4, 1, 0, 1]], np.float32)
        write_dataset(writer.h5, "image", np.array(paths))
        write_dataset(writer.h5, "identity", np.array([7, 7, 8, 8]))
        write_dataset(writer.h5, "view", np.array(["front", "front", "left", "left"]))
        write_dataset(writer.h5, "au", au)
        write_dataset(writer.h5, "pspi", pspi(au))
        write_dataset(writer.h5, "is_neutral", np.array([True, False, True, False]))
    assert detect_format(out) == "painctl-artefact"
    frames = load_frames(out)
    assert [f.subject for f in frames] == ["identity-000007"] * 2 + ["identity-000008"] * 2
    assert frames[3].pspi == 3 + 4 + 1 + 1 and frames[2].is_neutral and frames[1].view == "front"
    assert frames[1].image.is_file() and frames[1].key == "images/0001.png"


def _views(out, identities, start):
    from painctl.artefact import ArtefactWriter, write_dataset

    writer = ArtefactWriter(out, "render-views", {"shard": f"{start}"})
    with writer:
        (writer.dir / "images").mkdir()
        paths = [f"images/{start + i:04d}.png" for i in range(len(identities))]
        for i, rel in enumerate(paths):
            Image.new("RGB", (8, 8), (start + i, 0, 0)).save(writer.dir / rel)
        au = np.zeros((len(identities), 6), np.float32)
        write_dataset(writer.h5, "image", np.array(paths))
        write_dataset(writer.h5, "identity", np.array(identities))
        write_dataset(writer.h5, "view", np.array(["front"] * len(identities)))
        write_dataset(writer.h5, "au", au)
        write_dataset(writer.h5, "pspi", pspi(au))
        write_dataset(writer.h5, "is_neutral", np.ones(len(identities), bool))
    return out


def test_merged_artefact_finds_images_in_its_shards(tmp_path):
    from painctl.artefact.merge import merge_shards

    a = _views(tmp_path / "part1", [0, 0], 0)
    b = _views(tmp_path / "part2", [1, 1], 2)
    merge_shards(tmp_path / "all", [a, b])
    frames = load_frames(tmp_path / "all")
    assert [f.image for f in frames] == [(a / "images/0000.png").resolve(), (a / "images/0001.png").resolve(),
                                         (b / "images/0002.png").resolve(), (b / "images/0003.png").resolve()]
    assert [f.subject for f in frames] == ["identity-000000"] * 2 + ["identity-000001"] * 2


def test_artefact_row_pointing_outside_is_refused(tmp_path):
    from painctl.artefact import ArtefactWriter, write_dataset
    from painctl.errors import ArtefactError

    (tmp_path / "secret.png").write_bytes(b"x")
    writer = ArtefactWriter(tmp_path / "v", "render-views", {})
    with writer:
        write_dataset(writer.h5, "image", np.array(["../secret.png"]))
        write_dataset(writer.h5, "identity", np.array([0]))
        write_dataset(writer.h5, "view", np.array(["front"]))
        write_dataset(writer.h5, "au", np.zeros((1, 6), np.float32))
        write_dataset(writer.h5, "pspi", np.zeros(1, np.float32))
        write_dataset(writer.h5, "is_neutral", np.ones(1, bool))
    with pytest.raises(ArtefactError, match="points outside the artefact"):
        load_frames(tmp_path / "v")


def test_artefact_of_other_stage_refused(tmp_path):
    from painctl.artefact import ArtefactWriter, write_dataset
    from painctl.errors import ArtefactError

    writer = ArtefactWriter(tmp_path / "m", "sample-mesh", {})
    with writer:
        write_dataset(writer.h5, "identity", np.arange(3))
    with pytest.raises(ArtefactError, match="expected 'render-views' or 'heatmap'"):
        load_frames(tmp_path / "m")


# --------------------------------------------------------------------------------------- images


def test_face_crop_levels_a_rotated_face(tmp_path):
    from unbc_tree import draw_face

    img, pts = draw_face({}, (120, 100), (200, 170, 150), (30, 30, 30), (60, 52), 30.0, math.radians(20))
    img.save(tmp_path / "f.png")
    assert math.degrees(eye_angle(pts)) == pytest.approx(20, abs=0.5)
    frame = Frame(image=tmp_path / "f.png", subject="s", pspi=0.0, landmarks=pts.astype(np.float32))
    crop = np.asarray(load_face_image(frame, size=64)).astype(float)
    assert crop.shape == (64, 64, 3)
    # Both eyes (white sclera) sit on one row band in the levelled crop, left and right of centre.
    white = (crop > 235).all(axis=2)
    ys, xs = np.nonzero(white)
    left, right = ys[xs < 32], ys[xs >= 32]
    assert len(left) > 3 and len(right) > 3
    assert abs(left.mean() - right.mean()) < 1.5
    # A level face drawn without rotation gives nearly the same crop.
    img0, pts0 = draw_face({}, (120, 100), (200, 170, 150), (30, 30, 30), (60, 52), 30.0, 0.0)
    img0.save(tmp_path / "g.png")
    crop0 = np.asarray(load_face_image(Frame(image=tmp_path / "g.png", subject="s", pspi=0.0, landmarks=pts0), size=64)).astype(float)
    assert np.abs(crop - crop0).mean() < 12


def test_a_face_crop_shrunk_several_times_is_filtered_not_sampled(tmp_path):
    """A crop read 3.5x smaller than the image (a 224 px render at 64 px) averages the pixels it
    shrinks, as a 128 px render would have: one-pixel noise must not alias into the crop."""
    noise = np.random.default_rng(0).integers(0, 2, (448, 448, 1), dtype=np.uint8).repeat(3, axis=2) * 255
    Image.fromarray(noise).save(tmp_path / "n.png")
    # Landmarks 160 px apart: with the 20% border the crop spans 224 image pixels.
    pts = np.array([[144.0, 144.0], [304.0, 144.0], [144.0, 304.0], [304.0, 304.0]], np.float32)
    crop = np.asarray(load_face_image(Frame(image=tmp_path / "n.png", subject="s", pspi=0.0, landmarks=pts), size=64), float)
    # Averages of ~12 random 0/255 pixels: near mid-grey; point samples would stay 0 or 255.
    assert abs(crop.mean() - 127.5) < 10 and crop.std() < 60


def test_image_without_landmarks_is_square_and_sized(tmp_path):
    Image.new("RGB", (40, 20), (255, 0, 0)).save(tmp_path / "r.png")
    img = load_face_image(Frame(image=tmp_path / "r.png", subject="s", pspi=0.0), size=16)
    assert img.size == (16, 16) and img.mode == "RGB" and img.getpixel((8, 8)) == (255, 0, 0)
    Image.new("L", (10, 10), 7).save(tmp_path / "g.png")
    assert load_face_image(Frame(image=tmp_path / "g.png", subject="s", pspi=0.0)).getpixel((0, 0)) == (7, 7, 7)


def test_not_an_image_is_one_clear_error(tmp_path):
    (tmp_path / "x.png").write_text("this is not a png")
    with pytest.raises(PainctlError, match="x.png: not an image"):
        load_face_image(Frame(image=tmp_path / "x.png", subject="s", pspi=0.0))
    with pytest.raises(PainctlError, match="no such image"):
        load_face_image(Frame(image=tmp_path / "missing.png", subject="s", pspi=0.0))


# --------------------------------------------------------------------------------------- splits


def test_subject_folds_are_balanced_disjoint_and_deterministic():
    subjects = [f"s{i:02d}" for i in range(25)] * 3  # repeats (one per frame) collapse
    folds = subject_folds(subjects, 5, seed=3)
    assert sorted(len(f) for f in folds) == [5] * 5
    flat = [s for f in folds for s in f]
    assert sorted(flat) == sorted(set(subjects))
    assert folds == subject_folds(subjects, 5, seed=3)
    assert folds != subject_folds(subjects, 5, seed=4)
    assert sorted(len(f) for f in subject_folds(subjects[:7], 3)) == [2, 2, 3]


@pytest.mark.parametrize("k", [1, 7])
def test_subject_folds_refuses_bad_k(k):
    with pytest.raises(PainctlError, match="--folds"):
        subject_folds(["a", "b", "c", "d", "e", "f"], k)


def test_inner_split():
    train, val = inner_split([f"s{i}" for i in range(10)], 0.2, seed=1)
    assert len(val) == 2 and len(train) == 8 and not set(train) & set(val)
    assert inner_split([f"s{i}" for i in range(10)], 0.2, seed=1) == (train, val)
    assert [len(x) for x in inner_split(["a", "b"], 0.2)] == [1, 1]
    with pytest.raises(PainctlError, match="at least 2"):
        inner_split(["a"], 0.2)


def test_folds_file_json_and_csv(tmp_path):
    subjects = ["a", "b", "c", "d", "e"]
    (tmp_path / "f.json").write_text(json.dumps({"folds": [["a", "b"], ["c"], ["d", "e"]]}))
    assert read_folds_file(tmp_path / "f.json", subjects) == [["a", "b"], ["c"], ["d", "e"]]
    (tmp_path / "g.json").write_text(json.dumps([["e", "a"], ["b"]]))
    assert read_folds_file(tmp_path / "g.json", subjects) == [["a", "e"], ["b"]]
    unbc_ids = ["042-ll042", "043-jh043", "047-jl047"]
    (tmp_path / "p.json").write_text(json.dumps([["ll042", "043"], ["047-jl047"]]))
    assert read_folds_file(tmp_path / "p.json", unbc_ids) == [["042-ll042", "043-jh043"], ["047-jl047"]]
    (tmp_path / "q.json").write_text(json.dumps([["ll042"], ["042-ll042"]]))
    with pytest.raises(PainctlError, match="same subject"):
        read_folds_file(tmp_path / "q.json", unbc_ids)
    (tmp_path / "f.csv").write_text("subject,fold\na,2\nb,10\nc,2\nd,1\n")
    assert read_folds_file(tmp_path / "f.csv", subjects) == [["d"], ["a", "c"], ["b"]]


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("r.json", '[["a", "b"], ["b"]]', "'b' appears in more than one place"),
        ("u.json", '[["a", "zz"], ["b"]]', "not in the data: zz"),
        ("o.json", '[["a", "b", "c"]]', "at least 2 folds"),
        ("bad.json", '{"folds": 3}', "expected"),
        ("bad.csv", "a,1,x\n", "row 1 should be 'subject,fold'"),
    ],
)
def test_folds_file_errors(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(PainctlError, match=message):
        read_folds_file(tmp_path / name, ["a", "b", "c"])
