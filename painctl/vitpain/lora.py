"""LoRA adapters (peft) on a frozen backbone's attention projections."""

from __future__ import annotations

from collections.abc import Sequence

from painctl.errors import PainctlError


def add_lora(backbone, r: int, alpha: int, targets: Sequence[str]):
    """Insert LoRA adapters of rank ``r`` and scale ``alpha / r`` into ``backbone``'s ``targets`` modules.

    ``targets`` are module names such as ("q_proj", "v_proj") (DINOv3 and DINOv2 in transformers 5
    name their attention projections q_proj, k_proj, v_proj, o_proj). The backbone is modified in
    place and returned; afterwards only the adapters are trainable.
    """
    from peft import LoraConfig, inject_adapter_in_model

    names = {name.rsplit(".", 1)[-1] for name, _ in backbone.named_modules()}
    missing = [t for t in targets if t not in names]
    if missing:
        raise PainctlError(f"the backbone has no module(s) named {', '.join(missing)} to put LoRA on")
    config = LoraConfig(r=r, lora_alpha=alpha, target_modules=list(targets), lora_dropout=0.0, bias="none")
    backbone = inject_adapter_in_model(config, backbone)
    for name, param in backbone.named_parameters():
        param.requires_grad_("lora_" in name)
    return backbone


__all__ = ["add_lora"]
