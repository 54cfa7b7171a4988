"""Lid corrective: a fitted prediction of the lid-contact solve, checked on every face it is used for.

The contact solve of :mod:`painctl.rigging.contact` costs about 0.1 s of CPU per closed eye,
half an hour for the paper's 25,000 faces. Production FACS rigs meet the same problem (a blink
combined with a squint drives the lids through each other) with corrective shapes: offsets added
when units combine. This module fits one to the contact solve itself:

- the correction (the solved lids minus the blinked ones, on the vertices the blink moves) is
  predicted per side of the face, linearly in the identity's eye-region shape (its first
  :data:`COMPONENTS` principal components over sampled anny heads), that side's face-unit weights
  and pairwise products (units with units, shape with units, the leading shape components with
  each other), each multiplied by the blink weight and its square, since the correction is zero with the eyes open
  and grows as they close;
- it is fitted by ridge least squares to contact solves of identities sampled across ages,
  genders and ancestries, at pain faces of every PSPI level, with and without asymmetry, and at
  partly closed eyes (``--sequence`` frames);
- the rig tries the prediction as it is and then scaled slightly beyond (:data:`SCALES`), which
  lays the upper lid a little further over the lower lid and turns most near misses of the fit
  into passes.

A refit on 400 identities (1,858 solves) over the AU correctives of 2026-12-01 11:09 (AU4, AU9
stronger) did worse than the shipped file on the rig benchmark's first 300 identities: 50 eyes
needed the solve instead of 38, so the shipped file stays.

The rig uses a prediction only when no skin edge of the lid region crosses a skin triangle (the
check the tests apply); any other face goes through the full solve, so the guarantee is the
solve's. The fitted file ships in the package for anny's topology; the fitting tool beside it,
``python -m painctl.rigging.data.fit_lid_corrective``, refits it (about 4 minutes on 2 cores).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from painctl.errors import PainctlError
from painctl.rigging.contact import LidContact

#: The corrective fitted to anny's lid region, shipped with the package.
CORRECTIVE_FILE = Path(__file__).with_name("data") / "anny-lid-corrective.npz"
#: Principal components of the eye-region shape used as identity features. 20 fitted no better
#: than 12; products of the components mattered more. On the rig benchmark's first 500 identities
#: (2,351 closed-eye faces), without them 51 needed the full solve (most of them elderly African
#: women), with the products of the first 4 16, with the products of all 12 18; but with all 12
#: a slit of eyeball (1-3 pixels) showed on 5 of 173 held-out faces, with the first 4 on none.
COMPONENTS = 12
#: Leading components whose pairwise products are features too (see :func:`_features`).
SHAPE_PRODUCTS = 4
#: Scales at which the rig tries the predicted correction, in order, until one crosses no skin.
#: On 355 closed-eye pain faces of 80 held-out identities (half with asymmetry 2) one of them
#: passed on 354, and one face showed a single eyeball pixel from the front (at 192 pixels);
#: trying 1.1 first (measured with a fit without shape products) opened a slit of eyeball (2-8
#: pixels) along the lash line on 6 faces.
SCALES = (1.0, 1.05, 1.1, 1.2, 1.3)
#: Ridge weight of the least-squares fit (features are O(1)); 1.0 and 0.01 fitted equally well.
RIDGE = 1.0
#: Ages the fit samples, in years (wider than the default age groups, so any sampled head is inside).
AGE_RANGE = (18.0, 90.0)


@dataclass(frozen=True)
class LidCorrective:
    """A fitted linear model of the contact solve's correction on one lid region.

    ``topology`` names the region it was fitted on (see :func:`topology_key`); ``mean`` (3N,) and
    ``components`` (K,3N) map the N moving vertices' neutral positions (mm) to identity features;
    ``side`` (N,) says which side's controls (0 left, 1 right) move each vertex; ``units`` (2,6)
    names each side's controls of AU4, AU6, AU7, AU9, AU10 and AU43; ``coefficients`` holds one
    (F, 3*N_side) matrix per side.
    """

    topology: str
    mean: np.ndarray
    components: np.ndarray
    side: np.ndarray
    units: np.ndarray
    coefficients: tuple[np.ndarray, np.ndarray]

    def candidates(self, neutral_mm: np.ndarray, weights: np.ndarray, expression_names: tuple[str, ...]) -> list[np.ndarray]:
        """Return the predicted correction at each of :data:`SCALES` (see :meth:`correction`)."""
        correction = self.correction(neutral_mm, weights, expression_names)
        return [scale * correction for scale in SCALES]

    def correction(self, neutral_mm: np.ndarray, weights: np.ndarray, expression_names: tuple[str, ...]) -> np.ndarray:
        """Return the predicted (N,3) correction in mm.

        ``neutral_mm`` (N,3): the identity's neutral positions of the region's moving vertices, in
        mm; ``weights`` (E,): the face's face-unit weights over ``expression_names``.
        """
        return self.corrections(neutral_mm, np.asarray(weights)[None], expression_names)[0]

    def corrections(self, neutral_mm: np.ndarray, weights: np.ndarray, expression_names: tuple[str, ...]) -> np.ndarray:
        """Return (K,N,3) mm: :meth:`correction` for the (K,E) face-unit weights of K faces of one identity."""
        weights = np.asarray(weights, np.float64)
        out = np.zeros((len(weights), len(self.side), 3))
        shape = shape_features(self.mean, self.components, neutral_mm)
        for s in (0, 1):
            features = lid_features(shape, side_weights(weights, self.units[s], expression_names))
            # Row by row (vector-matrix, each row its own array): BLAS's sums then do not depend on
            # the batch or on where a row starts in memory, so the bytes are a lone face's; and BLAS
            # starts no threads, as it does for a matrix-matrix product (slow on a shared machine).
            out[:, self.side == s] = np.stack([f.copy() @ self.coefficients[s] for f in features]).reshape(len(weights), -1, 3)
        return out

    def save(self, path: str | Path) -> None:
        """Write the corrective to ``path`` (.npz, no pickles)."""
        np.savez_compressed(path, topology=np.array(self.topology), mean=self.mean.astype(np.float32),
                            components=self.components.astype(np.float32), side=self.side.astype(np.int8),
                            units=np.array(self.units, dtype="U32"), left=self.coefficients[0].astype(np.float32),
                            right=self.coefficients[1].astype(np.float32))

    @classmethod
    def load(cls, path: str | Path) -> LidCorrective:
        """Read a corrective written by :meth:`save`; PainctlError if it is malformed."""
        try:
            with np.load(path, allow_pickle=False) as f:
                data = {k: f[k] for k in ("topology", "mean", "components", "side", "units", "left", "right")}
        except (OSError, KeyError, ValueError) as exc:
            raise PainctlError(f"{path}: not a lid corrective ({exc})") from None
        n = len(data["side"])
        k = len(data["components"])
        width = _feature_count(k)
        if (data["mean"].shape != (3 * n,) or data["components"].shape != (k, 3 * n) or data["units"].shape != (2, 6)
                or any(data[s].shape != (width, 3 * int((data["side"] == i).sum())) for i, s in enumerate(("left", "right")))):
            raise PainctlError(f"{path}: lid corrective arrays have inconsistent shapes")
        return cls(str(data["topology"]), data["mean"].astype(np.float64), data["components"].astype(np.float64),
                   data["side"].astype(np.int64), data["units"], (data["left"].astype(np.float64), data["right"].astype(np.float64)))


def topology_key(contact: LidContact) -> str:
    """Return a short hash of ``contact``'s region: its vertex indices, moving count and triangles."""
    h = hashlib.sha256()
    for array in (np.asarray(contact.vertices, np.int64), np.asarray([contact.n_moving], np.int64), np.asarray(contact.faces, np.int64)):
        h.update(array.tobytes())
    return h.hexdigest()[:16]


