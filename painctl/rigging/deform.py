"""Deformers: turn an identity's neutral vertices and per-side AU intensities into pain faces."""

from __future__ import annotations

import numpy as np

from painctl.artefact import Artefact, write_dataset
from painctl.errors import PainctlError
from painctl.rigging.aumap import AU_INDEX, au_to_weights, control_indices
from painctl.rigging.contact import LidContact
from painctl.rigging.corrective import LidCorrective, corrective_for


class DirectRig:
    """Rig a model that has ARKit face units (anny): vertices = neutral + sum_e w_e * offset_e, then
    closing lids brought to rest on the lower lid (:mod:`painctl.rigging.contact`) when ``contact`` is
    given, predicted by ``corrective`` (:mod:`painctl.rigging.corrective`) where that passes the check.

    ``basis`` is (E, V, 3) metres per unit of each face unit (the same for every anny identity).
    """

    def __init__(self, basis: np.ndarray, expression_names: tuple[str, ...], description: str,
                 contact: LidContact | None = None, corrective: LidCorrective | None = None):
        self.basis = basis.astype(np.float64)
        self.expression_names = tuple(expression_names)
        self.description = description
        self.contact = contact
        self.corrective = corrective
        self._blink = control_indices(self.expression_names)[AU_INDEX["AU43"]]

    @classmethod
    def for_model(cls, model, description: str | None = None, corrective: bool = True) -> DirectRig:
        """Return the rig of an ARKit ``model`` (anny), lid contact included, with the shipped lid
        corrective when ``corrective`` and it was fitted on this model's topology."""
        basis = model.expression_basis()
        blink = basis[control_indices(model.expression_names)[AU_INDEX["AU43"]]].astype(np.float64)
        contact = LidContact.for_model(model, blink)
        return cls(basis, model.expression_names, description or f"direct ARKit rig of {model.name} {model.version}",
                   contact, corrective_for(contact) if corrective else None)

    def deform(self, neutral: np.ndarray, left: np.ndarray, right: np.ndarray, identity: int = 0) -> np.ndarray:
        """Return (K, V, 3) float32 faces for (V, 3) ``neutral`` and (K, 6) per-side intensities."""
        weights = au_to_weights(left, right, self.expression_names)
        out = np.empty((len(weights), *neutral.shape), np.float32)
        for k, w in enumerate(weights):
            # Row by row over the active units only: the bytes of a face never depend on batching.
            active = np.flatnonzero(w)
            face = neutral + np.tensordot(w[active], self.basis[active], axes=1)
            if self.contact is not None and w[self._blink].any():
                others = active[~np.isin(active, self._blink)]
                candidates = []
                if self.corrective is not None:
                    moving = self.contact.vertices[: self.contact.n_moving]
                    candidates = self.corrective.candidates(neutral[moving] * 1e3, w, self.expression_names)
                face = self.contact.close(neutral + np.tensordot(w[others], self.basis[others], axes=1), face, candidates)
            out[k] = face
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
