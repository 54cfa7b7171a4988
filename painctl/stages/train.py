"""`painctl train`: read labelled face data, split off validation subjects, train ViTPain, return the
selected checkpoint.

The configs come from keywords named as :class:`~painctl.vitpain.config.ModelConfig` and
:class:`~painctl.vitpain.config.TrainConfig` fields (``lr_heads``, ``lora_r``, ...), so the command's
options, the Python API's keywords and a run's training.json all speak of the same names.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from painctl import console
from painctl.artefact.stage import Context, Parameters, RunDirectory, Stage, run
from painctl.errors import BadValue
from painctl.vitpain.config import INPUTS, ModelConfig, TrainConfig, check_number

PathLike = str | os.PathLike


def lora_target_names(targets: str | Sequence[str]) -> tuple[str, ...]:
    """The attention projections LoRA adapts, from ``"q_proj,v_proj"`` or a sequence of names."""
    names = targets.split(",") if isinstance(targets, str) else list(targets)
    return tuple(str(t).strip() for t in names if str(t).strip())


def build_configs(*, backbone: str = "tiny", reference: bool = True, input: str = "rgb", image_size: int | None = None,  # noqa: A002
                  lora_r: int = 8, lora_alpha: int = 16, lora_targets: str | Sequence[str] = ("q_proj", "v_proj"),
                  epochs: int = 10, batch_size: int = 32, lr_heads: float = 1e-4, lr_lora: float | None = None,
                  weight_decay: float = 0.1, au_weight: float | None = None, weighted_sampling: bool | None = None,
                  shots: int = 1, teacher: PathLike | None = None, distill_weight: float = 1.0, amp: bool = True,
                  num_workers: int = 0, augment: bool = True, seed: int = 0) -> tuple[ModelConfig, TrainConfig]:
    """The (ModelConfig, TrainConfig) of a run; BadValue naming the keyword for a value out of range.

    A heatmap teacher (``input="heatmap"``) sees no neutral face, so ``reference`` is off for it.
    """
    if input not in INPUTS:
        raise BadValue("input", f"must be one of {', '.join(INPUTS)}, got {input!r}")
    model_config = ModelConfig(backbone=backbone, reference=bool(reference) and input == "rgb", lora_r=lora_r, lora_alpha=lora_alpha,
                               lora_targets=lora_target_names(lora_targets), input=input, image_size=image_size)
    train_config = TrainConfig(epochs=epochs, batch_size=batch_size, lr_heads=lr_heads, lr_lora=lr_lora, weight_decay=weight_decay,
                               au_weight=au_weight, weighted_sampling=weighted_sampling, seed=seed, shots=shots, teacher=teacher,
                               distill_weight=distill_weight, amp=bool(amp), num_workers=num_workers, augment=bool(augment))
    return model_config, train_config


def _data_paths(data: PathLike | Sequence[PathLike]) -> list[str]:
    paths = [data] if isinstance(data, (str, os.PathLike)) else list(data)
    if not paths:
        raise BadValue("data", "must name at least one dataset")
    return [os.fspath(p) for p in paths]


@dataclass(frozen=True)
class TrainParams(Parameters):
    """train's parameters (see :func:`train`): the data, the initial checkpoint, how validation
    subjects are chosen, and the keywords of :func:`build_configs` as (name, value) pairs."""

    data: tuple[str, ...]
    init: str | None = None
    val_fraction: float = 0.2
    split_csv: str | None = None
    training: tuple[tuple[str, Any], ...] = ()

    def check(self) -> None:
        if not self.data:
            raise BadValue("data", "must name at least one dataset")
        self.configs()
        check_number("val_fraction", self.val_fraction, 0)
        if self.val_fraction >= 1:
            raise BadValue("val_fraction", f"must be below 1 (some subjects must train), got {self.val_fraction}")
        if self.split_csv is not None:
            _require_threedpain(self.data)

    def configs(self) -> tuple[ModelConfig, TrainConfig]:
        """The run's (ModelConfig, TrainConfig)."""
        return build_configs(**dict(self.training))


