"""Kandinsky 2.2 image embeddings from text (prior), and neutral faces from depth (depth ControlNet)."""

from __future__ import annotations

import numpy as np

from painctl.diffusion.loading import CONTROLNET_MODEL, PRIOR_MODEL, generator, load_pipeline

NEGATIVE_PROMPT = "lowres, cartoon, drawing, deformed, blurry, text, watermark"


def face_prompt(age_years: float, gender: str, ethnicity: str) -> str:
    """The prompt for one identity, e.g. 'a photo of a 70 year old african woman, neutral expression,
    studio lighting' (unknown demographics are left out)."""
    words = ["a photo of a"]
    if np.isfinite(age_years):
        words.append(f"{int(round(float(age_years)))} year old")
    if ethnicity and ethnicity != "unknown":
        words.append(ethnicity.replace("mixed:", "mixed ").replace("+", " and "))
    words.append({"female": "woman", "male": "man"}.get(gender, "person"))
    return " ".join(words) + ", neutral expression, bald, plain background, studio lighting"


def depth_hint(depth: np.ndarray) -> np.ndarray:
    """Turn view depths (H,W) metres (+inf on the background) into a ControlNet hint (3,H,W) float32
    in [0,1]: near is bright as in MiDaS-style depth maps, the face spans 0.25-1, the background 0."""
    depth = np.asarray(depth, np.float64)
    mask = np.isfinite(depth)
    hint = np.zeros(depth.shape, np.float32)
    if mask.any():
        near, far = depth[mask].min(), depth[mask].max()
        hint[mask] = 0.25 + 0.75 * (far - depth[mask]) / max(far - near, 1e-9)
    return np.repeat(hint[None], 3, axis=0)


class ImageEmbedder:
    """Text prompts -> (image_embeds, negative_image_embeds) through a KandinskyV22PriorPipeline."""

    def __init__(self, prior_model: str = PRIOR_MODEL):
        self.pipe = load_pipeline("KandinskyV22PriorPipeline", prior_model, "prior_model")

    def __call__(self, prompts: list[str], steps: int, seed: int):
        """Return image_embeds and negative_image_embeds (B,D) tensors for ``prompts``."""
        out = self.pipe(prompts, negative_prompt=[NEGATIVE_PROMPT] * len(prompts), num_inference_steps=int(steps),
                        generator=generator(seed, self.pipe.device.type), output_type="pt")
        return out.image_embeds, out.negative_image_embeds


class DepthToFace:
    """Neutral faces from depth maps with the Kandinsky 2.2 prior + depth ControlNet decoder."""

    def __init__(self, model: str = CONTROLNET_MODEL, prior_model: str = PRIOR_MODEL):
        self.pipe = load_pipeline("KandinskyV22ControlnetPipeline", model, "model")
        self.embed = ImageEmbedder(prior_model)

    def __call__(self, depth: np.ndarray, prompt: str, steps: int = 50, seed: int = 0) -> np.ndarray:
        """Make one face image (H,W,3) float32 in [0,1] from ``depth`` (H,W) metres (+inf background);
        H and W must be multiples of 64 for the real model (8 for the MoVQ, 8 for the hint)."""
        import torch

        height, width = depth.shape
        if height % 64 or width % 64:
            from painctl.errors import PainctlError

            raise PainctlError(f"the kandinsky backend needs a size that is a multiple of 64, got {width}x{height}")
        image_embeds, negative = self.embed([prompt], steps, seed)
        device = self.pipe.device
        hint = torch.from_numpy(depth_hint(depth))[None].to(device=device, dtype=self.pipe.unet.dtype)
        out = self.pipe(image_embeds=image_embeds.to(device, self.pipe.unet.dtype), negative_image_embeds=negative.to(device, self.pipe.unet.dtype),
                        hint=hint, height=height, width=width, num_inference_steps=int(steps),
                        generator=generator(seed, device.type), output_type="np")
        return np.clip(np.asarray(out.images[0], np.float32), 0.0, 1.0)
