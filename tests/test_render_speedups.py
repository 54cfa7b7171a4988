"""The render-views speed-ups compute the very numbers of the code they replace (same bytes out).

benchmarks/check_same_bytes.py checks a whole chain; these check each rewritten piece bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

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


# ----------------------------------------------------------------- the replaced code, as it was
def _old_texels_on(texels, faces, neutral, keep):
    from painctl.appearance.paint import HeadTexels
    from painctl.renderer import vertex_normals

    tri = texels.triangle
    mask = tri >= 0
    mask[mask] = keep[tri[mask]]
    rows, cols = np.nonzero(mask)
    corners = faces[tri[rows, cols]]
    bary = texels.barycentric[rows, cols].astype(np.float64)
    v = np.asarray(neutral, np.float64)
    points = np.einsum("kc,kcd->kd", bary, v[corners])
    normals = np.einsum("kc,kcd->kd", bary, vertex_normals(v, faces).astype(np.float64)[corners])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    return HeadTexels(rows, cols, points, normals, corners, bary)


def _old_normal_code(triangle, barycentric, normals, faces, rotation):
    pixels = np.flatnonzero(np.asarray(triangle).reshape(-1) >= 0)
    out = np.zeros(triangle.shape + (3,), np.uint8)
    rotated = np.asarray(normals, np.float32) @ np.asarray(rotation, np.float32).T
    corners = faces[np.asarray(triangle).reshape(-1)[pixels]]
    weights = np.asarray(barycentric).reshape(-1, 3)[pixels]
    n = weights[:, :1] * rotated[corners[:, 0]]
    n += weights[:, 1:2] * rotated[corners[:, 1]]
    n += weights[:, 2:] * rotated[corners[:, 2]]
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-8)
    n[n[:, 2] < 0] *= -1
    n += 1.0
    n *= 127.5
    np.rint(n, out=n)
    out.reshape(-1, 3)[pixels] = np.clip(n, 0, 255).astype(np.uint8)
    return out


def _old_develop(rgb, model, noise_rng=None, noise=None):
    from painctl.appearance import camera_model as cm

    image = cm.blur(np.asarray(rgb, np.float32), model.defocus_px)
    codes = np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if model.exposure_ev == 0 and model.white_balance == (1.0, 1.0, 1.0) and model.shot_noise == 0 and model.read_noise == 0:
        out = codes
    else:
        linear = cm._to_linear_lut()[codes]
        linear *= np.float32(2.0 ** model.exposure_ev) * np.asarray(model.white_balance, np.float32)
        if model.shot_noise > 0 or model.read_noise > 0:
            if noise is None:
                noise = cm.noise_draw(linear.shape, noise_rng)
            sigma = np.maximum(linear, 0.0)
            sigma *= np.float32(model.shot_noise)
            sigma += np.float32(model.read_noise) ** 2
            np.sqrt(sigma, out=sigma)
            sigma *= noise
            linear += sigma
        linear *= cm._LINEAR_STEPS
        linear += 0.5
        index = np.clip(linear, 0, cm._LINEAR_STEPS).astype(np.int32)
        out = cm._to_srgb_lut()[index]
    if model.jpeg_quality:
        out = cm.jpeg_round_trip(out, model.jpeg_quality)
    return out


def _old_front_depth(points, vertices, faces, reach=0.0):
    from painctl.appearance.lashes import _overlapping_pairs

    reach = np.linspace(-reach, reach, 5) if reach > 0 else np.zeros(1)
    probe = np.repeat(points, len(reach), axis=0)
    probe[:, 1] += np.tile(reach, len(points))
    lo, hi = probe[:, :2].min(0), probe[:, :2].max(0)
    corners = vertices[faces][..., :2]
    c0, c1, c2 = corners[:, 0], corners[:, 1], corners[:, 2]
    faces = faces[((np.maximum(np.maximum(c0, c1), c2) >= lo) & (np.minimum(np.minimum(c0, c1), c2) <= hi)).all(1)]
    tri = vertices[faces]
    pair_probe, pair_tri = _overlapping_pairs(probe[:, :2], tri[..., :2])
    tri_p = tri[pair_tri]
    a, b, c = tri_p[:, 0, :2], tri_p[:, 1, :2], tri_p[:, 2, :2]
    v0, v1 = b - a, c - a
    det = v0[:, 0] * v1[:, 1] - v0[:, 1] * v1[:, 0]
    ok = np.abs(det) > 1e-12
    q = probe[pair_probe, :2] - a
    det = np.where(ok, det, 1.0)
    u = (q[..., 0] * v1[:, 1] - q[..., 1] * v1[:, 0]) / det
    w = (v0[:, 0] * q[..., 1] - v0[:, 1] * q[..., 0]) / det
    inside = ok & (u >= -1e-6) & (w >= -1e-6) & (u + w <= 1 + 1e-6)
    z = tri_p[:, 0, 2] + u * (tri_p[:, 1, 2] - tri_p[:, 0, 2]) + w * (tri_p[:, 2, 2] - tri_p[:, 0, 2])
    front = np.full(len(probe), -np.inf, np.result_type(z, np.float32))
    np.maximum.at(front, pair_probe[inside], z[inside])
    return front.reshape(len(points), len(reach)).max(axis=1)


# --------------------------------------------------------------------- real heads from a rig
def _head(rig_dir, row: int):
    """(Identity with the rig's uv layout, that row's vertices (V,3), its AUs) of a rig row."""
    import h5py

    from painctl.appearance import Identity
    from painctl.artefact import open_artefact
    from painctl.facemodels import face_model_of

    rig = open_artefact(rig_dir)
    model = face_model_of(rig)
    with h5py.File(rig_dir / "data.h5") as f:
        uv, uv_faces = f["uv"][()], f["uv_faces"][()]
    n = int(rig.read("neutral_row", row))
    ident = Identity(index=n // 2, seed=0, neutral=rig.read("vertices", n), faces=rig.read("faces"), regions=model.region_vertices(),
                     landmarks=model.landmarks(), uv=uv, uv_faces=uv_faces, age_years=float(rig.read("age_years", row)),
                     gender=str(rig.read("gender", row)), ethnicity=str(rig.read("ethnicity", row)))
    return ident, rig.read("vertices", row), rig.read("au", row)


def _render_head(ident, vertices, yaw: float, size: int = 224):
    from painctl.renderer import Mesh, frame_camera, render_many, studio_lights

    mesh = Mesh(vertices, ident.faces)
    camera = frame_camera(vertices, yaw=yaw, size=size)
    return mesh, camera, render_many([mesh], [camera], studio_lights(), size)[0]


def test_texels_on_gives_the_old_texels_bit_for_bit_and_shares_them(hair_rigs):
    from painctl.appearance.paint import texel_points, texels_on

    ident, _, _ = _head(hair_rigs / "au4", 1)
    texels = uv_texels(ident.uv, ident.uv_faces, 512)
    faces = np.asarray(ident.faces)
    for region in ("skin", "face"):
        member = np.zeros(len(ident.neutral), bool)
        member[np.asarray(ident.regions[region])] = True
        keep = member[faces].all(1)
        got, want = texels_on(texels, faces, ident.neutral, keep), _old_texels_on(texels, faces, ident.neutral, keep)
        for name in ("rows", "cols", "points", "normals", "corners", "bary"):
            a, b = getattr(got, name), getattr(want, name)
            assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), (region, name)
        # Hair and beard ask for the same skin texels: made once, handed back (read-only) to both.
        assert texel_points(ident, 512, region) is texel_points(ident, 512, region)
        assert not got.points.flags.writeable
    # Another keep (or another head) is another entry, not the cached one.
    keep = np.zeros(len(faces), bool)
    keep[: len(faces) // 2] = True
    half = texels_on(texels, faces, ident.neutral, keep)
    assert half.points.tobytes() == _old_texels_on(texels, faces, ident.neutral, keep).points.tobytes()
    moved = ident.neutral + np.float32(0.001)
    assert texels_on(texels, faces, moved, keep).points.tobytes() == _old_texels_on(texels, faces, moved, keep).points.tobytes()


def test_normal_code_gives_the_old_codes_bit_for_bit(hair_rigs):
    from painctl.appearance.segmentation import normal_code

    ident, verts, _ = _head(hair_rigs / "au4", 1)
    for yaw in (0.0, 30.0):
        mesh, camera, res = _render_head(ident, verts, yaw)
        assert (res.triangle >= 0).sum() > 5000
        # Inward normals too: the pixels seen from behind are turned to the camera.
        for normals in (mesh.vertex_normals(), -mesh.vertex_normals()):
            got = normal_code(res.triangle, res.barycentric, normals, mesh.faces, camera.rotation())
            want = _old_normal_code(res.triangle, res.barycentric, normals, mesh.faces, camera.rotation())
            assert got.tobytes() == want.tobytes()


def test_develop_gives_the_old_photo_bit_for_bit(hair_rigs):
    from painctl.appearance import camera_model as cm

    ident, verts, _ = _head(hair_rigs / "au4", 0)
    _, _, res = _render_head(ident, verts, -30.0)
    rgb = np.clip(res.rgb + (1.0 - res.alpha[..., None]) * 0.4, 0.0, 1.0)
    for seed in range(4):
        model = cm.draw_camera_model(np.random.default_rng(seed), size=rgb.shape[0])
        noise = cm.noise_draw(rgb.shape, np.random.default_rng(seed + 10))
        assert cm.develop(rgb, model, noise=noise).tobytes() == _old_develop(rgb, model, noise=noise).tobytes()
        got = cm.develop(rgb, model, noise_rng=np.random.default_rng(seed))
        assert got.tobytes() == _old_develop(rgb, model, noise_rng=np.random.default_rng(seed)).tobytes()
    # Gain without noise, and (over)exposure that clips, take the same table.
    from dataclasses import replace

    for model in (cm.CameraModel(exposure_ev=0.3, white_balance=(1.05, 1.0, 0.95)), cm.CameraModel(exposure_ev=2.0, read_noise=0.01)):
        noise = cm.noise_draw(rgb.shape, np.random.default_rng(5))
        assert cm.develop(rgb, model, noise=noise).tobytes() == _old_develop(rgb, model, noise=noise).tobytes()
        model = replace(model, jpeg_quality=80)
        assert cm.develop(rgb, model, noise=noise).tobytes() == _old_develop(rgb, model, noise=noise).tobytes()


def test_lash_front_depth_gives_the_old_depths_bit_for_bit(hair_rigs):
    from painctl.appearance import lashes

    checked = 0
    for row in range(4):
        ident, verts, au = _head(hair_rigs / "au43", row)
        part = lashes.build_lashes(ident)
        root = part.roots(verts)
        for skin in part.skin:
            # The roots, and a fine grid over the lids (the fissure line's and the seam's probes).
            lo, hi = root.min(0), root.max(0)
            gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 60), np.linspace(lo[1] - 0.004, hi[1] + 0.004, 20))
            grid = np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, hi[2])], 1)
            for points in (root, grid):
                for reach in (0.0, lashes.FISSURE_REACH):
                    got = lashes._front_depth(points, verts, skin, reach)
                    want = _old_front_depth(points, verts, skin, reach)
                    assert got.dtype == want.dtype and got.tobytes() == want.tobytes()
                    checked += int(np.isfinite(got).sum())
    assert checked > 1000


def test_vertex_normals_give_the_np_cross_normals_bit_for_bit(hair_rigs):
    from painctl.renderer import vertex_normals

    def old(vertices, faces):
        v = np.asarray(vertices, dtype=np.float64)
        tri = v[faces]
        face_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        corners = np.asarray(faces).reshape(-1)
        normals = np.stack([np.bincount(corners, weights=np.repeat(face_n[:, k], 3), minlength=len(v)) for k in range(3)], axis=1)
        length = np.linalg.norm(normals, axis=1, keepdims=True)
        normals = np.where(length > 0, normals / np.maximum(length, 1e-30), np.array([0.0, 0.0, 1.0]))
        return normals.astype(np.float32)

    ident, verts, _ = _head(hair_rigs / "au4", 1)
    faces = np.asarray(ident.faces)
    # A posed head in float32 and float64, and one with an unused vertex (normal +z) and a degenerate face.
    spare = np.concatenate([verts, [[0.0, 0.0, 0.0]]]).astype(np.float32)
    degenerate = np.concatenate([faces, [[0, 0, 1]]])
    for v, f in ((verts, faces), (np.asarray(verts, np.float64), faces), (spare, degenerate)):
        got = vertex_normals(v, f)
        assert got.dtype == np.float32 and got.tobytes() == old(v, f).tobytes()
    assert np.array_equal(vertex_normals(spare, degenerate)[-1], [0.0, 0.0, 1.0])


def test_lid_triangles_are_the_old_ones(hair_rigs):
    from painctl.appearance import lashes

    def old(identity, margin, skin_faces, centre):
        v = identity.neutral
        out = np.zeros((len(margin), 3), np.int64)
        for i, m in enumerate(margin):
            cand = skin_faces[(skin_faces == m).any(axis=1)]
            if len(cand) == 0:
                cand = skin_faces[np.argsort(np.linalg.norm(v[skin_faces].mean(1) - v[m], axis=1))[:1]]
            far = np.linalg.norm(v[cand].mean(1)[:, :2] - centre[:2], axis=1)
            out[i] = cand[int(np.argmax(far))]
        return out

    for row in (0, 2):
        ident, _, _ = _head(hair_rigs / "au43", row)
        skin = np.zeros(len(ident.neutral), bool)
        skin[ident.regions["skin"]] = True
        skin_faces = ident.faces[skin[ident.faces].all(axis=1)]
        for side in ("left", "right"):
            centre = ident.neutral[ident.regions[f"{side}_eye"]].astype(np.float64).mean(axis=0)
            upper, lower = lashes._margin_halves(ident, side)
            # A margin vertex on no skin face takes the nearest face (the fallback path) in both.
            stray = np.array([int(ident.regions[f"{side}_eye"][0])])
            for ids in (upper, lower, np.concatenate([upper, stray])):
                got = lashes._lid_triangle(ident, ids, skin_faces, centre)
                assert got.tobytes() == old(ident, ids, skin_faces, centre).tobytes()


@dataclass
class _Plan:
    """A stand-in for render-views' ViewsPlan: arrays in fields, a dict and a list."""

    uv: np.ndarray
    faces: np.ndarray
    regions: dict
    views: list


