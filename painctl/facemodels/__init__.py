"""Face models behind one interface: ``anny`` (embedded) and ``flame:PATH`` (user-supplied FLAME file).

    model = load_face_model("anny")          # or "flame:/data/flame2023.pkl"
    verts = model.neutral(phenotype)         # (N, P) -> (N, V, 3) float32 metres, +Y up, face toward +Z
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from painctl.errors import BadValue, PainctlError
from painctl.facemodels.base import Capabilities, FaceModel

if TYPE_CHECKING:
    from painctl.artefact import Artefact

__all__ = ["Capabilities", "FaceModel", "canonical_spec", "face_model_of", "load_face_model", "model_class", "vertex_count", "MODEL_NAMES"]

MODEL_NAMES = ("anny", "flame:PATH")

_cache: dict[str, FaceModel] = {}
_lock = threading.Lock()


def canonical_spec(spec: str) -> str:
    """Normalise a model spec: ``"anny"``, or ``"flame:"`` plus an absolute path."""
    spec = str(spec).strip()
    if spec.lower().startswith("flame:"):
        path = spec[len("flame:"):]
        if not path:
            raise BadValue("model", "flame:PATH needs the path of a FLAME .pkl or .npz file")
        return "flame:" + os.path.abspath(os.path.expanduser(path))
    return spec.lower()


def model_class(spec: str) -> type[FaceModel]:
    """The FaceModel class ``spec`` names, without building the model (its capabilities and
    ethnicity groups are class attributes). PainctlError for an unknown model."""
    key = canonical_spec(spec)
    if key == "anny":
        from painctl.facemodels.anny_head import AnnyHead

        return AnnyHead
    if key.startswith("flame:"):
        from painctl.facemodels.flame import FlameModel

        return FlameModel
    raise BadValue(("model",), f"{{model}}: unknown face model {spec!r}; choose one of: {', '.join(MODEL_NAMES)}")


def load_face_model(spec: str) -> FaceModel:
    """Return the face model named by ``spec`` (``"anny"`` or ``"flame:PATH"``), built once per process.

    Raises PainctlError for an unknown model name or a missing, malformed or unsafe FLAME file.
    """
    key = canonical_spec(spec)
    with _lock:
        if key in _cache:
            return _cache[key]
        cls = model_class(key)
        model: FaceModel = cls.from_file(key[len("flame:"):]) if key.startswith("flame:") else cls()
        _cache[key] = model
        return model


def vertex_count(spec: str) -> int:
    """The vertex count V of every mesh the face model ``spec`` makes, without building the model
    where that can be avoided, so a stage's estimate can refuse a job before any model loads.

    From the model built in this process if there is one; for anny, from the small record kept
    beside anny's cache (``ANNY_CACHE_DIR``/painctl-meta) after its first build on this machine;
    else the model is built once (and kept for the stage's load) and, for anny, the record written.
    """
    key = canonical_spec(spec)
    with _lock:
        if key in _cache:
            return _cache[key].vertex_count
    record = _anny_record() if key == "anny" else None
    if record is not None and record.is_file():
        try:
            return int(json.loads(record.read_text())["vertex_count"])
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a damaged record: build the model and write it again
    count = load_face_model(spec).vertex_count
    if record is not None:
        try:
            record.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=record.parent, suffix=".tmp")
            with os.fdopen(fd, "w") as fh:
                json.dump({"vertex_count": count}, fh)
            os.replace(tmp, record)
        except OSError:
            pass  # a read-only cache: the next run builds the model first again, nothing worse
    return count


def anny_cache_root() -> Path:
    """Return anny's cache directory: ``ANNY_CACHE_DIR``, else ~/.cache/anny (anny.paths' rule),
    or anny's own answer when anny is loaded already (it may have been moved in-process).

    Without importing anny, which imports torch: 4-5 s in each render-views worker that only
    needed the path to the bust's cache.
    """
    import sys

    paths = sys.modules.get("anny.paths")
    if paths is not None:
        return Path(paths.get_anny_cache_path())
    return Path(os.environ.get("ANNY_CACHE_DIR", str(Path.home() / ".cache" / "anny")))


def _anny_record() -> Path:
    # Keyed by anny's version: the head's topology is anny's. A stale count could only mis-size an
    # estimate, never change an output.
    return anny_cache_root() / "painctl-meta" / f"anny-{importlib.metadata.version('anny')}-head.json"


def face_model_of(art: "Artefact") -> FaceModel:
    """Rebuild the face model an artefact's meshes came from (its root attributes name it)."""
    attrs = art.attrs()
    name = attrs.get("face_model")
    if not name:
        raise PainctlError(f"{art.path}: names no face model (root attribute face_model is missing)")
    if name == "flame":
        path = attrs.get("face_model_path")
        if not path:
            raise PainctlError(f"{art.path}: a FLAME artefact without the face_model_path attribute")
        model = load_face_model(f"flame:{path}")
    else:
        model = load_face_model(str(name))
    recorded = attrs.get("face_model_version")
    if recorded and recorded != model.version:
        from painctl import console

        console.info(f"warning: {art.path} was made with {name} {recorded}, this is {model.version}")
    return model
