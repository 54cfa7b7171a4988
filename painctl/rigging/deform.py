"""Deformers: turn an identity's neutral vertices and per-side AU intensities into pain faces."""

from __future__ import annotations

import numpy as np

from painctl.artefact import Artefact, write_dataset
from painctl.errors import PainctlError
from painctl.rigging.au_correctives import (BROW_NOSE_SHARE, CORRECTED, E_CHANGE, LID_TOTAL_CHANGE, LID_TOTAL_CHANGE_CLOSED,
                                         LID_TOTAL_CHANGE_WITH_AU4,
                                         LIP_TOTAL_CHANGE, CorrectiveRegions, brow_e_change, brow_gaps, canthus_weights,
                                         corrective_fields, fit_amplitude, point_rows, tie_canthi)
from painctl.rigging.au_correctives import AU7_CLOSED_CHANGE, AU7_OPEN_UPPER_SHARE, open_eye_fields
from painctl.rigging.aumap import AU_CONTROLS, AU_INDEX, RANGES_WITH_CORRECTIVES, au_to_weights, control_indices, intensity_to_fraction
from painctl.rigging.contact import LidContact
from painctl.rigging.corrective import SCALES, LidCorrective, corrective_for


class DirectRig:
    """Rig a model that has ARKit face units (anny): vertices = neutral + sum_e w_e * offset_e, plus
    the AU correctives of :mod:`painctl.rigging.au_correctives` when ``au_regions`` is given (fields
    built from the identity's neutral head, amplitudes fitted to the FACS scale), then closing lids
    brought to rest on the lower lid (:mod:`painctl.rigging.contact`) when ``contact`` is given,
    predicted by ``corrective`` (:mod:`painctl.rigging.corrective`) where that passes the check.

    ``basis`` is (E, V, 3) metres per unit of each face unit (the same for every anny identity).
    """

    def __init__(self, basis: np.ndarray, expression_names: tuple[str, ...], description: str,
                 contact: LidContact | None = None, corrective: LidCorrective | None = None,
                 au_regions: CorrectiveRegions | None = None):
        self.basis = basis.astype(np.float64)
        self.expression_names = tuple(expression_names)
        self.description = description
        self.contact = contact
        self.corrective = corrective
        self.au_regions = au_regions
        #: Face-unit ranges this rig uses (narrower for the AUs whose correctives add the rest).
        self.ranges = RANGES_WITH_CORRECTIVES if au_regions is not None else None
        self._blink = control_indices(self.expression_names)[AU_INDEX["AU43"]]

    @classmethod
    def for_model(cls, model, description: str | None = None, corrective: bool = True, au_correctives: bool = True) -> DirectRig:
        """Return the rig of an ARKit ``model`` (anny), lid contact included, with the shipped lid
        corrective when ``corrective`` and it was fitted on this model's topology, and the AU
        correctives when ``au_correctives``."""
        basis = model.expression_basis()
        blink = basis[control_indices(model.expression_names)[AU_INDEX["AU43"]]].astype(np.float64)
        contact = LidContact.for_model(model, blink)
        return cls(basis, model.expression_names, description or f"direct ARKit rig of {model.name} {model.version}",
                   contact, corrective_for(contact) if corrective else None,
                   CorrectiveRegions.for_model(model) if au_correctives else None)

    def deform(self, neutral: np.ndarray, left: np.ndarray, right: np.ndarray, identity: int = 0) -> np.ndarray:
        """Return (K, V, 3) float32 faces for (V, 3) ``neutral`` and (K, 6) per-side intensities."""
        weights = au_to_weights(left, right, self.expression_names, self.ranges)
        out = np.empty((len(weights), *neutral.shape), np.float32)
        extra = self.corrective_offsets(neutral, left, right)
        closing = np.flatnonzero(weights[:, self._blink].any(1)) if self.contact is not None else np.zeros(0, int)
        predicted = {}
        if self.corrective is not None and len(closing):
            moving = self.contact.vertices[: self.contact.n_moving]
            # One batch per identity: the features' shape part is the identity's.
            predicted = dict(zip(closing, self.corrective.corrections(neutral[moving] * 1e3, weights[closing], self.expression_names)))
        tie = canthus_weights(neutral, self.au_regions) if extra is not None else None
        for k, w in enumerate(weights):
            # Row by row over the active units only: the bytes of a face never depend on batching.
            active = np.flatnonzero(w)
            others = active[~np.isin(active, self._blink)]
            blink = active[np.isin(active, self._blink)]
            moved = np.tensordot(w[others], self.basis[others], axes=1) if len(others) else np.zeros(neutral.shape)
            if extra is not None:
                # The eye corners hold the lids together under AU4-AU10 (CANTHUS_TIE_M).
                moved = tie_canthi(moved + extra[k], tie)
            opened = neutral.astype(np.float64) + moved
            face = opened + np.tensordot(w[blink], self.basis[blink], axes=1) if len(blink) else opened
            if k in closing:
                candidates = [scale * predicted[k] for scale in SCALES] if k in predicted else []
                face = self.contact.close(opened, face, candidates)
            out[k] = face
        return out

    def corrective_offsets(self, neutral: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray | None:
        """Return (K, V, 3) float64 AU-corrective offsets (metres) for (K,6) per-side intensities on
        (V,3) ``neutral``, or None when the rig has no correctives or no face has AU4-AU10."""
        if self.au_regions is None or not (np.any(np.asarray(left)[:, :5]) or np.any(np.asarray(right)[:, :5])):
            return None
        fields = corrective_fields(neutral, self.au_regions).reshape(-1, *neutral.shape)
        opened = open_eye_fields(neutral, self.au_regions)
        amplitudes = self.corrective_amplitudes(neutral, fields, left, right, opened)
        fields = np.concatenate([fields, opened])
        out = np.zeros((len(amplitudes), *neutral.shape))
        for k, a in enumerate(amplitudes):
            on = np.flatnonzero(a)
            if len(on):
                out[k] = np.tensordot(a[on], fields[on], axes=1)
        return out

    def corrective_amplitudes(self, neutral: np.ndarray, fields: np.ndarray, left: np.ndarray, right: np.ndarray,
                              opened: np.ndarray | None = None) -> np.ndarray:
        """Return (K, 12) corrective amplitudes (mm) for (K,6) per-side intensities: AU4, AU6, AU7,
        AU9, AU10 x (left, right), in the order of ``fields`` (10, V, 3), then AU7's open-eye part
        x (left, right), in the order of ``opened`` (2, V, 3; :func:`open_eye_fields` of
        ``neutral`` when None).

        Each is fitted on the identity, for that AU alone at that side's level on both sides, to
        the scale's change at that level (:data:`painctl.rigging.au_correctives.E_CHANGE` times the
        FACS curve), on top of what the AU's face units already do. AU7 on an open eye is fitted
        with its open-eye part; as AU43 closes the eye the open-eye part fades out (by the square
        of the openness) and AU7 goes over to its closed-eye fit (AU7_CLOSED_CHANGE, no open part).
        """
        if opened is None:
            opened = open_eye_fields(neutral, self.au_regions)
        out = np.zeros((len(left), 12))
        cache: dict[tuple[int, float, int], float] = {}
        rows = point_rows(self.au_regions.points)
        neutral_rows, field_rows = np.asarray(neutral, np.float64)[rows], fields[:, rows]
        open_rows = AU7_OPEN_UPPER_SHARE * (opened[0, rows] + opened[1, rows])
        au7 = CORRECTED.index("AU7")
        basis_rows = self.basis[:, rows]
        controls = control_indices(self.expression_names)
        au4 = CORRECTED.index("AU4")
        brow_e = [E_CHANGE["AU4"]] * 2
        if np.any(np.asarray(left)[:, AU_INDEX["AU4"]]) or np.any(np.asarray(right)[:, AU_INDEX["AU4"]]):
            # AU4's E on this identity: no further than its brow can drop without folding the lid.
            units = (self.ranges or {}).get("AU4", AU_CONTROLS["AU4"][1]) * basis_rows[controls[AU_INDEX["AU4"]]].sum(0)
            gaps = brow_gaps(neutral, self.au_regions)
            both = field_rows[2 * au4] + field_rows[2 * au4 + 1]
            brow_e = [brow_e_change(neutral_rows, units, both, gaps[side], side) for side in (0, 1)]
        for k in range(len(left)):
            for side, au in enumerate((left, right)):
                # AU43 fades AU7's open-eye part out: at AU43 = 1 AU7 is its closed-eye fit alone.
                opening = (1.0 - min(float(au[k][AU_INDEX["AU43"]]), 1.0)) ** 2
                scale = dict(E_CHANGE, AU7=opening * E_CHANGE["AU7"] + (1 - opening) * AU7_CLOSED_CHANGE)
                for a, name in enumerate(CORRECTED):
                    level = float(au[k][AU_INDEX[name]])
                    if level <= 0:
                        continue
                    key = (a, level, side)
                    if key not in cache:
                        # One AU alone meets none of aumap's budgets: its units are the curve times its range.
                        full = AU_CONTROLS[name][1]
                        weight = float(intensity_to_fraction(level)) * (self.ranges or {}).get(name, full)
                        units = weight * basis_rows[controls[AU_INDEX[name]]].sum(0)
                        change = (brow_e[side] if a == au4 else E_CHANGE[name]) * float(intensity_to_fraction(level))
                        both = field_rows[2 * a] + field_rows[2 * a + 1]
                        cache[key] = fit_amplitude(neutral_rows, units, both + (open_rows if a == au7 else 0), name, change, side)
                        if a == au7:
                            change = AU7_CLOSED_CHANGE * float(intensity_to_fraction(level))
                            cache[(-1, level, side)] = fit_amplitude(neutral_rows, units, both, name, change, side)
                    out[k, 2 * a + side] = cache[key]
                    if a == au7:
                        out[k, 10 + side] = opening * AU7_OPEN_UPPER_SHARE * cache[key]
                        out[k, 2 * a + side] = opening * cache[key] + (1 - opening) * cache[(-1, level, side)]
                frac = {name: float(intensity_to_fraction(au[k][AU_INDEX[name]])) for name in CORRECTED}
                # AU6 and AU7 both narrow the eye: together they stop short of closing it. AU9 and
                # AU10 both raise the upper lip: together no further than AU10 at E.
                closed = au[k][AU_INDEX["AU43"]] > 0
                lids = LID_TOTAL_CHANGE_CLOSED if closed else LID_TOTAL_CHANGE_WITH_AU4 if frac["AU4"] > 0 else LID_TOTAL_CHANGE
                if not closed and frac["AU4"] == 0:
                    # AU7 alone may narrow an open eye beyond the pair's limit: AU6 never widens it.
                    lids = min(lids, scale["AU7"] * frac["AU7"])
                for pair, limit, alone_too in ((("AU6", "AU7"), lids, closed), (("AU9", "AU10"), LIP_TOTAL_CHANGE, False)):
                    total = sum(scale[name] * frac[name] for name in pair)
                    if (alone_too or all(frac[name] > 0 for name in pair)) and total < limit:
                        for name in pair:
                            out[k, 2 * CORRECTED.index(name) + side] *= limit / total
                        if "AU7" in pair:
                            out[k, 10 + side] *= limit / total
                # The sneer pulls the skin between the brows down too: AU4's corrective gives way.
                out[k, 2 * CORRECTED.index("AU4") + side] *= 1 - BROW_NOSE_SHARE * frac["AU9"]
        return out

    def write_topology(self, h5, source: Artefact) -> None:
        """Copy the mesh topology datasets (faces, uv) from ``source``."""
        for name in ("faces", "uv", "uv_faces"):
            if source.has(name):
                write_dataset(h5, name, source.read(name), rows=False)


def deformer_for(source: Artefact, model_mesh: str | None = None):
    """Return the deformer for ``source``'s identities (or for the mesh file ``model_mesh``).

    anny identities are rigged directly; any other model goes through deformation transfer.
    """
    from painctl.facemodels import face_model_of, load_face_model

    if model_mesh is None:
        try:
            model = face_model_of(source)
        except PainctlError:
            model = None
        if model is not None and model.capabilities.expressions == "arkit52":
            return DirectRig.for_model(model)
    from painctl.rigging.transfer import TransferRig

    anny = load_face_model("anny")
    faces = source.read("faces") if source.has("faces") else None
    if faces is None:
        raise PainctlError(f"{source.path}: has no /faces, so its meshes cannot be rigged")
    return TransferRig.for_meshes(anny, source.read("vertices", slice(0, 1))[0], faces, landmarks=_landmarks_of(source))


def _landmarks_of(source: Artefact) -> dict[str, int] | None:
    from painctl.facemodels import face_model_of

    try:
        return face_model_of(source).landmarks()
    except Exception:  # noqa: BLE001 - a mesh without a known model simply has no landmarks
        return None
