"""The renderer checked against an independent reference: trimesh ray casting on the same camera."""

from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh
from trimesh.ray.ray_triangle import RayMeshIntersector

from painctl.errors import PainctlError
from painctl.renderer import Camera, Light, Mesh, frame_camera, render, render_many, splat, studio_lights


def _scene() -> trimesh.Trimesh:
    sphere = trimesh.creation.icosphere(subdivisions=2, radius=0.08)
    box = trimesh.creation.box(extents=(0.12, 0.1, 0.05))
    box.apply_translation((0.07, -0.03, -0.06))
    return trimesh.util.concatenate([sphere, box])


def _ray_cast(mesh: trimesh.Trimesh, camera: Camera, width: int, height: int):
    origins, dirs = camera.rays(width, height)
    tri, ray, loc = RayMeshIntersector(mesh).intersects_id(origins, dirs, multiple_hits=False, return_locations=True)
    triangle = np.full(width * height, -1, np.int64)
    points = np.full((width * height, 3), np.nan)
    triangle[ray] = tri
    points[ray] = loc
    forward = -camera.rotation()[2]
    depth = np.full(width * height, np.inf)
    depth[ray] = (loc - camera.position()) @ forward
    return triangle.reshape(height, width), depth.reshape(height, width), points.reshape(height, width, 3)


def _interior(ids: np.ndarray) -> np.ndarray:
    """Pixels whose 3x3 neighbourhood shows one id (edge pixels may legitimately differ)."""
    padded = np.pad(ids, 1, mode="edge")
    same = np.ones(ids.shape, bool)
    for dy in range(3):
        for dx in range(3):
            same &= padded[dy : dy + ids.shape[0], dx : dx + ids.shape[1]] == ids
    return same


@pytest.mark.parametrize("yaw,pitch,roll,size", [(0, 0, 0, (64, 64)), (35, -20, 10, (80, 56))])
def test_depth_and_triangles_match_ray_casting(yaw, pitch, roll, size):
    scene = _scene()
    camera = frame_camera(scene.vertices, yaw=yaw, pitch=pitch, roll=roll, size=size, fov=25)
    out = render(Mesh(scene.vertices, scene.faces), camera, studio_lights(), size)
    ref_tri, ref_depth, ref_points = _ray_cast(scene, camera, *size)

    assert out.triangle.shape == (size[1], size[0])
    check = _interior(ref_tri) & _interior(out.triangle)
    assert check.sum() > 0.5 * (ref_tri >= 0).sum()  # most of the mesh is checked
    assert (out.triangle[check] == ref_tri[check]).mean() > 0.995
    both = check & (out.triangle == ref_tri) & (ref_tri >= 0)
    np.testing.assert_allclose(out.depth[both], ref_depth[both], rtol=0, atol=2e-5)
    # Coverage agrees everywhere except along silhouettes.
    assert ((out.triangle >= 0) != (ref_tri >= 0)).sum() < 0.03 * (ref_tri >= 0).sum() + 10
    assert np.all(np.isinf(out.depth[out.triangle < 0]))
    assert np.all(out.alpha[out.triangle < 0] == 0) and np.all(out.alpha[out.triangle >= 0] == 1)
    # Barycentrics reproduce the ray's hit point: splatting vertex positions gives the surface.
    points = splat(out, scene.vertices, scene.faces)
    np.testing.assert_allclose(points[both], ref_points[both], atol=2e-5)
    assert np.allclose(out.barycentric[out.triangle >= 0].sum(-1), 1.0, atol=1e-4)


