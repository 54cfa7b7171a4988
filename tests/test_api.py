"""The Python API as README documents it: the README's example runs as written, and the API's
errors name parameters, not command-line flags."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import painctl
from painctl.errors import PainctlError

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_example() -> str:
    """The README's Python API section's code blocks, one program."""
    section = README.read_text().split("## Python API", 1)[1].split("\n## ", 1)[0]
    return "\n".join(re.findall(r"```python\n(.*?)```", section, re.S))


def test_the_readme_example_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(readme_example(), str(README), "exec"), {})
    heat = painctl.open(tmp_path / "api-demo" / "heat")
    assert heat.stage == "heatmap" and heat.rows() == 2 * 3 * 3
    assert (tmp_path / "api-demo" / "sheet.png").stat().st_size > 1000
    assert (tmp_path / "api-demo" / "run" / "best" / "model.safetensors").is_file()
    assert len((tmp_path / "api-demo" / "scores.csv").read_text().splitlines()) == 1 + 6  # header + 2 pain rows x 3 views


def test_stages_are_functions_of_the_package_that_return_opened_artefacts(tmp_path):
    heads = painctl.sample_mesh(tmp_path / "heads", n=1, seed=2)
    again = painctl.sample_mesh(tmp_path / "heads", n=1, seed=2)  # a cache hit returns the same artefact
    assert heads.stage == "sample-mesh" and again.path == heads.path
    pain = painctl.rig(str(heads.path), tmp_path / "pain", au="AU4=5")
    assert pain.read("au")[1].tolist() == [5, 0, 0, 0, 0, 0]
    with pytest.raises(PainctlError, match="give exactly one of pspi"):
        painctl.rig(heads, tmp_path / "p2")
    with pytest.raises(PainctlError, match="jobs must be at least 1"):
        painctl.render_views(pain, tmp_path / "v", jobs=0)
    assert not os.path.exists(tmp_path / "p2") and not os.path.exists(tmp_path / "v")


def test_big_ok_reaches_the_estimate_and_is_not_recorded(tmp_path):
    heads = painctl.sample_mesh(tmp_path / "heads", n=1, seed=2)
    # The library names its parameter (the command line names --i-know-it-is-big).
    with pytest.raises(PainctlError, match=r"this rig needs about .* on disk, .*; pass big_ok=True to try anyway$"):
        painctl.rig(heads, tmp_path / "big", pspi=4, per_identity=10_000_000)
    assert not os.path.exists(tmp_path / "big")
    pain = painctl.rig(heads, tmp_path / "pain", au="AU4=5", big_ok=True)
    assert "big_ok" not in pain.params
    again = painctl.rig(heads, tmp_path / "pain", au="AU4=5")  # the same params: a cache hit, not a --force refusal
    assert again.digest == pain.digest


@pytest.mark.parametrize(
    "call, param, message",
    [
        (lambda out: painctl.sample_mesh(out, n=0), "n", "n must be a positive number of identities, got 0"),
        (lambda out: painctl.sample_mesh(out, n=2, age_groups="young:40-18"), "age_groups", "age_groups: 'young:40-18' has LOW above HIGH"),
        (lambda out: painctl.rig("nowhere", out, pspi=8, per_identity=0), "per_identity", "per_identity must be at least 1, got 0"),
        (lambda out: painctl.rig("nowhere", out, pspi=8, asymmetry=9), "asymmetry", "asymmetry must be between 0 and 5 FACS levels, got 9"),
        (lambda out: painctl.rig("nowhere", out, pspi="3-99"), "pspi", "pspi: 17 is outside 0-16"),
        (lambda out: painctl.render_views("nowhere", out, pose_jitter=30), "pose_jitter", "pose_jitter must be 0-15 degrees, got 30"),
        (lambda out: painctl.export("nowhere", out, prefix="a b"), "prefix", "prefix must use letters, digits, _ and - only, got 'a b'"),
    ],
)
def test_api_errors_name_the_parameter_as_python_spells_it(tmp_path, call, param, message):
    from painctl.errors import BadValue

    with pytest.raises(BadValue) as info:
        call(tmp_path / "out")
    assert str(info.value) == message and param in info.value.params and "--" not in str(info.value)
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------- ViTPain: train, evaluate, predict
@pytest.fixture
def command(painctl):
    """conftest's in-process CLI runner, under a name that leaves the module ``painctl`` visible."""
    return painctl


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A 2-epoch run of the tiny backbone on a 6-identity 3D-Pain tree, trained through the API."""
    from test_train import make_threedpain

    root = tmp_path_factory.mktemp("api-vitpain")
    data = make_threedpain(root / "data")
    best = painctl.train(data, root / "run", epochs=2, batch_size=8, image_size=32, val_fraction=0.34, augment=False, seed=4)
    return root, data, best


def test_train_returns_the_selected_checkpoint_and_records_the_keywords(tiny_run):
    import json

    from painctl.vitpain.checkpoint import load_checkpoint

    root, _, best = tiny_run
    assert best == root / "run" / "best"
    model, config, extra = load_checkpoint(best)
    assert config.image_size == 32 and config.backbone == "tiny" and config.reference
    assert extra["run"]["train"]["epochs"] == 2 and extra["run"]["train"]["augment"] is False and extra["run"]["train"]["seed"] == 4
    assert len(extra["val_subjects"]) == 2 and not set(extra["val_subjects"]) & set(extra["train_subjects"])
    assert extra["best_epoch"] in (1, 2) and json.loads((root / "run" / "last" / "training.json").read_text())["epoch"] == 2


def test_predict_gives_one_finite_score_per_image_and_the_clis_csv(tiny_run, tmp_path, command):
    import csv

    import numpy as np

    _, data, best = tiny_run
    images = sorted((data / "images").glob("flame_sample_0005_pain_*"))
    neutral = data / "images" / "flame_sample_0005_neutral_view_000.png"
    scores = painctl.predict(best, images, neutrals=[neutral], csv=tmp_path / "api.csv")
    assert scores.keys == [str(p) for p in images]
    assert scores.pspi.shape == (len(images),) and np.all(np.isfinite(scores.pspi)) and np.all((scores.pspi >= 0) & (scores.pspi <= 16))
    assert scores.prob.shape == (len(images), 3) and scores.au.shape == (len(images), 6)
    res = command("predict", "-c", best, "-n", neutral, *images, "--csv", tmp_path / "cli.csv")
    assert res.code == 0, res.stderr
    assert (tmp_path / "api.csv").read_bytes() == (tmp_path / "cli.csv").read_bytes()
    with open(tmp_path / "api.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [{k: str(v) for k, v in r.items()} for r in scores.records()] == rows
    assert [float(r["pspi"]) for r in rows] == [round(float(x), 4) for x in scores.pspi]
    # A loaded model serves as well as its path, with the same scores.
    from painctl.vitpain.checkpoint import load_checkpoint

    np.testing.assert_array_equal(painctl.predict(load_checkpoint(best)[0], images, neutral).pspi, scores.pspi)
    with pytest.raises(PainctlError, match=r"^missing neutral reference: .*give neutrals"):
        painctl.predict(best, images)


def test_evaluate_scores_a_checkpoint_on_fixed_folds_and_writes_the_report(tiny_run, tmp_path):
    import json

    root, data, best = tiny_run
    report = painctl.evaluate(data, tmp_path / "report", checkpoint=best, folds=2, seed=1)
    on_disk = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["mode"] == on_disk["mode"] == "checkpoint" and report["k"] == 2
    assert report["summary"]["mae"]["mean"] == pytest.approx(on_disk["summary"]["mae"]["mean"])
    tested = sorted(s for fold in report["folds"] for s in fold["test_subjects"])
    assert tested == [f"flame_sample_{i:04d}" for i in range(6)]
    assert sum(len(p["frames"]) for p in report["predictions"]) == report["n_frames"] == 24
    with pytest.raises(PainctlError, match="already exists; use force=True"):
        painctl.evaluate(data, tmp_path / "report", checkpoint=best, folds=2)


def test_errors_of_the_vitpain_functions_name_parameters_and_the_cli_names_flags(tiny_run, tmp_path, command):
    root, data, best = tiny_run
    cases = [
        (dict(lr_heads=float("nan")), "lr_heads must be a finite number"),
        (dict(epochs=0), "epochs must be an integer of at least 1"),
        (dict(image_size=40), "image_size must be a positive multiple of 16"),
        (dict(val_fraction=1.0), "val_fraction must be below 1"),
        (dict(input="depth"), "input must be one of rgb, heatmap"),
        (dict(split_csv=tmp_path / "split.csv"), "split_csv names 3D-Pain base names"),
    ]
    from unbc_tree import make_unbc_tree

    unbc = make_unbc_tree(tmp_path / "unbc", n_subjects=2, n_sequences=1, n_frames=2)
    for keywords, message in cases:
        with pytest.raises(PainctlError, match=message):
            painctl.train(unbc if "split_csv" in keywords else data, tmp_path / "never", **keywords)
    with pytest.raises(PainctlError, match="pass force=True to start over"):
        painctl.train(data, root / "run", epochs=2, batch_size=8, image_size=32, lr_heads=3e-4)
    with pytest.raises(PainctlError, match="^forward applies to checkpoint only"):
        painctl.evaluate(data, tmp_path / "r", forward="authors")
    with pytest.raises(PainctlError, match="^init trains; with checkpoint nothing is trained"):
        painctl.evaluate(data, tmp_path / "r", checkpoint=best, init=best)
    with pytest.raises(PainctlError, match="^shots must be an integer of at least 1"):
        painctl.predict(best, [data / "images"], shots=0)
    assert not (tmp_path / "never").exists() and not (tmp_path / "r").exists()
    # The command says the same with its flags.
    res = command("train", data, root / "run", "--epochs", "2", "--image-size", "32", "--lr-heads", "3e-4")
    assert res.code == 1 and res.stderr.strip().endswith("pass --force to start over")
    res = command("eval", "--checkpoint", best, "--init", best, data, tmp_path / "r")
    assert res.code == 2 and "painctl: error: --init trains; with --checkpoint nothing is trained" in res.stderr


@pytest.mark.parametrize(
    "stage, keywords, args, param, api_text, cli_text",
    [
        ("train", dict(image_size=40), ["--image-size", "40"], "image_size",
         "image_size must be a positive multiple of 16", "--image-size must be a positive multiple of 16"),
        ("evaluate", dict(folds=7), ["--folds", "7"], "folds=7",
         "folds=7 is more than the 6 subject(s) in the data", "--folds 7 is more than the 6 subject(s) in the data"),
        ("predict", dict(), [], "neutrals",
         "give neutrals (images of that person without pain)", "give --neutral (images of that person without pain)"),
    ],
    ids=["train", "eval", "predict"],
)
def test_one_error_names_the_keyword_in_python_and_the_flag_on_the_command_line(tiny_run, tmp_path, command, stage, keywords, args,
                                                                               param, api_text, cli_text):
    _, data, best = tiny_run
    images = sorted((data / "images").glob("flame_sample_0005_pain_*"))
    if stage == "predict":
        call, argv = (lambda: painctl.predict(best, images)), ["predict", "-c", best, *args, *images]
    else:
        call = lambda: getattr(painctl, stage)(data, tmp_path / "out", **keywords)  # noqa: E731
        argv = ["train" if stage == "train" else "eval", *args, data, tmp_path / "out"]
    with pytest.raises(PainctlError) as info:
        call()
    assert param in info.value.params and api_text in str(info.value) and "--" not in str(info.value)
    res = command(*argv)
    lines = res.stderr.strip().splitlines()
    assert res.code == info.value.exit_code and len(lines) == 1 and lines[0].startswith("painctl: error: ") and cli_text in lines[0], res.stderr
    assert not (tmp_path / "out").exists()


def test_eval_is_painctl_evaluate():
    with pytest.raises(AttributeError, match="painctl.evaluate"):
        painctl.eval  # noqa: B018
    assert {"train", "evaluate", "predict"} <= set(dir(painctl))


def test_convert_checkpoint_returns_the_checkpoints_path_as_train_does(tmp_path, command):
    import numpy as np
    from PIL import Image
    from test_interop import authors_state_dict, write_lightning_checkpoint
    from test_train import face_image

    from painctl.vitpain.checkpoint import load_checkpoint

    ckpt = write_lightning_checkpoint(tmp_path / "authors.ckpt", authors_state_dict())
    out = painctl.convert_checkpoint(ckpt, tmp_path / "converted", image_size=32)
    assert isinstance(out, Path) and out == tmp_path / "converted" and "convert_checkpoint" in dir(painctl)
    model, config, extra = load_checkpoint(out)
    assert config.architecture == "authors" and config.image_size == 32 and extra["converted_from"]["file"] == "authors.ckpt"
    # What it returns is what predict takes, as train's path is; the command writes the same bytes.
    Image.fromarray(face_image(1, 0)).save(tmp_path / "neutral.png")
    Image.fromarray(face_image(1, 6)).save(tmp_path / "pain.png")
    scores = painctl.predict(out, [tmp_path / "pain.png"], neutrals=[tmp_path / "neutral.png"], forward="authors")
    assert scores.pspi.shape == (1,) and np.isfinite(scores.pspi).all()
    res = command("convert-checkpoint", "--image-size", "32", ckpt, tmp_path / "cli")
    assert res.code == 0 and res.stdout == f"{tmp_path / 'cli'}\n", res.stderr
    for name in ("config.json", "model.safetensors", "training.json", ".painctl-output.json"):
        assert (out / name).read_bytes() == (tmp_path / "cli" / name).read_bytes()
    # Its errors name the keywords; force=True replaces what it wrote.
    with pytest.raises(PainctlError, match=r"converted: already exists; use force=True to replace it$"):
        painctl.convert_checkpoint(ckpt, out, image_size=48)
    with pytest.raises(PainctlError, match="^image_size must be an integer of at least 16, got 8$"):
        painctl.convert_checkpoint(ckpt, tmp_path / "never", image_size=8)
    assert painctl.convert_checkpoint(ckpt, out, image_size=48, force=True) == out and load_checkpoint(out)[1].image_size == 48
    assert not (tmp_path / "never").exists()
