"""Which of a ViTPain model's parameters train at which learning rate, and which a checkpoint stores.

Shared by painctl's ViTPain and the authors' (:mod:`painctl.vitpain.authors`): both hold their
encoders as ``pain_encoder`` / ``neutral_encoder`` and their backbone description as ``spec``.
"""

from __future__ import annotations

import torch
from torch import nn


class ParameterGroups:
    """Mixin for a model with ``pain_encoder``, ``neutral_encoder`` (or None) and ``spec``."""

    def backbone_parameters(self) -> list[nn.Parameter]:
        """The trainable parameters inside the encoders (LoRA adapters, or the whole tiny backbone)."""
        encoders = [self.pain_encoder] + ([self.neutral_encoder] if self.neutral_encoder is not None else [])
        return [p for enc in encoders for p in enc.parameters() if p.requires_grad]

    def head_parameters(self) -> list[nn.Parameter]:
        """The trainable parameters outside the encoders (fusion, PSPI, pain and AU heads)."""
        inside = {id(p) for p in self.backbone_parameters()}
        encoders = {id(p) for enc in (self.pain_encoder, self.neutral_encoder) if enc is not None for p in enc.parameters()}
        return [p for p in self.parameters() if p.requires_grad and id(p) not in inside and id(p) not in encoders]

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """The tensors a checkpoint stores: everything trainable (frozen pretrained weights are rebuilt)."""
        names = {name for name, p in self.named_parameters() if p.requires_grad}
        return {k: v for k, v in self.state_dict().items() if k in names or not self.spec.pretrained}
