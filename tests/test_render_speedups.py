"""The render-views speed-ups compute the very numbers of the code they replace (same bytes out).

benchmarks/check_same_bytes.py checks a whole chain; these check each rewritten piece bit for bit.
"""

from __future__ import annotations

import numpy as np

from painctl.appearance import wrinkles
from painctl.appearance.uv import uv_texels
from painctl.renderer.result import RenderResult
from painctl.renderer.splat import splat
from painctl.stages.render_views import _covered_ratio


def test_wrinkle_helpers_give_the_plain_expressions_bit_for_bit():
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 0.01, 5000)
    plain_smooth = lambda e0, e1, v: (lambda t: t * t * (3 - 2 * t))(np.clip((v - e0) / (e1 - e0), 0.0, 1.0))  # noqa: E731
    assert wrinkles._smoothstep(-0.004, 0.006, x).tobytes() == plain_smooth(-0.004, 0.006, x).tobytes()
    lo, hi, soft = -0.004, 0.006, 0.002
    window = plain_smooth(lo - soft, lo + soft, x) * (1 - plain_smooth(hi - soft, hi + soft, x))
    assert wrinkles._window(x, lo, hi, soft).tobytes() == window.tobytes()
    assert wrinkles._crease(x, 0.0014).tobytes() == np.exp(-((x / 0.0014) ** 2)).tobytes()
    # The input is left as it was (the helpers work in place on their own arrays only).
    assert x.tobytes() == np.random.default_rng(0).normal(0.0, 0.01, 5000).tobytes()


def test_covered_ratio_is_the_splat_at_covered_pixels():
    rng = np.random.default_rng(1)
    faces = rng.integers(0, 50, (40, 3))
    ratio = rng.uniform(0.25, 4.0, (50, 3)).astype(np.float32)
    # Background (-1), head triangles (< 40) and a part's triangles (>= 40) in one image.
    triangle = rng.integers(-1, 60, (32, 32)).astype(np.int32)
    bary = rng.dirichlet(np.ones(3), (32, 32)).astype(np.float32)
    res = RenderResult(rgb=np.zeros((32, 32, 3), np.float32), alpha=(triangle >= 0).astype(np.float32),
                       depth=np.ones((32, 32), np.float32), triangle=triangle, barycentric=bary)
    covered = res.alpha > 0
    got = _covered_ratio(res, covered, ratio, faces)
    assert got.tobytes() == splat(res, ratio, faces, background=1.0)[covered].tobytes()
    # A part's pixels keep their light (ratio 1).
    assert np.all(got[triangle[covered] >= 40] == 1.0)


def test_uv_texels_found_by_identity_follow_changes_in_place():
    uv = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], np.float32)
    uv_faces = np.array([[0, 1, 2], [1, 3, 2]], np.int32)
    first = uv_texels(uv, uv_faces, 8)
    assert uv_texels(uv, uv_faces, 8) is first
    # The same arrays changed in place are a new layout, not the cached one.
    uv_faces[1] = [2, 1, 3]
    again = uv_texels(uv, uv_faces, 8)
    assert again is not first
    fresh = uv_texels(uv.copy(), uv_faces.copy(), 8)
    assert np.array_equal(again.triangle, fresh.triangle) and np.array_equal(again.barycentric, fresh.barycentric)


def test_kept_corner_columns_draw_what_one_buffer_draws():
    import trimesh

    from painctl.renderer import Mesh, frame_camera, render_many, studio_lights
    from painctl.renderer.moderngl_backend import gl_state

    sphere = trimesh.creation.icosphere(subdivisions=2, radius=0.08)
    faces = np.asarray(sphere.faces, np.int32)
    rng = np.random.default_rng(2)
    uv = rng.uniform(0.0, 1.0, (len(sphere.vertices), 2)).astype(np.float32)
    colours = rng.uniform(0.2, 0.9, (len(sphere.vertices), 3)).astype(np.float32)
    texture = rng.uniform(0.0, 1.0, (16, 16, 3)).astype(np.float32)
    specular = rng.uniform(0.0, 0.2, len(sphere.vertices)).astype(np.float32)
    frames = [np.asarray(sphere.vertices, np.float32) * s for s in (1.0, 1.03, 0.97)]
    cameras = [frame_camera(frames[0], yaw=yaw, size=48) for yaw in (0.0, 40.0)]
    lights = studio_lights()

    def draw(vertices, *arrays, shading):
        mesh = Mesh(vertices, arrays[0], vertex_colors=arrays[1], uv=arrays[2], texture=arrays[3], specular=arrays[4], shading=shading)
        return render_many([mesh], cameras, lights, 48)

    for shading in (True, False):
        arrays = (faces, colours, uv, texture, specular)
        # The same arrays frame after frame: from the second on, the unchanging columns come from a kept buffer.
        kept = [draw(v, *arrays, shading=shading) for v in frames]
        assert gl_state()._static
        # Copies of the arrays are new to the renderer: every column in one buffer, as before.
        for v, results in zip(frames, kept):
            fresh = draw(v, *(a.copy() for a in arrays), shading=shading)
            for a, b in zip(results, fresh):
                for name in ("rgb", "depth", "triangle", "barycentric"):
                    assert getattr(a, name).tobytes() == getattr(b, name).tobytes()
