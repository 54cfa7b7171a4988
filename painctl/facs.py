"""The six PSPI action units and the Prkachin & Solomon Pain Intensity, computed one way everywhere."""

from __future__ import annotations

import numpy as np

#: Column order of every ``/au`` dataset and AU tensor in painctl.
AU_NAMES = ("AU4", "AU6", "AU7", "AU9", "AU10", "AU43")
#: FACS intensity range (0 = absent, 1 = trace .. 5 = maximum); AU43 (eyes closed) is 0 or 1.
AU_MAX = np.array([5.0, 5.0, 5.0, 5.0, 5.0, 1.0], dtype=np.float32)
PSPI_MAX = 16.0
#: Thresholds of the binary pain heads and of the reported AUROC/F1.
PAIN_THRESHOLDS = (1, 2, 3)


def pspi(au: np.ndarray) -> np.ndarray:
    """Return PSPI = AU4 + max(AU6, AU7) + max(AU9, AU10) + AU43 for ``au`` of shape (..., 6).

    Columns follow :data:`AU_NAMES`; the result has shape ``au.shape[:-1]`` and runs 0-16.
    """
    au = np.asarray(au, dtype=np.float32)
    if au.shape[-1] != len(AU_NAMES):
        raise ValueError(f"expected {len(AU_NAMES)} AU columns ({', '.join(AU_NAMES)}), got shape {au.shape}")
    return au[..., 0] + np.maximum(au[..., 1], au[..., 2]) + np.maximum(au[..., 3], au[..., 4]) + au[..., 5]
