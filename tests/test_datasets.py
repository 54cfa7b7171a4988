"""Dataset readers (UNBC-McMaster as shipped, 3D-Pain layout, painctl artefacts), the landmark face
crop, subject folds and folds files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from painctl.datasets import detect_format, load_frames
from painctl.datasets.images import load_face_image
from painctl.datasets.splits import inner_split, read_folds_file, subject_folds
from painctl.datasets.unbc import read_facs_file, read_pspi_file
from painctl.errors import PainctlError
from painctl.facs import pspi
from unbc_tree import make_unbc_tree


@pytest.fixture(scope="module")
def unbc(tmp_path_factory):
    return make_unbc_tree(tmp_path_factory.mktemp("d") / "unbc", n_subjects=3, n_sequences=2, n_frames=6)


def test_unbc_reads_every_frame_with_labels_landmarks_and_keys(unbc):
    assert detect_format(unbc) == "unbc"
    frames = load_frames(unbc)
    assert len(frames) == 3 * 2 * 6
    assert sorted({f.subject for f in frames}) == ["042-ll042", "043-jh043", "047-jl047"]
    by_key = {f.key: f for f in frames}
    f = by_key["042-ll042/ll042t1aaaff/ll042t1aaaff004"]  # SEQUENCE_AUS[3]: AU4 3, AU6 4, AU7 3, AU9 2, AU10 2, AU43, AU12
    assert f.au.tolist() == [3, 4, 3, 2, 2, 1] and f.pspi == 3 + 4 + 2 + 1 == pspi(f.au)
    for frame in frames:  # the PSPI file agrees with the FACS coding everywhere
        assert frame.pspi == pytest.approx(float(pspi(frame.au)))
        assert frame.is_neutral == (frame.pspi == 0)
        # Landmarks are matched by stem whatever the suffix (_aam.txt for even subjects, .txt for odd).
        assert frame.landmarks is not None and frame.landmarks.shape == (66, 2)
    # Sorted, so every read gives the same order.
    assert [f.key for f in load_frames(unbc)] == [f.key for f in frames]


def test_unbc_label_files_scientific_notation_empty_facs_and_garbage(tmp_path):
    p = tmp_path / "x_facs.txt"
    p.write_text("   3.0000000e+00\n")
    assert read_pspi_file(p) == 3.0
    p.write_text("")
    assert read_facs_file(p).tolist() == [0] * 6  # empty FACS file: no AU present
    p.write_text("   4.0000000e+00   2.0000000e+00   0.0000000e+00   0.0000000e+00\n"
                 "   2.5000000e+01   3.0000000e+00   0.0000000e+00   0.0000000e+00\n"
                 "   4.3000000e+01   5.0000000e+00   0.0000000e+00   0.0000000e+00\n")
    assert read_facs_file(p).tolist() == [2, 0, 0, 0, 0, 1]  # AU25 ignored, AU43 coded 1
    p.write_text("3 pain\n")
    with pytest.raises(PainctlError, match=r"x_facs.txt, line 1: expected numbers"):
        read_pspi_file(p)
    p.write_text("1\n2\n")
    with pytest.raises(PainctlError, match="expected one PSPI number, found 2"):
        read_pspi_file(p)
    p.write_text("4 9 0 0\n")
    with pytest.raises(PainctlError, match="outside 0-5"):
        read_facs_file(p)
    p.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(PainctlError, match="not a text label file"):
        read_pspi_file(p)


def test_unbc_missing_facs_file_means_unannotated_aus(tmp_path):
    root = make_unbc_tree(tmp_path / "u", n_subjects=1, n_sequences=1, n_frames=3)
    facs = sorted((root / "Frame_Labels" / "FACS").rglob("*_facs.txt"))[1]
    facs.unlink()
    frames = load_frames(root)
    assert np.isnan(frames[1].au).all() and not np.isnan(frames[0].au).any()


def test_landmark_crop_centres_the_face(unbc):
    frame = next(f for f in load_frames(unbc) if f.key.endswith("t1aaaff001"))
    crop = np.asarray(load_face_image(frame, 48), dtype=np.float64)
    assert crop.shape == (48, 48, 3)
    full = np.asarray(Image.open(frame.image).convert("RGB"), dtype=np.float64)
    background = full[0, 0]
    # The crop is around the face: its centre is skin, not background.
    assert np.abs(crop[24, 24] - background).sum() > 30
    plain = frame.__class__(image=frame.image, subject=frame.subject, pspi=0.0)
    assert load_face_image(plain, 32).size == (32, 32)


def test_threedpain_layout(tmp_path):
    root = tmp_path / "3dpain"
    (root / "images").mkdir(parents=True)
    (root / "annotations").mkdir()
    (root / "heatmaps").mkdir()
    labels = {"AU4": 2, "AU6": 3, "AU7": 1, "AU9": 0, "AU10": 1.5e0, "AU43": 1, "PSPI": 7.5}
    (root / "annotations" / "flame_sample_0001_pain_3_annotations.json").write_text(json.dumps(labels))
    for name in ("flame_sample_0001_pain_3_view_000", "flame_sample_0001_pain_3_view_001", "flame_sample_0001_neutral_view_000"):
        Image.new("RGB", (16, 16), (200, 150, 120)).save(root / "images" / f"{name}.png")
    np.save(root / "heatmaps" / "flame_sample_0001_pain_3_view_000.npy", np.zeros((16, 16), np.float32))
    assert detect_format(root) == "3dpain"
    frames = {f.key: f for f in load_frames(root)}
    pain = frames["flame_sample_0001_pain_3_view_000.png"]
    assert pain.subject == "flame_sample_0001" and pain.view == "view_000" and pain.pspi == 7.5
    assert pain.au.tolist() == [2, 3, 1, 0, 1.5, 1] and pain.heatmap is not None
    neutral = frames["flame_sample_0001_neutral_view_000.png"]
    assert neutral.is_neutral and neutral.pspi == 0 and neutral.au.tolist() == [0] * 6
    (root / "annotations" / "flame_sample_0001_pain_3_annotations.json").write_text('{"AU4": "high"}')
    with pytest.raises(PainctlError, match="AU4 must be a number"):
        load_frames(root)


def test_painctl_artefact_frames(tmp_path):
    from painctl.artefact import ArtefactWriter, write_dataset

    out = tmp_path / "views"
    n = 4
    with ArtefactWriter(out, "render-views", {"test": 1}) as writer:
        (writer.dir / "images").mkdir()
        names = []
        for i in range(n):
            name = f"images/{i:04d}.png"
            Image.new("RGB", (16, 16), (i * 40, 100, 100)).save(writer.dir / name)
            names.append(name)
        au = np.zeros((n, 6), np.float32)
        au[1:, 0] = [1, 2, 3]
        write_dataset(writer.h5, "image", np.array(names), rows=True)
        write_dataset(writer.h5, "identity", np.array([0, 0, 1, 1], np.int64), rows=True)
        write_dataset(writer.h5, "view", np.array(["front", "front", "left", "left"]), rows=True)
        write_dataset(writer.h5, "au", au, rows=True)
        write_dataset(writer.h5, "pspi", au[:, 0].copy(), rows=True)
        write_dataset(writer.h5, "is_neutral", np.array([1, 0, 0, 0], np.uint8), rows=True)
    assert detect_format(out) == "painctl-artefact"
    frames = load_frames(out)
    assert [f.subject for f in frames] == ["identity-000000"] * 2 + ["identity-000001"] * 2
    assert [f.pspi for f in frames] == [0, 1, 2, 3] and frames[0].is_neutral and frames[2].view == "left"
    assert all(f.image.is_file() for f in frames)


def test_unknown_directory_is_refused_in_one_sentence(tmp_path):
    with pytest.raises(PainctlError, match="not a known dataset"):
        detect_format(tmp_path)
    with pytest.raises(PainctlError, match="no such file"):
        load_frames(tmp_path / "missing")


def test_subject_folds_and_inner_split():
    subjects = [f"s{i}" for i in range(11)]
    folds = subject_folds(subjects * 3, 5, seed=1)  # repeated frames' subjects count once
    assert sorted(s for f in folds for s in f) == sorted(subjects)
    assert sorted(len(f) for f in folds) == [2, 2, 2, 2, 3]
    assert folds == subject_folds(subjects, 5, seed=1) and folds != subject_folds(subjects, 5, seed=2)
    with pytest.raises(PainctlError, match="--folds 12 is more than the 11 subject"):
        subject_folds(subjects, 12)
    train, val = inner_split(subjects, 0.2, seed=0)
    assert not set(train) & set(val) and sorted(train + val) == sorted(subjects) and len(val) == 2


def test_folds_file_json_and_csv(tmp_path):
    subjects = ["042-ll042", "043-jh043", "047-jl047", "048-aa048"]
    j = tmp_path / "folds.json"
    j.write_text(json.dumps({"folds": [["043-jh043", "042-ll042"], ["047-jl047", "048-aa048"]]}))
    assert read_folds_file(j, subjects) == [["042-ll042", "043-jh043"], ["047-jl047", "048-aa048"]]
    c = tmp_path / "folds.csv"
    c.write_text("subject,fold\n042-ll042,10\n043-jh043,2\n047-jl047,2\n048-aa048,10\n")
    assert read_folds_file(c, subjects) == [["043-jh043", "047-jl047"], ["042-ll042", "048-aa048"]]  # 2 before 10
    c.write_text("042-ll042,1\n043-jh043,1\n042-ll042,2\n")
    with pytest.raises(PainctlError, match="more than one place"):
        read_folds_file(c)
    j.write_text(json.dumps([["042-ll042"], ["999-zz999"]]))
    with pytest.raises(PainctlError, match="not in the data: 999-zz999"):
        read_folds_file(j, subjects)
    j.write_text("{not json")
    with pytest.raises(PainctlError, match="not valid JSON"):
        read_folds_file(j)
