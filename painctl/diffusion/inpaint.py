"""Fill masked parts of images (background, hair) with Kandinsky 2.2 inpainting."""

from __future__ import annotations

import numpy as np

from painctl.diffusion.loading import PRIOR_MODEL, generator, load_pipeline
from painctl.errors import PainctlError
from painctl.seeding import seed_for

_cache: dict[tuple[str, str], tuple] = {}


def _pipelines(model: str, prior_model: str):
    key = (model, prior_model)
    if key not in _cache:
        from painctl.diffusion.kandinsky import ImageEmbedder

        _cache.clear()  # one pair at a time: these are large
        decoder = load_pipeline("KandinskyV22InpaintPipeline", model, "inpaint_model")
        _cache[key] = (ImageEmbedder(prior_model), decoder)
    return _cache[key]


def default_prior(model: str) -> str:
    """The prior that goes with decoder ``model``: a ``prior/`` directory inside a local model
    directory when there is one (a self-contained bundle), else the Kandinsky 2.2 prior Hub id."""
    from pathlib import Path

    bundled = Path(model) / "prior"
    return str(bundled) if (bundled / "model_index.json").is_file() else PRIOR_MODEL


def inpaint(images: np.ndarray, masks: np.ndarray, prompts: list[str], model: str, steps: int = 25,
            seed: int = 0, prior_model: str | None = None) -> np.ndarray:
    """Inpaint ``images`` (B,H,W,3) float in [0,1] where ``masks`` (B,H,W) bool is True, guided by
    ``prompts`` (B strings). ``model`` is the KandinskyV22InpaintPipeline (e.g. loading.INPAINT_MODEL, a Hub
    id in the local cache, or a save_pretrained directory); image embeddings come from
    ``prior_model`` (default: :func:`default_prior`).
    Returns (B,H,W,3) float32 in [0,1]; pixels outside the mask are the input's, exactly (the
    decoder's output is pasted in only where the mask is set). Item b uses the stream (seed, "inpaint", b).
    H and W must be multiples of 8.
    """
    import torch

    images = np.asarray(images, np.float32)
    masks = np.asarray(masks, bool)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise PainctlError(f"inpaint: images must have shape (B, H, W, 3), got {images.shape}")
    if masks.shape != images.shape[:3]:
        raise PainctlError(f"inpaint: masks must have shape {images.shape[:3]}, got {masks.shape}")
    if len(prompts) != len(images):
        raise PainctlError(f"inpaint: {len(images)} images but {len(prompts)} prompts")
    height, width = images.shape[1:3]
    if height % 8 or width % 8:
        raise PainctlError(f"inpaint: image size must be a multiple of 8, got {width}x{height}")
    embed, pipe = _pipelines(model, prior_model or default_prior(model))
    device, dtype = pipe.device, pipe.unet.dtype
    out = images.copy()
    for b in range(len(images)):
        if not masks[b].any():
            continue
        image_embeds, negative = embed([prompts[b]], steps, seed_for(seed, "inpaint/prior", b))
        image = torch.from_numpy(images[b].transpose(2, 0, 1)[None] * 2.0 - 1.0).to(device, dtype)
        mask = torch.from_numpy(masks[b][None].astype(np.float32)).to(device, dtype)  # 1 = repaint
        result = pipe(image_embeds=image_embeds.to(device, dtype), negative_image_embeds=negative.to(device, dtype),
                      image=image, mask_image=mask, height=height, width=width, num_inference_steps=int(steps),
                      generator=generator(seed_for(seed, "inpaint", b), device.type), output_type="np").images[0]
        out[b][masks[b]] = np.clip(np.asarray(result, np.float32), 0.0, 1.0)[masks[b]]
    return out
