"""Onset-apex-offset trajectories: how a pain expression builds, holds and fades over frames."""

from __future__ import annotations

import numpy as np

#: Fractions of a sequence spent rising, at the apex, and falling.
ONSET, APEX = 0.4, 0.2


def envelope(frames: int) -> np.ndarray:
    """Return (frames,) expression strength in [0, 1]: smooth rise, apex plateau at 1, smooth fall.

    The first frame is 0 (neutral) and the last returns to 0; with fewer than 3 frames it is 1.
    """
    if frames < 3:
        return np.ones(frames)
    t = np.linspace(0.0, 1.0, frames)
    rise = np.clip(t / ONSET, 0, 1)
    fall = np.clip((1.0 - t) / (1.0 - ONSET - APEX), 0, 1)
    s = np.minimum(rise, fall)
    strength = s * s * (3 - 2 * s)  # smoothstep: no velocity jump at onset or offset
    middle = (t >= ONSET) & (t <= ONSET + APEX)
    strength[middle] = 1.0
    return strength


def sequence_au(au: np.ndarray, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Return per-frame AU labels (frames, 6) and AU43 closure weights (frames,) for apex ``au`` (6,).

    AU4-AU10 intensities scale with the envelope; the eyelids close with it (closure weight), but
    the AU43 label (eyes closed) is 1 only on frames where the eyes are fully closed.
    """
    strength = envelope(frames)
    labels = np.outer(strength, au).astype(np.float32)
    closure = strength * au[5]
    labels[:, 5] = np.where(closure >= 1.0 - 1e-9, au[5], 0.0)
    return labels, closure
