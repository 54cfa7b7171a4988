"""Train ViTPain: AdamW (separate learning rates for backbone and heads), cosine schedule, gradient
clipping, mixed precision on CUDA, subject-disjoint validation for model selection, resumable runs.

Layout of a run directory OUT: ``OUT/last/`` (checkpoint of the latest epoch plus optimiser state,
rewritten atomically after every epoch) and ``OUT/best/`` (checkpoint of the epoch with the lowest
validation loss). Under ``accelerate launch`` the work is spread over the launched processes.

The parts, in the order a run uses them: :func:`loss_defaults` (what the data decides),
:func:`start_processes` (the DDP set-up), :func:`build_optimizer` and :func:`build_schedule`,
:func:`_resume` (from OUT/last), :func:`train_epoch` (with :func:`_step`, the backward pass and
optimiser step in its three forms), :func:`validate`, :class:`Selection` (the best epoch) and
:func:`_save_epoch` (OUT/best and OUT/last).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from painctl import console
from painctl.datasets.frames import Frame
from painctl.errors import PainctlError
from painctl.facs import AU_MAX, PAIN_THRESHOLDS, PSPI_MAX
from painctl.seeding import rng_for, seed_for
from painctl.vitpain.checkpoint import load_checkpoint, save_checkpoint
from painctl.vitpain.config import ModelConfig, TrainConfig
from painctl.vitpain.inference import Predictions, predict_frames
from painctl.vitpain.model import ViTPain, build_model
from painctl.vitpain.pairs import ImageCache, PairDataset, check_frames, find_references, mostly_unbc, sample_weights

OPTIMIZER_FILE = "optimizer.pt"


# ----------------------------------------------------------------------------------------- losses
def vitpain_loss(out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], au_weight: float) -> tuple[torch.Tensor, dict[str, float]]:
    """The ViTPain loss: MSE(PSPI/16) + mean BCE over the PSPI >= 1, 2, 3 heads + au_weight * MSE(AU/AU_MAX)
    over annotated AUs only. Returns (loss, its parts as floats)."""
    mse = F.mse_loss(out["pspi"].float(), batch["pspi"])
    bce = F.binary_cross_entropy_with_logits(out["logits"].float(), batch["pain_labels"])
    mask = batch["au_mask"].float()
    au = (((out["au"].float() - batch["au"]) ** 2) * mask).sum() / mask.sum().clamp(min=1)
    loss = mse + bce + au_weight * au
    return loss, {"pspi": mse.item(), "bce": bce.item(), "au": au.item()}


def distillation_loss(out: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> torch.Tensor:
    """MSE between the student's outputs and the heatmap teacher's (PSPI/16, pain probabilities,
    AU/AU_MAX), over the rows whose frame has a heatmap (``target["mask"]``)."""
    mask = target["mask"].float()
    rows = (
        (out["pspi"].float() - target["pspi"]) ** 2
        + ((torch.sigmoid(out["logits"].float()) - target["prob"]) ** 2).mean(-1)
        + ((out["au"].float() - target["au"]) ** 2).mean(-1)
    )
    return (rows * mask).sum() / mask.sum().clamp(min=1)


# ---------------------------------------------------------------------------------------- metrics
def pspi_metrics(pred: Predictions, frames: Sequence[Frame], au_weight: float) -> dict[str, float]:
    """Validation figures: the loss on averaged predictions, PSPI PCC/MAE, AUROC at PSPI >= 1."""
    y = np.array([f.pspi for f in frames], dtype=np.float64)
    p = pred.pspi.astype(np.float64)
    labels = np.stack([y >= t for t in PAIN_THRESHOLDS], axis=1).astype(np.float64)
    prob = np.clip(pred.prob.astype(np.float64), 1e-7, 1 - 1e-7)
    bce = float(-(labels * np.log(prob) + (1 - labels) * np.log(1 - prob)).mean())
    au = np.stack([f.au for f in frames]).astype(np.float64)
    mask = np.isfinite(au)
    au_err = ((pred.au - np.where(mask, au, 0)) / AU_MAX) ** 2
    au_mse = float((au_err * mask).sum() / max(mask.sum(), 1))
    loss = float((((p - y) / PSPI_MAX) ** 2).mean()) + bce + au_weight * au_mse
    pcc = float(np.corrcoef(p, y)[0, 1]) if len(y) > 1 and y.std() > 0 and p.std() > 0 else float("nan")
    out = {"loss": loss, "pcc": pcc, "mae": float(np.abs(p - y).mean())}
    pos = labels[:, 0]
    if 0 < pos.sum() < len(pos):
        from sklearn.metrics import roc_auc_score

        out["auroc1"] = float(roc_auc_score(pos, pred.prob[:, 0]))
    return out


# ------------------------------------------------------------------------------------ the run dir
def _digest(frames: Sequence[Frame]) -> str:
    h = hashlib.sha256()
    for f in frames:
        h.update(f"{f.key or f.image}\t{f.pspi:.6g}\t{f.subject}\t{f.view}\n".encode())
    return h.hexdigest()[:16]


def _run_identity(train, val, model_config: ModelConfig, train_config: TrainConfig, init: Path | None) -> dict[str, Any]:
    return {
        "model": model_config.to_dict(),
        "train": train_config.to_dict(),
        "init": None if init is None else str(init),
        "train_data": _digest(train),
        "val_data": _digest(val),
    }


def _same_run(saved: Any, identity: dict) -> bool:
    """True when ``saved`` (a training.json's "run") differs from ``identity`` at most in the epoch count:
    such a run is continued, not refused (``train --epochs 10`` after a finished 3-epoch run)."""
    if not isinstance(saved, dict) or not isinstance(saved.get("train"), dict):
        return False
    return {**saved, "train": {**saved["train"], "epochs": None}} == {**identity, "train": {**identity["train"], "epochs": None}}


def _prepare_out(out: Path, identity: dict, resume: bool, force: bool) -> dict | None:
    """Return the state saved in OUT/last when it belongs to this run (resume; the epoch count may
    differ), else None after clearing OUT; refuse to touch an OUT that holds something else unless ``force``."""
    last = out / "last" / "training.json"
    if not last.is_file() and out.is_dir():
        # Killed between the two renames of a checkpoint swap: put the previous last/ back.
        previous = sorted(out.glob(".last.old-*"), key=lambda p: p.stat().st_mtime)
        if previous and (previous[-1] / "training.json").is_file():
            shutil.rmtree(out / "last", ignore_errors=True)
            previous[-1].rename(out / "last")
    if last.is_file():
        try:
            state = json.loads(last.read_text())
        except (OSError, json.JSONDecodeError):
            state = {}
        if resume and _same_run(state.get("run"), identity):
            return state
        if not force:
            raise PainctlError(f"{out} holds a training run with other parameters or data; pass {{force=True}} to start over",
                               params=("force=True",))
    elif out.exists() and any(out.iterdir()):  # (a file at OUT was refused by RunWriter)
        raise PainctlError(f"{out}: is a directory that holds no painctl training run; painctl will not replace it, "
                           "with or without {force=True}", params=("force=True",))
    for name in ("last", "best", *(p.name for p in out.glob(".last.*")), *(p.name for p in out.glob(".best.*"))):
        shutil.rmtree(out / name, ignore_errors=True)
    if out.exists() and not out.is_dir():
        out.unlink()
    out.mkdir(parents=True, exist_ok=True)
    return None


# ------------------------------------------------------------------------- what the data decides
#: The AU-loss weight when TrainConfig.au_weight is None: the paper's 1.0 on synthetic data and 0.1 on
#: UNBC-McMaster, whose AU codings are sparse and noisier than exact synthetic labels.
SYNTHETIC_AU_WEIGHT = 1.0
UNBC_AU_WEIGHT = 0.1
#: The learning rate of a pretrained backbone's LoRA adapters when TrainConfig.lr_lora is None (the
#: paper's 1e-5). The tiny backbone is trained in full from random weights and takes lr_heads instead.
PRETRAINED_BACKBONE_LR = 1e-5


def _check_data(train: list[Frame], val: list[Frame], model_config: ModelConfig, train_config: TrainConfig) -> tuple[list[str], list[str]]:
    """Refuse data and configs that cannot train; return the sorted train and validation subjects."""
    if not train:
        raise PainctlError("no training frames")
    check_frames(train)
    check_frames(val)
    train_subjects, val_subjects = sorted({f.subject for f in train}), sorted({f.subject for f in val})
    leaked = sorted(set(train_subjects) & set(val_subjects))
    if leaked:
        raise PainctlError(f"validation subjects must differ from training subjects; shared: {', '.join(leaked[:5])}")
    if model_config.input == "heatmap" and train_config.teacher is not None:
        raise PainctlError("{teacher} distils into an RGB student; it cannot be combined with {input='heatmap'}", params=("teacher", "input='heatmap'"))
    return train_subjects, val_subjects


def loss_defaults(train: Sequence[Frame], train_config: TrainConfig) -> tuple[float, bool]:
    """The AU-loss weight and whether to oversample pain frames: as configured, else by the data
    (UNBC-McMaster: 0.1 and weighted sampling; synthetic data: 1.0 and uniform sampling)."""
    unbc = mostly_unbc(train)
    au_weight = train_config.au_weight if train_config.au_weight is not None else (UNBC_AU_WEIGHT if unbc else SYNTHETIC_AU_WEIGHT)
    weighted = train_config.weighted_sampling if train_config.weighted_sampling is not None else unbc
    return au_weight, weighted


# --------------------------------------------------------------------------- processes (DDP set-up)
@dataclass
class Processes:
    """Where this process trains: ``accelerator`` (None when not launched by accelerate/torchrun), its
    ``rank`` of ``world`` processes and its ``device``. Only the main process validates and saves."""

    accelerator: Any
    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.accelerator is None or self.accelerator.is_main_process

    def wait(self) -> None:
        """Wait for every process (a no-op in a single process)."""
        if self.accelerator is not None:
            self.accelerator.wait_for_everyone()


def _launched() -> bool:
    """True under `accelerate launch` / torchrun (distributed environment variables set)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 or any(k.startswith("ACCELERATE_") for k in os.environ)


def start_processes() -> Processes:
    """Join the distributed run when launched by accelerate or torchrun, else train in this process alone."""
    if not _launched():
        return Processes(None, 0, 1, torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    try:
        from accelerate import Accelerator
    except ImportError:
        raise PainctlError("a distributed launch was detected but accelerate is not installed (pip install accelerate)") from None
    # Without CUDA, cpu=True makes accelerate use gloo across the launched CPU processes.
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    return Processes(accelerator, accelerator.process_index, accelerator.num_processes, accelerator.device)


# ------------------------------------------------------------------------ model, optimiser, schedule
def _load_init(model: ViTPain, init: Path, model_config: ModelConfig) -> None:
    source, config, _ = load_checkpoint(init)
    mine, theirs = model_config.to_dict(), config.to_dict()
    mine.pop("image_size"), theirs.pop("image_size")
    if mine != theirs:
        diff = ", ".join(sorted(k for k in mine if mine[k] != theirs.get(k)))
        raise PainctlError(f"{{init}} {init} has another architecture ({diff} differ)", params=("init",))
    model.load_state_dict(source.trainable_state_dict(), strict=False)


def build_optimizer(model: ViTPain, train_config: TrainConfig) -> tuple[torch.optim.AdamW, float]:
    """AdamW with two parameter groups, the backbone's trainable part and the heads, each at its own
    learning rate; returns (optimiser, the backbone's learning rate)."""
    lr_backbone = train_config.lr_lora if train_config.lr_lora is not None else (PRETRAINED_BACKBONE_LR if model.spec.pretrained else train_config.lr_heads)
    groups = [
        {"params": model.backbone_parameters(), "lr": lr_backbone, "name": "backbone"},
        {"params": model.head_parameters(), "lr": train_config.lr_heads, "name": "heads"},
    ]
    return torch.optim.AdamW([g for g in groups if g["params"]], weight_decay=train_config.weight_decay), lr_backbone


def _cosine(total_steps: int, floor: float):
    def factor(step: int) -> float:
        t = min(step, total_steps) / max(total_steps, 1)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))

    return factor