def test_camera_conventions_and_round_trip():
    cam = Camera(yaw=30, pitch=15, roll=5, distance=0.7, fov=22, target=[0.01, 0.02, 0.03])
    again = Camera.from_dict(json.loads(json.dumps(cam.to_dict())))
    np.testing.assert_allclose(again.view_matrix(), cam.view_matrix())
    view = cam.view_matrix()
    np.testing.assert_allclose(view @ np.append(cam.position(), 1), [0, 0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(view @ np.append(cam.target, 1), [0, 0, -0.7, 1], atol=1e-12)
    # Positive yaw puts the camera on the face's left (+X), positive pitch above it.
    assert cam.position()[0] > cam.target[0] and cam.position()[1] > cam.target[1]
    assert Camera().position()[2] > 0  # frontal camera looks at the face from +Z
    with pytest.raises(ValueError):
        Camera.from_dict({"yaw": 1, "zoom": 2})
    with pytest.raises(ValueError):
        Camera(fov=0)


def test_frame_camera_keeps_every_vertex_in_view():
    verts = np.random.default_rng(0).normal(size=(500, 3)) * [0.08, 0.11, 0.09]
    for yaw, pitch in [(0, 0), (-40, 10), (60, -25)]:
        cam = frame_camera(verts, yaw=yaw, pitch=pitch, size=(120, 90), margin=1.1)
        clip = (cam.projection_matrix(120 / 90) @ cam.view_matrix() @ np.c_[verts, np.ones(len(verts))].T).T
        ndc = clip[:, :2] / clip[:, 3:4]
        assert np.abs(ndc).max() <= 1 / 1.1 + 1e-6
        assert np.abs(ndc).max() > 0.85 / 1.1  # tight, not lost in the middle


def test_uv_texture_follows_obj_convention_and_unlit_gives_albedo():
    # A quad facing +Z; its texture is red on the top half of the image file and blue below.
    verts = np.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]], float) * 0.1
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    uv = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float)
    texture = np.zeros((8, 8, 3), np.float32)
    texture[:4, :, 0] = 1.0
    texture[4:, :, 2] = 1.0
    cam = Camera(distance=0.5, fov=20)  # the quad overfills the view
    out = render(Mesh(verts, faces, uv=uv, texture=texture), cam, [], 40, shading=False)
    assert out.mask.all()
    np.testing.assert_allclose(out.rgb[5, 20], [1, 0, 0], atol=0.02)  # top of the image is red
    np.testing.assert_allclose(out.rgb[34, 20], [0, 0, 1], atol=0.02)
    colours = np.tile([[0.2, 0.5, 0.7]], (4, 1))
    flat = render(Mesh(verts, faces, vertex_colors=colours), cam, [], 16, shading=False)
    # Colour comes back as 8-bit sRGB (what the PNG stores): within half a step of the albedo.
    np.testing.assert_allclose(flat.rgb[flat.mask], np.broadcast_to([0.2, 0.5, 0.7], (flat.mask.sum(), 3)), atol=0.5 / 255 + 1e-6)


def test_shading_follows_the_light_and_matches_the_reference_shader():
    from painctl.renderer.pytorch3d_backend import shade

    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.1)
    mesh = Mesh(sphere.vertices, sphere.faces)
    cam = frame_camera(sphere.vertices, size=64)
    left = render(mesh, cam, [Light(direction=[-1, 0, 0.3], intensity=2.0)], 64)
    right = render(mesh, cam, [Light(direction=[1, 0, 0.3], intensity=2.0)], 64)
    lum = lambda r, cols: r.rgb[20:44, cols].mean()  # noqa: E731
    assert lum(left, slice(8, 24)) > lum(left, slice(40, 56)) + 0.2
    assert lum(right, slice(40, 56)) > lum(right, slice(8, 24)) + 0.2
    # The numpy shading (used by the pytorch3d backend) reproduces the GL shader.
    lights = studio_lights()
    gl = render(mesh, cam, lights, 64)
    np.testing.assert_allclose(shade(mesh, gl.triangle, gl.barycentric, cam, lights)[gl.mask], gl.rgb[gl.mask], atol=0.5 / 255 + 2e-4)


