"""Subject-independent K-fold cross-validation of ViTPain, leak-free.

Per fold: the test subjects are one fold; the training subjects are the other folds; an inner
validation split of the TRAINING subjects selects the epoch (train_model's ``val``) and calibrates the
F1 thresholds; the held-out fold is predicted once with the selected checkpoint, each frame against
PSPI-0 references of its own subject. No test frame reaches training, model selection or calibration.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from painctl import console
from painctl.datasets.frames import Frame
from painctl.datasets.splits import inner_split, subject_folds
from painctl.errors import PainctlError
from painctl.evaluation.metrics import DEFAULT_THRESHOLD, calibrate_pspi_cuts, calibrate_thresholds, evaluate, summarise_folds
from painctl.facs import PAIN_THRESHOLDS
from painctl.seeding import seed_for


def _truth(frames: Sequence[Frame]) -> tuple[np.ndarray, np.ndarray]:
    pspi = np.array([f.pspi for f in frames], dtype=np.float64)
    au = np.stack([np.asarray(f.au, np.float64) for f in frames]) if frames else np.zeros((0, 6))
    return pspi, au


def check_folds(folds: Sequence[Sequence[str]], subjects: Sequence[str]) -> list[list[str]]:
    """Check fixed ``folds`` against the data's ``subjects``: at least 2 non-empty folds, no subject
    twice, every listed subject present. Subjects of the data in no fold are left out of the
    evaluation (with a notice). Returns the folds as sorted lists."""
    known = set(subjects)
    seen: set[str] = set()
    for i, fold in enumerate(folds, 1):
        for s in fold:
            if s not in known:
                raise PainctlError(f"fold {i} lists subject {s!r}, which is not in the data")
            if s in seen:
                raise PainctlError(f"subject {s!r} appears in more than one fold")
            seen.add(s)
    if len(folds) < 2 or any(not f for f in folds):
        raise PainctlError("cross-validation needs at least 2 folds, each with at least one subject")
    left = sorted(known - seen)
    if left:
        console.info(f"note: {console.plural(len(left), 'subject')} of the data {'is' if len(left) == 1 else 'are'} in no fold and not evaluated: {', '.join(left[:5])}")
    return [sorted(f) for f in folds]


def _pooled_metrics(fold_reports: Sequence[dict[str, Any]], predictions: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Metrics over the test frames of all folds together, each fold's frames cut at its own thresholds
    (the paper's "aggregated" PCC is this one)."""
    if not predictions:
        return {}
    true_pspi, true_au = _truth([f for p in predictions for f in p["frames"]])
    cuts = np.concatenate([np.tile(r["thresholds"], (len(p["frames"]), 1)) for r, p in zip(fold_reports, predictions)])
    reg = np.concatenate([np.tile(r["pspi_cuts"], (len(p["frames"]), 1)) for r, p in zip(fold_reports, predictions)])
    cat = {name: np.concatenate([getattr(p["pred"], name) for p in predictions]) for name in ("pspi", "prob", "au")}
    out = evaluate(true_pspi, cat["pspi"], cat["prob"], true_au, cat["au"], cuts, reg)
    return {k: v for k, v in out.items() if not k.startswith(("threshold_", "cut_reg_"))}


