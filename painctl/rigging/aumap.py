"""THE table from the six PSPI action units to rig controls, and the FACS intensity curve.

These are the face units only. On anny the rig adds AU correctives on top
(:mod:`painctl.rigging.au_correctives`): per-identity deformation fields whose amplitudes are fitted to
the measured intensity scale, which is where most of each AU's movement at high levels comes from.

FACS codes intensity in five ordinal levels, A (trace) to E (maximum); painctl writes them 1-5
(0 = absent). The levels are not evenly spaced in appearance: the FACS manual describes B and C as
covering most of the range and A, D and E as narrow bands at the ends. The curve below maps a
level to the fraction of the control's full range; non-integer intensities interpolate linearly.

==========  =================================  ==========  ==========================================
AU          rig control (ARKit face unit)       full range  why
==========  =================================  ==========  ==========================================
AU4         browDownLeft / browDownRight       1.0         brow lowerer (0.6 with the AU correctives,
                                                            which add the rest: at 1.0 with them,
                                                            hooded upper lids fold through themselves)
AU6         cheekSquintLeft / ...Right          0.4         cheek raiser; capped, see below
AU7         eyeSquintLeft / ...Right            0.4         lid tightener; capped, see below
AU9         noseSneerLeft / ...Right            1.0         nose wrinkler (0.6 with the AU correctives:
                                                            at 1.0 its pull on the skin between the
                                                            brows lowers the brow by 13-16%, AU4's
                                                            measure; the corrective raises the lip)
AU10        mouthUpperUpLeft / ...Right         1.0         upper-lip raiser (ICT-FaceKit uses
                                                            mouthShrugUpper, which raises the whole
                                                            lip centrally rather than the sides)
AU43        eyeBlinkLeft / eyeBlinkRight        1.0         eyes closed = blink at full closure
==========  =================================  ==========  ==========================================

AU6 and AU7 both push the lower lid up. On anny's heads their face units at weight 1 push the inner
eye-socket lining through the lower lid on male heads (measured: visible socket-lining pixels from
the front and 30-degree views), and AU4's brow lowering adds to it. Scanning 14 heads (young and old,
male and female, each ancestry) at AU4..AU10 = 5 with and without AU43, caps of 0.6 and 0.5 still
showed 14-24 lining pixels on young male heads; at 0.4 none did. So AU6 and AU7 are capped at 0.4
and their sum is scaled down to the lower-lid budget of 0.4 when both are active: a clean lid at
the price of a milder maximum squint. AU4 with AU7 has a budget too (browDown + 1.5 eyeSquint
<= 0.95, both scaled down together): strong brow lowering over a tightened lid folds the upper
lid's skin through itself. AU4 with AU9 has a brow-nose budget (browDown + noseSneer <= 1.7, both
scaled down together): at both 1 the lowered brow and the sneer push skin around the eye through
skin (edge-triangle crossings on the 5 test heads: 10 on an old female, 8 on a middle-aged male,
none on the others; along browDown + noseSneer = 1.7 none on any head, at 1.75 one crossed at
browDown 1, noseSneer 0.75). AU6 with AU9 at 5 crosses on none of them (cheekSquint is already
capped at 0.4), so it needs no budget. Labels keep the requested FACS intensities; only the
extremes look milder.
tests/test_rig.py checks the result on extreme phenotypes by counting edge-triangle crossings.
"""

from __future__ import annotations

import numpy as np

from painctl.errors import PainctlError
from painctl.facs import AU_NAMES

#: FACS level 0..5 -> fraction of the control's full range.
FACS_LEVELS = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
FACS_CURVE = np.array([0.0, 0.15, 0.35, 0.6, 0.8, 1.0])