def _frames(p: TrainParams, input: str):  # noqa: A002
    """(train frames, validation frames) of the run."""
    from painctl.datasets import load_frames
    from painctl.vitpain.training import split_validation

    frames = [frame for path in p.data for frame in load_frames(path)]
    if input == "heatmap":
        frames = [f for f in frames if f.heatmap is not None]
        if not frames:
            raise BadValue("input='heatmap'", "needs data with heatmaps (run 'painctl heatmap' first); the data has none")
    if p.split_csv is None:
        return split_validation(frames, p.val_fraction, dict(p.training).get("seed", 0))
    from painctl.datasets.splits import split_by_base

    train_frames, val_frames, test_frames = split_by_base(frames, p.split_csv)
    console.info(f"{p.split_csv}: {len(train_frames)} train, {len(val_frames)} validation frames; the {len(test_frames)} test frames are "
                 "not used here (score them with 'painctl eval --split-csv')")
    return train_frames, val_frames


def _estimate(ctx: Context) -> dict:
    from painctl.vitpain.training import training_need

    return training_need(*ctx.params.configs())


def _train(ctx: Context) -> str:
    from painctl.vitpain.training import run_training

    p = ctx.params
    model_config, train_config = p.configs()
    train_frames, val_frames = _frames(p, model_config.input)
    # Whether OUT's checkpoints are resumed, continued or (without force) refused is training's rule:
    # only it knows which of a run's parameters may change between calls (the epoch count).
    ctx.result = run_training(train_frames, val_frames, model_config, train_config, ctx.dir, init=None if p.init is None else Path(p.init),
                              force=ctx.force, progress=ctx.options.get("progress", True))
    return ""


#: train: the data is read by the body (3D-Pain and UNBC trees are not artefacts); OUT is a run
#: directory of checkpoints, each epoch's swapped in whole, resumed by a rerun.
TRAIN = Stage("train", TrainParams, _train, estimate=_estimate, output=RunDirectory(what="training run"))


def train(data: PathLike | Sequence[PathLike], out: PathLike, *, backbone: str = "tiny", reference: bool = True,
          input: str = "rgb", teacher: PathLike | None = None, distill_weight: float = 1.0,  # noqa: A002
          init: PathLike | None = None, val_fraction: float = 0.2, split_csv: PathLike | None = None, shots: int = 1,
          epochs: int = 10, batch_size: int = 32, lr_heads: float = 1e-4, lr_lora: float | None = None, weight_decay: float = 0.1,
          au_weight: float | None = None, weighted_sampling: bool | None = None, image_size: int | None = None, lora_r: int = 8,
          lora_alpha: int = 16, lora_targets: str | Sequence[str] = ("q_proj", "v_proj"), num_workers: int = 0, amp: bool = True,
          augment: bool = True, seed: int = 0, force: bool = False, big_ok: bool = False, progress: bool = True) -> Path:
    """Train ViTPain on ``data`` (one or more painctl render-views/heatmap artefacts, 3D-Pain trees or
    UNBC-McMaster trees) into the run directory ``out``; return the selected checkpoint, ``out/best``.

    ``val_fraction`` of the subjects (0 <= f < 1; 0: none, the last epoch is kept) are held out to
    select the epoch, or ``split_csv`` (3D-Pain trees only) names the train and val base names.
    ``input="heatmap"`` trains a heatmap teacher on the data's heatmaps; ``teacher`` distils one into
    this RGB model. The other keywords are the fields of ModelConfig and TrainConfig (see
    painctl-train(1)). A rerun resumes or continues ``out/last``; other parameters need ``force``.
    """
    training = dict(backbone=backbone, reference=reference, input=input, image_size=image_size, lora_r=lora_r, lora_alpha=lora_alpha,
                    lora_targets=lora_target_names(lora_targets), epochs=epochs, batch_size=batch_size, lr_heads=lr_heads, lr_lora=lr_lora,
                    weight_decay=weight_decay, au_weight=au_weight, weighted_sampling=weighted_sampling, shots=shots,
                    teacher=None if teacher is None else os.fspath(teacher), distill_weight=distill_weight, amp=amp,
                    num_workers=num_workers, augment=augment, seed=seed)
    params = TrainParams(data=tuple(_data_paths(data)), init=None if init is None else os.fspath(init), val_fraction=val_fraction,
                         split_csv=None if split_csv is None else os.fspath(split_csv), training=tuple(training.items()))
    return run(TRAIN, out, params, force=force, big_ok=big_ok, progress=progress)


def _require_threedpain(paths: Sequence[str]) -> None:
    from painctl.datasets import detect_format

    if any(detect_format(path) != "3dpain" for path in paths):
        raise BadValue(("split_csv", "data"), "{split_csv} names 3D-Pain base names; every {data} must be a 3D-Pain tree")


__all__ = ["train", "build_configs", "lora_target_names", "TRAIN", "TrainParams"]
