"""A photographic camera model: focal length, framing and head-pose jitter, slight defocus, white
balance, exposure, sensor noise and JPEG compression, drawn per (identity, view) from the seed.

The geometric half (focal length, framing margin, pose jitter) only changes the pinhole
:class:`painctl.renderer.Camera` the frame is rendered with, which is recorded exactly, so
heatmaps re-rendered with the recorded camera stay pixel-aligned. The photographic half
(:func:`develop`) acts on the composited image only and never moves a pixel. A neutral face and its
pain faces in one view share the draw, the noise included, so their images differ only where the
face moved (spread by at most the blur radius and one JPEG block).
"""

from __future__ import annotations

import io
import math
from dataclasses import asdict, dataclass

import numpy as np

#: painctl.seeding stream of the camera model (see APPEARANCE.md's stream table).
STREAM = 14800
#: Height of a full-frame sensor (mm): focal lengths below are 35 mm-equivalent.
SENSOR_HEIGHT_MM = 24.0
#: The pinhole render-views used before the camera model: 20 degrees vertical, 10% border.
DEFAULT_FOV = 20.0
DEFAULT_MARGIN = 1.1
#: Portrait lenses (35 mm-equivalent): wider ones distort a face at the distance that fills the frame.
FOCAL_RANGE_MM = (50.0, 105.0)
#: Kinds accepted by ``--camera-model``.
KINDS = ("photo", "none")


@dataclass(frozen=True)
class CameraModel:
    """One image's camera. ``focal_mm`` 35 mm-equivalent focal length (gives ``fov`` degrees,
    vertical); ``margin`` the framing border (1.1 = the head's box plus 10%); ``pose_jitter``
    (yaw, pitch, roll) degrees added to the view's nominal pose; ``defocus_px`` and
    ``background_defocus_px`` Gaussian blur sigmas (pixels) of the whole image and of the room
    behind the person (depth of field); ``exposure_ev`` stops; ``white_balance`` linear RGB gains;
    ``shot_noise`` and ``read_noise`` the sensor's noise variance per unit of linear signal and its
    floor's standard deviation (linear 0-1 units); ``jpeg_quality`` 1-95 or 0 for no JPEG step.
    """

    focal_mm: float = SENSOR_HEIGHT_MM / 2.0 / math.tan(math.radians(DEFAULT_FOV) / 2.0)
    fov: float = DEFAULT_FOV
    margin: float = DEFAULT_MARGIN
    pose_jitter: tuple[float, float, float] = (0.0, 0.0, 0.0)
    defocus_px: float = 0.0
    background_defocus_px: float = 0.0
    exposure_ev: float = 0.0
    white_balance: tuple[float, float, float] = (1.0, 1.0, 1.0)
    shot_noise: float = 0.0
    read_noise: float = 0.0
    jpeg_quality: int = 0
    kind: str = "none"

    def to_dict(self) -> dict:
        """Return the parameters as JSON-ready plain data (what data.h5's /camera_model holds)."""
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, tuple):
                data[key] = [round(float(x), 6) for x in value]
            elif isinstance(value, float):
                data[key] = round(value, 6)
        return data

    @property
    def is_identity(self) -> bool:
        """True when :func:`develop` leaves the image as rendered (no blur, gain, noise or JPEG)."""
        return (self.defocus_px == 0 and self.background_defocus_px == 0 and self.exposure_ev == 0 and self.white_balance == (1.0, 1.0, 1.0)
                and self.shot_noise == 0 and self.read_noise == 0 and self.jpeg_quality == 0)


def fov_of_focal(focal_mm: float) -> float:
    """Return the vertical field of view (degrees) of a 35 mm-equivalent ``focal_mm`` lens."""
    return math.degrees(2.0 * math.atan(SENSOR_HEIGHT_MM / 2.0 / focal_mm))


def draw_camera_model(rng: np.random.Generator, kind: str = "photo", pose_jitter_deg: float = 4.0, size: int = 224) -> CameraModel:
    """Draw one (identity, view)'s camera from ``rng``.

    ``kind`` "photo" draws every effect; "none" keeps the fixed pinhole (20 degrees, 10% border)
    and no image effects. ``pose_jitter_deg`` is the standard deviation (degrees) of the yaw and
    pitch jitter (roll takes 0.75 of it), each clipped at two deviations; 0 turns it off. Blur
    sigmas scale with the image ``size`` (pixels) so an image looks the same at 224 and 512.
    The draws come in a fixed order whatever ``kind`` is, so turning one effect off leaves the others.
    """
    draws = rng.random(12)
    jitter = np.clip(rng.standard_normal(3), -2.0, 2.0) * float(pose_jitter_deg) * np.array([1.0, 1.0, 0.75])
    pose = tuple(float(x) for x in jitter)
    if kind == "none":
        return CameraModel(pose_jitter=pose, kind="none")
    scale = size / 224.0
    focal = FOCAL_RANGE_MM[0] + (FOCAL_RANGE_MM[1] - FOCAL_RANGE_MM[0]) * draws[0]
    # Colour temperature: cameras mistake the room's light by a few hundred kelvin either way;
    # blue and red gains move against each other, with a slight green-magenta tint.
    warm = (draws[6] - 0.5) * 0.16
    tint = (draws[7] - 0.5) * 0.04
    return CameraModel(
        focal_mm=float(focal),
        fov=fov_of_focal(focal),
        margin=float(1.15 + 0.3 * draws[1]),
        pose_jitter=pose,
        defocus_px=float(0.5 * draws[2] ** 2 * scale),
        background_defocus_px=float((0.8 + 1.8 * draws[3]) * scale),
        exposure_ev=float((draws[4] - 0.5) * 0.7),
        white_balance=(float(1.0 + warm), float(1.0 + tint), float(1.0 - warm)),
        shot_noise=float(0.0004 + 0.0030 * draws[8]),
        read_noise=float(0.002 + 0.006 * draws[9]),
        jpeg_quality=int(72 + round(23 * draws[10])),
        kind="photo",
    )