def cross_validate(
    frames: Sequence[Frame],
    k: int = 5,
    folds: Sequence[Sequence[str]] | None = None,
    model_config=None,
    train_config=None,
    out: str | Path = "eval-runs",
    shots: int = 1,
    checkpoint: str | Path | None = None,
    seed: int = 0,
    val_fraction: float = 0.2,
    calibration: Sequence[Frame] | None = None,
    init: str | Path | None = None,
    split: tuple[Sequence[str], Sequence[str], Sequence[str]] | None = None,
    forward: str | None = None,
) -> dict[str, Any]:
    """Run K-fold cross-validation by subject and return the report dict (see :mod:`painctl.evaluation.reports`).

    ``folds`` (lists of subject ids) fixes the split, else ``k`` folds are dealt by
    :func:`painctl.datasets.splits.subject_folds` with ``seed``. Without ``checkpoint`` each fold trains
    a model (``model_config``, ``train_config``, optional ``init``) under ``out/fold-<i>/``, selects the
    epoch and calibrates F1 thresholds on an inner validation split (``val_fraction`` of the training
    subjects). With ``checkpoint`` nothing is trained: thresholds are calibrated on ``calibration``
    frames when given (they must not share subjects with ``frames``), else they are 0.5.
    The report holds per-fold metrics, subject lists and thresholds, the summary (mean, std, 95% CI),
    "pooled" (metrics over all test frames together, each fold cut at its own thresholds) and, under
    "predictions", the per-frame test predictions of every fold.

    ``split`` = (train, validation, test) subject lists fixes one split instead of folds (a 3D-Pain
    split file): train on train, select the epoch and calibrate on validation, report on test; with
    ``checkpoint`` the test subjects are scored and the validation subjects calibrate the thresholds
    (unless ``calibration`` is given). ``forward`` "authors" runs a converted checkpoint with the
    forward pass it was trained with (see :func:`painctl.vitpain.authors.set_forward`).
    """
    from painctl.vitpain.inference import predict_frames

    frames = list(frames)
    subjects = sorted({f.subject for f in frames})
    split_frames: dict[str, list[Frame]] = {}
    calibration_source = None
    if split is not None:
        # One fixed split: the test subjects are the only "fold"; train and validation come from the split.
        parts = dict(zip(("train", "val", "test"), (set(map(str, p)) for p in split)))
        split_frames = {name: [f for f in frames if f.subject in members] for name, members in parts.items()}
        if not split_frames["test"]:
            raise PainctlError("the split has no test frames to report on")
        folds = [sorted(parts["test"] & set(subjects))]
        if checkpoint is not None:
            frames = split_frames["test"]
            subjects = folds[0]
            if calibration is None and split_frames["val"]:
                calibration = split_frames["val"]
                calibration_source = f"the split's validation subjects ({len(calibration)} frames)"
    else:
        folds = check_folds(folds, subjects) if folds is not None else subject_folds(subjects, k, seed)
    out = Path(out)
    model = None
    calibration_note = ("F1 thresholds calibrated on the split's validation subjects" if split is not None
                        else "F1 thresholds calibrated on an inner validation split of each fold's training subjects")
    fixed_thresholds: list[float] | None = None
    batch_size = train_config.batch_size if train_config is not None else 32
    if checkpoint is not None:
        from painctl.vitpain.authors import set_forward
        from painctl.vitpain.checkpoint import load_checkpoint

        model, model_config, _ = load_checkpoint(checkpoint)
        set_forward(model, forward or "model", checkpoint)
        calibration_source = calibration_source or f"the --calibration data ({len(calibration or [])} frames)"
        if calibration:
            shared = sorted({f.subject for f in calibration} & set(subjects))
            if shared:
                raise PainctlError(f"{{calibration}} data shares subjects with the evaluated data ({', '.join(shared[:5])}); use other subjects",
                                   params=("calibration",))
            pred = predict_frames(model, calibration, calibration, shots=shots, batch_size=batch_size, seed=seed, fallback="lowest")
            fixed_thresholds = calibrate_thresholds(_truth(calibration)[0], pred.prob)
            fixed_cuts = calibrate_pspi_cuts(_truth(calibration)[0], pred.pspi)
            calibration_note = f"F1 thresholds calibrated on {calibration_source}"
        else:
            fixed_thresholds = [DEFAULT_THRESHOLD] * 3
            fixed_cuts = None
            calibration_note = f"no calibration data: F1 at probability threshold {DEFAULT_THRESHOLD:g}"
    elif model_config is None or train_config is None:
        raise PainctlError("cross_validate needs a checkpoint or a model and training configuration")

    fold_reports, predictions = [], []
    for i, test_subjects in enumerate(folds, 1):
        held = set(test_subjects)
        test = [f for f in frames if f.subject in held]
        record: dict[str, Any] = {"fold": i, "test_subjects": list(test_subjects), "n_test_frames": len(test)}
        console.info(f"fold {i}/{len(folds)}: testing on {console.plural(len(test_subjects), 'subject')}, {console.plural(len(test), 'frame')}")
        if model is None:
            from painctl.vitpain.training import train_model

            if split is not None:
                train_subjects = sorted({f.subject for f in split_frames["train"]})
                val_subjects = sorted({f.subject for f in split_frames["val"]})
            else:
                rest = sorted(s for s in subjects if s not in held)
                train_subjects, val_subjects = inner_split(rest, val_fraction, seed_for(seed, "eval/inner-split", i))
            train_set, val_set = set(train_subjects), set(val_subjects)
            train_frames = [f for f in frames if f.subject in train_set]
            val_frames = [f for f in frames if f.subject in val_set]
            run = out / f"fold-{i}"
            best = train_model(train_frames, val_frames, model_config, train_config, run, init=init, force=True)
            shutil.rmtree(run / "last", ignore_errors=True)  # optimiser state: only for resuming
            from painctl.vitpain.checkpoint import load_checkpoint

            fold_model = load_checkpoint(best)[0]
            val_pred = predict_frames(fold_model, val_frames, val_frames, shots=shots, batch_size=batch_size, seed=seed, fallback="lowest")
            thresholds = calibrate_thresholds(_truth(val_frames)[0], val_pred.prob)
            cuts = calibrate_pspi_cuts(_truth(val_frames)[0], val_pred.pspi)
            record.update({"train_subjects": train_subjects, "val_subjects": val_subjects, "n_train_frames": len(train_frames),
                           "n_val_frames": len(val_frames), "checkpoint": str(best.relative_to(out))})
        else:
            fold_model, thresholds, cuts = model, fixed_thresholds, fixed_cuts
        pred = predict_frames(fold_model, test, test, shots=shots, batch_size=batch_size, seed=seed, fallback="lowest")
        true_pspi, true_au = _truth(test)
        record["thresholds"] = [float(t) for t in thresholds]
        record["pspi_cuts"] = [float(t) for t in (cuts if cuts is not None else PAIN_THRESHOLDS)]
        record["metrics"] = evaluate(true_pspi, pred.pspi, pred.prob, true_au, pred.au, thresholds, record["pspi_cuts"])
        fold_reports.append(record)
        predictions.append({"fold": i, "frames": test, "pred": pred})
        m = record["metrics"]
        console.info(f"fold {i}: PCC {m['pcc']:.3f}, MAE {m['mae']:.3f}, AUROC@1 {m['auroc_1']:.3f}, F1@1 {m['f1_1']:.3f}")

    pooled = _pooled_metrics(fold_reports, predictions)
    return {
        "format": "painctl-eval/1",
        "k": len(folds),
        "seed": seed,
        "shots": shots,
        "mode": "checkpoint" if checkpoint is not None else "train",
        "checkpoint": None if checkpoint is None else str(checkpoint),
        "model": None if model_config is None else model_config.to_dict(),
        "train": None if train_config is None or checkpoint is not None else train_config.to_dict(),
        "calibration": calibration_note,
        "split": "fixed train/validation/test split" if split is not None else f"{len(folds)} subject folds",
        "forward": forward or "model",
        "n_frames": sum(r["n_test_frames"] for r in fold_reports),
        "n_subjects": sum(len(r["test_subjects"]) for r in fold_reports),
        "folds": fold_reports,
        "summary": summarise_folds([r["metrics"] for r in fold_reports]),
        "pooled": pooled,
        "predictions": predictions,
    }


__all__ = ["cross_validate", "check_folds"]