def test_render_many_is_deterministic_and_sizes_vary():
    sphere = trimesh.creation.icosphere(subdivisions=2, radius=0.1)
    mesh = Mesh(sphere.vertices, sphere.faces)
    cams = [frame_camera(sphere.vertices, yaw=y, size=(48, 32)) for y in (-30, 0, 30)]
    first = render_many(mesh, cams, studio_lights(), (48, 32))
    second = render_many(mesh, cams, studio_lights(), (48, 32))
    for a, b in zip(first, second):
        assert a.rgb.shape == (32, 48, 3)
        assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.triangle, b.triangle)
    big = render(mesh, cams[1], studio_lights(), 96)
    assert big.mask.sum() > 3 * render(mesh, cams[1], studio_lights(), 48).mask.sum()


def test_bad_input_and_missing_backends():
    sphere = trimesh.creation.icosphere(subdivisions=1)
    with pytest.raises(PainctlError, match="faces index"):
        Mesh(sphere.vertices, sphere.faces + 1000)
    with pytest.raises(PainctlError, match="uv"):
        Mesh(sphere.vertices, sphere.faces, texture=np.zeros((4, 4, 3)))
    with pytest.raises(PainctlError, match="unknown renderer"):
        render(Mesh(sphere.vertices, sphere.faces), Camera(distance=3), [], 8, backend="vulkan")
    try:
        import pytorch3d  # noqa: F401
    except ImportError:
        with pytest.raises(PainctlError, match="PyTorch3D"):
            render(Mesh(sphere.vertices, sphere.faces), Camera(distance=3), [], 8, backend="pytorch3d")


def test_missing_egl_is_one_clear_error(monkeypatch):
    import moderngl

    from painctl.renderer import moderngl_backend

    def no_egl(*args, **kwargs):
        raise Exception("libEGL.so: cannot open shared object file")

    monkeypatch.setattr(moderngl, "create_standalone_context", no_egl)
    monkeypatch.setattr(moderngl_backend, "_state", {})
    with pytest.raises(PainctlError, match="libegl1 libgl1 libegl-mesa0 libgl1-mesa-dri"):
        moderngl_backend.gl_state()


def test_verbose_output_names_the_gl_renderer(monkeypatch, capsys):
    from painctl import console
    from painctl.renderer import moderngl_backend

    monkeypatch.setattr(moderngl_backend, "_state", {})
    monkeypatch.setattr(console, "verbosity", 1)
    sphere = trimesh.creation.icosphere(subdivisions=1)
    render(Mesh(sphere.vertices, sphere.faces), frame_camera(sphere.vertices), [], 8)
    assert f"renderer: moderngl on {moderngl_backend.gl_state().renderer_name}" in capsys.readouterr().err


def test_relighting_a_baked_texture_equals_lighting_the_albedo_once():
    from painctl.renderer import relight, shading_ratio

    # A sphere "photographed" lit (diffuse only, so the bake is exact), then squashed: relighting
    # the unlit render of the baked shading must match a fresh lit render of the squashed sphere.
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.1)
    lights = [Light(direction=[-0.5, 0.4, 0.8], intensity=0.6, ambient=0.15)]
    albedo = np.full((len(sphere.vertices), 3), 0.6, np.float32)
    squashed = sphere.vertices * [1.0, 0.8, 1.15]
    cam = frame_camera(sphere.vertices, size=64)
    # Per-vertex bake of the lit reference (sRGB), as a texture bake of a lit photo would hold.
    from painctl.renderer.lights import irradiance
    from painctl.renderer.mesh import vertex_normals

    lin = ((0.6 + 0.055) / 1.055) ** 2.4  # albedo 0.6 sRGB in linear light
    baked_linear = lin * irradiance(vertex_normals(sphere.vertices, sphere.faces), lights, wrap=0.0)
    baked = relight(np.ones_like(baked_linear), baked_linear)  # linear -> sRGB via relight of white
    unlit = render(Mesh(squashed, sphere.faces, vertex_colors=baked), cam, [], 64, shading=False)
    ratio = shading_ratio(sphere.vertices, squashed, sphere.faces, lights, wrap=0.0)
    relit = relight(unlit.rgb, splat(unlit, ratio, sphere.faces))
    truth = render(Mesh(squashed, sphere.faces, vertex_colors=albedo, specular=0.0, wrap=0.0), cam, lights, 64)
    m = unlit.mask
    assert np.abs(relit[m] - truth.rgb[m]).mean() < 0.02
    # Lighting the baked texture a second time (the mistake this avoids) is far off.
    twice = render(Mesh(squashed, sphere.faces, vertex_colors=baked, specular=0.0, wrap=0.0), cam, lights, 64)
    assert np.abs(twice.rgb[m] - truth.rgb[m]).mean() > 0.1


