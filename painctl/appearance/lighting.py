"""Lights of a room: a key light from the window side, a fill from the other, and image-based
lighting from a procedural environment map of the same room (walls, ceiling, floor, the window).

The environment map is projected on spherical harmonics up to order 2 and convolved with the
cosine lobe (Ramamoorthi and Hanrahan 2001), which gives the diffuse irradiance it casts on any
normal exactly as far as a diffuse surface can tell. A textured head (drawn unlit, its texture
holding the light it was baked under) is relit per vertex by the ratio of this irradiance to the
baked one (:meth:`SceneLighting.irradiance`); meshes the shader lights (the plain head, parts) get
the same lighting as at most four directional lights (:meth:`SceneLighting.shader_lights`): the
key, the fill, and the environment fitted as one soft directional light plus a uniform ambient.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from painctl.renderer import Light, irradiance, studio_lights

#: painctl.seeding stream of the lights (see APPEARANCE.md's stream table).
STREAM = 14900
#: Kinds accepted by ``--lighting``.
KINDS = ("room", "studio")
#: Equirectangular environment map resolution (rows, columns): diffuse light needs no more.
ENV_SHAPE = (16, 32)
#: Cosine-lobe convolution factors per SH band (A0, A1, A2).
_BAND = np.array([np.pi, 2.0 * np.pi / 3.0, np.pi / 4.0])


def _srgb_to_linear(c) -> np.ndarray:
    c = np.asarray(c, np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def sh_basis(directions: np.ndarray) -> np.ndarray:
    """Return (N,9) real spherical harmonics up to l = 2 at unit ``directions`` (N,3)."""
    x, y, z = directions[:, 0], directions[:, 1], directions[:, 2]
    return np.stack([
        np.full_like(x, 0.282095),
        0.488603 * y, 0.488603 * z, 0.488603 * x,
        1.092548 * x * y, 1.092548 * y * z, 0.315392 * (3 * z * z - 1), 1.092548 * x * z, 0.546274 * (x * x - y * y),
    ], axis=1)


@functools.lru_cache(maxsize=2)
def _env_directions(rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit directions (rows*cols,3) of an equirectangular map's texels (row 0 straight up, +Y) and their solid angles."""
    theta = (np.arange(rows) + 0.5) / rows * np.pi
    phi = (np.arange(cols) + 0.5) / cols * 2.0 * np.pi
    t, p = np.meshgrid(theta, phi, indexing="ij")
    dirs = np.stack([np.sin(t) * np.sin(p), np.cos(t), np.sin(t) * np.cos(p)], axis=-1).reshape(-1, 3)
    solid = (np.sin(t) * (np.pi / rows) * (2.0 * np.pi / cols)).reshape(-1)
    return dirs, solid


def environment_map(room, key_direction: np.ndarray, window_radiance: float, lamp: np.ndarray, shape: tuple[int, int] = ENV_SHAPE) -> np.ndarray:
    """Return the room's (rows, cols, 3) float64 linear-radiance equirectangular map (row 0 up, +Y).

    Walls in the wall's colour, lit more toward the window; a ceiling lit by a lamp of linear
    colour ``lamp`` (3,); a darker floor; the window a bright daylight patch of ``window_radiance``
    around ``key_direction`` (3,) (no window, no patch).
    """
    dirs, _ = _env_directions(*shape)
    wall = _srgb_to_linear(room.wall_rgb) if room is not None else np.full(3, 0.45)
    side = room.window_side if room is not None else -1
    up = dirs[:, 1]
    horizon = wall[None] * (0.35 + 0.12 * side * dirs[:, 0])[:, None]
    ceiling = lamp[None] * np.clip((up - 0.55) / 0.45, 0, 1)[:, None] ** 2
    floor = np.array([0.10, 0.09, 0.08])[None] * np.clip(-up / 0.5, 0, 1)[:, None]
    radiance = horizon * (1 - np.clip(-up / 0.5, 0, 1))[:, None] + ceiling + floor
    if room is None or room.window is not None:
        cosine = dirs @ (key_direction / np.linalg.norm(key_direction))
        patch = np.clip((cosine - np.cos(np.radians(28))) / (1 - np.cos(np.radians(28))) * 4.0, 0, 1)
        radiance += patch[:, None] * window_radiance * np.array([0.95, 0.98, 1.05])[None]
    return radiance.reshape(*shape, 3)


def irradiance_sh(env: np.ndarray) -> np.ndarray:
    """Return (9,3) SH coefficients of the diffuse irradiance (divided by pi: the factor that
    multiplies albedo) cast by the linear-radiance map ``env`` (rows, cols, 3)."""
    dirs, solid = _env_directions(env.shape[0], env.shape[1])
    basis = sh_basis(dirs)
    coeffs = basis.T @ (env.reshape(-1, 3) * solid[:, None])
    bands = np.repeat(_BAND, [1, 3, 5])
    return coeffs * bands[:, None] / np.pi


