"""ViTPain: a pain encoder and a neutral-reference encoder fused by cross-attention, with PSPI, pain and AU heads.

Each encoder is its own backbone (separate weights): a frozen pretrained ViT with its own LoRA, or
the tiny DINOv3 trained in full. Pain tokens attend over the neutral tokens (8 heads) and the result
is LayerNorm(pain + attention). The CLS token feeds an MLP -> sigmoid giving PSPI / 16 and three
binary logits for PSPI >= 1, 2, 3; six learned AU queries attend over the patch tokens (registers
excluded) and an MLP -> ReLU gives the six AU intensities divided by their FACS maximum.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from painctl.errors import PainctlError
from painctl.facs import AU_NAMES, PAIN_THRESHOLDS
from painctl.vitpain.backbone import BackboneSpec, build_backbone, resolve_backbone
from painctl.vitpain.config import ModelConfig
from painctl.vitpain.lora import add_lora
from painctl.vitpain.parameters import ParameterGroups


def _mlp(width: int, out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.Linear(width, out))


class ViTPain(ParameterGroups, nn.Module):
    """The ViTPain model. Build it with :func:`build_model`.

    ``forward(pain, neutral=None)`` takes images (B, 3, S, S) in [0, 1] (normalised inside with the
    backbone's own statistics) and returns a dict: ``pspi`` (B,) PSPI / 16 in [0, 1], ``logits`` (B, 3)
    for PSPI >= 1, 2, 3, ``au`` (B, 6) AU intensity / AU_MAX (>= 0), ``cls`` (B, D) the fused CLS token.
    """

    def __init__(self, config: ModelConfig, spec: BackboneSpec, pain_encoder: nn.Module, neutral_encoder: nn.Module | None):
        super().__init__()
        width = spec.hidden_size
        if width % config.heads:
            raise PainctlError(f"the backbone width {width} is not divisible by {config.heads} attention heads")
        self.config = config
        self.spec = spec
        self.prefix_tokens = spec.prefix_tokens
        self.register_buffer("pixel_mean", torch.tensor(spec.mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(spec.std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.pain_encoder = pain_encoder
        self.neutral_encoder = neutral_encoder
        if config.reference:
            self.cross_attention = nn.MultiheadAttention(width, config.heads, batch_first=True)
            self.fusion_norm = nn.LayerNorm(width)
        self.pspi_head = _mlp(width, 1)
        self.pain_head = _mlp(width, len(PAIN_THRESHOLDS))
        n_au = len(AU_NAMES)
        if config.au_queries:
            self.au_queries = nn.Parameter(torch.randn(n_au, width) * 0.02)
            self.au_attention = nn.MultiheadAttention(width, config.heads, batch_first=True)
            self.au_norm = nn.LayerNorm(width)
            self.au_head = _mlp(width, 1)
        else:
            self.au_head = _mlp(width, n_au)

    def encode(self, encoder: nn.Module, images: torch.Tensor) -> torch.Tensor:
        """Return the encoder's tokens (B, 1 + registers + patches, D) for [0, 1] images (B, 3, S, S)."""
        pixels = (images - self.pixel_mean) / self.pixel_std
        return encoder(pixel_values=pixels).last_hidden_state

    def forward(self, pain: torch.Tensor, neutral: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        tokens = self.encode(self.pain_encoder, pain)
        if self.config.reference:
            if neutral is None:
                raise PainctlError("this ViTPain model compares with a neutral reference image: pass one")
            reference = self.encode(self.neutral_encoder, neutral)
            attended, _ = self.cross_attention(tokens, reference, reference, need_weights=False)
            tokens = self.fusion_norm(tokens + attended)
        cls = tokens[:, 0]
        pspi = torch.sigmoid(self.pspi_head(cls)).squeeze(-1)
        logits = self.pain_head(cls)
        if self.config.au_queries:
            patches = tokens[:, self.prefix_tokens :]
            queries = self.au_queries.unsqueeze(0).expand(tokens.shape[0], -1, -1)
            attended, _ = self.au_attention(queries, patches, patches, need_weights=False)
            au = torch.relu(self.au_head(self.au_norm(queries + attended))).squeeze(-1)
        else:
            au = torch.relu(self.au_head(cls))
        return {"pspi": pspi, "logits": logits, "au": au, "cls": cls}


def build_model(config: ModelConfig, spec: BackboneSpec | None = None, load_weights: bool = True) -> ViTPain:
    """Build a ViTPain model for ``config`` (backbone described by ``spec`` or resolved from config).

    Pretrained backbones are loaded (``load_weights``) once per encoder, frozen, and given their own
    LoRA on ``config.lora_targets``; the tiny backbone is random and fully trainable.
    """
    spec = spec or resolve_backbone(config.backbone)
    if config.architecture == "authors":
        from painctl.vitpain.authors import build_authors_model

        return build_authors_model(config, spec, load_weights)
    if config.image_size % spec.patch_size:
        raise PainctlError(f"{{image_size={config.image_size}}} is not a multiple of the backbone's patch size {spec.patch_size}",
                           params=(f"image_size={config.image_size}",))

    def encoder() -> nn.Module:
        module = build_backbone(spec, load_weights=load_weights)
        if spec.pretrained:
            module = add_lora(module, config.lora_r, config.lora_alpha, config.lora_targets)
        return module

    pain = encoder()
    # Separate weights with the same starting point: a pretrained backbone loads the same checkpoint
    # twice, and the random tiny one is copied, so that at the start both encoders map the same face
    # to the same tokens and the fusion can compare pain with neutral from the first step.
    neutral = (encoder() if spec.pretrained else copy.deepcopy(pain)) if config.reference else None
    return ViTPain(config, spec, pain, neutral)


__all__ = ["ViTPain", "build_model"]