def test_several_meshes_share_one_frame_with_ids_running_on():
    from painctl.renderer import face_offsets, mesh_index

    sphere = trimesh.creation.icosphere(subdivisions=2, radius=0.08)
    box = trimesh.creation.box(extents=(0.05, 0.05, 0.05))
    box.apply_translation((0.0, 0.0, 0.1))  # in front of the sphere, towards the camera at +z
    camera = frame_camera(sphere.vertices, yaw=0, pitch=0, size=64, fov=25)
    meshes = [Mesh(sphere.vertices, sphere.faces), Mesh(box.vertices, box.faces, vertex_colors=np.tile([0.1, 0.9, 0.1], (len(box.vertices), 1)))]
    out = render_many(meshes, [camera], studio_lights(), 64)[0]
    offsets = face_offsets(meshes)
    index = mesh_index(out.triangle, offsets)
    # The box hides the sphere's centre; the sphere shows around it; the ids of each mesh are its own faces.
    assert index[32, 32] == 1 and index[32, 4 + np.flatnonzero(index[32, 4:] == 0)[0]] == 0
    assert set(np.unique(index)) == {-1, 0, 1}
    assert out.triangle[index == 1].min() >= len(sphere.faces) and out.triangle.max() < offsets[-1]
    alone = render(Mesh(sphere.vertices, sphere.faces), camera, studio_lights(), 64)
    both = index == 0
    assert np.array_equal(out.triangle[both], alone.triangle[both])
    # Splatting the first mesh's values treats the second mesh's pixels as background.
    values = splat(out, np.ones(len(sphere.vertices)), sphere.faces, background=-1.0)
    assert np.all(values[index == 1] == -1.0) and np.allclose(values[both], 1.0)


def test_static_meshes_drawn_from_a_kept_layer_give_the_same_frame():
    # A body that stays put behind a moving head: drawn once per camera into a layer, then each
    # frame draws only the head over a copy of it. The frames must equal drawing everything in order.
    sphere = trimesh.creation.icosphere(subdivisions=2, radius=0.08)
    box = trimesh.creation.box(extents=(0.2, 0.06, 0.05))
    box.apply_translation((0.0, -0.08, -0.02))
    body = Mesh(box.vertices, box.faces, vertex_colors=np.tile([0.2, 0.3, 0.8], (len(box.vertices), 1)))
    cameras = [frame_camera(sphere.vertices, yaw=yaw, pitch=0, size=48, fov=30) for yaw in (-30, 0, 30)]
    for shift in (0.0, 0.01, -0.02):
        head = Mesh(sphere.vertices + (shift, 0.0, 0.0), sphere.faces)
        plain = render_many([head, body], cameras, studio_lights(), 48)
        layered = render_many([head, body], cameras, studio_lights(), 48, static=[1])
        for a, b in zip(plain, layered):
            assert (b.triangle >= len(sphere.faces)).any()  # the body shows
            for name in ("rgb", "alpha", "depth", "triangle", "barycentric"):
                assert np.array_equal(getattr(a, name), getattr(b, name)), name
    # Other lights make another layer, not a stale one.
    dim = [Light(direction=(0.0, 0.0, 1.0), colour=(1.0, 1.0, 1.0), intensity=0.3)]
    assert np.array_equal(render_many([head, body], cameras[:1], dim, 48, static=[1])[0].rgb, render_many([head, body], cameras[:1], dim, 48)[0].rgb)


