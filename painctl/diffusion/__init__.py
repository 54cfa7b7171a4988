"""Diffusion backends (diffusers' Kandinsky 2.2): offline loading, neutral faces from depth, inpainting.

Heavy imports (torch, diffusers) happen inside the functions, so importing this package is cheap.
"""

from painctl.diffusion.loading import load_pipeline, pick_device

__all__ = ["load_pipeline", "pick_device"]
