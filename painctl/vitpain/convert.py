"""Convert the authors' released ViTPain (a PyTorch Lightning .ckpt, Hugging Face ``xinlei55555/ViTPain``)
into painctl's ViTPain, without running any code from the file (`painctl convert-checkpoint`,
:mod:`painctl.stages.convert_checkpoint`, writes it as a checkpoint directory).

The file is read by ``torch.load(weights_only=True)``: tensors, plain containers and, by name only,
Lightning's ``AttributeDict`` (its hyper-parameters) and ``pathlib.PosixPath``; a pickle naming any
other global is refused before anything is built from it.

Their model (TaatiTeam/Pain-in-3D ``lib/models/vitpain.py``) is a timm DINOv3 (fused ``qkv``,
``gamma_1``/``gamma_2`` layer scale, ``reg_token``) wrapped by peft LoRA on every module named
``qkv`` or ``proj`` (so also the patch embedding), one per encoder (``vit_model``, ``neutral_encoder``),
plus their heads. LoRA is merged into the weights (W + alpha/r B A) and the timm names are mapped onto
transformers' DINOv3ViTModel (q/k/v/o projections, layer_scale, up/down projections); the heads keep
their layout in :class:`painctl.vitpain.authors.AuthorsViTPain`.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, NamedTuple

from painctl import console
from painctl.errors import PainctlError

#: Lightning's hyper-parameter dict, under the names its versions pickle it with.
ATTRIBUTE_DICT_NAMES = (
    "pytorch_lightning.utilities.parsing.AttributeDict",
    "lightning.pytorch.utilities.parsing.AttributeDict",
    "lightning_fabric.utilities.data.AttributeDict",
    "lightning.fabric.utilities.data.AttributeDict",
)
#: DINOv3 sizes by timm model name part: attention heads (head width 64 otherwise).
HEADS = {"vit_small": 6, "vit_base": 12, "vit_large": 16, "vit_huge": 20, "vit_7b": 32}
#: Normalisation the DINOv3 weights were pretrained with, by pretraining tag (Meta's model cards).
STATISTICS = {
    "sat493m": ((0.430, 0.411, 0.296), (0.213, 0.156, 0.143)),
    "lvd1689m": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}
DEFAULT_MODEL_NAME = "timm/vit_large_patch16_dinov3.sat493m"
ENCODERS = {"vit_model": "pain_encoder", "neutral_encoder": "neutral_encoder"}
_IGNORED = re.compile(r"(^|\.)rope\.|(^|\.)(head|fc_norm|norm_pre)\.")


def load_lightning_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a PyTorch Lightning checkpoint with ``torch.load(weights_only=True)``; return its dict.

    Only tensors, plain containers, Lightning's AttributeDict and PosixPath may appear in it; anything
    else (a pickle that would import or call other code) is refused with PainctlError, unrun.
    """
    import pathlib
    import pickle

    import torch

    path = Path(path)
    if not path.is_file():
        raise PainctlError(f"{path}: no such checkpoint file")
    # Lightning's AttributeDict is read as a plain dict (weights_only fills only exact dicts), so
    # loading needs no Lightning and calls nothing of it.
    allowed = [(dict, name) for name in ATTRIBUTE_DICT_NAMES] + [pathlib.PosixPath]
    with path.open("rb") as fh:
        head = fh.read(4)
    zipped = head == b"PK\x03\x04"
    if not zipped and not head.startswith(b"\x80"):  # torch.save writes a zip archive, or a pickle (protocol >= 2)
        raise PainctlError(f"{path}: not a PyTorch checkpoint (neither a zip archive nor a pickle)")
    try:
        with torch.serialization.safe_globals(allowed):
            data = torch.load(path, map_location="cpu", weights_only=True, mmap=zipped)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        found = re.search(r"GLOBAL ([\w.]+)", text)
        detail = re.search(r"WeightsUnpickler error:\s*(.+)", text)
        if found or detail:
            what = f"it refers to {found.group(1)}, which is" if found else f"it holds something ({detail.group(1).strip()[:100]})"
            raise PainctlError(
                f"{path}: refusing to load: {what} not a tensor, a plain container or a Lightning checkpoint field "
                "(loading it could run code from the file)"
            ) from None
        raise PainctlError(f"{path}: not a PyTorch checkpoint ({_first_sentence(text)})") from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise PainctlError(f"{path}: not a PyTorch checkpoint ({exc.__class__.__name__}: {_first_sentence(str(exc))})") from None
    if not isinstance(data, dict) or not isinstance(data.get("state_dict"), dict):
        raise PainctlError(f"{path}: not a PyTorch Lightning checkpoint (no state_dict)")
    return data