def build_schedule(optimizer: torch.optim.Optimizer, total_steps: int, floor: float) -> torch.optim.lr_scheduler.LambdaLR:
    """Cosine decay of every group's learning rate over ``total_steps`` optimiser steps, down to
    ``floor`` times its start (TrainConfig.min_lr_fraction: the paper's 1%)."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, _cosine(total_steps, floor))


def _teacher_targets(teacher: Path, frames: Sequence[Frame], batch_size: int, seed: int) -> dict[str, torch.Tensor]:
    """The heatmap teacher's outputs for every frame with a heatmap, on the model's scales."""
    model, config, _ = load_checkpoint(teacher)
    if config.input != "heatmap":
        raise PainctlError(f"{{teacher}} {teacher} was trained on {config.input} images; a teacher must be trained with {{input='heatmap'}}",
                           params=("teacher", "input='heatmap'"))
    has = np.array([f.heatmap is not None for f in frames])
    if not has.any():
        raise PainctlError("{teacher} needs training data with heatmaps (Frame.heatmap); none of the training frames has one", params=("teacher",))
    chosen = [f for f, h in zip(frames, has) if h]
    pred = predict_frames(model, chosen, chosen, batch_size=batch_size, seed=seed, fallback="lowest")
    n = len(frames)
    target = {"mask": torch.from_numpy(has), "pspi": torch.zeros(n), "prob": torch.zeros(n, 3), "au": torch.zeros(n, 6)}
    idx = torch.from_numpy(np.flatnonzero(has))
    target["pspi"][idx] = torch.from_numpy(pred.pspi / PSPI_MAX)
    target["prob"][idx] = torch.from_numpy(pred.prob)
    target["au"][idx] = torch.from_numpy(pred.au / AU_MAX).float()
    return target


# ----------------------------------------------------------------------- checkpoints: save, resume
@dataclass
class Selection:
    """The epochs trained so far (``history``, one record each) and the one selected: the lowest
    validation loss, or the latest epoch when there is no validation data."""

    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int | None = None
    best_loss: float = math.inf

    def add(self, record: dict[str, Any], epoch: int) -> bool:
        """Record epoch ``epoch`` (0-based); return True when it is the new best."""
        score = record.get("val_loss", -float(epoch))  # no validation: the latest epoch wins
        improved = self.best_epoch is None or score < self.best_loss
        if improved:
            self.best_loss, self.best_epoch = score, epoch + 1
        self.history.append(record)
        return improved


def _saved_state(out: Path, identity: dict, resume: bool, force: bool, processes: Processes) -> dict | None:
    """The state in OUT/last when this run continues it (see :func:`_prepare_out`, which only the main
    process runs; the others read what it left once it is done)."""
    state = _prepare_out(out, identity, resume, force) if processes.main else None
    processes.wait()
    if not processes.main:
        last = out / "last" / "training.json"
        state = json.loads(last.read_text()) if last.is_file() else None
        state = state if state and _same_run(state.get("run"), identity) else None
    return state


def _resume(out: Path, state: dict, model: ViTPain, optimizer, scheduler, epochs: int, say) -> tuple[int, Selection]:
    """Load the model, optimiser and schedule saved in OUT/last; return the epochs done and the
    selection so far. Asked for more epochs than planned, the schedule is re-planned over the new total."""
    model.load_state_dict(load_checkpoint(out / "last")[0].trainable_state_dict(), strict=False)
    try:  # weights_only: tensors and plain containers, never arbitrary objects
        saved = torch.load(out / "last" / OPTIMIZER_FILE, weights_only=True, map_location="cpu")
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign file, whatever the exception
        raise PainctlError(f"{out / 'last' / OPTIMIZER_FILE}: unusable optimiser state ({exc.__class__.__name__}); pass {{force=True}} to start over",
                           params=("force=True",)) from None
    done = int(state["epoch"])
    selection = Selection(list(state.get("history", [])), state.get("best_epoch"), float(state.get("best_loss", math.inf)))
    planned = int(state.get("epochs", state["run"]["train"]["epochs"]))
    if done >= epochs:
        say(f"{out} is up to date ({console.plural(done, 'epoch')} done, {epochs} asked for)")
    elif planned == epochs:
        say(f"resuming {out} after epoch {done}/{epochs}")
    else:
        # The cosine schedule is re-planned over the new total: training goes on from the current step
        # of an epochs-long schedule (so the learning rate rises again after a finished run).
        say(f"continuing {out} from the checkpoint of epoch {done} to epoch {epochs} "
            f"(planned {planned}; learning-rate schedule re-planned for {epochs})")
        for group, base, factor in zip(optimizer.param_groups, scheduler.base_lrs, scheduler.lr_lambdas):
            group["lr"] = base * factor(scheduler.last_epoch)
    return done, selection


def _save_epoch(out: Path, model: ViTPain, model_config: ModelConfig, summary: dict[str, Any], record: dict[str, Any],
                improved: bool, optimizer, scheduler) -> None:
    """Write OUT/best (when this epoch is the best so far) and OUT/last with the optimiser and schedule
    state (to resume from), each replaced atomically."""
    if improved:
        save_checkpoint(model, model_config, out / "best", {**summary, "metrics": record})
    opt_state = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}
    save_checkpoint(model, model_config, out / "last", {**summary, "metrics": record},
                    extra_files={OPTIMIZER_FILE: lambda path: torch.save(opt_state, path)})


# ------------------------------------------------------------------------------- one training epoch
@dataclass
class Precision:
    """Mixed precision of the forward pass: ``enabled`` (CUDA only), its ``dtype`` (bfloat16 where the
    GPU has it, else float16) and the float16 loss ``scaler`` (None for bfloat16 and full precision)."""

    enabled: bool
    dtype: torch.dtype
    scaler: Any = None


def mixed_precision(train_config: TrainConfig, processes: Processes) -> Precision:
    """The precision to train in. Under accelerate, mixed precision is accelerate's (--mixed_precision),
    with its own loss scaling, so none is added here."""
    enabled = train_config.amp and processes.device.type == "cuda" and processes.accelerator is None
    dtype = torch.bfloat16 if enabled and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda") if enabled and dtype == torch.float16 else None
    return Precision(enabled, dtype, scaler)


def _step(loss: torch.Tensor, model: ViTPain, optimizer, precision: Precision, processes: Processes, grad_clip: float) -> None:
    """Backpropagate ``loss``, clip the gradient norm to ``grad_clip`` (0: no clipping) and step the
    optimiser: through accelerate when launched by it, through the float16 loss scaler, or plainly."""
    optimizer.zero_grad(set_to_none=True)
    if processes.accelerator is not None:
        processes.accelerator.backward(loss)
        if grad_clip:
            processes.accelerator.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
    elif precision.scaler is not None:
        precision.scaler.scale(loss).backward()
        precision.scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
        if grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        precision.scaler.step(optimizer)
        precision.scaler.update()
    else:
        loss.backward()
        if grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()


def _epoch_order(weights: torch.Tensor | None, n: int, seed: int, epoch: int) -> list[int]:
    gen = torch.Generator().manual_seed(seed_for(seed, "train/order", epoch))
    if weights is None:
        return torch.randperm(n, generator=gen).tolist()
    return torch.multinomial(weights, n, replacement=True, generator=gen).tolist()


#: The stream that reseeds torch's global generator each epoch: rng_for(seed, TORCH_GLOBAL_STREAM, epoch).
TORCH_GLOBAL_STREAM = "train/torch-global"


def train_epoch(epoch: int, trained, model: ViTPain, dataset: PairDataset, weights: torch.Tensor | None, optimizer, scheduler,
                precision: Precision, processes: Processes, model_config: ModelConfig, train_config: TrainConfig, au_weight: float,
                teacher: dict[str, torch.Tensor] | None, progress: bool) -> dict[str, float]:
    """Train one epoch (0-based ``epoch``) over this process's share of the epoch's sample order;
    return the mean loss and its parts per batch (``train_loss``, ``train_pspi``, ...).

    ``trained`` is the model as it runs (wrapped by accelerate when launched), ``model`` the bare one.
    """
    model.train()
    # Torch's global generator is drawn from while training (dropout and the like): reseeding it from
    # (seed, epoch) makes a run resumed after epoch k bit-identical to one that never stopped.
    torch.manual_seed(int(rng_for(train_config.seed, TORCH_GLOBAL_STREAM, epoch).integers(2**63)))
    dataset.set_epoch(epoch)
    n = len(dataset)
    per_rank = n // processes.world if processes.world > 1 else n
    order = _epoch_order(weights, n, train_config.seed, epoch)[processes.rank * per_rank : (processes.rank + 1) * per_rank]
    loader = torch.utils.data.DataLoader(dataset, batch_size=train_config.batch_size, sampler=order, num_workers=train_config.num_workers)
    totals, batches = {"loss": 0.0, "pspi": 0.0, "bce": 0.0, "au": 0.0, "distill": 0.0}, 0
    device = processes.device
    bar = console.track(loader, total=len(loader), description=f"epoch {epoch + 1}/{train_config.epochs}") if (progress and processes.main) else loader
    for batch in bar:
        batch = {k: v.to(device) for k, v in batch.items()}
        with torch.autocast(device.type, dtype=precision.dtype, enabled=precision.enabled):
            outputs = trained(batch["pain"], batch["neutral"] if model_config.reference else None)
        loss, parts = vitpain_loss(outputs, batch, au_weight)
        if teacher is not None:
            idx = batch["index"].cpu()
            target = {k: v[idx].to(device) for k, v in teacher.items()}
            distill = distillation_loss(outputs, target)
            loss = loss + train_config.distill_weight * distill
            parts["distill"] = distill.item()
        _step(loss, model, optimizer, precision, processes, train_config.grad_clip)
        scheduler.step()
        totals["loss"] += loss.item()
        for k, v in parts.items():
            totals[k] += v
        batches += 1
    return {f"train_{k}": v / max(batches, 1) for k, v in totals.items() if k != "distill" or teacher is not None}


def validate(model: ViTPain, val: list[Frame], cache: ImageCache, train_config: TrainConfig, au_weight: float) -> dict[str, float]:
    """Score the validation frames (each against ``shots`` neutral references of its subject) and
    return :func:`pspi_metrics` as ``val_loss``, ``val_pcc``, ..."""
    pred = predict_frames(model, val, val, shots=train_config.shots, batch_size=train_config.batch_size, seed=train_config.seed,
                          fallback="lowest", cache=cache)
    return {f"val_{k}": v for k, v in pspi_metrics(pred, val, au_weight).items()}


# ------------------------------------------------------------------------------------- the trainer
def estimate_training_bytes(model_config: ModelConfig, batch_size: int) -> int:
    """Estimate the peak memory (bytes) of one training step: the activations kept for backward.

    Per image and layer: the attention scores and probabilities (heads x T^2 float32) and about
    16 hidden-size vectors per token (T = patches + CLS + registers); the reference image doubles it.
    """
    from painctl.vitpain.backbone import resolve_backbone

    config = resolve_backbone(model_config.backbone).config
    patch = int(config.get("patch_size", 16))
    tokens = (int(model_config.image_size) // patch) ** 2 + 1 + int(config.get("num_register_tokens", 0))
    heads, layers, hidden = int(config["num_attention_heads"]), int(config["num_hidden_layers"]), int(config["hidden_size"])
    per_layer = 2 * heads * tokens * tokens * 4 + 16 * tokens * hidden * 4
    images = 2 if model_config.reference else 1
    return int(batch_size) * images * layers * per_layer


def train_model(
    train: Sequence[Frame],
    val: Sequence[Frame],
    model_config: ModelConfig,
    train_config: TrainConfig,
    out: Path,
    init: Path | None = None,
    resume: bool = True,
    progress: bool = True,
    force: bool = False,
    stop_after: int | None = None,
    big_ok: bool = False,
) -> Path:
    """Train ViTPain on ``train`` frames, select the epoch with the lowest loss on ``val``, and return
    the checkpoint directory of that epoch (``out/best``).

    See :func:`run_training` for the run itself. This wrapper (for callers outside the stage runner:
    cross-validation's folds, tests, benchmarks) refuses, before any work, a step estimated not to
    fit in memory (unless ``big_ok``), and writes OUT through the runner's run-directory output (the
    lock beside ``out``; an ``out`` it created removed again if the run fails before its first epoch).
    """
    from painctl.artefact.resources import check_resources
    from painctl.artefact.stage import RunWriter

    out = Path(out)
    check_resources(out, **training_need(model_config, train_config), override=big_ok)
    with RunWriter(out, "training run"):
        return run_training(train, val, model_config, train_config, out, init, resume, progress, force, stop_after)


def training_need(model_config: ModelConfig, train_config: TrainConfig) -> dict[str, Any]:
    """The keywords of :func:`~painctl.artefact.resources.check_resources` for a run: the memory of one
    step (bytes) on the device it will run on."""
    return {"memory_bytes": estimate_training_bytes(model_config, train_config.batch_size), "device": "cuda" if torch.cuda.is_available() else "cpu",
            "what": f"training at image_size={model_config.image_size} with batch_size={train_config.batch_size}"}


def run_training(
    train: list[Frame],
    val: list[Frame],
    model_config: ModelConfig,
    train_config: TrainConfig,
    out: Path,
    init: Path | None = None,
    resume: bool = True,
    progress: bool = True,
    force: bool = False,
    stop_after: int | None = None,
) -> Path:
    """Train ViTPain on ``train`` frames, select the epoch with the lowest loss on ``val``, and return
    the checkpoint directory of that epoch (``out/best``).

    ``val`` must hold other subjects than ``train`` (both from the training data: never test
    subjects); an empty ``val`` selects the last epoch. ``init`` starts from a checkpoint of the same
    architecture (fine-tuning). An interrupted run resumes from ``out/last`` when called again with
    the same data and configs (``resume``); a run with other parameters is refused unless ``force``.
    ``stop_after`` runs at most that many epochs in this call (for time-limited jobs; call again to
    continue). Each checkpoint's training.json records the train/val subject lists, epoch and metrics.
    The caller holds OUT's lock and checks the memory (:func:`train_model`, or the train stage's runner).
    """
    out = Path(out)
    train, val = list(train), list(val)
    train_subjects, val_subjects = _check_data(train, val, model_config, train_config)
    au_weight, weighted = loss_defaults(train, train_config)
    identity = _run_identity(train, val, model_config, train_config, init)
    processes = start_processes()
    say = console.info if (progress and processes.main) else (lambda message: None)
    state = _saved_state(out, identity, resume, force, processes)

    # The order of what follows is part of the result: every step below draws from torch's global generator.
    torch.manual_seed(train_config.seed)
    model = build_model(model_config)
    if init is not None:
        _load_init(model, Path(init), model_config)
    optimizer, lr_backbone = build_optimizer(model, train_config)
    cache = ImageCache(model_config.image_size, model_config.input)
    references = find_references(train, fallback="lowest") if model_config.reference else None
    dataset = PairDataset(train, train, references, cache, augment=train_config.augment, seed=train_config.seed)
    weights = sample_weights(train, train_config.pain_weight) if weighted else None
    per_rank = len(train) // processes.world if processes.world > 1 else len(train)
    scheduler = build_schedule(optimizer, math.ceil(per_rank / train_config.batch_size) * train_config.epochs, train_config.min_lr_fraction)
    teacher = _teacher_targets(train_config.teacher, train, train_config.batch_size, train_config.seed) if train_config.teacher else None

    start_epoch, selection = 0, Selection()
    if state is not None:
        start_epoch, selection = _resume(out, state, model, optimizer, scheduler, train_config.epochs, say)
        if start_epoch >= train_config.epochs:
            return out / "best"

    model.to(processes.device)
    precision = mixed_precision(train_config, processes)
    trained = model
    if processes.accelerator is not None:
        trained, optimizer = processes.accelerator.prepare(model, optimizer)

    say(f"training on {console.plural(len(train), 'frame')} of {console.plural(len(train_subjects), 'subject')}, "
        f"validating on {console.plural(len(val), 'frame')} of {console.plural(len(val_subjects), 'subject')}"
        f" ({'weighted sampling, ' if weighted else ''}AU weight {au_weight:g}, {processes.device.type})")
    facts = {
        "run": identity, "epochs": train_config.epochs, "train_subjects": train_subjects, "val_subjects": val_subjects,
        "n_train_frames": len(train), "n_val_frames": len(val), "au_weight": au_weight, "weighted_sampling": weighted,
        "lr_backbone": lr_backbone, "lr_heads": train_config.lr_heads,
        "selection": "lowest validation loss" if val else "last epoch (no validation frames)",
        "processes": processes.world, "device": processes.device.type,
    }
    last_epoch = train_config.epochs if stop_after is None else min(train_config.epochs, start_epoch + stop_after)
    for epoch in range(start_epoch, last_epoch):
        record: dict[str, Any] = {"epoch": epoch + 1, **train_epoch(epoch, trained, model, dataset, weights, optimizer, scheduler, precision,
                                                                   processes, model_config, train_config, au_weight, teacher, progress)}
        if processes.main:
            if val:
                record.update(validate(model, val, cache, train_config, au_weight))
            improved = selection.add(record, epoch)
            summary = {**facts, "epoch": epoch + 1, "best_epoch": selection.best_epoch, "best_loss": selection.best_loss, "history": selection.history}
            _save_epoch(out, model, model_config, summary, record, improved, optimizer, scheduler)
            say(_epoch_line(record, train_config.epochs, improved))
        processes.wait()
    return out / "best"


def _epoch_line(record: dict[str, Any], epochs: int, improved: bool) -> str:
    parts = [f"epoch {record['epoch']}/{epochs}", f"loss {record['train_loss']:.4f}"]
    if "train_distill" in record:
        parts.append(f"distill {record['train_distill']:.4f}")
    if "val_loss" in record:
        parts.append(f"val loss {record['val_loss']:.4f}")
        parts.append(f"PCC {record['val_pcc']:.3f}")
        parts.append(f"MAE {record['val_mae']:.3f}")
        if "val_auroc1" in record:
            parts.append(f"AUROC@1 {record['val_auroc1']:.3f}")
    return ", ".join(parts) + (" (best)" if improved else "")


def split_validation(frames: Sequence[Frame], fraction: float, seed: int = 0) -> tuple[list[Frame], list[Frame]]:
    """Split ``frames`` by subject into (train, validation) with ``fraction`` of the subjects held out
    for model selection (0: no validation split). Uses :func:`painctl.datasets.splits.inner_split`."""
    if fraction == 0:
        return list(frames), []
    from painctl.datasets.splits import inner_split

    _, val_subjects = inner_split({f.subject for f in frames}, fraction, seed)
    held = set(val_subjects)
    return [f for f in frames if f.subject not in held], [f for f in frames if f.subject in held]


__all__ = ["train_model", "split_validation", "vitpain_loss", "distillation_loss", "pspi_metrics", "loss_defaults", "start_processes",
           "Processes", "build_optimizer", "build_schedule", "mixed_precision", "Precision", "train_epoch", "validate", "Selection",
           "estimate_training_bytes"]
