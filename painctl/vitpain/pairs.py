"""(pain image, neutral reference) pairs for ViTPain: reference choice, image loading, paired augmentation, sampling.

Neutral references are frames of the same subject with PSPI 0: for multi-view synthetic data the
identity's neutral render of the same view (``is_neutral``), else any PSPI-0 frame of that subject
and view, else a PSPI-0 frame of that subject in another view. A subject with no PSPI-0 frame at all
falls back to its lowest-PSPI frame(s), with a warning (or a PainctlError with ``fallback="error"``).
A frame is never its own reference when the subject has another candidate.

Augmentation draws ONE geometric transform (random resized crop, horizontal flip, small rotation)
per pair and applies it to both images, so the pair stays aligned; photometric jitter (brightness,
contrast, saturation) is drawn for each image separately.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from painctl import console
from painctl.datasets.frames import Frame
from painctl.errors import PainctlError
from painctl.facs import AU_MAX, PAIN_THRESHOLDS, PSPI_MAX
from painctl.seeding import rng_for

_UNBC_SUBJECT = re.compile(r"\d{3}-[a-z]{2}\d{3}")


def is_unbc(frame: Frame) -> bool:
    """True for a frame of UNBC-McMaster as distributed (Images/<NNN-xxNNN>/<sequence>/<frame>)."""
    parts = Path(frame.image).parts
    return len(parts) >= 4 and parts[-4] == "Images" and bool(_UNBC_SUBJECT.fullmatch(frame.subject))


def mostly_unbc(frames: Sequence[Frame]) -> bool:
    """True when at least half of ``frames`` come from UNBC-McMaster (sets the UNBC training defaults)."""
    return bool(frames) and sum(map(is_unbc, frames)) * 2 >= len(frames)


def find_references(frames: Sequence[Frame], pool: Sequence[Frame] | None = None, fallback: str = "lowest") -> list[list[int]]:
    """For each of ``frames``, the indices into ``pool`` (default: ``frames``) of its neutral references.

    Rules in the module docstring. Pool frames with an empty subject are anonymous references (given
    on the command line) that serve every frame whose subject has none of its own. ``fallback`` is
    "lowest" (warn and use the subject's lowest-PSPI frames) or "error".
    """
    pool = frames if pool is None else pool
    by_subject: dict[str, list[int]] = defaultdict(list)
    for j, ref in enumerate(pool):
        by_subject[ref.subject].append(j)
    anonymous = by_subject.get("", [])
    cache: dict[tuple[str, str], list[int]] = {}
    warned: set[str] = set()

    def candidates(subject: str, view: str) -> list[int]:
        if (subject, view) in cache:
            return cache[(subject, view)]
        own = by_subject.get(subject, []) if subject else []
        same_view = [j for j in own if pool[j].view == view]
        choice = (
            [j for j in same_view if pool[j].is_neutral]
            or [j for j in same_view if pool[j].pspi == 0]
            or [j for j in own if pool[j].pspi == 0]
        )
        if not choice and own:
            if fallback == "error":
                raise PainctlError(f"subject {subject} has no PSPI-0 frame to serve as neutral reference")
            lowest = min(pool[j].pspi for j in own)
            choice = [j for j in own if pool[j].pspi == lowest]
            if subject not in warned:
                warned.add(subject)
                console.info(f"warning: subject {subject} has no PSPI-0 frame; using its lowest-PSPI frame(s) (PSPI {lowest:g}) as neutral reference")
        if not choice:
            choice = anonymous
        cache[(subject, view)] = choice
        return choice

    by_id = {id(ref): j for j, ref in enumerate(pool)}
    by_path = {str(ref.image): j for j, ref in enumerate(pool)}
    out = []
    for frame in frames:
        choice = candidates(frame.subject, frame.view)
        if not choice:
            raise PainctlError(f"no neutral reference for {frame.key or frame.image} (subject {frame.subject or '?'}): pass a neutral image of the same person")
        itself = by_id.get(id(frame), by_path.get(str(frame.image)))
        if itself is not None and len(choice) > 1 and (frame.pspi == 0 or frame.is_neutral or itself in choice):
            # A frame is never its own reference when there is another one.
            choice = [j for j in choice if j != itself] or choice
        out.append(choice)
    return out


def load_heatmap(path: Path, size: int) -> np.ndarray:
    """Read a pain-region heatmap (.npy float array or an image) as (size, size) float32 in [0, 1]."""
    path = Path(path)
    if path.suffix.lower() == ".npy":
        try:
            data = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise PainctlError(f"{path}: not a readable .npy heatmap ({exc})") from None
        data = np.asarray(data, dtype=np.float32)
        if data.ndim == 3:
            data = data.mean(axis=-1 if data.shape[-1] in (1, 3, 4) else 0)
        if data.ndim != 2 or not np.all(np.isfinite(data)):
            raise PainctlError(f"{path}: a heatmap must be a finite 2-D array, got shape {data.shape}")
        peak = float(data.max()) if data.size else 0.0
        data = np.clip(data / peak if peak > 1 else data, 0, 1)
        img = Image.fromarray(data)
    else:
        try:
            with Image.open(path) as src:
                img = src.convert("L")
        except (OSError, ValueError, Image.UnidentifiedImageError):
            raise PainctlError(f"{path}: not an image or .npy heatmap") from None
        img = Image.fromarray(np.asarray(img, dtype=np.float32) / 255.0)
    img = img.resize((size, size), Image.Resampling.BILINEAR)
    return np.clip(np.asarray(img, dtype=np.float32), 0, 1)


def load_face(frame: Frame, size: int, input: str = "rgb", crop: bool = False) -> torch.Tensor:
    """Return the model input of ``frame`` as uint8 (3, size, size): the face (cropped/aligned by its
    landmarks; found by the face detector first with ``crop``) or, for ``input="heatmap"``, its
    heatmap repeated over 3 channels."""
    if input == "heatmap":
        if frame.heatmap is None:
            raise PainctlError(f"{frame.key or frame.image} has no heatmap (a heatmap teacher needs data with heatmaps)")
        data = np.repeat(load_heatmap(frame.heatmap, size)[None], 3, axis=0)
        return torch.from_numpy(np.round(data * 255).astype(np.uint8))
    from painctl.datasets.images import load_face_image, open_rgb

    if crop:
        from painctl.vitpain.facecrop import crop_face

        photo = open_rgb(frame.image)
        img = crop_face(photo)
        if img is None:
            console.info(f"warning: no face found in {frame.image}; using the whole image")
            img = photo
    else:
        img = load_face_image(frame, size)
    if img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.BILINEAR)
    return torch.from_numpy(np.asarray(img.convert("RGB"), dtype=np.uint8).copy()).permute(2, 0, 1).contiguous()


class ImageCache:
    """Decoded model inputs (uint8 tensors) by frame, loaded once: decoding dominates small-model training."""

    def __init__(self, size: int, input: str = "rgb", crop: bool = False, max_bytes: int = 4 << 30):
        self.size, self.input, self.crop, self.max_bytes = size, input, crop, max_bytes
        self._store: dict[int, tuple[Frame, torch.Tensor]] = {}
        self._bytes = 0

    def get(self, frame: Frame) -> torch.Tensor:
        """The frame's uint8 (3, S, S) input; kept in memory until ``max_bytes`` are held (then decoded each time)."""
        key = id(frame)  # the frame is kept alongside, so its id cannot be reused while cached
        hit = self._store.get(key)
        if hit is not None:
            return hit[1]
        image = load_face(frame, self.size, self.input, self.crop)
        if self._bytes + image.numel() <= self.max_bytes:
            self._store[key] = (frame, image)
            self._bytes += image.numel()
        return image


def _affine(rng: np.random.Generator, scale=(0.8, 1.0), ratio=(0.9, 1.1), max_rotation=10.0) -> torch.Tensor:
    """A random (2, 3) affine matrix in affine_grid's normalised coordinates: resized crop, flip, rotation."""
    area = rng.uniform(*scale)
    aspect = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
    sx, sy = min(1.0, math.sqrt(area * aspect)), min(1.0, math.sqrt(area / aspect))
    tx, ty = rng.uniform(-(1 - sx), 1 - sx), rng.uniform(-(1 - sy), 1 - sy)
    flip = -1.0 if rng.random() < 0.5 else 1.0
    angle = math.radians(rng.uniform(-max_rotation, max_rotation))
    cos, sin = math.cos(angle), math.sin(angle)
    # output (u, v) -> input: rotate the crop window about its centre, then place it.
    return torch.tensor([[cos * sx * flip, -sin * sy, tx], [sin * sx * flip, cos * sy, ty]], dtype=torch.float32)


def _jitter(image: torch.Tensor, rng: np.random.Generator, strength: float = 0.2) -> torch.Tensor:
    """Brightness, contrast and saturation jitter of a (3, H, W) [0, 1] image."""
    b, c, s = (rng.uniform(1 - strength, 1 + strength) for _ in range(3))
    image = image * b
    mean = image.mean()
    image = (image - mean) * c + mean
    grey = (0.299 * image[0] + 0.587 * image[1] + 0.114 * image[2]).unsqueeze(0)
    image = (image - grey) * s + grey
    return image.clamp(0, 1)


def paired_augment(pain: torch.Tensor, neutral: torch.Tensor | None, rng: np.random.Generator, photometric: bool = True):
    """Apply one random geometric transform to both (3, S, S) [0, 1] images and independent colour jitter.

    Returns ``(pain, neutral)`` (neutral None when given None).
    """
    theta = _affine(rng)
    stack = pain.unsqueeze(0) if neutral is None else torch.stack([pain, neutral])
    grid = torch.nn.functional.affine_grid(theta.expand(stack.shape[0], 2, 3), list(stack.shape), align_corners=False)
    out = torch.nn.functional.grid_sample(stack, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    if photometric:
        out = torch.stack([_jitter(img, rng) for img in out])
    return out[0], (None if neutral is None else out[1])


class PairDataset(torch.utils.data.Dataset):
    """(pain, neutral) pairs with labels, as a torch Dataset.

    ``frames`` are the images to score; ``references[i]`` are indices into ``pool`` (see
    :func:`find_references`). In training mode (``augment``) each epoch (:meth:`set_epoch`) draws a
    fresh reference and transform per item from (seed, epoch, index); otherwise the reference is
    ``references[i][shot]`` order fixed by the seed. Items are dicts: ``pain``/``neutral`` float
    (3, S, S) in [0, 1], ``pspi`` PSPI / 16, ``au`` (6,) AU / AU_MAX (0 where unknown), ``au_mask`` (6,)
    bool, ``index``.
    """

    def __init__(self, frames: Sequence[Frame], pool: Sequence[Frame] | None, references: list[list[int]] | None, cache: ImageCache,
                 augment: bool = False, seed: int = 0, shot: int = 0):
        self.frames, self.pool, self.references = list(frames), pool, references
        self.cache, self.augment, self.seed, self.shot = cache, augment, seed, shot
        self.epoch = 0
        self.photometric = cache.input == "rgb"

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.frames)

    def reference_of(self, i: int) -> int | None:
        """The pool index of item ``i``'s reference this epoch (None for the single-image model)."""
        if self.references is None:
            return None
        options = self.references[i]
        if self.augment:
            return options[int(rng_for(self.seed, "pairs/reference", self.epoch, i).integers(len(options)))]
        order = rng_for(self.seed, "pairs/references", i).permutation(len(options))
        return options[int(order[self.shot % len(options)])]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        frame = self.frames[i]
        pain = self.cache.get(frame).float() / 255
        ref = self.reference_of(i)
        neutral = None if ref is None else self.cache.get(self.pool[ref]).float() / 255
        if self.augment:
            pain, neutral = paired_augment(pain, neutral, rng_for(self.seed, "pairs/augment", self.epoch, i), self.photometric)
        au = np.asarray(frame.au, dtype=np.float32)
        mask = np.isfinite(au)
        return {
            "pain": pain,
            "neutral": torch.zeros_like(pain) if neutral is None else neutral,
            "pspi": torch.tensor(float(frame.pspi) / PSPI_MAX, dtype=torch.float32),
            "pain_labels": torch.tensor([float(frame.pspi >= t) for t in PAIN_THRESHOLDS], dtype=torch.float32),
            "au": torch.from_numpy(np.where(mask, au, 0) / AU_MAX).float(),
            "au_mask": torch.from_numpy(mask),
            "index": torch.tensor(i),
        }


def sample_weights(frames: Sequence[Frame], pain_weight: float = 2.0) -> torch.Tensor:
    """Per-frame sampling weights: ``pain_weight`` for PSPI >= 1, 1 otherwise (float64 (N,))."""
    return torch.tensor([pain_weight if f.pspi >= 1 else 1.0 for f in frames], dtype=torch.float64)


def check_frames(frames: Sequence[Frame]) -> None:
    """Raise PainctlError if frames carry unusable labels (non-finite or out-of-range PSPI)."""
    for f in frames:
        if not math.isfinite(float(f.pspi)) or not 0 <= float(f.pspi) <= PSPI_MAX:
            raise PainctlError(f"{f.key or f.image}: PSPI {f.pspi} is outside 0-{PSPI_MAX:g}")


__all__ = ["find_references", "load_face", "load_heatmap", "ImageCache", "paired_augment", "PairDataset", "sample_weights", "is_unbc", "mostly_unbc", "check_frames"]