def test_a_plan_unpickled_in_a_worker_keeps_its_arrays_through_a_mesh():
    """An array unpickled in a spawned worker passes through np.asarray(a, dtype) as itself once
    native_dtypes has seen it, so caches keyed on it (the wrinkle maps, the renderer's buffers) hit
    frame after frame, as they do in one process."""
    import pickle

    from painctl.renderer import Mesh
    from painctl.stages.render_views import native_dtypes

    rng = np.random.default_rng(2)
    plan = _Plan(uv=rng.uniform(0, 1, (4, 2)).astype(np.float32), faces=np.array([[0, 1, 2], [1, 2, 3]], np.int32),
                regions={"face": np.arange(4)}, views=[(0.0, 0.0)])
    sent = pickle.loads(pickle.dumps(plan))
    verts = rng.normal(size=(4, 3)).astype(np.float32)
    texture = np.zeros((4, 4, 3), np.float32)
    got = native_dtypes(sent)
    assert got.uv.tobytes() == plan.uv.tobytes() and got.faces.tobytes() == plan.faces.tobytes()
    assert got.regions["face"].tobytes() == plan.regions["face"].tobytes() and got.views == [(0.0, 0.0)]
    # Two frames' meshes share the plan's uv itself: the same object the cache saw last frame.
    first = Mesh(verts, got.faces, uv=got.uv, uv_faces=got.faces, texture=texture)
    second = Mesh(verts, got.faces, uv=got.uv, uv_faces=got.faces, texture=texture)
    assert first.uv is got.uv and second.uv is got.uv


def test_the_bust_cache_path_is_found_without_importing_anny(tmp_path):
    """Each render-views worker looks up the bust's cache; importing anny for the path cost 4-5 s of
    torch's import per worker. The path follows ANNY_CACHE_DIR, as anny's own rule does."""
    import os
    import subprocess
    import sys

    code = ("import sys; from painctl.facemodels.anny_bust import cache_path; p = cache_path(); "
            "print(p); assert 'anny' not in sys.modules and 'torch' not in sys.modules, sorted(sys.modules)[:5]")
    env = {**os.environ, "ANNY_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip().startswith(str(tmp_path / "cache" / "painctl-bust"))
