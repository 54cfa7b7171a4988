"""`painctl eval`: subject-independent cross-validation of ViTPain (or one fixed 3D-Pain split, or a
checkpoint scored on every fold), written as a report directory.

The folds are chosen here (dealt by seed, read from a file, or one split file's test subjects); the
folds' training, selection and calibration are :func:`painctl.evaluation.cross_validation.cross_validate`;
the files are :func:`painctl.evaluation.reports.write_report`, written by the runner's report
directory output (atomic; an existing OUT refused without ``force``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from painctl.artefact.stage import Context, Directory, Parameters, Stage, run
from painctl.errors import BadValue
from painctl.stages.train import build_configs, lora_target_names
from painctl.vitpain.authors import FORWARDS
from painctl.vitpain.config import check_int, check_number

PathLike = str | os.PathLike


@dataclass(frozen=True)
class EvalParams(Parameters):
    """eval's parameters (see :func:`evaluate`): the data, how the folds are chosen, the checkpoint
    mode's options and the training keywords of :func:`painctl.stages.train.build_configs`."""

    data: str
    folds: int = 5
    folds_file: str | None = None
    split_csv: str | None = None
    checkpoint: str | None = None
    forward: str | None = None
    calibration: str | None = None
    shots: int = 1
    init: str | None = None
    val_fraction: float = 0.2
    training: tuple[tuple[str, Any], ...] = ()  # build_configs' keywords (seed included), as (name, value) pairs
    seed: int = 0

    def check(self) -> None:
        check_int("folds", self.folds, 2)
        check_int("shots", self.shots, 1)
        check_number("val_fraction", self.val_fraction, 0, above=True)
        if self.val_fraction >= 1:
            raise BadValue("val_fraction", f"must be below 1 (some subjects must train), got {self.val_fraction}")
        if self.forward is not None and self.forward not in FORWARDS:
            raise BadValue("forward", f"must be one of {', '.join(FORWARDS)}, got {self.forward!r}")
        if self.forward is not None and self.checkpoint is None:
            raise BadValue(("forward", "checkpoint"), "{forward} applies to {checkpoint} only")
        if self.checkpoint is None and self.calibration is not None:
            raise BadValue(("calibration", "checkpoint"), "{calibration} applies to {checkpoint} only (training calibrates on its own validation subjects)")
        if self.checkpoint is not None and self.init is not None:
            raise BadValue(("init", "checkpoint"), "{init} trains; with {checkpoint} nothing is trained")
        self.configs()  # the training keywords' own checks, before OUT or the data are touched

    def configs(self):
        """(ModelConfig, TrainConfig) of the folds' training, or (None, None) with a checkpoint."""
        if self.checkpoint is not None:
            return None, None
        return build_configs(**dict(self.training), shots=self.shots, seed=self.seed)


def _split(p: EvalParams, frames: list) -> tuple[list, list, tuple | None]:
    """(frames, the test subjects of each fold, the fixed split or None), checked before anything trains."""
    from painctl.datasets.splits import read_folds_file, subject_folds

    if p.split_csv is None:
        subjects = sorted({f.subject for f in frames})
        fold_subjects = read_folds_file(p.folds_file, subjects) if p.folds_file is not None else subject_folds(subjects, p.folds, p.seed)
        return frames, fold_subjects, None
    from painctl.datasets import detect_format
    from painctl.datasets.splits import split_by_base

    if p.folds_file is not None:
        raise BadValue(("split_csv", "folds_file"), "{split_csv} and {folds_file} both fix the split: give one")
    if detect_format(p.data) != "3dpain":
        raise BadValue(("split_csv", "data"), "{split_csv} names 3D-Pain base names; {data} must be a 3D-Pain tree")
    parts = split_by_base(frames, p.split_csv)
    frames = [f for part in parts for f in part]  # only what the file lists (neutral faces with their identity)
    split = tuple(sorted({f.subject for f in part}) for part in parts)
    return frames, [split[2]], split


def _evaluate(ctx: Context) -> str:
    from painctl.datasets import load_frames
    from painctl.datasets.images import check_images
    from painctl.evaluation.cross_validation import cross_validate
    from painctl.evaluation.reports import write_report

    p = ctx.params
    frames = load_frames(p.data)
    check_images(frames)
    frames, fold_subjects, split = _split(p, frames)
    model_config, train_config = p.configs()
    calibration_frames = load_frames(p.calibration) if p.calibration is not None else None
    ctx.result = report = cross_validate(
        frames, len(fold_subjects), fold_subjects, model_config, train_config, ctx.dir, shots=p.shots,
        checkpoint=None if p.checkpoint is None else Path(p.checkpoint), seed=p.seed, val_fraction=p.val_fraction,
        calibration=calibration_frames, init=None if p.init is None else Path(p.init), split=split, forward=p.forward)
    write_report(report, ctx.dir)
    return f"wrote the report (report.json, predictions.csv, summary.md, plots, fold checkpoints) to {ctx.path}"


#: eval: the data is read by the body (UNBC-McMaster and 3D-Pain trees are not artefacts); OUT is a
#: report directory, never cached (a rerun is refused without force).
EVAL = Stage("eval", EvalParams, _evaluate, output=Directory(what="eval report"))


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
    training = dict(backbone=backbone, reference=reference, image_size=image_size, lora_r=lora_r, lora_alpha=lora_alpha,
                    lora_targets=lora_target_names(lora_targets), epochs=epochs, batch_size=batch_size, lr_heads=lr_heads, lr_lora=lr_lora,
                    weight_decay=weight_decay, au_weight=au_weight, weighted_sampling=weighted_sampling, amp=amp, num_workers=num_workers,
                    augment=augment)
    params = EvalParams(data=os.fspath(data), folds=folds, folds_file=_path(folds_file), split_csv=_path(split_csv),
                        checkpoint=_path(checkpoint), forward=forward, calibration=_path(calibration), shots=shots, init=_path(init),
                        val_fraction=val_fraction, training=tuple(training.items()), seed=seed)
    return run(EVAL, out, params, force=force)


def _path(value: PathLike | None) -> str | None:
    return None if value is None else os.fspath(value)


__all__ = ["evaluate", "EVAL", "EvalParams"]
