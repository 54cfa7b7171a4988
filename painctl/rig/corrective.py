"""Lid corrective: a fitted prediction of the lid-contact solve, checked on every face it is used for.

The contact solve of :mod:`painctl.rig.contact` costs about a quarter of a second per closed-eye
face, 50 minutes for the paper's 25,000 faces. Production FACS rigs meet the same problem (a blink
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

The rig uses a prediction only when no skin edge of the lid region crosses a skin triangle (the
check the tests apply); any other face goes through the full solve, so the guarantee is the
solve's. The fitted file ships in the package for anny's topology; ``python -m
painctl.rig.corrective`` refits it (about 4 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import hashlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from painctl.errors import PainctlError
from painctl.facemodels.base import FaceModel
from painctl.rig.aumap import AU_INDEX, au_to_weights, control_indices
from painctl.rig.contact import LidContact
from painctl.seeding import rng_for

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
        out = np.zeros((len(self.side), 3))
        shape = _shape_features(self.mean, self.components, neutral_mm)
        for s in (0, 1):
            features = _features(shape, _side_weights(weights, self.units[s], expression_names))
            out[self.side == s] = (features @ self.coefficients[s]).reshape(-1, 3)
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


def _side_weights(weights: np.ndarray, units: np.ndarray, expression_names: tuple[str, ...]) -> np.ndarray:
    names = list(expression_names)
    return np.asarray(weights, np.float64)[[names.index(u) for u in units]]


def _shape_features(mean: np.ndarray, components: np.ndarray, neutral_mm: np.ndarray) -> np.ndarray:
    return components @ (np.asarray(neutral_mm, np.float64).ravel() - mean)


def _features(shape: np.ndarray, side_weights: np.ndarray) -> np.ndarray:
    # Everything is multiplied by the blink weight (and its square): open eyes need no correction.
    blink = side_weights[5]
    shape, units = shape / 10.0, side_weights[:5]
    base = np.r_[1.0, shape, units, np.outer(shape, units).ravel(), np.outer(units, units)[np.triu_indices(5)],
                 np.outer(shape[:SHAPE_PRODUCTS], shape[:SHAPE_PRODUCTS])[np.triu_indices(min(len(shape), SHAPE_PRODUCTS))]]
    return np.r_[base * blink, base * blink * blink]


@dataclass(frozen=True)
class ContactSample:
    """One contact solve for fitting: neutral moving-region positions (N,3) mm, the face's (E,)
    face-unit weights and the solve's correction (N,3) mm."""

    neutral_mm: np.ndarray
    weights: np.ndarray
    correction_mm: np.ndarray