@dataclass
class SceneLighting:
    """One identity's lights: ``key`` and ``fill`` directional lights and ``env_sh`` (9,3) the
    environment map's irradiance in spherical harmonics (linear RGB, albedo factor)."""

    key: Light
    fill: Light
    env_sh: np.ndarray
    kind: str = "room"

    def irradiance(self, normals: np.ndarray, wrap: float = 0.25) -> np.ndarray:
        """Return (V,3) float32 linear-RGB diffuse irradiance factor at unit ``normals`` (V,3)."""
        direct = irradiance(normals, [self.key, self.fill], wrap)
        env = sh_basis(np.asarray(normals, np.float64)) @ self.env_sh
        return (direct + np.maximum(env, 0.0)).astype(np.float32)

    def shader_lights(self) -> list[Light]:
        """Return the lighting as four directional lights for the shader: key, fill, and the
        environment fitted (least squares over the sphere) as a soft light plus a uniform ambient."""
        dirs, _ = _env_directions(24, 48)
        target = np.maximum(sh_basis(dirs) @ self.env_sh, 0.0)
        lum = self.env_sh[1:4] @ np.array([0.2126, 0.7152, 0.0722])
        # The SH band-1 coefficients (y, z, x order) point toward where the environment is brightest.
        axis = np.array([lum[2], lum[0], lum[1]])
        axis = axis / np.linalg.norm(axis) if np.linalg.norm(axis) > 1e-9 else np.array([0.0, 1.0, 0.0])
        lobe = irradiance(dirs, [Light(direction=axis)], 0.25)[:, 0]
        design = np.stack([np.ones_like(lobe), lobe], axis=1)
        solution, *_ = np.linalg.lstsq(design, target, rcond=None)
        ambient, soft = np.maximum(solution[0], 0.0), np.maximum(solution[1], 0.0)
        soft_scale, ambient_scale = float(soft.max()) or 1.0, float(ambient.max()) or 1.0
        return [
            self.key,
            self.fill,
            Light(direction=axis, colour=soft / soft_scale, intensity=float(soft.max()), ambient=0.0),
            Light(direction=[0.0, 1.0, 0.0], colour=ambient / ambient_scale, intensity=0.0, ambient=float(ambient.max())),
        ]

    def to_dict(self) -> dict:
        """Return the lighting as JSON-ready plain data (what data.h5's /lighting holds)."""
        return {"kind": self.kind, "key": self.key.to_dict(), "fill": self.fill.to_dict(),
                "env_sh": [[round(float(c), 6) for c in row] for row in self.env_sh]}


def _direction(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """World direction (face toward +Z, Y up) at ``azimuth_deg`` from the face's front toward +X and ``elevation_deg`` up."""
    a, e = np.radians(azimuth_deg), np.radians(elevation_deg)
    return np.array([np.sin(a) * np.cos(e), np.sin(e), np.cos(a) * np.cos(e)])


def draw_lighting(rng: np.random.Generator, room=None) -> SceneLighting:
    """Draw an identity's lighting from ``rng`` (its :data:`STREAM` generator) for ``room``
    (a :class:`painctl.appearance.scene.Room`, or None for a neutral room lit from the left).

    The key comes from the window's side, 25-65 degrees off the face's front and 10-45 degrees
    up, daylight-white to slightly warm; the fill from the other side at 15-45% of the key, warm
    (room lamps); the ceiling lamp is warm or neutral. The whole is scaled so a surface facing the
    camera gets the studio rig's light times 0.9-1.1 (render-views' exposure stays put; the camera
    model varies it).
    """
    u = rng.random(10)
    side = room.window_side if room is not None else -1
    key_dir = _direction(side * (25 + 40 * u[0]), 10 + 35 * u[1])
    key_colour = np.array([1.0, 0.97 + 0.03 * u[2], 0.9 + 0.12 * u[2]])
    fill_dir = _direction(-side * (35 + 40 * u[3]), 0 + 20 * u[4])
    fill_colour = np.array([1.0, 0.9 + 0.05 * u[5], 0.78 + 0.1 * u[5]])
    lamp = np.array([1.0, 0.92, 0.8]) * (0.3 + 0.4 * u[6])
    key = Light(direction=key_dir, colour=key_colour / key_colour.max(), intensity=1.0)
    fill = Light(direction=fill_dir, colour=fill_colour / fill_colour.max(), intensity=0.15 + 0.3 * u[7])
    env = irradiance_sh(environment_map(room, key_dir, 1.5 + 1.5 * u[8], lamp))
    lighting = SceneLighting(key=key, fill=fill, env_sh=env)
    front = np.array([[0.0, 0.2, 1.0]]) / np.linalg.norm([0.0, 0.2, 1.0])
    luma = np.array([0.2126, 0.7152, 0.0722])
    scale = float(irradiance(front, studio_lights())[0] @ luma) / float(lighting.irradiance(front)[0] @ luma) * (0.9 + 0.2 * u[9])
    return SceneLighting(
        key=Light(direction=key.direction, colour=key.colour, intensity=key.intensity * scale),
        fill=Light(direction=fill.direction, colour=fill.colour, intensity=fill.intensity * scale),
        env_sh=env * scale,
    )


def studio_lighting(lights: list[Light] | None = None) -> "StudioLighting":
    """Return ``lights`` (default: the studio rig) in the interface of :class:`SceneLighting`."""
    return StudioLighting(list(lights) if lights is not None else studio_lights())


@dataclass
class StudioLighting:
    """Fixed directional lights (``--lighting studio``: the texture's own, or the studio rig)."""

    lights: list[Light]
    kind: str = "studio"

    def irradiance(self, normals: np.ndarray, wrap: float = 0.25) -> np.ndarray:
        """Return (V,3) float32 diffuse irradiance factor at unit ``normals`` (V,3)."""
        return irradiance(normals, self.lights, wrap)

    def shader_lights(self) -> list[Light]:
        """Return the lights as they are."""
        return list(self.lights)

    def to_dict(self) -> dict:
        """Return the lights as JSON-ready plain data."""
        return {"kind": self.kind, "lights": [light.to_dict() for light in self.lights]}
