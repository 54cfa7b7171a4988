"""How well deformation transfer reproduces the direct rig: a re-triangulated copy of an anny head
and the issue's acceptance measure (RMS error on the face as a fraction of the AU's RMS motion)."""

from __future__ import annotations

import numpy as np
import trimesh

from painctl.facemodels.base import FaceModel
from painctl.rigging.aumap import AU_CONTROLS


def flip_edges(vertices: np.ndarray, faces: np.ndarray, rng: np.random.Generator, fraction: float = 0.5) -> np.ndarray:
    """Return a copy of (F,3) ``faces`` with about ``fraction`` of the interior edges flipped.

    Only flips that keep both new triangles facing the old way and the new diagonal no longer than
    1.3 times the old are made, and no triangle is flipped twice: other connectivity, same surface.
    """
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    normals = mesh.face_normals
    existing = set(map(tuple, np.sort(mesh.edges_unique, axis=1)))
    out = np.array(faces, copy=True)
    used = np.zeros(len(out), bool)
    pairs, edges = mesh.face_adjacency, mesh.face_adjacency_edges
    for i in rng.permutation(len(pairs))[: int(2 * fraction * len(pairs))]:
        f1, f2 = pairs[i]
        if used[f1] or used[f2]:
            continue
        a = out[f1]
        k = next(j for j in range(3) if a[j] not in edges[i])
        w1, p, q = a[k], a[(k + 1) % 3], a[(k + 2) % 3]
        w2 = next(x for x in out[f2] if x not in (p, q))
        if tuple(sorted((w1, w2))) in existing:
            continue
        new = np.array([[p, w2, w1], [q, w1, w2]])
        tri = vertices[new]
        n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        if np.any(n @ (normals[f1] + normals[f2]) <= 0):
            continue
        if np.linalg.norm(vertices[w1] - vertices[w2]) > 1.3 * np.linalg.norm(vertices[p] - vertices[q]):
            continue
        out[f1], out[f2] = new
        used[f1] = used[f2] = True
        existing.add(tuple(sorted((w1, w2))))
    return out


def retriangulated_copy(vertices: np.ndarray, faces: np.ndarray, rng: np.random.Generator,
                        split_every: int = 10, jitter: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Return (V',3) vertices and (F',3) faces of the same surface with other vertices and triangles.

    Every ``split_every``-th triangle is split in four (another vertex count), edges are flipped
    (other connectivity), and every vertex slides along the surface by up to ``jitter`` of its mean
    edge length and is projected back onto it (no vertex left where a source vertex is).
    """
    v, f = trimesh.remesh.subdivide(vertices, faces, face_index=np.arange(0, len(faces), split_every))
    f = flip_edges(v, f, rng)
    mesh = trimesh.Trimesh(v, f, process=False)
    total = np.zeros(len(v))
    count = np.zeros(len(v))
    for end in (0, 1):
        np.add.at(total, mesh.edges_unique[:, end], mesh.edges_unique_length)
        np.add.at(count, mesh.edges_unique[:, end], 1)
    step = rng.uniform(-1, 1, size=v.shape) * jitter * (total / np.maximum(count, 1))[:, None]
    normals = mesh.vertex_normals
    step -= (step * normals).sum(1, keepdims=True) * normals
    moved, _, _ = trimesh.proximity.closest_point(trimesh.Trimesh(vertices, faces, process=False), v + step)
    return moved, f


def transfer_errors(model: FaceModel, rest: np.ndarray, vertices: np.ndarray, offsets: np.ndarray) -> dict[str, float]:
    """Return AU name -> RMS error / RMS displacement on the face, both sides at full weight.

    ``rest`` (V,3) is the model's neutral head the target was made from, ``vertices`` (V',3) the
    target lying on its surface and ``offsets`` (12, V', 3) the transferred unit offsets (AU order,
    left then right). The truth at a target vertex is the direct rig's offset interpolated at the
    point of ``rest`` it lies on.
    """
    faces = np.asarray(model.faces)
    source = trimesh.Trimesh(rest, faces, process=False)
    closest, _, tri = trimesh.proximity.closest_point(source, vertices)
    bary = trimesh.triangles.points_to_barycentric(source.triangles[tri], closest)
    on_face = np.zeros(len(rest), bool)
    on_face[model.region_vertices()["face"]] = True
    face = (bary * on_face[faces[tri]]).sum(1) > 0.5
    basis = model.expression_basis()
    names = list(model.expression_names)
    errors = {}
    for i, (au, (stem, _)) in enumerate(AU_CONTROLS.items()):
        truth = sum(np.einsum("nk,nkc->nc", bary, basis[names.index(stem + side)][faces[tri]]) for side in ("Left", "Right"))
        got = offsets[2 * i] + offsets[2 * i + 1]
        errors[au] = float(np.sqrt(((got - truth)[face] ** 2).sum(1).mean() / (truth[face] ** 2).sum(1).mean()))
    return errors


def self_intersections(vertices: np.ndarray, faces: np.ndarray) -> int:
    """Return how many (edge, triangle) pairs of a mesh cross, ignoring pairs that share a vertex.

    A surface passes through itself exactly where one of its edges pierces one of its triangles, so
    0 means no skin through skin. ``vertices`` (V,3), ``faces`` (F,3); meant for a few thousand
    triangles (a region such as the eyes).
    """
    from trimesh.ray.ray_triangle import RayMeshIntersector

    mesh = trimesh.Trimesh(vertices, faces, process=False)
    edges = mesh.edges_unique
    start, end = vertices[edges[:, 0]], vertices[edges[:, 1]]
    length = np.linalg.norm(end - start, axis=1)
    keep = length > 0
    edges, start, end, length = edges[keep], start[keep], end[keep], length[keep]
    tri, ray, points = RayMeshIntersector(mesh).intersects_id(start, (end - start) / length[:, None], multiple_hits=True, return_locations=True)
    along = np.linalg.norm(points - start[ray], axis=1)
    inside = (along > 1e-9) & (along < length[ray] - 1e-9)
    touching = (faces[tri] == edges[ray, 0:1]).any(1) | (faces[tri] == edges[ray, 1:2]).any(1)
    # The ray test also reports an edge that ends a fraction of a micrometre in front of a
    # triangle it points away from (lids resting on each other at AU43): a crossing has its ends
    # on the two sides of the triangle's plane.
    corner = vertices[faces[tri, 0]]
    normal = np.cross(vertices[faces[tri, 1]] - corner, vertices[faces[tri, 2]] - corner)
    sides = np.einsum("ij,ij->i", vertices[edges[ray, 0]] - corner, normal) * np.einsum("ij,ij->i", vertices[edges[ray, 1]] - corner, normal)
    return int((inside & ~touching & (sides < 0)).sum())