def contact_samples(model: FaceModel, identities: int, seed: int = 0, start: int = 0) -> list[ContactSample]:
    """Solve lid contact for the closed-eye pain faces of ``identities`` sampled heads.

    Head ``start + i`` is drawn from its own random stream (age uniform over :data:`AGE_RANGE`,
    genders and ancestries in turn); it gets 10 pain faces at PSPI levels dealt round-robin, every
    other head with up to 2 FACS levels of left/right asymmetry, and a fifth of its closed-eye
    faces partly closed (blink 0.3-1). Returns one sample per face whose eyes close.
    """
    from painctl.rig.deform import DirectRig
    from painctl.rig.stage import RigRequest, pain_configurations

    rig = DirectRig.for_model(model, corrective=False)
    contact = rig.contact
    genders = ("female", "male")
    ancestries = getattr(model, "ethnicity_groups", ())[:3]
    blink_units = control_indices(model.expression_names)[AU_INDEX["AU43"]]
    samples = []
    for g in range(start, start + identities):
        rng = rng_for(seed, g)
        phenotype = model.sample_phenotype(rng, rng.uniform(*AGE_RANGE), genders[g % 2],
                                           ancestries[(g // 2) % len(ancestries)] if ancestries else None)
        neutral = model.neutral(phenotype[None])[0].astype(np.float64)
        request = RigRequest(levels=tuple(range(1, 17)), per_identity=10, seed=seed, asymmetry=2.0 * (g % 2))
        left, right = pain_configurations(request, g, None)
        weights = au_to_weights(left, right, model.expression_names, rig.ranges)
        # The AU correctives are part of the open face the lids close over, as in the rig.
        extra = rig.corrective_offsets(neutral, left, right)
        for k, w in enumerate(weights):
            if not w[blink_units].any():
                continue
            if rng.uniform() < 0.2:
                w = w.copy()
                w[blink_units] *= rng.uniform(0.3, 1.0)
            active = np.flatnonzero(w)
            others = active[~np.isin(active, blink_units)]
            open_face = neutral + extra[k] if extra is not None else neutral
            rest = open_face + np.tensordot(w[others], rig.basis[others], axes=1)
            blinked = open_face + np.tensordot(w[active], rig.basis[active], axes=1)
            solved = contact.close(rest, blinked)
            moving = contact.vertices[: contact.n_moving]
            samples.append(ContactSample(neutral[moving] * 1e3, w, (solved - blinked)[moving] * 1e3))
    return samples


def fit_corrective(model: FaceModel, samples: list[ContactSample], components: int = COMPONENTS) -> LidCorrective:
    """Fit a :class:`LidCorrective` for ``model``'s lid region to contact ``samples``."""
    from painctl.rig.deform import DirectRig

    if len(samples) < 2:
        raise PainctlError("fitting a lid corrective needs at least 2 contact samples")
    rig = DirectRig.for_model(model, corrective=False)
    contact = rig.contact
    moving = contact.vertices[: contact.n_moving]
    units = control_indices(model.expression_names)
    names = np.array([[model.expression_names[units[au, s]] for au in range(6)] for s in (0, 1)])
    blink = rig.basis[units[AU_INDEX["AU43"]]][:, moving]  # (2,N,3)
    side = np.argmax(np.linalg.norm(blink, axis=2), axis=0)
    shapes = np.stack([s.neutral_mm.ravel() for s in samples])
    mean = shapes.mean(0)
    k = min(components, len(samples) - 1)
    components_ = np.linalg.svd(shapes - mean, full_matrices=False)[2][:k]
    coefficients = []
    for s in (0, 1):
        x = np.stack([_features(_shape_features(mean, components_, t.neutral_mm), _side_weights(t.weights, names[s], model.expression_names))
                      for t in samples])
        y = np.stack([t.correction_mm[side == s].ravel() for t in samples])
        coefficients.append(np.linalg.solve(x.T @ x + RIDGE * np.eye(x.shape[1]), x.T @ y))
    return LidCorrective(topology_key(contact), mean, components_, side, names, tuple(coefficients))


def _samples_job(args: tuple[str, int, int, int]) -> list[ContactSample]:
    from painctl.facemodels import load_face_model

    name, identities, seed, start = args
    return contact_samples(load_face_model(name), identities, seed, start)


def main(argv: list[str] | None = None) -> None:
    """Refit the shipped corrective: ``python -m painctl.rig.corrective [--identities N] [--jobs J] [OUT]``."""
    parser = argparse.ArgumentParser(prog="python -m painctl.rig.corrective", description=main.__doc__)
    parser.add_argument("out", nargs="?", default=str(CORRECTIVE_FILE))
    parser.add_argument("--identities", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from painctl.facemodels import load_face_model

    chunks = np.array_split(np.arange(args.identities), max(args.jobs, 1))
    jobs = [("anny", len(c), args.seed, int(c[0])) for c in chunks if len(c)]
    with ProcessPoolExecutor(max_workers=len(jobs)) as pool:
        samples = [s for part in pool.map(_samples_job, jobs) for s in part]
    corrective = fit_corrective(load_face_model("anny"), samples)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    corrective.save(args.out)
    print(f"{args.out}: fitted to {len(samples)} contact solves of {args.identities} identities")


if __name__ == "__main__":
    main()
