"""What a ViTPain model is (ModelConfig) and how it is trained (TrainConfig): plain, JSON-able dataclasses."""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from painctl.errors import BadValue, PainctlError

#: Image side used when ModelConfig.image_size is not given: the embedded tiny backbone is meant for CPUs.
TINY_IMAGE_SIZE = 64
HUB_IMAGE_SIZE = 224
INPUTS = ("rgb", "heatmap")
#: "painctl": painctl's heads; "authors": the heads of the authors' ViTPain (TaatiTeam/Pain-in-3D), for
#: checkpoints converted from their release (trained with their forward pass; painctl.vitpain.authors).
ARCHITECTURES = ("painctl", "authors")


@dataclass
class ModelConfig:
    """The architecture of a ViTPain model.

    ``backbone`` is "tiny" (the embedded small DINOv3 configuration, randomly initialised and trained in
    full), a Hugging Face model id, or a local directory of a DINOv3 / DINOv2 model (frozen, with LoRA).
    ``reference`` False is the single-image variant (no neutral encoder). ``lora_targets`` are the
    attention projections LoRA adapts (pretrained backbones only; "tiny" is trained in full); ``heads`` is the head count of the cross-attention and of the AU
    queries. ``input`` "heatmap" makes a heatmap teacher. ``image_size`` is the square input side in
    pixels (a multiple of the patch size, 16): 64 for "tiny" and 224 otherwise when left None.
    ``architecture`` "authors" marks a checkpoint converted from the authors' release (their heads).
    """

    backbone: str = "tiny"
    reference: bool = True
    lora_r: int = 8
    lora_alpha: int = 16
    lora_targets: tuple[str, ...] = ("q_proj", "v_proj")
    heads: int = 8
    au_queries: bool = True
    input: str = "rgb"
    image_size: int | None = None
    architecture: str = "painctl"

    def __post_init__(self) -> None:
        self.lora_targets = tuple(self.lora_targets)
        if self.image_size is None:
            self.image_size = TINY_IMAGE_SIZE if self.backbone == "tiny" else HUB_IMAGE_SIZE
        if self.architecture not in ARCHITECTURES:
            raise PainctlError(f"model architecture must be one of {', '.join(ARCHITECTURES)}, got {self.architecture!r}")
        if self.input not in INPUTS:
            raise PainctlError(f"model input must be one of {', '.join(INPUTS)}, got {self.input!r}")
        check_int("image_size", self.image_size, 16)
        if int(self.image_size) < 16 or int(self.image_size) % 16:
            raise PainctlError(f"image_size must be a positive multiple of 16 (the patch size), got {self.image_size}")
        for name in ("lora_r", "lora_alpha", "heads"):
            check_int(name, getattr(self, name), 1)

    def to_dict(self) -> dict[str, Any]:
        """Return the config as a JSON-able dict."""
        out = dataclasses.asdict(self)
        out["lora_targets"] = list(self.lora_targets)
        if out["architecture"] == "painctl":
            # Left out when default, so configs (and resumable training runs) from before the field agree.
            del out["architecture"]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Build a config from :meth:`to_dict` output; PainctlError on unknown or missing fields."""
        return _from_dict(cls, data)


@dataclass
class TrainConfig:
    """How to train: optimiser, schedule, loss weights, sampling, distillation, hardware.

    ``lr_lora`` applies to the backbone's trainable parameters (LoRA adapters, or the whole tiny
    backbone, which is trained in full; None = 1e-5 for a pretrained backbone and ``lr_heads`` for
    "tiny"). ``au_weight`` None = 1.0 for synthetic data, 0.1 for UNBC-McMaster; ``weighted_sampling``
    None = on for UNBC-McMaster (weight ``pain_weight`` for PSPI >= 1). ``teacher`` is a heatmap-teacher
    checkpoint whose predictions the student also fits, scaled by ``distill_weight``. ``amp`` uses
    mixed precision on CUDA only. ``shots`` neutral references are averaged in validation.
    """

    epochs: int = 10
    batch_size: int = 32
    lr_heads: float = 1e-4
    lr_lora: float | None = None
    weight_decay: float = 0.1
    min_lr_fraction: float = 0.01
    au_weight: float | None = None
    weighted_sampling: bool | None = None
    pain_weight: float = 2.0
    grad_clip: float = 1.0
    seed: int = 0
    shots: int = 1
    teacher: Path | None = None
    distill_weight: float = 1.0
    amp: bool = True
    num_workers: int = 0
    augment: bool = True

    def __post_init__(self) -> None:
        if self.teacher is not None:
            self.teacher = Path(self.teacher)
        from painctl.seeding import check_seed

        for name, low in (("epochs", 1), ("batch_size", 1), ("shots", 1), ("num_workers", 0)):
            check_int(name, getattr(self, name), low)
        for name, low, above in (("lr_heads", 0, True), ("lr_lora", 0, True), ("weight_decay", 0, False), ("au_weight", 0, False),
                                 ("pain_weight", 0, True), ("grad_clip", 0, False), ("distill_weight", 0, False)):
            if name not in ("lr_lora", "au_weight") or getattr(self, name) is not None:
                check_number(name, getattr(self, name), low, above)
        check_number("min_lr_fraction", self.min_lr_fraction, 0)
        if self.min_lr_fraction > 1:
            raise BadValue(f"min_lr_fraction must be at most 1, got {self.min_lr_fraction}")
        check_seed(self.seed)

    def to_dict(self) -> dict[str, Any]:
        """Return the config as a JSON-able dict."""
        out = dataclasses.asdict(self)
        out["teacher"] = None if self.teacher is None else str(self.teacher)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build a config from :meth:`to_dict` output; PainctlError on unknown or missing fields."""
        return _from_dict(cls, data)


def check_int(name: str, value: Any, minimum: int) -> int:
    """Return ``value`` if it is an integer of at least ``minimum``; raise BadValue naming parameter ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise BadValue(f"{name} must be an integer of at least {minimum}, got {value!r}")
    return int(value)


def check_number(name: str, value: Any, minimum: float, above: bool = False) -> float:
    """Return ``value`` if it is a finite number of at least ``minimum`` (above it, with ``above``);
    raise BadValue naming parameter ``name`` otherwise (nan and inf pass every comparison's test)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise BadValue(f"{name} must be a finite number, got {value!r}")
    if value < minimum or (above and value == minimum):
        raise BadValue(f"{name} must be {'>' if above else '>='} {minimum:g}, got {value!r}")
    return float(value)


def _from_dict(cls, data: dict[str, Any]):
    if not isinstance(data, dict):
        raise PainctlError(f"{cls.__name__} must be a JSON object")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise PainctlError(f"{cls.__name__} has unknown field(s) {', '.join(unknown)} (written by a newer painctl?)")
    try:
        return cls(**data)
    except TypeError as exc:
        raise PainctlError(f"bad {cls.__name__}: {exc}") from None


__all__ = ["ModelConfig", "TrainConfig", "check_int", "check_number", "INPUTS", "ARCHITECTURES", "TINY_IMAGE_SIZE", "HUB_IMAGE_SIZE"]
