"""A user's head mesh file (OBJ, PLY, GLB, ...) as a one-identity artefact the rig stage can read."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import numpy as np

from painctl.artefact import Artefact, ArtefactWriter, open_artefact, write_dataset
from painctl.errors import PainctlError

_temporaries: list[str] = []


def load_mesh_file(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a triangle mesh file -> (V,3) float32 vertices (metres, painctl frame) and (F,3) int32 faces."""
    import trimesh

    path = Path(path)
    if not path.is_file():
        raise PainctlError(f"{{model_mesh}} {path}: no such file", params=("model_mesh",))
    try:
        mesh = trimesh.load(path, force="mesh", process=False)
    except Exception as exc:  # noqa: BLE001 - trimesh raises many types for unreadable files
        raise PainctlError(f"{{model_mesh}} {path}: not a readable mesh ({exc.__class__.__name__}: {exc})", params=("model_mesh",)) from None
    if not hasattr(mesh, "faces") or len(mesh.faces) == 0:
        raise PainctlError(f"{{model_mesh}} {path}: holds no triangles", params=("model_mesh",))
    return np.asarray(mesh.vertices, np.float32), np.asarray(mesh.faces, np.int32)


def mesh_file_artefact(path: str | Path) -> Artefact:
    """Wrap the mesh file at ``path`` in a temporary artefact (stage "mesh-file") with one identity."""
    vertices, faces = load_mesh_file(path)
    tmp = tempfile.mkdtemp(prefix="painctl-mesh-")
    _temporaries.append(tmp)
    writer = ArtefactWriter(Path(tmp) / "mesh", "mesh-file", {"path": str(Path(path).resolve())})
    with writer:
        write_dataset(writer.h5, "vertices", vertices[None])
        write_dataset(writer.h5, "identity", np.array([Path(path).stem[:64] or "mesh"]))
        write_dataset(writer.h5, "faces", faces, rows=False)
        writer.h5.attrs["face_model"] = "mesh-file"
    return open_artefact(writer.path)


@atexit.register
def _cleanup() -> None:
    for tmp in _temporaries:
        shutil.rmtree(tmp, ignore_errors=True)