def test_shader_variants_draw_what_the_full_shader_draws(monkeypatch):
    # Unlit meshes and lit hair run shaders stripped of the code they never take; their pixels
    # must be the full shader's, bit for bit.
    from painctl.renderer import moderngl_backend

    sphere = trimesh.creation.icosphere(subdivisions=2, radius=0.08)
    rng = np.random.default_rng(3)
    uv = (sphere.vertices[:, :2] / 0.16 + 0.5).astype(np.float32)
    head = Mesh(sphere.vertices, sphere.faces, uv=uv, texture=rng.random((32, 32, 3), dtype=np.float32), shading=False)
    strands = rng.random((32, 32, 4), dtype=np.float32)
    hair = Mesh(sphere.vertices * 1.05, sphere.faces, uv=uv, texture=strands, vertex_colors=np.tile([0.3, 0.2, 0.1], (len(sphere.vertices), 1)),
                strand_tangents=np.tile([0.0, 1.0, 0.0], (len(sphere.vertices), 1)), strand_cutoff=np.full(len(sphere.vertices), 0.4), specular=0.2)
    box = trimesh.creation.box(extents=(0.2, 0.06, 0.05))
    box.apply_translation((0.0, -0.09, 0.0))
    body = Mesh(box.vertices, box.faces, specular=0.1, roughness=0.3)
    meshes = [head, hair, body]
    cameras = [frame_camera(sphere.vertices, yaw=yaw, pitch=10, size=48, fov=30) for yaw in (-30, 20)]
    lights = studio_lights()
    got = render_many(meshes, cameras, lights, 48)
    gl = moderngl_backend.gl_state()
    full = gl.variant(True, False)
    monkeypatch.setattr(gl, "variant", lambda lit, hair=False: full)
    want = render_many(meshes, cameras, lights, 48)
    from painctl.renderer import face_offsets, mesh_index

    # All three kinds show: the head through the cut-out strands, the hair, the body.
    assert set(np.unique(np.concatenate([mesh_index(r.triangle, face_offsets(meshes)).ravel() for r in got]))) == {-1, 0, 1, 2}
    for a, b in zip(got, want):
        for name in ("rgb", "depth", "triangle", "barycentric"):
            assert np.array_equal(getattr(a, name), getattr(b, name)), name


def test_rgba_texture_cuts_the_surface_out_and_shading_is_per_mesh():
    quad = np.array([[-0.05, -0.05, 0.0], [0.05, -0.05, 0.0], [0.05, 0.05, 0.0], [-0.05, 0.05, 0.0]])
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    uv = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    texture = np.ones((8, 8, 4), np.float32)
    texture[:, :4, 3] = 0.0  # the image's left half transparent
    camera = frame_camera(quad, yaw=0, pitch=0, size=48, fov=25)
    out = render(Mesh(quad, faces, uv=uv, texture=texture), camera, studio_lights(), 48)
    covered = out.triangle >= 0
    assert covered[:, 30:40].any() and not covered[:, 2:20].any()
    lit = render_many([Mesh(quad, faces, shading=True)], [camera], studio_lights(), 48, shading=False)[0]
    flat = render_many([Mesh(quad, faces)], [camera], studio_lights(), 48, shading=False)[0]
    assert not np.allclose(lit.rgb[24, 24], flat.rgb[24, 24])


