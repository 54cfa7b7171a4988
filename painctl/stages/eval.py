"""`painctl eval`: subject-independent cross-validation of ViTPain (or one fixed 3D-Pain split, or a
checkpoint scored on every fold), written as a report directory.

The folds are chosen here (dealt by seed, read from a file, or one split file's test subjects); the
folds' training, selection and calibration are :func:`painctl.evaluation.cross_validation.cross_validate`;
the files are :func:`painctl.evaluation.reports.write_report`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from painctl import console
from painctl.errors import BadValue
from painctl.stages.train import build_configs
from painctl.vitpain.authors import FORWARDS
from painctl.vitpain.config import check_int, check_number

PathLike = str | os.PathLike


def evaluate(data: PathLike, out: PathLike, *, folds: int = 5, folds_file: PathLike | None = None, split_csv: PathLike | None = None,
             checkpoint: PathLike | None = None, forward: str | None = None, calibration: PathLike | None = None, shots: int = 1,
             backbone: str = "tiny", reference: bool = True, init: PathLike | None = None, val_fraction: float = 0.2,
             epochs: int = 10, batch_size: int = 32, lr_heads: float = 1e-4, lr_lora: float | None = None, weight_decay: float = 0.1,
             au_weight: float | None = None, weighted_sampling: bool | None = None, image_size: int | None = None, lora_r: int = 8,
             lora_alpha: int = 16, lora_targets: str | Sequence[str] = ("q_proj", "v_proj"), num_workers: int = 0, amp: bool = True,
             augment: bool = True, seed: int = 0, force: bool = False) -> dict[str, Any]:
    """Cross-validate ViTPain on the dataset ``data`` by subject and write the report into ``out``
    (report.json, predictions.csv, summary.md, roc.png, calibration.png, scatter.png, fold checkpoints).

    ``folds`` subject folds are dealt with ``seed``, or ``folds_file`` fixes them (JSON or CSV), or
    ``split_csv`` (a 3D-Pain tree) fixes one train/val/test split. Each fold trains a model (the
    training keywords, as for :func:`painctl.stages.train.train`; ``init`` to fine-tune) whose epoch
    and F1 thresholds are chosen on ``val_fraction`` of its TRAINING subjects. With ``checkpoint``
    nothing is trained; ``calibration`` (data of other subjects) calibrates its thresholds, and
    ``forward="authors"`` runs a converted checkpoint of the authors' release as they did. Returns the
    report (see :func:`painctl.evaluation.cross_validation.cross_validate`): ``report["summary"]``
    holds mean, std and 95% CI per metric across folds, ``report["pooled"]`` the metrics over all folds.
    """
    from painctl.datasets import load_frames
    from painctl.datasets.images import check_images
    from painctl.datasets.splits import read_folds_file, subject_folds
    from painctl.evaluation.cross_validation import cross_validate
    from painctl.evaluation.reports import OutputDir, write_report

    check_int("folds", folds, 2)
    check_int("shots", shots, 1)
    check_number("val_fraction", val_fraction, 0, above=True)
    if val_fraction >= 1:
        raise BadValue(f"val_fraction must be below 1 (some subjects must train), got {val_fraction}")
    if forward is not None and forward not in FORWARDS:
        raise BadValue(f"forward must be one of {', '.join(FORWARDS)}, got {forward!r}")
    target = OutputDir(out, force)  # refuse an existing OUT before reading or training anything
    frames = load_frames(data)
    check_images(frames)
    subjects = sorted({f.subject for f in frames})
    # Check the split before anything is written or trained.
    split = None
    if split_csv is not None:
        from painctl.datasets import detect_format
        from painctl.datasets.splits import split_by_base

        if folds_file is not None:
            raise BadValue("split_csv and folds_file both fix the split: give one")
        if detect_format(data) != "3dpain":
            raise BadValue("split_csv names 3D-Pain base names; data must be a 3D-Pain tree")
        parts = split_by_base(frames, split_csv)
        frames = [f for part in parts for f in part]  # only what the file lists (neutral faces with their identity)
        split = tuple(sorted({f.subject for f in part}) for part in parts)
        fold_subjects = [split[2]]
    else:
        fold_subjects = read_folds_file(folds_file, subjects) if folds_file is not None else subject_folds(subjects, folds, seed)
    if forward is not None and checkpoint is None:
        raise BadValue("forward applies to checkpoint only")
    model_config = train_config = None
    if checkpoint is None:
        if calibration is not None:
            raise BadValue("calibration applies to checkpoint only (training calibrates on its own validation subjects)")
        model_config, train_config = build_configs(
            backbone=backbone, reference=reference, image_size=image_size, lora_r=lora_r, lora_alpha=lora_alpha, lora_targets=lora_targets,
            epochs=epochs, batch_size=batch_size, lr_heads=lr_heads, lr_lora=lr_lora, weight_decay=weight_decay, au_weight=au_weight,
            weighted_sampling=weighted_sampling, shots=shots, amp=amp, num_workers=num_workers, augment=augment, seed=seed)
    elif init is not None:
        raise BadValue("init trains; with checkpoint nothing is trained")
    calibration_frames = load_frames(calibration) if calibration is not None else None
    with target as tmp:
        report = cross_validate(frames, len(fold_subjects), fold_subjects, model_config, train_config, tmp, shots=shots,
                                checkpoint=None if checkpoint is None else Path(checkpoint), seed=seed, val_fraction=val_fraction,
                                calibration=calibration_frames, init=None if init is None else Path(init), split=split, forward=forward)
        write_report(report, tmp)
    console.info(f"wrote the report (report.json, predictions.csv, summary.md, plots, fold checkpoints) to {out}")
    return report


__all__ = ["evaluate"]