#: AU -> (ARKit face-unit stem, full-range weight). Left and right units are "<stem>Left/Right".
AU_CONTROLS: dict[str, tuple[str, float]] = {
    "AU4": ("browDown", 1.0),
    "AU6": ("cheekSquint", 0.4),
    "AU7": ("eyeSquint", 0.4),
    "AU9": ("noseSneer", 1.0),
    "AU10": ("mouthUpperUp", 1.0),
    "AU43": ("eyeBlink", 1.0),
}
#: Full ranges that differ when the AU correctives add the rest of the movement (anny's direct rig;
#: meshes rigged by deformation transfer have no correctives and keep AU_CONTROLS' ranges).
RANGES_WITH_CORRECTIVES = {"AU4": 0.6, "AU9": 0.6}
#: Largest sum of the AU6 and AU7 weights on one side (see the module docstring).
LOWER_LID_BUDGET = 0.4
#: Largest browDown + UPPER_LID_SQUINT_SHARE * eyeSquint on one side: brow lowering and lid
#: tightening together fold the upper lid's skin through itself (measured by edge-triangle
#: crossings around the eyes on old female and middle-aged male heads; browDown 1 + eyeSquint 0.4
#: crossed 20-58 times, 0.6 + 0.2 and 0.4 + 0.4 never).
UPPER_LID_BUDGET = 0.95
UPPER_LID_SQUINT_SHARE = 1.5
#: Largest browDown + noseSneer on one side (see the module docstring).
BROW_NOSE_BUDGET = 1.7


def intensity_to_fraction(intensity: np.ndarray) -> np.ndarray:
    """Map FACS intensities (any shape, 0-5) to fractions of a control's range (same shape)."""
    return np.interp(np.asarray(intensity, dtype=np.float64), FACS_LEVELS, FACS_CURVE)


def control_indices(expression_names: tuple[str, ...] | list[str]) -> np.ndarray:
    """Return (6, 2) indices into ``expression_names`` of each AU's (left, right) control."""
    names = list(expression_names)
    try:
        return np.array([[names.index(stem + "Left"), names.index(stem + "Right")] for stem, _ in AU_CONTROLS.values()])
    except ValueError as exc:
        raise PainctlError(f"the face model has no ARKit control needed by the AU rig ({exc})") from None


def au_to_weights(au_left: np.ndarray, au_right: np.ndarray, expression_names: tuple[str, ...] | list[str],
                  ranges: dict[str, float] | None = None) -> np.ndarray:
    """Turn per-side AU intensities (M,6) into face-unit weights (M,E) for ``expression_names``.

    Columns follow :data:`painctl.facs.AU_NAMES`; AU43 is 0/1 (eyes closed), the others FACS 0-5.
    ``ranges`` overrides some AUs' full ranges (:data:`RANGES_WITH_CORRECTIVES`).
    """
    idx = control_indices(expression_names)
    full = np.array([(ranges or {}).get(au, w) for au, (_, w) in AU_CONTROLS.items()])
    weights = np.zeros((len(au_left), len(expression_names)), dtype=np.float64)
    for side, au in enumerate((au_left, au_right)):
        au = np.asarray(au, dtype=np.float64)
        frac = intensity_to_fraction(au[:, :5]) * full[:5]
        lid = frac[:, 1] + frac[:, 2]
        scale = np.where(lid > LOWER_LID_BUDGET, LOWER_LID_BUDGET / np.maximum(lid, 1e-12), 1.0)
        frac[:, 1] *= scale
        frac[:, 2] *= scale
        upper = frac[:, 0] + UPPER_LID_SQUINT_SHARE * frac[:, 2]
        scale = np.where(upper > UPPER_LID_BUDGET, UPPER_LID_BUDGET / np.maximum(upper, 1e-12), 1.0)
        frac[:, 0] *= scale
        frac[:, 2] *= scale
        brow_nose = frac[:, 0] + frac[:, 3]
        scale = np.where(brow_nose > BROW_NOSE_BUDGET, BROW_NOSE_BUDGET / np.maximum(brow_nose, 1e-12), 1.0)
        frac[:, 0] *= scale
        frac[:, 3] *= scale
        weights[:, idx[:5, side]] = frac
        weights[:, idx[5, side]] = au[:, 5] * full[5]
    return weights


AU_INDEX = {name: i for i, name in enumerate(AU_NAMES)}
