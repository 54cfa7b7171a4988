"""Directional lights as plain data, and the default studio rig used by the render stages."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Most lights one render takes (the shader's uniform arrays have this size).
MAX_LIGHTS = 4


@dataclass
class Light:
    """A directional light: ``direction`` (3,) points from the surface toward the light (world axes,
    normalised on creation), ``colour`` (3,) linear RGB, ``intensity`` a scale factor, and ``ambient``
    the light's contribution to the uniform ambient term (linear RGB scale, added to every pixel).
    """

    direction: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.0, 1.0]))
    colour: np.ndarray = field(default_factory=lambda: np.ones(3))
    intensity: float = 1.0
    ambient: float = 0.0

    def __post_init__(self) -> None:
        direction = np.asarray(self.direction, dtype=np.float64).reshape(-1)
        norm = float(np.linalg.norm(direction)) if direction.shape == (3,) else 0.0
        if direction.shape != (3,) or not np.isfinite(norm) or norm == 0.0:
            raise ValueError(f"light direction must be 3 finite numbers, not all zero; got {self.direction!r}")
        self.direction = direction / norm
        colour = np.asarray(self.colour, dtype=np.float64).reshape(-1)
        if colour.shape != (3,) or np.any(colour < 0) or not np.all(np.isfinite(colour)):
            raise ValueError(f"light colour must be 3 non-negative numbers; got {self.colour!r}")
        self.colour = colour
        if self.intensity < 0 or self.ambient < 0:
            raise ValueError("light intensity and ambient must be non-negative")

    def to_dict(self) -> dict[str, Any]:
        """Return the light as JSON-ready plain data."""
        return {
            "direction": [float(x) for x in self.direction],
            "colour": [float(x) for x in self.colour],
            "intensity": float(self.intensity),
            "ambient": float(self.ambient),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Light":
        """Build a light from :meth:`to_dict` output."""
        unknown = set(data) - {"direction", "colour", "intensity", "ambient"}
        if unknown:
            raise ValueError(f"unknown light fields: {', '.join(sorted(unknown))}")
        return cls(**data)


def studio_lights() -> list[Light]:
    """Return the default three-light portrait rig: warm key upper left, cool fill right, rim behind.

    Directions are in world axes (face toward +Z), so the lighting stays fixed on the head while
    the camera orbits, as in a photo studio.
    """
    return [
        # Exposed so that the palest skin keeps its highlights below white (measured: at key 2.3 the
        # red channel clipped on 75% of a pale face) while dark skin stays well above black.
        Light(direction=[-0.45, 0.55, 0.75], colour=[1.0, 0.96, 0.9], intensity=1.8, ambient=0.2),
        Light(direction=[0.7, 0.1, 0.6], colour=[0.85, 0.9, 1.0], intensity=0.6, ambient=0.0),
        Light(direction=[0.2, 0.6, -0.8], colour=[1.0, 1.0, 1.0], intensity=0.5, ambient=0.0),
    ]


def lights_to_list(lights: list[Light]) -> list[dict[str, Any]]:
    """Return ``lights`` as a JSON-ready list of dicts."""
    return [light.to_dict() for light in lights]


def lights_from_list(data: list[dict[str, Any]]) -> list[Light]:
    """Inverse of :func:`lights_to_list`."""
    return [Light.from_dict(item) for item in data]


def irradiance(normals: np.ndarray, lights: list[Light], wrap: float = 0.25) -> np.ndarray:
    """Return (V,3) float32 linear-RGB diffuse irradiance at unit ``normals`` (V,3) under ``lights``:
    the ambient term plus each light's wrapped Lambert term, exactly as the shaders compute it."""
    n = np.asarray(normals, dtype=np.float64)
    out = np.zeros((len(n), 3))
    for light in lights:
        cosine = n @ light.direction
        diffuse = np.maximum((cosine + wrap) / (1.0 + wrap), 0.0) / (1.0 + wrap)
        out += diffuse[:, None] * (light.colour * light.intensity)[None, :] + (light.colour * light.ambient)[None, :]
    return out.astype(np.float32)


def shading_ratio(reference_vertices: np.ndarray, vertices: np.ndarray, faces: np.ndarray, lights: list[Light], wrap: float = 0.25, limits: tuple[float, float] = (0.25, 4.0)) -> np.ndarray:
    """Return (V,3) float32 per-vertex ratio of diffuse irradiance on ``vertices`` to that on
    ``reference_vertices`` (same topology, (V,3) each), clipped to ``limits``.

    A texture baked from a lit photo of the reference face already holds its shading; multiplying
    its unlit render (in linear light) by this ratio, splatted per pixel, relights it for the new
    expression instead of lighting it twice.
    """
    from painctl.renderer.mesh import vertex_normals

    before = irradiance(vertex_normals(reference_vertices, faces), lights, wrap)
    after = irradiance(vertex_normals(vertices, faces), lights, wrap)
    return np.clip(after / np.maximum(before, 1e-4), *limits).astype(np.float32)


def _relight_decode(rgb: np.ndarray) -> np.ndarray:
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


@functools.lru_cache(maxsize=None)
def _relight_table() -> np.ndarray:
    return _relight_decode(np.arange(256, dtype=np.float32) * np.float32(1.0 / 255.0))


def relight(rgb: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """Return sRGB ``rgb`` (...,3) in [0,1] multiplied in linear light by ``ratio`` (...,3), as float32 sRGB."""
    from painctl.renderer.colour import eight_bit_codes

    rgb = np.asarray(rgb, dtype=np.float32)
    # Whatever the size (render-views relights only a render's covered pixels): one decode for
    # every call, the table, so a pixel relights alike however much of the image is covered.
    codes = eight_bit_codes(rgb, min_size=0)
    # A render's colour is k/255: decoding the same 256 values once is exact and much cheaper.
    decoded = _relight_table()[codes] if codes is not None else _relight_decode(rgb)
    linear = decoded * ratio
    linear = np.clip(linear, 0.0, 1.0)
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1.0 / 2.4) - 0.055).astype(np.float32)
