"""`painctl eval` end to end on a tiny UNBC-McMaster tree (6 subjects, tiny backbone, 1 epoch), the
no-leak guarantee (no test subject reaches training, model selection or calibration), the report
files, and bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from unbc_tree import make_unbc_tree

TRAIN_ARGS = ("--epochs", "1", "--image-size", "32", "--batch-size", "16")


@pytest.fixture(scope="module")
def unbc(tmp_path_factory) -> Path:
    return make_unbc_tree(tmp_path_factory.mktemp("unbc") / "unbc", n_subjects=6, n_sequences=1, n_frames=8)


def _in_process(*args) -> tuple[int, str, str]:
    # In-process (torch and transformers are imported once for the whole module); main() is the
    # console script's entry point, so this is the command users run.
    import contextlib
    import io

    from painctl import console
    from painctl.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            console.verbosity = 0
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def evaluated(unbc, tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("eval") / "report"
    code, stdout, stderr = _in_process("-q", "eval", "--folds", "3", *TRAIN_ARGS, unbc, out)
    assert code == 0, stderr
    return out, stdout


def _rows(out: Path) -> list[dict]:
    with open(out / "predictions.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_eval_writes_the_report_and_prints_the_summary(evaluated):
    out, stdout = evaluated
    for name in ("report.json", "predictions.csv", "summary.md", "roc.png", "calibration.png", "scatter.png"):
        assert (out / name).is_file(), name
    assert "| PSPI PCC |" in stdout and "| AUROC @ PSPI>=1 |" in stdout and "| F1 @ PSPI>=3 |" in stdout
    assert stdout == (out / "summary.md").read_text()
    assert not list(out.parent.glob(".report.tmp-*"))
    from PIL import Image

    with Image.open(out / "roc.png") as img:
        assert img.size == (500, 500)


def test_no_test_subject_reaches_training_or_model_selection(evaluated, unbc):
    out, _ = evaluated
    report = json.loads((out / "report.json").read_text())
    subjects = sorted(p.name for p in (unbc / "Images").iterdir())
    assert report["k"] == 3 and len(report["folds"]) == 3
    tested = [s for fold in report["folds"] for s in fold["test_subjects"]]
    assert sorted(tested) == subjects  # every subject tested exactly once
    rows = _rows(out)
    assert len(rows) == 48 and len({r["key"] for r in rows}) == 48
    for fold in report["folds"]:
        test = set(fold["test_subjects"])
        # What train_model itself recorded in the selected checkpoint.
        recorded = json.loads((out / fold["checkpoint"] / "training.json").read_text())
        assert not test & set(recorded["train_subjects"]), fold["fold"]
        assert not test & set(recorded["val_subjects"]), fold["fold"]
        assert recorded["val_subjects"] and set(recorded["val_subjects"]) == set(fold["val_subjects"])
        assert sorted(recorded["train_subjects"] + recorded["val_subjects"]) == sorted(set(subjects) - test)
        # The predictions of this fold are of its test subjects only.
        assert {r["subject"] for r in rows if r["fold"] == str(fold["fold"])} == test


def test_report_metrics_match_sklearn_on_the_predictions(evaluated):
    out, _ = evaluated
    report = json.loads((out / "report.json").read_text())
    rows = _rows(out)
    pcc = []
    for fold in report["folds"]:
        mine = [r for r in rows if r["fold"] == str(fold["fold"])]
        true = np.array([float(r["true_pspi"]) for r in mine])
        pred = np.array([float(r["pred_pspi"]) for r in mine])
        prob = np.array([float(r["p_pspi_ge_1"]) for r in mine])
        m = fold["metrics"]
        assert m["mae"] == pytest.approx(skm.mean_absolute_error(true, pred), abs=1e-6)
        assert m["auroc_1"] == pytest.approx(skm.roc_auc_score(true >= 1, prob), abs=1e-6)
        assert m["f1_1"] == pytest.approx(skm.f1_score(true >= 1, prob >= fold["thresholds"][0]), abs=1e-9)
        pcc.append(m["pcc"])
    assert report["summary"]["pcc"]["mean"] == pytest.approx(np.mean(pcc))
    assert report["summary"]["pcc"]["std"] == pytest.approx(np.std(pcc, ddof=1))
    low, high = stats.t.interval(0.95, len(pcc) - 1, loc=np.mean(pcc), scale=stats.sem(pcc))
    assert (report["summary"]["pcc"]["ci_low"], report["summary"]["pcc"]["ci_high"]) == pytest.approx((low, high))
    # Pooled: all test frames together, each fold cut at its own calibrated thresholds.
    true = np.array([float(r["true_pspi"]) for r in rows])
    pred = np.array([float(r["pred_pspi"]) for r in rows])
    cut = {f["fold"]: f["thresholds"][0] for f in report["folds"]}
    hit = np.array([float(r["p_pspi_ge_1"]) >= cut[int(r["fold"])] for r in rows])
    assert report["pooled"]["pcc"] == pytest.approx(stats.pearsonr(true, pred)[0], abs=1e-6)
    assert report["pooled"]["f1_1"] == pytest.approx(skm.f1_score(true >= 1, hit), abs=1e-9)
    au = np.array([float(r["pred_AU4"]) for r in rows])
    assert report["pooled"]["au_mae_AU4"] == pytest.approx(skm.mean_absolute_error([float(r["true_AU4"]) for r in rows], au), abs=1e-6)


def test_checkpoint_eval_on_fixed_folds_then_predict_agrees(evaluated, unbc, tmp_path):
    out, _ = evaluated
    subjects = sorted(p.name for p in (unbc / "Images").iterdir())
    folds = tmp_path / "folds.csv"
    folds.write_text("subject,fold\n" + "".join(f"{s},{1 + i % 2}\n" for i, s in enumerate(subjects)))
    code, _, stderr = _in_process("-q", "eval", "--checkpoint", out / "fold-1" / "best", "--folds-file", folds, "--shots", "8", unbc, tmp_path / "r")
    assert code == 0, stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert [f["test_subjects"] for f in report["folds"]] == [subjects[0::2], subjects[1::2]]
    assert all(f["thresholds"] == [0.5, 0.5, 0.5] for f in report["folds"])
    assert "0.5" in report["calibration"] and report["mode"] == "checkpoint"
    assert not (tmp_path / "r" / "fold-1").exists()  # nothing trained
    # Same inputs, same seed: same bytes, plots included.
    code, _, stderr = _in_process("-q", "eval", "--checkpoint", out / "fold-1" / "best", "--folds-file", folds, "--shots", "8", unbc, tmp_path / "r2")
    assert code == 0, stderr
    for name in ("report.json", "predictions.csv", "summary.md", "roc.png", "calibration.png", "scatter.png"):
        assert (tmp_path / "r" / name).read_bytes() == (tmp_path / "r2" / name).read_bytes(), name
    # Each subject has 4 PSPI-0 frames: a pain frame averages all 4, a neutral frame the 3 others.
    rows = _rows(tmp_path / "r")
    assert {r["shots"] for r in rows if float(r["true_pspi"]) > 0} == {"4"}
    assert {r["shots"] for r in rows if float(r["true_pspi"]) == 0} == {"3"}

    # `painctl predict` on the same aligned crops with the same references gives eval's numbers.
    from painctl.datasets import load_frames
    from painctl.datasets.images import load_face_image

    mine = [f for f in load_frames(unbc) if f.subject == subjects[1]]
    crops = tmp_path / "crops"
    crops.mkdir()
    for f in mine:
        load_face_image(f, 32).save(crops / f"{f.key.rsplit('/', 1)[1]}.png")
    neutral = [str(crops / f"{f.key.rsplit('/', 1)[1]}.png") for f in mine if f.pspi == 0]
    pain = [f for f in mine if f.pspi > 0]
    refs = [x for n in neutral for x in ("-n", n)]
    code, stdout, stderr = _in_process("predict", "-c", out / "fold-1" / "best", *refs, "--shots", "8", "--json",
                                       *(crops / f"{f.key.rsplit('/', 1)[1]}.png" for f in pain))
    assert code == 0, stderr
    predicted = [json.loads(line) for line in stdout.splitlines()]
    by_key = {r["key"]: r for r in rows}
    assert len(predicted) == len(pain) == 4
    for f, p in zip(pain, predicted):
        row = by_key[f.key]
        assert p["shots"] == 4
        assert p["pspi"] == pytest.approx(float(row["pred_pspi"]), abs=2e-3)
        assert p["p_pspi_ge_2"] == pytest.approx(float(row["p_pspi_ge_2"]), abs=2e-3)
        assert p["AU4"] == pytest.approx(float(row["pred_AU4"]), abs=2e-3)


@pytest.mark.parametrize("case", ["too-many-folds", "garbage-label", "not-an-image", "unknown-format", "exists"])
def test_bad_input_is_one_line_and_writes_nothing(case, unbc, evaluated, tmp_path, painctl):
    import shutil

    data, out = unbc, tmp_path / "out"
    args = ["eval", "--folds", "3", *TRAIN_ARGS]
    if case == "too-many-folds":
        args[2] = "7"
        expect = "more than the 6 subject"
    elif case == "garbage-label":
        data = tmp_path / "unbc"
        shutil.copytree(unbc, data)
        label = sorted((data / "Frame_Labels" / "PSPI").rglob("*_facs.txt"))[3]
        label.write_text("pain: lots\n")
        expect = f"{label.name}, line 1: expected numbers"
    elif case == "not-an-image":
        data = tmp_path / "unbc"
        shutil.copytree(unbc, data)
        image = sorted((data / "Images").rglob("*.png"))[-2]
        image.write_bytes(b"\x89PNG but not really")
        expect = f"{image.name}: not an image PIL can read"
    elif case == "unknown-format":
        data = tmp_path / "junk"
        data.mkdir()
        (data / "notes.txt").write_text("hello")
        expect = "not a known dataset"
    else:
        out = evaluated[0]
        before = sorted(p.name for p in out.iterdir())
        expect = "already exists; use --force"
    result = painctl(*args, data, out)
    assert result.code == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("painctl: error: ") and expect in lines[-1], result.stderr
    assert "Traceback" not in result.stderr
    if case == "exists":
        assert sorted(p.name for p in out.iterdir()) == before
    else:
        assert not out.exists()