def corrective_for(contact: LidContact, path: str | Path = CORRECTIVE_FILE) -> LidCorrective | None:
    """Return the shipped corrective when it was fitted on ``contact``'s region, else None."""
    if not Path(path).exists():
        return None
    corrective = LidCorrective.load(path)
    return corrective if corrective.topology == topology_key(contact) else None


def _feature_count(components: int) -> int:
    k = min(components, SHAPE_PRODUCTS)
    return 2 * (1 + components + 5 + 5 * components + 15 + k * (k + 1) // 2)


def side_weights(weights: np.ndarray, units: np.ndarray, expression_names: tuple[str, ...]) -> np.ndarray:
    """Return (..., 6) one side's face-unit weights (the AU4..AU43 controls named by ``units``) out of all (..., E)."""
    names = list(expression_names)
    return np.asarray(weights, np.float64)[..., [names.index(u) for u in units]]


def shape_features(mean: np.ndarray, components: np.ndarray, neutral_mm: np.ndarray) -> np.ndarray:
    """Return (K,) the lid region's shape coordinates: its neutral (N,3) mm on the (K,3N) components."""
    return components @ (np.asarray(neutral_mm, np.float64).ravel() - mean)


def lid_features(shape: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Return one side's feature vector from its shape coordinates (K,) and its (6,) face-unit
    weights, or (M,F) feature rows for (M,6) weights of M faces of the same identity."""
    weights = np.asarray(weights, np.float64)
    rows = np.atleast_2d(weights)
    # Everything is multiplied by the blink weight (and its square): open eyes need no correction.
    blink = rows[:, 5:6]
    shape, units = np.asarray(shape, np.float64) / 10.0, rows[:, :5]
    k = min(len(shape), SHAPE_PRODUCTS)
    pairs, shape_pairs = np.triu_indices(5), np.triu_indices(k)
    n = len(rows)
    base = np.concatenate([np.ones((n, 1)), np.broadcast_to(shape, (n, len(shape))), units,
                           (shape[None, :, None] * units[:, None, :]).reshape(n, -1),
                           (units[:, :, None] * units[:, None, :])[:, pairs[0], pairs[1]],
                           np.broadcast_to(np.outer(shape[:k], shape[:k])[shape_pairs], (n, len(shape_pairs[0])))], axis=1)
    out = np.concatenate([base * blink, base * blink * blink], axis=1)
    return out[0] if weights.ndim == 1 else out
