"""Tiny randomly initialised Kandinsky 2.2 pipelines built from configs (no download), saved with
save_pretrained so tests load them back through painctl's own offline loader."""

from __future__ import annotations

import json
from pathlib import Path

EMBED = 32  # CLIP projection = prior embedding = decoder image-embedding size


def _movq():
    from diffusers import VQModel

    return VQModel(
        # Four blocks = 8x down-sampling, as the real MoVQ (the depth hint is embedded at 1/8 size).
        block_out_channels=[32, 32, 64, 64],
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "AttnDownEncoderBlock2D"],
        up_block_types=["AttnUpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"], in_channels=3, out_channels=3,
        latent_channels=4, layers_per_block=1, norm_num_groups=8, norm_type="spatial",
        num_vq_embeddings=12, vq_embed_dim=4,
    )


def _unet(in_channels: int, addition_embed_type: str):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        in_channels=in_channels, out_channels=8, addition_embed_type=addition_embed_type,
        down_block_types=("ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D"),
        up_block_types=("SimpleCrossAttnUpBlock2D", "ResnetUpsampleBlock2D"),
        mid_block_type="UNetMidBlock2DSimpleCrossAttn", block_out_channels=(32, 64), layers_per_block=1,
        encoder_hid_dim=EMBED, encoder_hid_dim_type="image_proj", cross_attention_dim=64,
        attention_head_dim=4, resnet_time_scale_shift="scale_shift", class_embed_type=None, norm_num_groups=8,
    )


def _scheduler():
    from diffusers import DDPMScheduler

    return DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear", beta_start=0.00085, beta_end=0.012,
                         clip_sample=False, prediction_type="epsilon")


def build_controlnet(path: Path, seed: int = 0) -> Path:
    """Write a tiny KandinskyV22ControlnetPipeline (depth-hint decoder) to ``path``; return it."""
    import torch
    from diffusers import KandinskyV22ControlnetPipeline

    torch.manual_seed(seed)
    pipe = KandinskyV22ControlnetPipeline(unet=_unet(8, "image_hint"), scheduler=_scheduler(), movq=_movq())
    pipe.save_pretrained(path)
    return Path(path)


def build_inpaint(path: Path, seed: int = 0, with_prior: bool = True) -> Path:
    """Write a tiny KandinskyV22InpaintPipeline (9 input channels: latents, masked image, mask) to
    ``path``, with a tiny prior in ``path/prior`` (which painctl's inpaint picks up) unless told not to."""
    import torch
    from diffusers import KandinskyV22InpaintPipeline

    torch.manual_seed(seed)
    pipe = KandinskyV22InpaintPipeline(unet=_unet(9, "image"), scheduler=_scheduler(), movq=_movq())
    pipe.save_pretrained(path)
    if with_prior:
        build_prior(Path(path) / "prior", seed)
    return Path(path)


def _tokenizer(directory: Path):
    """A CLIP BPE tokenizer over a tiny vocabulary (every byte-level character plus a few merges)."""
    from transformers import CLIPTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    # GPT-2's byte-to-unicode table: printable bytes map to themselves, the rest to 256 + n.
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    extra = [256 + n for n in range(256 - len(printable))]
    chars = sorted(chr(c) for c in printable + extra)
    vocab = {}
    for token in chars + [c + "</w>" for c in chars] + ["a</w>", "ph", "oto</w>", "<|startoftext|>", "<|endoftext|>"]:
        vocab.setdefault(token, len(vocab))
    (directory / "vocab.json").write_text(json.dumps(vocab))
    (directory / "merges.txt").write_text("#version: 0.2\np h\n")
    return CLIPTokenizer(str(directory / "vocab.json"), str(directory / "merges.txt"), model_max_length=77)


def build_prior(path: Path, seed: int = 0) -> Path:
    """Write a tiny KandinskyV22PriorPipeline (PriorTransformer, tiny CLIP text and vision towers,
    a tokenizer from a tiny vocabulary, UnCLIP scheduler) to ``path``; return it."""
    import torch
    from diffusers import KandinskyV22PriorPipeline, PriorTransformer, UnCLIPScheduler
    from transformers import (CLIPTextConfig, CLIPTextModelWithProjection, CLIPVisionConfig,
                              CLIPVisionModelWithProjection)
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    torch.manual_seed(seed)
    tokenizer = _tokenizer(Path(path).parent / (Path(path).name + "-vocab"))
    text = CLIPTextModelWithProjection(CLIPTextConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        hidden_size=EMBED, projection_dim=EMBED, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
        vocab_size=len(tokenizer), max_position_embeddings=77))
    vision = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=EMBED, image_size=32, projection_dim=EMBED, intermediate_size=37, num_attention_heads=4,
        num_channels=3, num_hidden_layers=2, patch_size=16))
    prior = PriorTransformer(num_attention_heads=2, attention_head_dim=12, embedding_dim=EMBED, num_layers=1)
    prior.clip_std = torch.nn.Parameter(torch.ones(prior.clip_std.shape))
    scheduler = UnCLIPScheduler(variance_type="fixed_small_log", prediction_type="sample", num_train_timesteps=1000,
                                clip_sample=True, clip_sample_range=10.0)
    processor = CLIPImageProcessorPil(crop_size=32, size=32)
    pipe = KandinskyV22PriorPipeline(prior=prior, image_encoder=vision, text_encoder=text, tokenizer=tokenizer,
                                     scheduler=scheduler, image_processor=processor)
    pipe.save_pretrained(path)
    return Path(path)
