"""ViT backbones for ViTPain: the embedded tiny DINOv3 or a DINOv3/DINOv2 model from the Hugging Face cache.

A backbone is described by a :class:`BackboneSpec` (what to build and its normalisation statistics)
so a checkpoint can store the description rather than frozen weights. Every backbone runs through
its own transformers forward pass (rotary embedding and register tokens included); token order is
CLS, registers, patches.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from painctl.errors import PainctlError

#: The embedded backbone: a small DINOv3 configuration with 4 register tokens, like the real ones.
TINY_CONFIG: dict[str, Any] = {
    "model_type": "dinov3_vit",
    "hidden_size": 64,
    "intermediate_size": 256,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "patch_size": 16,
    "num_register_tokens": 4,
    "image_size": 64,
}
#: Normalisation of the tiny backbone (it is trained from scratch, so any fixed statistics would do).
TINY_MEAN = (0.485, 0.456, 0.406)
TINY_STD = (0.229, 0.224, 0.225)
#: transformers model classes by config ``model_type``.
SUPPORTED = {
    "dinov3_vit": "DINOv3ViTModel",
    "dinov2": "Dinov2Model",
    "dinov2_with_registers": "Dinov2WithRegistersModel",
}
_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")


@dataclass
class BackboneSpec:
    """What a backbone is: ``source`` ("tiny", a hub id or a directory), its transformers ``config``
    (a dict), ``mean``/``std`` (per-channel normalisation of [0, 1] RGB), ``pretrained`` (frozen with
    LoRA when True, trained in full when False)."""

    source: str
    config: dict[str, Any]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    pretrained: bool

    @property
    def model_type(self) -> str:
        return str(self.config.get("model_type"))

    @property
    def hidden_size(self) -> int:
        return int(self.config["hidden_size"])

    @property
    def patch_size(self) -> int:
        return int(self.config.get("patch_size", 16))

    @property
    def prefix_tokens(self) -> int:
        """CLS plus register tokens, which come before the patch tokens."""
        return 1 + int(self.config.get("num_register_tokens", 0) or 0)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BackboneSpec:
        try:
            spec = cls(str(data["source"]), dict(data["config"]), tuple(map(float, data["mean"])), tuple(map(float, data["std"])), bool(data["pretrained"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise PainctlError(f"bad backbone description in checkpoint config.json ({exc})") from None
        if len(spec.mean) != 3 or len(spec.std) != 3 or spec.model_type not in SUPPORTED:
            raise PainctlError("bad backbone description in checkpoint config.json")
        return spec


def _model_dir(source: str) -> Path:
    """Return the local directory holding ``source`` (a directory or a hub id in the local HF cache)."""
    path = Path(source).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise PainctlError(f"{{backbone}} directory {path} has no config.json (expected a DINOv3 or DINOv2 model saved with save_pretrained)",
                               params=("backbone",))
        return path
    if path.exists() or source.startswith((".", "/", "~")) or source.count("/") != 1:
        raise PainctlError(f"{{backbone}} {source!r} is not 'tiny', a local model directory, or a Hugging Face id such as "
                           "facebook/dinov3-vits16-pretrain-lvd1689m", params=("backbone",))
    from transformers.utils import cached_file

    try:
        config_file = cached_file(source, "config.json", local_files_only=True)
    except Exception:  # noqa: BLE001 - transformers raises several kinds here; all mean "not cached"
        config_file = None
    if config_file is None:
        from huggingface_hub import constants

        raise PainctlError(
            f"{{backbone}} {source!r} is not in the local Hugging Face cache ({constants.HF_HUB_CACHE}); "
            f"download it first (hf download {source}) or pass a local directory", params=("backbone",)
        )
    return Path(config_file).parent


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PainctlError(f"{path}: unreadable {what} ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise PainctlError(f"{path}: {what} is not a JSON object")
    return data


def resolve_backbone(source: str) -> BackboneSpec:
    """Describe the backbone named ``source`` without loading weights.

    "tiny" is the embedded configuration; anything else is a local directory or a Hugging Face id
    found in the local cache (never downloaded) holding a DINOv3 or DINOv2 model, its config.json,
    weights and preprocessor_config.json, whose image_mean/image_std become the normalisation.
    Raises PainctlError naming what is missing.
    """
    if source == "tiny":
        return BackboneSpec("tiny", dict(TINY_CONFIG), TINY_MEAN, TINY_STD, pretrained=False)
    root = _model_dir(source)
    config = _read_json(root / "config.json", "model config")
    kind = config.get("model_type")
    if kind not in SUPPORTED:
        raise PainctlError(f"{{backbone}} {source!r} is a {kind or 'unknown'} model; painctl supports DINOv3 (dinov3_vit) and DINOv2 "
                           "(dinov2, dinov2_with_registers)", params=("backbone",))
    if not any((root / name).is_file() for name in _WEIGHT_FILES):
        raise PainctlError(f"{{backbone}} {source!r} has no weights in {root} (expected model.safetensors)", params=("backbone",))
    pre = root / "preprocessor_config.json"
    if not pre.is_file():
        raise PainctlError(
            f"{{backbone}} {source!r} has no preprocessor_config.json in {root}, so its normalisation statistics are unknown; "
            "add the file from the model's release", params=("backbone",)
        )
    stats = _read_json(pre, "preprocessor config")
    mean, std = stats.get("image_mean"), stats.get("image_std")
    try:
        mean_t, std_t = tuple(float(x) for x in mean), tuple(float(x) for x in std)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        mean_t = std_t = ()
    if len(mean_t) != 3 or len(std_t) != 3 or min(std_t) <= 0:
        raise PainctlError(f"{pre}: image_mean and image_std must be three numbers each (std > 0)")
    return BackboneSpec(str(root) if Path(source).expanduser().is_dir() else source, config, mean_t, std_t, pretrained=True)


def _model_class(kind: str):
    import transformers

    return getattr(transformers, SUPPORTED[kind])


def build_backbone(spec: BackboneSpec, load_weights: bool = True):
    """Return the transformers model for ``spec`` (float32).

    Pretrained backbones load their weights from the local files (``load_weights``) and come back
    frozen; the tiny one is randomly initialised and trainable.
    """
    import torch

    cls = _model_class(spec.model_type)
    if spec.pretrained and load_weights:
        root = _model_dir(spec.source)
        try:
            model = cls.from_pretrained(root, local_files_only=True, dtype=torch.float32)
        except PainctlError:
            raise
        except Exception as exc:  # noqa: BLE001 - transformers' many loading failures, reported in one line
            raise PainctlError(f"cannot load backbone {spec.source!r} from {root}: {exc.__class__.__name__}: {exc}") from None
    else:
        config_cls = cls.config_class
        fields = {k: v for k, v in spec.config.items() if k not in ("model_type", "transformers_version", "architectures")}
        model = cls(config_cls(**fields))
    model = model.float()
    if spec.pretrained:
        model.requires_grad_(False)
    else:
        # The mask token only serves masked-image pretraining; it never gets a gradient here (and
        # DistributedDataParallel refuses parameters that never do).
        for name, param in model.named_parameters():
            if "mask_token" in name:
                param.requires_grad_(False)
    return model


#: The statistics the authors' code normalised every image with, whatever its backbone expects.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def authors_tokens(encoder, pixels):
    """Run a DINOv3 ``encoder`` (transformers DINOv3ViTModel) the way the authors' ViTPain code ran its
    timm DINOv3: patch embedding with the CLS token only (the 4 register tokens left out) and no
    rotary position embedding, then every layer and the final norm.

    ``pixels`` (B, 3, S, S) are already normalised. Returns tokens (B, 1 + patches, D): CLS, patches.
    This reproduces a fault (FACTS.md) and serves only checkpoints converted from their release.
    """
    import torch

    if getattr(getattr(encoder, "config", None), "model_type", None) != "dinov3_vit":
        raise PainctlError("the authors' forward pass exists for DINOv3 backbones only")
    emb = encoder.embeddings
    patches = emb.patch_embeddings(pixels.to(emb.patch_embeddings.weight.dtype)).flatten(2).transpose(1, 2)
    tokens = torch.cat([emb.cls_token.expand(patches.shape[0], -1, -1), patches], dim=1)
    # transformers' DINOv3 attention always rotates the patch tokens; cos 1 and sin 0 make that rotation
    # the identity exactly (q * 1 + rotate_half(q) * 0 == q), which is the authors' "no RoPE".
    head_dim = encoder.config.hidden_size // encoder.config.num_attention_heads
    cos = torch.ones(patches.shape[1], head_dim, dtype=tokens.dtype, device=tokens.device)
    sin = torch.zeros_like(cos)
    for layer in encoder.model.layer:
        tokens = layer(tokens, position_embeddings=(cos, sin))
    return encoder.norm(tokens)


__all__ = ["BackboneSpec", "SUPPORTED", "TINY_CONFIG", "IMAGENET_MEAN", "IMAGENET_STD", "authors_tokens", "build_backbone", "resolve_backbone"]
