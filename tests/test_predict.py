"""painctl predict: table/JSONL/CSV output, multi-shot averaging, face cropping, bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from painctl.errors import PainctlError
from painctl.facs import AU_NAMES
from painctl.vitpain.config import ModelConfig, TrainConfig
from painctl.vitpain.inference import predict_images
from painctl.vitpain.training import train_model
from test_train import make_frames, split

FACE_PHOTO = Path(__import__("matplotlib").get_data_path()) / "sample_data" / "grace_hopper.jpg"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    train, val, _ = split(make_frames(root / "data"))
    best = train_model(train, val, ModelConfig(image_size=32), TrainConfig(epochs=1, batch_size=8), root / "run", progress=False)
    images = root / "data" / "images"
    return best, images


def test_json_csv_and_table_outputs(trained, painctl, tmp_path):
    ckpt, images = trained
    neutral = images / "flame_sample_0005_neutral_view_000.png"
    pain = sorted(images.glob("flame_sample_0005_pain_*"))
    res = painctl("predict", "--checkpoint", ckpt, "--neutral", neutral, *pain, "--json", "--csv", tmp_path / "out.csv")
    assert res.code == 0, res.stderr
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["image"] for r in rows] == [str(p) for p in pain]
    for row in rows:
        assert 0 <= row["pspi"] <= 16 and all(0 <= row[f"p_pspi_ge_{t}"] <= 1 for t in (1, 2, 3))
        assert all(row[name] >= 0 for name in AU_NAMES) and row["shots"] == 1
    with open(tmp_path / "out.csv") as fh:
        table = list(csv.DictReader(fh))
    assert [float(r["pspi"]) for r in table] == [r["pspi"] for r in rows]
    plain = painctl("predict", "-c", ckpt, "-n", neutral, pain[0])  # not a terminal: tab-separated
    header, line = plain.stdout.splitlines()
    assert header.split("\t")[:2] == ["image", "pspi"] and float(line.split("\t")[1]) == rows[0]["pspi"]


def test_shots_average_over_references_and_directories_expand(trained, tmp_path):
    ckpt, images = trained
    refs = tmp_path / "refs"
    refs.mkdir()
    neutral = np.asarray(Image.open(images / "flame_sample_0005_neutral_view_000.png"))
    for i, shift in enumerate((0, 9)):
        Image.fromarray(np.clip(neutral.astype(int) + shift, 0, 255).astype(np.uint8)).save(refs / f"n{i}.png")
    target = images / "flame_sample_0005_pain_9_view_000.png"
    one = [predict_images(ckpt, [target], [refs / f"n{i}.png"]).pspi[0] for i in range(2)]
    both = predict_images(ckpt, [target], [refs], shots=2)
    assert both.shots[0] == 2 and one[0] != one[1]
    assert both.pspi[0] == pytest.approx(np.mean(one), abs=1e-5)
    assert len(predict_images(ckpt, [images], [refs]).keys) == len(list(images.glob("*.png")))


def test_crop_finds_the_face_in_a_photo(trained, tmp_path, capsys):
    from painctl.vitpain.facecrop import crop_face, detect_faces

    photo = Image.open(FACE_PHOTO)
    box = detect_faces(photo)[0]
    assert 100 < box[0] + box[2] / 2 < 400 and 100 < box[1] + box[3] / 2 < 400  # the face, not a corner
    face = crop_face(photo)
    assert face.width == face.height and face.width < photo.width
    ckpt, images = trained
    neutral = images / "flame_sample_0005_neutral_view_000.png"
    cropped = predict_images(ckpt, [FACE_PHOTO], [neutral], crop=True).pspi[0]
    whole = predict_images(ckpt, [FACE_PHOTO], [neutral]).pspi[0]
    assert cropped != whole
    noise = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3)).astype(np.uint8)).save(noise)
    predict_images(ckpt, [noise], [neutral], crop=True)
    assert "no face found" in capsys.readouterr().err


def test_bad_input_is_one_clear_line(trained, painctl, tmp_path):
    ckpt, images = trained
    neutral = images / "flame_sample_0005_neutral_view_000.png"
    text = tmp_path / "notes.png"
    text.write_text("this is not an image")
    cases = {
        "not an image": ("--checkpoint", ckpt, "--neutral", neutral, text),
        "missing neutral reference": ("--checkpoint", ckpt, neutral),
        "no such image": ("--checkpoint", ckpt, "--neutral", neutral, tmp_path / "absent.png"),
        "not a painctl ViTPain checkpoint": ("--checkpoint", images, "--neutral", neutral, neutral),
    }
    for message, args in cases.items():
        res = painctl("predict", *args)
        assert res.code == 1, message
        assert res.stderr.startswith("painctl: error:") and message in res.stderr and len(res.stderr.strip().splitlines()) == 1
    (tmp_path / "empty").mkdir()
    with pytest.raises(PainctlError, match="no image files"):
        predict_images(ckpt, [tmp_path / "empty"], [neutral])