def test_project_puts_points_where_the_renderer_draws_them():
    cam = Camera(yaw=20.0, pitch=-10.0, roll=5.0, distance=0.8, fov=25.0, target=np.array([0.01, 0.02, 0.03]))
    # The look-at point lands on the image centre (pixel centres at whole numbers).
    assert np.allclose(cam.project(cam.target[None], 64, 48), [[31.5, 23.5]])
    # A point on a pixel's ray projects to that pixel, whatever the pose.
    origins, dirs = cam.rays(64, 48)
    k = 17 * 64 + 40  # row 17, column 40
    assert np.allclose(cam.project(origins[k] + 0.7 * dirs[k], 64, 48), [[40.0, 17.0]], atol=1e-6)


def test_eight_bit_renders_decode_through_the_table_exactly():
    from painctl.renderer import relight
    from painctl.renderer.colour import eight_bit_codes, srgb_to_linear

    scene = _scene()
    mesh = Mesh(scene.vertices, scene.faces, vertex_colors=np.random.default_rng(0).uniform(0, 1, (len(scene.vertices), 3)))
    rgb = render(mesh, frame_camera(mesh.vertices), studio_lights(), 96).rgb
    codes = eight_bit_codes(rgb)
    assert codes is not None and np.array_equal(codes, np.rint(rgb * 255).astype(np.uint8))
    # The direct curve, as srgb_to_linear and relight compute it for any other input.
    c = np.clip(rgb.astype(np.float64), 0.0, 1.0)
    assert np.array_equal(srgb_to_linear(rgb), np.where(c <= 0.04045, c / 12.92, np.power((c + 0.055) / 1.055, 2.4)))
    ratio = np.random.default_rng(1).uniform(0.25, 4.0, rgb.shape).astype(np.float32)
    lin = np.clip(np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4) * ratio, 0.0, 1.0)
    assert np.array_equal(relight(rgb, ratio), np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1.0 / 2.4) - 0.055).astype(np.float32))
    # Values off the 8-bit steps take the direct path.
    assert eight_bit_codes(rgb + np.float32(1e-4)) is None
    off = np.clip(rgb + np.float32(1e-3), 0, 1)
    assert np.allclose(srgb_to_linear(off), np.where(off <= 0.04045, off / 12.92, ((off.astype(np.float64) + 0.055) / 1.055) ** 2.4))


def test_highlights_are_those_of_a_soft_light_on_two_lobes():
    """Every light stands for a window or softbox: a near-mirror sphere facing a light shows the
    highlight of a source LIGHT_SPREAD wide, at the analytic peak f0 / (4 LIGHT_SPREAD^2) (a point
    light gave a pinpoint that clipped to white), and rougher surfaces spread a dimmer highlight wider."""
    from painctl.renderer.colour import srgb_to_linear
    from painctl.renderer.moderngl_backend import LIGHT_SPREAD

    sphere = trimesh.creation.icosphere(subdivisions=4, radius=0.1)
    cam = frame_camera(sphere.vertices, size=96)
    toward_camera = cam.position() / np.linalg.norm(cam.position())
    light = [Light(direction=toward_camera, intensity=1.0, ambient=0.0)]
    black = np.zeros((len(sphere.vertices), 3), np.float32)
    peaks, areas = [], []
    for roughness in (0.05, 0.3, 0.6):
        lit = render(Mesh(sphere.vertices, sphere.faces, vertex_colors=black, specular=0.1, roughness=roughness), cam, light, 96)
        spec = srgb_to_linear(lit.rgb).mean(axis=2)
        peaks.append(spec.max())
        areas.append(int((spec > 0.5 * spec.max()).sum()))
    # At n = v = l: D = 1 / (pi (alpha^2 + spread^2)) for both lobes, G = 1, F = f0; specular = D F pi / 4.
    assert peaks[0] == pytest.approx(0.1 / (4 * LIGHT_SPREAD**2), rel=0.03)
    assert peaks[0] > peaks[1] > peaks[2] and areas[0] < areas[1] < areas[2], (peaks, areas)
