"""Mesh files for any viewer: OBJ (with texture coordinates where the model has them) or PLY, via trimesh."""

from __future__ import annotations

import functools
import os

import numpy as np

from painctl.errors import PainctlError

FORMATS = ("obj", "ply")
MTL_NAME = "painctl.mtl"


def split_uv_seams(vertices: np.ndarray, faces: np.ndarray, uv: np.ndarray, uv_faces: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Duplicate vertices where one position has several UVs (seams) so every vertex has one UV.

    Takes (V, 3) vertices, (F, 3) faces, (T, 2) uv and (F, 3) uv_faces; returns (V', 3) vertices,
    (F, 3) faces and (V', 2) per-vertex UVs, in a fixed order (first use of each pair).
    """
    pairs = np.stack([faces.ravel(), uv_faces.ravel()], axis=1)
    unique, first, inverse = np.unique(pairs, axis=0, return_index=True, return_inverse=True)
    # Keep first-use order rather than np.unique's sorted order: stable files, viewers don't care.
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    unique = unique[order]
    return vertices[unique[:, 0]], rank[inverse.ravel()].reshape(faces.shape), uv[unique[:, 1]]


def write_mesh(path: str | os.PathLike, vertices: np.ndarray, faces: np.ndarray, uv: np.ndarray | None = None,
               uv_faces: np.ndarray | None = None, file_format: str | None = None) -> None:
    """Write one mesh, (V, 3) vertices in metres and (F, 3) faces, as OBJ or PLY (from the suffix).

    With ``uv``/``uv_faces`` the OBJ carries texture coordinates (seams split, see
    :func:`split_uv_seams`); PLY gets positions and faces only. Output bytes depend only on the input.
    """
    import trimesh

    file_format = (file_format or os.path.splitext(str(path))[1].lstrip(".")).lower()
    if file_format not in FORMATS:
        raise PainctlError(f"unknown mesh format {file_format!r}; choose one of {', '.join(FORMATS)}")
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    visual = None
    if file_format == "obj" and uv is not None and uv_faces is not None:
        vertices, faces, per_vertex_uv = split_uv_seams(vertices, faces, np.asarray(uv, np.float64), np.asarray(uv_faces))
        visual = trimesh.visual.TextureVisuals(uv=per_vertex_uv)
    mesh = trimesh.Trimesh(vertices=vertices, faces=faces, visual=visual, process=False, validate=False)
    if file_format == "obj":
        data, extra = trimesh.exchange.obj.export_obj(mesh, include_normals=False, include_texture=visual is not None,
                                                      return_texture=True, mtl_name=MTL_NAME, header=None)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(data)
        # One material file beside all OBJs (no image: the texture stage makes those).
        if MTL_NAME in extra:
            target = os.path.join(os.path.dirname(os.fspath(path)), MTL_NAME)
            if not os.path.exists(target):
                lines = extra[MTL_NAME].decode("utf-8").splitlines()
                with open(target, "w", encoding="utf-8") as fh:
                    fh.write("\n".join(l for l in lines if not l.startswith("map_")) + "\n")
    else:
        data = trimesh.exchange.ply.export_ply(mesh, encoding="binary", include_attributes=False)
        with open(path, "wb") as fh:
            fh.write(data)


@functools.lru_cache(maxsize=4)
def _corner_pairs(faces_bytes: bytes, uv_faces_bytes: bytes) -> tuple[np.ndarray, np.ndarray]:
    """One OBJ vertex per distinct (vertex, uv) corner pair, as trimesh's TextureVisuals wants
    per-vertex uv: (unique (P,2) pairs, inverse (F*3,)) of int64 ``faces`` and ``uv_faces`` (as
    bytes). The same for every identity of a run, so worked out once."""
    pairs = np.stack([np.frombuffer(faces_bytes, np.int64), np.frombuffer(uv_faces_bytes, np.int64)], 1)
    unique, inverse = np.unique(pairs, axis=0, return_inverse=True)
    unique.setflags(write=False)
    inverse.setflags(write=False)
    return unique, inverse


def write_textured_obj(path, vertices: np.ndarray, faces: np.ndarray, uv: np.ndarray, uv_faces: np.ndarray, texture_name: str) -> None:
    """Write an OBJ (``path``) with its MTL next to it, referencing the texture PNG ``texture_name``
    (a file name in the same directory). Corners are split where uv rows differ (OBJ's v/vt pairs
    through trimesh's TextureVisuals)."""
    import trimesh
    from PIL import Image

    from pathlib import Path

    path = Path(path)
    unique, inverse = _corner_pairs(np.asarray(faces, np.int64).tobytes(), np.asarray(uv_faces, np.int64).tobytes())
    # trimesh re-encodes the material's image into the files it returns, which we drop (the MTL
    # points at our PNG): a 1x1 stand-in in the PNG's format gives the same MTL without decoding
    # and re-encoding the texture for each identity.
    image = Image.new("RGB", (1, 1))
    image.format = Image.open(path.parent / texture_name).format
    material = trimesh.visual.material.SimpleMaterial(image=image, diffuse=(255, 255, 255, 255))
    visual = trimesh.visual.TextureVisuals(uv=np.asarray(uv)[unique[:, 1]], material=material)
    mesh = trimesh.Trimesh(np.asarray(vertices)[unique[:, 0]], inverse.reshape(-1, 3), visual=visual, process=False)
    stem = path.stem
    text, files = trimesh.exchange.obj.export_obj(mesh, include_texture=True, mtl_name=f"{stem}.mtl", return_texture=True)
    path.write_text(text)
    for name, data in files.items():
        if name.endswith(".mtl"):
            mtl = data.decode("utf-8")
            # Point the material at our PNG instead of the copy trimesh would write.
            lines = [f"map_Kd {texture_name}" if line.startswith("map_Kd") else line for line in mtl.splitlines()]
            (path.parent / name).write_text("\n".join(lines) + "\n")