# ------------------------------------------------------------------------------- the develop step
_SRGB_TO_LINEAR = None


def _to_linear_lut() -> np.ndarray:
    global _SRGB_TO_LINEAR
    if _SRGB_TO_LINEAR is None:
        c = np.arange(256, dtype=np.float64) / 255.0
        _SRGB_TO_LINEAR = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)
    return _SRGB_TO_LINEAR


#: Linear 0-1 in 4096 steps to sRGB 0-255: a table instead of a power per pixel (steps are far
#: below one output level except in the deepest shadows, where the noise dominates anyway).
_LINEAR_STEPS = 4096
_LINEAR_TO_SRGB = None


def _to_srgb_lut() -> np.ndarray:
    global _LINEAR_TO_SRGB
    if _LINEAR_TO_SRGB is None:
        x = (np.arange(_LINEAR_STEPS + 1, dtype=np.float64) / _LINEAR_STEPS)
        s = np.where(x <= 0.0031308, x * 12.92, 1.055 * x ** (1.0 / 2.4) - 0.055)
        _LINEAR_TO_SRGB = np.clip(s * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return _LINEAR_TO_SRGB


def blur(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """Return ``image`` (H,W) or (H,W,C) float32 blurred by a Gaussian of ``sigma_px`` pixels (edges reflected)."""
    if sigma_px <= 0.05:
        return image
    from scipy.ndimage import gaussian_filter

    sigmas = (sigma_px, sigma_px) + (0,) * (image.ndim - 2)
    return gaussian_filter(np.asarray(image, np.float32), sigmas, mode="reflect", truncate=3.0)


def develop(rgb: np.ndarray, model: CameraModel, noise_rng: np.random.Generator | None = None, noise: np.ndarray | None = None) -> np.ndarray:
    """Return the (H,W,3) uint8 photo the camera ``model`` makes of the scene ``rgb`` (H,W,3) sRGB 0-1.

    In order: lens defocus (Gaussian), exposure and white balance in linear light, sensor noise
    (signal-dependent Gaussian, variance ``shot_noise * signal + read_noise**2``, drawn from
    ``noise_rng``), back to sRGB in 8 bits, then a JPEG round trip at ``jpeg_quality`` (4:4:4, so
    a change moves at most one 8x8 block). The room's extra blur is applied before compositing
    (see :func:`painctl.appearance.scene`), since it depends on what is behind the person.
    ``noise`` (H,W,3) float32, when given, is :func:`noise_draw`'s draw from ``noise_rng`` made
    beforehand: the frames of one view share it, so it is drawn once for all of them.
    """
    image = blur(np.asarray(rgb, np.float32), model.defocus_px)
    codes = np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if model.exposure_ev == 0 and model.white_balance == (1.0, 1.0, 1.0) and model.shot_noise == 0 and model.read_noise == 0:
        out = codes
    else:
        # The gain folded into one (256,3) table: the same float32 products, looked up per channel.
        gain = np.float32(2.0 ** model.exposure_ev) * np.asarray(model.white_balance, np.float32)
        table = _to_linear_lut()[:, None] * gain[None, :]
        linear = np.empty(codes.shape, np.float32)
        for c in range(codes.shape[-1]):
            np.take(table[:, c], codes[..., c], out=linear[..., c])
        if model.shot_noise > 0 or model.read_noise > 0:
            if noise is None:
                noise = noise_draw(linear.shape, noise_rng)
            # The same operations in the same order as sqrt(max(l, 0) * shot + read**2), in place.
            sigma = np.maximum(linear, 0.0)
            sigma *= np.float32(model.shot_noise)
            sigma += np.float32(model.read_noise) ** 2
            np.sqrt(sigma, out=sigma)
            sigma *= noise
            linear += sigma
        linear *= _LINEAR_STEPS
        linear += 0.5
        np.clip(linear, 0, _LINEAR_STEPS, out=linear)
        out = np.take(_to_srgb_lut(), linear.astype(np.int32))
    if model.jpeg_quality:
        out = jpeg_round_trip(out, model.jpeg_quality)
    return out


def noise_draw(shape: tuple[int, ...], noise_rng: np.random.Generator) -> np.ndarray:
    """Return the standard normal float32 draws of ``shape`` (H,W,3) that :func:`develop` scales into sensor noise."""
    return noise_rng.standard_normal(shape, dtype=np.float32)


def jpeg_round_trip(pixels: np.ndarray, quality: int) -> np.ndarray:
    """Return (H,W,3) uint8 ``pixels`` compressed to JPEG at ``quality`` and decoded again."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=int(quality), subsampling=0, optimize=False)
    buffer.seek(0)
    with Image.open(buffer) as img:
        return np.asarray(img if img.mode == "RGB" else img.convert("RGB"))