def _first_sentence(text: str, limit: int = 120) -> str:
    # torch's messages run on with advice about torch.load itself; its first sentence says what failed.
    first = (text.strip().splitlines() or [""])[0].split(". ")[0]
    return first if len(first) <= limit else first[: limit - 3] + "..."


def _merged(weights: dict, name: str, scale: float):
    """The weight of module ``name`` with its LoRA adapter merged in (W + scale * B A), or the plain weight."""
    base = weights.get(f"{name}.base_layer.weight")
    if base is None:  # a plain module, or peft before 0.7 (which kept the weight under its own name)
        base = weights.get(f"{name}.weight")
    if base is None:
        return None
    a, b = weights.get(f"{name}.lora_A.default.weight"), weights.get(f"{name}.lora_B.default.weight")
    if a is None or b is None:
        return base
    delta = (b.flatten(1).double() @ a.flatten(1).double()).reshape(base.shape)
    return (base.double() + scale * delta).to(base.dtype)


def _bias(weights: dict, name: str):
    return weights.get(f"{name}.base_layer.bias", weights.get(f"{name}.bias"))


class _Tracked(dict):
    """A dict that remembers which keys were looked up, so tensors the mapping never used are caught."""

    def __init__(self, *args):
        super().__init__(*args)
        self.used: set[str] = set()

    def get(self, key, default=None):
        self.used.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.used.add(key)
        return super().__getitem__(key)


