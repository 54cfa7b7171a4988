"""The geometry-only render gives the full render's triangle ids, barycentrics and depth, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from painctl.errors import PainctlError
from painctl.renderer import Mesh, frame_camera, render_geometry, render_many, studio_lights
from painctl.seeding import rng_for


def test_geometry_equals_the_full_render_on_an_anny_head(anny_model):
    phenotype = anny_model.sample_phenotype(rng_for(0, "test-geometry"))
    vertices = anny_model.neutral(phenotype)[0]
    mesh = Mesh(vertices, anny_model.faces)
    cameras = [frame_camera(vertices, yaw=yaw, pitch=pitch) for yaw, pitch in ((0, 0), (30, 0), (-30, 10))]
    # Non-square: the aspect ratio reaches the projection the same way in both paths.
    full = render_many(mesh, cameras, studio_lights(), (72, 64), shading=False)
    geometry = render_geometry(mesh, cameras, 72, 64)
    assert len(geometry) == len(cameras)
    for ref, got in zip(full, geometry):
        assert got.triangle.dtype == np.int32 and got.barycentric.dtype == np.float32 and got.depth.dtype == np.float32
        assert got.triangle.shape == (64, 72) and got.barycentric.shape == (64, 72, 3)
        assert 0.2 < got.mask.mean() < 0.95  # a head in frame, background around it
        assert np.array_equal(got.triangle, ref.triangle)
        assert got.barycentric.tobytes() == np.ascontiguousarray(ref.barycentric).tobytes()
        assert got.depth.tobytes() == ref.depth.tobytes()
        assert np.array_equal(got.alpha, ref.alpha)
    # Views differ: the cameras reach the shader.
    assert not np.array_equal(geometry[0].triangle, geometry[1].triangle)


def test_several_meshes_share_one_frame_with_ids_running_on():
    # Two quads, the second in front of the first's right half: its ids continue after the first's.
    quad = np.array([[-0.1, -0.1, 0.0], [0.1, -0.1, 0.0], [0.1, 0.1, 0.0], [-0.1, 0.1, 0.0]], np.float32)
    faces = np.array([[0, 1, 2], [0, 2, 3]], np.int32)
    back, front = Mesh(quad, faces), Mesh(quad * [0.5, 1, 1] + [0.05, 0, 0.02], faces)
    camera = frame_camera(quad)
    full = render_many([back, front], [camera], studio_lights(), 48, shading=False)[0]
    got = render_geometry([back, front], [camera], 48, 48)[0]
    assert set(np.unique(got.triangle)) == {-1, 0, 1, 2, 3}
    assert np.array_equal(got.triangle, full.triangle)
    assert got.barycentric.tobytes() == np.ascontiguousarray(full.barycentric).tobytes()


def test_bad_sizes_and_backends_are_clear_errors():
    mesh = Mesh(np.eye(3, dtype=np.float32), np.array([[0, 1, 2]], np.int32))
    camera = frame_camera(mesh.vertices)
    with pytest.raises(PainctlError, match="1-8192"):
        render_geometry(mesh, [camera], 0, 10)
    with pytest.raises(PainctlError, match="unknown renderer"):
        render_geometry(mesh, [camera], 8, 8, backend="vulkan")
    with pytest.raises(PainctlError, match="no meshes"):
        render_geometry([], [camera], 8, 8)
