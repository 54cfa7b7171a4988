"""The face-model interface every stage uses: identities in, vertices out, in one coordinate frame.

Frame for every model: metres, +Y up, the face looks toward +Z, right-handed (so the subject's own
left is +X). Each model applies one fixed transform to reach it, never a per-identity centring.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from painctl.errors import PainctlError

#: Demographic factors a model may control.
DEMOGRAPHIC_FACTORS = frozenset({"age", "gender", "ethnicity"})


@dataclass(frozen=True)
class Capabilities:
    """What a face model can do, so stages can refuse clearly what it cannot.

    ``expressions`` names the expression space: ``"arkit52"`` (anny's 52 ARKit face units),
    ``"flame-pca"`` (FLAME's expression PCA plus jaw pose) or ``None``.
    """

    identity_sampling: bool
    demographics: frozenset[str]
    expressions: str | None

    def require(self, model: str, *, demographics: tuple[str, ...] = (), expressions: tuple[str, ...] = ()) -> None:
        """Raise PainctlError unless the model offers every named demographic and expression space."""
        missing = [d for d in demographics if d not in self.demographics]
        if missing:
            raise PainctlError(f"face model {model} has no control over {', '.join(missing)}; "
                               f"it offers {', '.join(sorted(self.demographics)) or 'none'}")
        if expressions and self.expressions not in expressions:
            raise PainctlError(f"face model {model} offers expressions {self.expressions or 'none'}, "
                               f"this needs {' or '.join(expressions)}")


class FaceModel:
    """Abstract face model. Subclasses set the attributes below and implement the methods.

    Attributes:
        name: ``"anny"`` or ``"flame"``.
        version: the model's version (anny package version, or the FLAME file kind).
        spec: the string :func:`painctl.facemodels.load_face_model` rebuilds it from.
        capabilities: what it can do.
        faces: (F, 3) int32 triangles.
        uv: (T, 2) float32 texture coordinates in [0, 1], or None.
        uv_faces: (F, 3) int32 indices into ``uv`` per triangle corner, or None.
        phenotype_names: names of the P identity parameters.
        expression_names: names of the E expression parameters (anny: its 52 ARKit face units).
    """

    name: str = ""
    version: str = ""
    spec: str = ""
    capabilities: Capabilities
    faces: np.ndarray
    uv: np.ndarray | None = None
    uv_faces: np.ndarray | None = None
    phenotype_names: tuple[str, ...] = ()
    expression_names: tuple[str, ...] = ()
    #: Ethnicity group names the model can express (empty when it has no such control).
    ethnicity_groups: tuple[str, ...] = ()

    @property
    def vertex_count(self) -> int:
        """Number of vertices V of every mesh this model makes."""
        return int(self.faces.max()) + 1

    def sample_phenotype(self, rng: np.random.Generator, age_years: float | None = None,
                         gender: str | None = None, ethnicity: str | None = None) -> np.ndarray:
        """Draw one random identity: (P,) float64 parameters, given the demographics the model controls.

        Demographics a model lacks must be None. Raises PainctlError if it cannot sample identities.
        """
        raise PainctlError(f"face model {self.name} cannot sample identities")

    def neutral(self, phenotype: np.ndarray) -> np.ndarray:
        """Return (N, V, 3) float32 vertices (metres, painctl frame) for (N, P) identity parameters."""
        phenotype = np.atleast_2d(np.asarray(phenotype))
        return self.expressive(phenotype, np.zeros((phenotype.shape[0], len(self.expression_names)), np.float32))

    def expressive(self, phenotype: np.ndarray, expression: np.ndarray) -> np.ndarray:
        """Return (N, V, 3) float32 vertices for (N, P) identities wearing (N, E) expressions."""
        raise NotImplementedError

    def expression_basis(self, phenotype: np.ndarray | None = None) -> np.ndarray | None:
        """Return (E, V, 3) float32 per-unit vertex offsets when expressions are linear, else None.

        For such models ``expressive(p, e) == neutral(p) + einsum('ne,evc->nvc', e, basis)``.
        """
        return None

    #: Named int64 vertex sets and landmark ids; each model computes its own (once, cached).
    _regions: dict[str, np.ndarray]
    _landmarks: dict[str, int]

    def region_vertices(self) -> dict[str, np.ndarray]:
        """Return named int64 vertex index sets: at least ``left_eye``, ``right_eye`` (the
        eyeballs; left is the subject's own left, +X), ``face`` (front of the face) and
        ``landmarks`` (the ids of :meth:`landmarks`, in its order). Copies: callers may edit them."""
        regions = {k: v.copy() for k, v in self._regions.items()}
        regions["landmarks"] = np.array(list(self._landmarks.values()), dtype=np.int64)
        return regions

    def landmarks(self) -> dict[str, int]:
        """Return a dozen named landmark vertex ids (eye corners, lids, nose tip, mouth corners,
        lips, chin, brows) for registration; the same ids for every identity."""
        return dict(self._landmarks)

    def check_phenotype(self, phenotype: np.ndarray) -> np.ndarray:
        """Return ``phenotype`` as a float64 (N, P) array, or raise PainctlError on a wrong shape."""
        array = np.atleast_2d(np.asarray(phenotype, dtype=np.float64))
        if array.ndim != 2 or array.shape[1] != len(self.phenotype_names):
            raise PainctlError(f"face model {self.name}: phenotype must have shape (N, {len(self.phenotype_names)}), "
                               f"got {np.shape(phenotype)}")
        return array

    def check_expression(self, expression: np.ndarray, rows: int) -> np.ndarray:
        """Return ``expression`` as a float64 (rows, E) array, or raise PainctlError on a wrong shape."""
        array = np.atleast_2d(np.asarray(expression, dtype=np.float64))
        if array.shape != (rows, len(self.expression_names)):
            raise PainctlError(f"face model {self.name}: expression must have shape ({rows}, {len(self.expression_names)}), "
                               f"got {np.shape(expression)}")
        return array

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec or self.name} {self.version}: {self.vertex_count} vertices, {len(self.faces)} triangles>"
