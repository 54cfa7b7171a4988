"""Score frames with a trained ViTPain model, averaging over k neutral references (multi-shot)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from painctl.datasets.frames import Frame
from painctl.facs import AU_MAX, PSPI_MAX


#: The probability columns of a record: P(PSPI >= 1), P(PSPI >= 2), P(PSPI >= 3).
PROB_COLUMNS = ("p_pspi_ge_1", "p_pspi_ge_2", "p_pspi_ge_3")
#: Decimals a record keeps: a tenth of a thousandth of a PSPI point, far finer than any model tells apart.
RECORD_DECIMALS = 4


@dataclass
class Predictions:
    """Model outputs for N frames: ``keys`` (frame keys), ``pspi`` (N,) on the 0-16 scale, ``prob`` (N, 3)
    P(PSPI >= 1, 2, 3), ``au`` (N, 6) AU intensities on the FACS scale (AU_NAMES order), ``shots`` (N,)
    how many references were averaged."""

    keys: list[str]
    pspi: np.ndarray
    prob: np.ndarray
    au: np.ndarray
    shots: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.keys)

    def records(self) -> list[dict]:
        """One flat dict per frame, as painctl predict's CSV holds it: image (the key), pspi, the three
        probabilities (PROB_COLUMNS), the six AUs (AU_NAMES) and shots, rounded to RECORD_DECIMALS."""
        from painctl.facs import AU_NAMES

        rows = []
        for i, key in enumerate(self.keys):
            row = {"image": key, "pspi": round(float(self.pspi[i]), RECORD_DECIMALS)}
            row.update({name: round(float(self.prob[i, j]), RECORD_DECIMALS) for j, name in enumerate(PROB_COLUMNS)})
            row.update({name: round(float(self.au[i, j]), RECORD_DECIMALS) for j, name in enumerate(AU_NAMES)})
            row["shots"] = int(self.shots[i]) if self.shots is not None else 1
            rows.append(row)
        return rows


def _device_of(model) -> str:
    return next(model.parameters()).device.type


def predict_frames(
    checkpoint,
    frames: Sequence[Frame],
    references: Sequence[Frame],
    shots: int = 1,
    batch_size: int = 32,
    seed: int = 0,
    fallback: str = "error",
    cache=None,
) -> Predictions:
    """Predict PSPI, pain probabilities and AU intensities for ``frames``.

    ``checkpoint`` is a checkpoint directory or a loaded :class:`ViTPain`. Each frame is paired with
    ``shots`` neutral references drawn (seeded, without repetition) from its candidates among
    ``references`` (same subject and view, PSPI 0; see :func:`painctl.vitpain.pairs.find_references`;
    references with an empty subject serve any frame) and the outputs are averaged; a frame with
    fewer candidates than ``shots`` averages over all it has. Single-image models ignore references.
    ``fallback`` "error" refuses a subject without a PSPI-0 reference, "lowest" uses its lowest-PSPI
    frame. Returns :class:`Predictions` in the order of ``frames``.
    """
    import torch

    from painctl.vitpain.checkpoint import load_checkpoint
    from painctl.vitpain.pairs import ImageCache, PairDataset, find_references

    if isinstance(checkpoint, (str, Path)):
        model = load_checkpoint(checkpoint)[0]
    else:
        model = checkpoint
    config = model.config
    frames = list(frames)
    n = len(frames)
    if not n:
        return Predictions([], np.zeros(0, np.float32), np.zeros((0, 3), np.float32), np.zeros((0, 6), np.float32), np.zeros(0, np.int64))
    pool = list(references) if config.reference else None
    options = find_references(frames, pool, fallback=fallback) if config.reference else None
    cache = cache or ImageCache(config.image_size, config.input)
    per_frame = np.ones(n, dtype=np.int64) if options is None else np.array([min(shots, len(o)) for o in options])
    sums = {"pspi": np.zeros(n, np.float64), "prob": np.zeros((n, 3), np.float64), "au": np.zeros((n, 6), np.float64)}
    device = _device_of(model)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for shot in range(int(per_frame.max())):
                wanted = np.flatnonzero(per_frame > shot)
                data = PairDataset(frames, pool, options, cache, augment=False, seed=seed, shot=shot)
                for start in range(0, len(wanted), batch_size):
                    items = [data[int(i)] for i in wanted[start : start + batch_size]]
                    pain = torch.stack([it["pain"] for it in items]).to(device)
                    neutral = torch.stack([it["neutral"] for it in items]).to(device) if config.reference else None
                    out = model(pain, neutral)
                    idx = wanted[start : start + batch_size]
                    sums["pspi"][idx] += out["pspi"].float().cpu().numpy()
                    sums["prob"][idx] += torch.sigmoid(out["logits"].float()).cpu().numpy()
                    sums["au"][idx] += out["au"].float().cpu().numpy()
    finally:
        model.train(was_training)
    k = per_frame.astype(np.float64)
    return Predictions(
        keys=[f.key or str(f.image) for f in frames],
        pspi=(sums["pspi"] / k * PSPI_MAX).astype(np.float32),
        prob=(sums["prob"] / k[:, None]).astype(np.float32),
        au=(sums["au"] / k[:, None] * AU_MAX).astype(np.float32),
        shots=per_frame,
    )


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def expand_images(paths: Sequence[str | Path], what: str = "image") -> list[Path]:
    """Files as given, and the image files (by suffix, sorted, recursively) of directories."""
    from painctl.errors import PainctlError

    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise PainctlError(f"{path}: no {what} files ({', '.join(IMAGE_SUFFIXES)}) in this directory")
            out.extend(found)
        elif path.is_file():
            out.append(path)
        else:
            raise PainctlError(f"{path}: no such {what} file or directory")
    return out


def predict_images(
    checkpoint,
    images: Sequence[str | Path],
    neutrals: Sequence[str | Path] = (),
    shots: int = 1,
    crop: bool = False,
    batch_size: int = 32,
    seed: int = 0,
) -> Predictions:
    """Predict for image files (directories expanded) of one person against their neutral images.

    ``crop`` finds and crops the face in every image first (OpenCV Haar cascade). Keys are the
    image paths. Raises PainctlError when the model needs a neutral reference and none is given.
    """
    from painctl.errors import PainctlError
    from painctl.vitpain.checkpoint import load_checkpoint
    from painctl.vitpain.pairs import ImageCache

    model = load_checkpoint(checkpoint)[0] if isinstance(checkpoint, (str, Path)) else checkpoint
    files = expand_images(images)
    refs = expand_images(neutrals, "neutral image") if neutrals else []
    if model.config.reference and not refs:
        raise PainctlError("missing neutral reference: this checkpoint compares each face with a neutral face of the same person; give neutrals (images of that person without pain)")
    heat = model.config.input == "heatmap"  # a heatmap teacher scores heatmap images
    frames = [Frame(image=p, subject="", pspi=0.0, heatmap=p if heat else None, key=str(p)) for p in files]
    pool = [Frame(image=p, subject="", pspi=0.0, is_neutral=True, heatmap=p if heat else None, key=str(p)) for p in refs]
    cache = ImageCache(model.config.image_size, model.config.input, crop=crop)
    return predict_frames(model, frames, pool, shots=shots, batch_size=batch_size, seed=seed, cache=cache)


__all__ = ["Predictions", "PROB_COLUMNS", "RECORD_DECIMALS", "predict_frames", "predict_images", "expand_images"]
