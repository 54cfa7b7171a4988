"""The authors' ViTPain (TaatiTeam/Pain-in-3D, ``lib/models/vitpain.py``) as a painctl model, for their
released checkpoint once converted (:mod:`painctl.vitpain.convert`).

Their heads differ from painctl's: the CLS token feeds LayerNorm -> MLP 512-256-128-1 -> sigmoid
(PSPI / 16) and three LayerNorm -> Linear pain heads (PSPI >= 1, 2, 3); six learned AU queries pool
the patch tokens by plain scaled dot-product attention (no projections) before a shared
LayerNorm -> Linear(512) -> GELU and Linear(512, 1) -> ReLU giving raw AU intensities. The fusion is
the same (8-head cross-attention, pain tokens over neutral tokens, LayerNorm of the sum).

Their model was trained with a faulty forward pass (FACTS.md): DINOv3 without its rotary embedding
and register tokens, images normalised with ImageNet statistics. ``forward_mode`` "authors"
reproduces it (:func:`painctl.vitpain.backbone.authors_tokens`); "model" runs the backbone's own
forward with its own statistics, as painctl does everywhere else.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from painctl import console
from painctl.errors import PainctlError
from painctl.facs import AU_MAX, AU_NAMES, PAIN_THRESHOLDS
from painctl.vitpain.backbone import IMAGENET_MEAN, IMAGENET_STD, BackboneSpec, authors_tokens, build_backbone
from painctl.vitpain.config import ModelConfig
from painctl.vitpain.parameters import ParameterGroups

#: Their head widths and dropout (dropout only acts in training mode).
PSPI_WIDTHS = (512, 256, 128)
AU_WIDTH = 512
DROPOUT = 0.5
FORWARDS = ("model", "authors")


def _pspi_head(width: int) -> nn.Sequential:
    # Same layer order as theirs, so their Sequential indices name the same layers here.
    a, b, c = PSPI_WIDTHS
    return nn.Sequential(
        nn.LayerNorm(width), nn.Dropout(DROPOUT), nn.Linear(width, a), nn.GELU(), nn.Dropout(DROPOUT),
        nn.Linear(a, b), nn.GELU(), nn.Dropout(DROPOUT * 0.6), nn.Linear(b, c), nn.GELU(), nn.Dropout(DROPOUT * 0.6),
        nn.Linear(c, 1),
    )


class AuthorsViTPain(ParameterGroups, nn.Module):
    """The authors' ViTPain with the interface of :class:`painctl.vitpain.model.ViTPain`.

    ``forward(pain, neutral=None)`` takes [0, 1] images (B, 3, S, S) and returns ``pspi`` (B,) PSPI / 16,
    ``logits`` (B, 3) for PSPI >= 1, 2, 3, ``au`` (B, 6) AU intensity / AU_MAX and ``cls`` (B, D), run
    with the forward pass named by ``forward_mode`` ("model" or "authors").
    """

    def __init__(self, config: ModelConfig, spec: BackboneSpec, pain_encoder: nn.Module, neutral_encoder: nn.Module | None):
        super().__init__()
        width = spec.hidden_size
        if width % config.heads:
            raise PainctlError(f"the backbone width {width} is not divisible by {config.heads} attention heads")
        self.config = config
        self.spec = spec
        self.prefix_tokens = spec.prefix_tokens
        self.forward_mode = "model"
        self.register_buffer("pixel_mean", torch.tensor(spec.mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(spec.std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("authors_mean", torch.tensor(IMAGENET_MEAN, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("authors_std", torch.tensor(IMAGENET_STD, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.pain_encoder = pain_encoder
        self.neutral_encoder = neutral_encoder
        if config.reference:
            self.cross_attention = nn.MultiheadAttention(width, config.heads, batch_first=True)
            self.fusion_norm = nn.LayerNorm(width)
        self.pspi_head = _pspi_head(width)
        self.pain_heads = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(width), nn.Dropout(DROPOUT), nn.Linear(width, 1)) for _ in PAIN_THRESHOLDS
        )
        self.au_queries = nn.Parameter(torch.randn(len(AU_NAMES), width))
        self.au_features = nn.Sequential(nn.LayerNorm(width), nn.Dropout(DROPOUT * 0.6), nn.Linear(width, AU_WIDTH), nn.GELU(), nn.Dropout(DROPOUT * 0.6))
        self.au_head = nn.Linear(AU_WIDTH, 1)
        self.register_buffer("au_max", torch.tensor(AU_MAX, dtype=torch.float32), persistent=False)

    def encode(self, encoder: nn.Module, images: torch.Tensor) -> torch.Tensor:
        """Tokens (B, T, D) of [0, 1] images (B, 3, S, S): CLS, registers, patches with the model's own
        forward; CLS, patches with the authors' (no registers, no RoPE, ImageNet statistics)."""
        if self.forward_mode == "authors":
            return authors_tokens(encoder, (images - self.authors_mean) / self.authors_std)
        return encoder(pixel_values=(images - self.pixel_mean) / self.pixel_std).last_hidden_state

    def forward(self, pain: torch.Tensor, neutral: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        tokens = self.encode(self.pain_encoder, pain)
        if self.config.reference:
            if neutral is None:
                raise PainctlError("this ViTPain model compares with a neutral reference image: pass one")
            reference = self.encode(self.neutral_encoder, neutral)
            attended, _ = self.cross_attention(tokens, reference, reference, need_weights=False)
            tokens = self.fusion_norm(tokens + attended)
        cls = tokens[:, 0]
        patches = tokens[:, 1 if self.forward_mode == "authors" else self.prefix_tokens :]
        pspi = torch.sigmoid(self.pspi_head(cls)).squeeze(-1)
        logits = torch.cat([head(cls) for head in self.pain_heads], dim=-1)
        queries = self.au_queries.unsqueeze(0).expand(tokens.shape[0], -1, -1)
        weights = torch.softmax(queries @ patches.transpose(1, 2) / math.sqrt(patches.shape[-1]), dim=-1)
        au = torch.relu(self.au_head(self.au_features(weights @ patches))).squeeze(-1)
        return {"pspi": pspi, "logits": logits, "au": au / self.au_max, "cls": cls}



def build_authors_model(config: ModelConfig, spec: BackboneSpec, load_weights: bool = True) -> AuthorsViTPain:
    """Build the authors' ViTPain for ``config`` (architecture "authors") and ``spec`` (a converted
    checkpoint's backbone, whose weights the checkpoint itself holds)."""
    if spec.model_type != "dinov3_vit":
        raise PainctlError(f"the authors' ViTPain uses a DINOv3 backbone, not {spec.model_type}")
    if config.image_size % spec.patch_size:
        raise PainctlError(f"--image-size {config.image_size} is not a multiple of the backbone's patch size {spec.patch_size}")
    pain = build_backbone(spec, load_weights=load_weights)
    neutral = copy.deepcopy(pain) if config.reference else None
    return AuthorsViTPain(config, spec, pain, neutral)


def set_forward(model, forward: str, checkpoint=None) -> None:
    """Choose the forward pass of a loaded model: "model" (the backbone's own) or "authors" (the authors'
    faulty one, only for checkpoints converted from their release). Raises PainctlError otherwise."""
    if forward not in FORWARDS:
        raise PainctlError(f"forward must be one of {', '.join(FORWARDS)}, got {forward!r}")
    converted = isinstance(model, AuthorsViTPain)
    name = f"checkpoint {checkpoint}" if checkpoint is not None else "this checkpoint"
    if forward == "authors" and not converted:
        raise PainctlError(
            f"forward='authors' reproduces the authors' forward pass for checkpoints converted from their release "
            f"(painctl convert-checkpoint); {name} was trained by painctl with the backbone's own forward"
        )
    if converted:
        model.forward_mode = forward
        if forward == "model":
            console.info(f"note: {name} was trained with the authors' forward pass (DINOv3 without RoPE and registers, ImageNet "
                         "statistics); running the backbone's own forward instead. Pass --forward authors (forward='authors') to reproduce their predictions")


__all__ = ["AuthorsViTPain", "FORWARDS", "build_authors_model", "set_forward"]
