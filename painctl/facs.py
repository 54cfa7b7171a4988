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


def parse_pspi_levels(text: str) -> list[int]:
    """Parse ``"8"``, ``"1,4,8"`` or ``"1-16"`` (and mixes like ``"0,2-4"``) into PSPI levels.

    Every level must be an integer 0-16 (all of them are reachable with integer AU intensities).
    """
    from painctl.errors import BadValue

    levels: list[int] = []
    for part in (p.strip() for p in str(text).split(",")):
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            values = range(int(lo), int(hi) + 1) if sep else [float(part)]
        except ValueError:
            raise BadValue("pspi", f": {part!r} is not a level or a range like 1-16") from None
        for value in values:
            if float(value) != int(value):
                raise BadValue("pspi", f": {value} is not reachable; PSPI levels are whole numbers 0-16")
            if not 0 <= value <= PSPI_MAX:
                raise BadValue("pspi", f": {value:g} is outside 0-16")
            levels.append(int(value))
        if sep and int(lo) > int(hi):
            raise BadValue("pspi", f": empty range {part!r}")
    if not levels:
        raise BadValue("pspi", ": no levels given")
    return levels


def parse_au_spec(text: str) -> np.ndarray:
    """Parse ``"AU4=3,AU6=2,AU7=0,AU9=1,AU10=2,AU43=1"`` into a (6,) float32 intensity vector.

    AUs not named are 0. AU4-AU10 take FACS intensities 0-5 (non-integer allowed); AU43 is 0 or 1.
    """
    from painctl.errors import BadValue

    au = np.zeros(len(AU_NAMES), dtype=np.float32)
    seen = set()
    for part in (p.strip() for p in str(text).split(",")):
        if not part:
            continue
        name, sep, value = (s.strip() for s in part.partition("="))
        key = name.upper()
        if not sep or key not in AU_NAMES:
            raise BadValue("au", f": {part!r} is not NAME=VALUE with NAME one of {', '.join(AU_NAMES)}")
        if key in seen:
            raise BadValue("au", f": {key} is given twice")
        seen.add(key)
        try:
            number = float(value)
        except ValueError:
            raise BadValue("au", f": {key}={value!r} is not a number") from None
        i = AU_NAMES.index(key)
        if not np.isfinite(number) or not 0 <= number <= AU_MAX[i]:
            raise BadValue("au", f": {key}={value} is outside 0-{AU_MAX[i]:g}")
        if key == "AU43" and number not in (0.0, 1.0):
            raise BadValue("au", f": AU43 (eyes closed) is 0 or 1, got {value}")
        au[i] = number
    if not seen:
        raise BadValue("au", ": no action units given")
    return au
