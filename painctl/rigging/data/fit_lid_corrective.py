"""The tool that makes the lid corrective shipped beside it (anny-lid-corrective.npz): contact
solves of sampled heads, then a ridge fit (see :mod:`painctl.rigging.corrective`).

    python -m painctl.rigging.data.fit_lid_corrective [--identities 300] [--jobs 2] [OUT]
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from painctl.errors import PainctlError
from painctl.facemodels.base import FaceModel
from painctl.rigging.aumap import AU_INDEX, au_to_weights, control_indices
from painctl.rigging.corrective import (AGE_RANGE, COMPONENTS, CORRECTIVE_FILE, RIDGE, LidCorrective, lid_features, shape_features,
                                        side_weights, topology_key)
from painctl.seeding import rng_for


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
    from painctl.rigging.deform import DirectRig
    from painctl.stages.rig import RigRequest, pain_configurations

    rig = DirectRig.for_model(model, corrective=False)
    contact = rig.contact
    genders = ("female", "male")
    ancestries = getattr(model, "ethnicity_groups", ())[:3]
    blink_units = control_indices(model.expression_names)[AU_INDEX["AU43"]]
    samples = []
    for g in range(start, start + identities):
        rng = rng_for(seed, "fit-lid-corrective", g)
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
    from painctl.rigging.deform import DirectRig

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
        x = np.stack([lid_features(shape_features(mean, components_, t.neutral_mm), side_weights(t.weights, names[s], model.expression_names))
                      for t in samples])
        y = np.stack([t.correction_mm[side == s].ravel() for t in samples])
        coefficients.append(np.linalg.solve(x.T @ x + RIDGE * np.eye(x.shape[1]), x.T @ y))
    return LidCorrective(topology_key(contact), mean, components_, side, names, tuple(coefficients))


def _samples_job(args: tuple[str, int, int, int]) -> list[ContactSample]:
    from painctl.facemodels import load_face_model

    from threadpoolctl import threadpool_limits

    name, identities, seed, start = args
    with threadpool_limits(1, user_api="blas"):  # one BLAS thread per job, as in the rig stage
        return contact_samples(load_face_model(name), identities, seed, start)


def main(argv: list[str] | None = None) -> None:
    """Refit the shipped corrective: ``python -m painctl.rigging.data.fit_lid_corrective [--identities N] [--jobs J] [OUT]``."""
    parser = argparse.ArgumentParser(prog="python -m painctl.rigging.data.fit_lid_corrective", description=main.__doc__)
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