def _encoder_tensors(weights: dict, scale: float) -> tuple[dict, dict]:
    """Map one encoder's timm DINOv3 tensors (names without the encoder prefix) onto transformers'
    DINOv3ViTModel names; return (tensors, facts about the encoder: width, layers, registers, ...)."""
    weights = _Tracked(weights)
    if "cls_token" not in weights or not any(k.startswith("blocks.") for k in weights):
        raise PainctlError("the checkpoint's encoder is not a timm DINOv3 ViT (no cls_token or blocks)")
    if any(".mlp.fc1_g." in k or ".mlp.fc1_x." in k for k in weights):
        raise PainctlError("SwiGLU DINOv3 backbones (ViT-S+/H+/7B) are not supported by convert-checkpoint; ViT-S/B/L are")
    out = {"embeddings.cls_token": weights["cls_token"]}
    registers = weights.get("reg_token")
    if registers is not None:
        out["embeddings.register_tokens"] = registers
    out["embeddings.patch_embeddings.weight"] = _merged(weights, "patch_embed.proj", scale)
    out["embeddings.patch_embeddings.bias"] = _bias(weights, "patch_embed.proj")
    layers = 1 + max(int(k.split(".")[1]) for k in weights if k.startswith("blocks."))
    width = int(weights["cls_token"].shape[-1])
    biases = {"q": False, "v": False}
    for i in range(layers):
        src, dst = f"blocks.{i}", f"model.layer.{i}"
        qkv = _merged(weights, f"{src}.attn.qkv", scale)
        if qkv is None or qkv.shape != (3 * width, width):
            raise PainctlError(f"the checkpoint's {src}.attn.qkv is missing or not ({3 * width}, {width})")
        for part, tensor in zip("qkv", qkv.chunk(3, dim=0)):
            out[f"{dst}.attention.{part}_proj.weight"] = tensor
        fused_bias = _bias(weights, f"{src}.attn.qkv")
        for part in "qv":
            own = weights.get(f"{src}.attn.{part}_bias")
            if own is not None:
                out[f"{dst}.attention.{part}_proj.bias"] = own
                biases[part] = True
        if fused_bias is not None:
            for part, tensor in zip("qkv", fused_bias.chunk(3)):
                out[f"{dst}.attention.{part}_proj.bias"] = tensor
            biases = {"q": True, "v": True, "k": True}
        out[f"{dst}.attention.o_proj.weight"] = _merged(weights, f"{src}.attn.proj", scale)
        out[f"{dst}.attention.o_proj.bias"] = _bias(weights, f"{src}.attn.proj")
        for a, b in (("norm1", "norm1"), ("norm2", "norm2"), ("mlp.fc1", "mlp.up_proj"), ("mlp.fc2", "mlp.down_proj")):
            out[f"{dst}.{b}.weight"] = _merged(weights, f"{src}.{a}", scale)
            out[f"{dst}.{b}.bias"] = _bias(weights, f"{src}.{a}")
        for a, b in (("gamma_1", "layer_scale1"), ("gamma_2", "layer_scale2")):
            if f"{src}.{a}" not in weights:
                raise PainctlError(f"the checkpoint's {src} has no {a} (layer scale); not a DINOv3 block")
            out[f"{dst}.{b}.lambda1"] = weights[f"{src}.{a}"]
    out["norm.weight"], out["norm.bias"] = weights.get("norm.weight"), weights.get("norm.bias")
    missing = sorted(k for k, v in out.items() if v is None)
    if missing:
        raise PainctlError(f"the checkpoint's encoder lacks {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
    unused = sorted(set(weights) - weights.used)
    if unused:
        raise PainctlError(f"the checkpoint's encoder holds tensors this conversion does not know: {', '.join(unused[:3])}{' ...' if len(unused) > 3 else ''}")
    facts = {
        "hidden_size": width,
        "num_hidden_layers": layers,
        "num_register_tokens": 0 if registers is None else int(registers.shape[1]),
        "patch_size": int(out["embeddings.patch_embeddings.weight"].shape[-1]),
        "intermediate_size": int(out["model.layer.0.mlp.up_proj.weight"].shape[0]),
        "query_bias": biases["q"], "value_bias": biases["v"], "key_bias": biases.get("k", False),
    }
    return out, facts


def _head_tensors(state: dict) -> dict:
    """Their head tensors under painctl's AuthorsViTPain names."""
    out = {}
    for key, value in state.items():
        if key.startswith("pspi_head.") or key.startswith("au_head.") or key == "au_queries":
            out[key] = value
        elif key.startswith("au_shared_features."):
            out["au_features." + key[len("au_shared_features."):]] = value
        elif key.startswith("pspi_binary_heads."):
            level, rest = key[len("pspi_binary_heads."):].split(".", 1)
            out[f"pain_heads.{int(float(level)) - 1}.{rest}"] = value
        elif key.startswith("neutral_cross_attn."):
            out["cross_attention." + key[len("neutral_cross_attn."):]] = value
        elif key.startswith("neutral_norm."):
            out["fusion_norm." + key[len("neutral_norm."):]] = value
    return out


def _split_encoders(state: dict) -> tuple[dict[str, dict], list[str]]:
    parts: dict[str, dict] = {}
    ignored = []
    heads = ("pspi_head.", "au_head.", "au_queries", "au_shared_features.", "pspi_binary_heads.", "neutral_cross_attn.", "neutral_norm.")
    for key, value in state.items():
        prefix, _, rest = key.partition(".")
        if prefix in ENCODERS:
            rest = rest[len("base_model.model."):] if rest.startswith("base_model.model.") else rest
            if not _IGNORED.search(rest):
                parts.setdefault(prefix, {})[rest] = value
        elif not key.startswith(heads):
            ignored.append(key)
    return parts, ignored


class Converted(NamedTuple):
    """The authors' model as painctl's: ``model`` (an :class:`~painctl.vitpain.authors.AuthorsViTPain`,
    loaded), its ``model_config``, the ``extra`` that training.json records and the ``summary`` line."""

    model: Any
    model_config: Any
    extra: dict
    summary: str


def convert_lightning(data: dict[str, Any], ckpt: str | Path, image_size: int = 224) -> Converted:
    """Build painctl's ViTPain from ``data``, the authors' Lightning checkpoint read from the file
    ``ckpt`` by :func:`load_lightning_checkpoint` (the file is read again only for its SHA-256);
    ``image_size`` is the input side in pixels. Writes nothing.

    The result has architecture "authors" (their heads), a DINOv3 backbone with the LoRA merged, the
    backbone's own normalisation statistics for ``--forward model``, and its ``extra`` records that
    it was trained with the authors' forward pass (no RoPE, no registers, ImageNet statistics).
    Raises PainctlError naming what does not match their ViTPain.
    """
    import torch

    from painctl.vitpain.backbone import IMAGENET_MEAN, IMAGENET_STD, BackboneSpec
    from painctl.vitpain.config import ModelConfig
    from painctl.vitpain.model import build_model

    ckpt = Path(ckpt)
    hparams = dict(data.get("hyper_parameters") or {})
    state = {k: v for k, v in data["state_dict"].items() if isinstance(v, torch.Tensor)}
    r, alpha = int(hparams.get("lora_rank", 8)), float(hparams.get("lora_alpha", 16))
    scale = alpha / r
    parts, ignored = _split_encoders(state)
    if "vit_model" not in parts:
        raise PainctlError(f"{ckpt}: no vit_model.* tensors: not a checkpoint of the authors' ViTPain (TaatiTeam/Pain-in-3D)")
    tensors, facts = {}, None
    for prefix, weights in parts.items():
        mapped, found = _encoder_tensors(weights, scale)
        if facts is not None and found != facts:
            raise PainctlError(f"{ckpt}: its two encoders have different shapes")
        facts = found
        tensors.update({f"{ENCODERS[prefix]}.{k}": v for k, v in mapped.items()})
    heads = _head_tensors(state)
    reference = "neutral_encoder" in parts
    if reference != bool(hparams.get("use_neutral_reference", reference)):
        raise PainctlError(f"{ckpt}: use_neutral_reference disagrees with the tensors it holds")
    model_name = str(hparams.get("model_name", DEFAULT_MODEL_NAME))
    width = facts["hidden_size"]
    n_heads = next((h for part, h in HEADS.items() if part in model_name and width % h == 0), max(width // 64, 1))
    tag = next((t for t in STATISTICS if t in model_name.replace("_", "")), None)
    mean, std = STATISTICS[tag] if tag else (IMAGENET_MEAN, IMAGENET_STD)
    if tag is None:
        console.info(f"note: {model_name} names no known DINOv3 pretraining; --forward model will use ImageNet statistics")
    config = {"model_type": "dinov3_vit", **facts, "num_attention_heads": n_heads, "layer_norm_eps": 1e-5, "hidden_act": "gelu",
              "use_gated_mlp": False, "proj_bias": True, "mlp_bias": True, "image_size": image_size}
    spec = BackboneSpec(f"converted:{model_name}", config, tuple(mean), tuple(std), pretrained=False)
    model_config = ModelConfig(backbone=f"converted:{model_name}", reference=reference, lora_r=r, lora_alpha=int(alpha),
                               lora_targets=("qkv", "proj"), heads=8, input="rgb", image_size=image_size, architecture="authors")
    model = build_model(model_config, spec)
    expected = model.state_dict()
    supplied = {**tensors, **heads}
    # The mask token serves masked-image pretraining only and is absent from timm's DINOv3: keep it zero.
    for key in expected:
        if key.endswith("embeddings.mask_token"):
            supplied.setdefault(key, torch.zeros_like(expected[key]))
    missing = sorted(set(expected) - set(supplied))
    unexpected = sorted(set(supplied) - set(expected))
    wrong = sorted(k for k in set(expected) & set(supplied) if tuple(expected[k].shape) != tuple(supplied[k].shape))
    if missing or unexpected or wrong:
        detail = "; ".join(f"{label} {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}"
                           for label, names in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)) if names)
        raise PainctlError(f"{ckpt}: does not match the authors' ViTPain ({detail})")
    model.load_state_dict({k: v.float() for k, v in supplied.items()}, strict=True)
    if ignored:
        console.info(f"note: ignored {len(ignored)} tensor(s) outside the model ({', '.join(sorted(ignored)[:3])}{' ...' if len(ignored) > 3 else ''})")
    extra = {
        "converted_from": {
            "file": ckpt.name,
            "sha256": _sha256(ckpt),
            "release": "Hugging Face xinlei55555/ViTPain (TaatiTeam/Pain-in-3D), PyTorch Lightning checkpoint",
            "epoch": data.get("epoch"),
            "global_step": data.get("global_step"),
            "pytorch_lightning_version": data.get("pytorch-lightning_version"),
            "hyper_parameters": {k: v for k, v in hparams.items() if isinstance(v, (str, int, float, bool, type(None)))},
        },
        "lora_merged": {"r": r, "alpha": alpha, "modules": ["qkv", "proj"]},
        "trained_forward": {
            "name": "authors",
            "rotary_position_embedding": False,
            "register_tokens": False,
            "mean": list(IMAGENET_MEAN),
            "std": list(IMAGENET_STD),
            "note": "reproduce with --forward authors; the backbone's own forward uses its own statistics " + str(list(mean)),
        },
    }
    n = sum(v.numel() for v in supplied.values())
    summary = (f"converted {ckpt.name} ({'pain and neutral encoders' if reference else 'pain encoder'}, {facts['num_hidden_layers']} layers, "
               f"width {width}, {n / 1e6:.1f} M weights)")
    return Converted(model, model_config, extra, summary)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


__all__ = ["Converted", "convert_lightning", "load_lightning_checkpoint"]
