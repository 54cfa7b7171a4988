"""texture: frontal back-projection round trip, full coverage after fill, OBJ+MTL that load back."""

import json

import h5py
import numpy as np
import pytest


@pytest.fixture(scope="module")
def neutral(tmp_path_factory, anny_model):
    from painctl.stages.sample_mesh import sample_mesh
    from painctl.stages.render_neutral import render_neutral

    root = tmp_path_factory.mktemp("tx")
    sample_mesh(root / "heads", 2, seed=5)
    render_neutral(str(root / "heads"), str(root / "neutral"), size=256, texture_size=256)
    return root / "neutral"


def test_round_trip_recovers_the_albedo_where_seen(neutral):
    """Render the skin albedo unshaded, back-project it: texels seen frontally match the source."""
    from PIL import Image

    from painctl.renderer import Camera, Mesh, render
    from painctl.appearance.uv import bake_texture, project_texture, uv_texels

    with h5py.File(neutral / "data.h5") as h5:
        verts, faces = h5["vertices"][0], h5["faces"][:]
        uv, uvf = h5["uv"][:], h5["uv_faces"][:]
        camera = Camera.from_dict(json.loads(h5["camera"][0].decode()))
        albedo = np.asarray(Image.open(neutral / h5["albedo"][0].decode()), np.float32) / 255.0
    texels = uv_texels(uv, uvf, 256)
    flat = render(Mesh(verts, faces, uv=uv, uv_faces=uvf, texture=albedo), camera, [], 512, shading=False)
    geometry = render(Mesh(verts, faces), camera, [], 512, shading=False)
    baked = bake_texture(flat.rgb, geometry, camera, verts, faces, texels)
    # Frontal texels (weight >= 0.6) away from UV island borders, where filtering mixes in neighbours.
    from scipy.ndimage import binary_erosion

    good = baked.seen & (baked.weight >= 0.6) & binary_erosion(texels.mask, iterations=2)
    assert good.sum() > 2000
    error = np.abs(baked.colour[good] - albedo[good]).mean(1)
    assert np.median(error) < 0.02 and np.mean(error < 0.06) > 0.9

    texture, coverage = project_texture(flat.rgb, geometry, camera, verts, faces, texels)
    assert 0.05 < coverage < 0.8
    assert np.all(np.isfinite(texture)) and texture[texels.mask].min(1).max() > 0  # every texel filled
    # Filled texels (mirror + pull-push) are skin-like, not black or left empty.
    unseen = texels.mask & ~baked.seen
    assert texture[unseen].mean() > 0.2


def test_mirror_fill_uses_the_other_side(neutral):
    from painctl.appearance.uv import mirror_vertices

    with h5py.File(neutral / "data.h5") as h5:
        verts = h5["vertices"][0]
    mirror = mirror_vertices(verts)
    err = np.linalg.norm(verts[mirror] * [-1, 1, 1] - verts, axis=1)
    assert np.median(err) < 1e-3 and np.array_equal(mirror[mirror][err < 1e-4], np.flatnonzero(err < 1e-4))


def test_pull_push_fills_holes_and_keeps_known_texels():
    from painctl.appearance.uv import pull_push

    rng = np.random.default_rng(0)
    ys, xs = np.mgrid[0:64, 0:64] / 64.0
    colour = np.stack([xs, ys, np.full_like(xs, 0.5)], -1).astype(np.float32)  # a smooth ramp
    weight = (rng.random((64, 64)) > 0.7).astype(np.float32)
    weight[20:40, 20:40] = 0
    out = pull_push(colour * weight[..., None], weight)
    known = weight > 0
    np.testing.assert_array_equal(out[known], colour[known])
    # Holes, even a 20x20 one, are filled close to the ramp they interrupt.
    assert np.abs(out[~known] - colour[~known]).max() < 0.12


def test_pull_push_kept_pyramid_does_not_leak_between_weights():
    # The weight pyramid is kept per weight: a fill by another weight in between, or another
    # colour under the same weight, must not change what a weight's fill gives.
    from painctl.appearance.uv import pull_push

    rng = np.random.default_rng(1)
    colour = rng.random((33, 48, 3)).astype(np.float32)  # odd height: a padded level
    a = (rng.random((33, 48)) > 0.5).astype(np.float32)
    b = (rng.random((33, 48)) > 0.9).astype(np.float32)
    first = pull_push(colour, a)
    other = pull_push(colour[::-1].copy(), a)
    fill_b = pull_push(colour, b)
    assert first.tobytes() == pull_push(colour, a).tobytes()
    np.testing.assert_array_equal(fill_b[b > 0], colour[b > 0])
    assert not np.array_equal(first, fill_b) and not np.array_equal(first, other)
    # A mirrored colour under a mirrored weight is the mirrored fill (nothing of a's pyramid is reused).
    np.testing.assert_allclose(pull_push(colour[:, ::-1].copy(), a[:, ::-1].copy()), first[:, ::-1], atol=1e-6)


def test_uv_texels_inside_points_are_the_mask_of_points():
    from painctl.appearance.uv import uv_texels

    uv = np.array([[0.1, 0.1], [0.9, 0.1], [0.1, 0.9], [0.9, 0.9]])
    uv_faces = np.array([[0, 1, 2], [1, 3, 2]])
    vertices = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 1.0, 0.5]], np.float32)
    texels = uv_texels(uv, uv_faces, 16)
    rows, cols, triangle, bary = texels.inside()
    np.testing.assert_array_equal(texels.inside_points(vertices, uv_faces), texels.points(vertices, uv_faces)[texels.mask])
    assert np.array_equal(triangle, texels.triangle[rows, cols]) and (triangle >= 0).all()
    # Cached arrays are shared by every identity of a run: they cannot be written to.
    with pytest.raises(ValueError):
        bary[0, 0] = 1.0


def test_texture_cli_writes_pngs_and_loadable_obj(neutral, tmp_path, painctl):
    import trimesh

    out = tmp_path / "tex"
    result = painctl("texture", "--size", "256", str(neutral), str(out))
    assert result.code == 0, result.stderr
    with h5py.File(out / "data.h5") as h5:
        assert h5["coverage"].shape == (2,) and np.all((h5["coverage"][:] > 0.05) & (h5["coverage"][:] < 1))
        # The photo's light per vertex, for render-views' relighting: the lights' model or more.
        assert h5["shading"].shape == h5["vertices"].shape and np.all(h5["shading"][:] > 0)
        ids = [i.decode() for i in h5["identity"][:]]
        for k in range(2):
            assert (out / h5["texture"][k].decode()).is_file()
            mesh = trimesh.load(out / h5["mesh"][k].decode(), force="mesh")
            assert mesh.visual.material.image is not None and mesh.visual.material.image.size == (256, 256)
            assert len(mesh.faces) == len(h5["faces"])
            assert ids[k] in h5["mesh"][k].decode()
    # Same input, same parameters: same bytes (texture PNG, OBJ, MTL), also when built in two shards.
    again = tmp_path / "again"
    assert painctl("texture", "--size", "256", "--shard", "2/2", str(neutral), str(again)).code == 0
    with h5py.File(out / "data.h5") as a, h5py.File(again / "data.h5") as b:
        assert b["identity"][0] == a["identity"][1]
        for name in ("texture", "mesh"):
            assert (out / a[name][1].decode()).read_bytes() == (again / b[name][0].decode()).read_bytes()
        assert np.array_equal(a["shading"][1], b["shading"][0])
        mtl = (again / b["mesh"][0].decode()).with_suffix(".mtl")
        assert mtl.read_bytes() == (out / a["mesh"][1].decode()).with_suffix(".mtl").read_bytes()


def test_texture_needs_a_render_neutral_artefact(neutral, tmp_path, painctl):
    heads = neutral.parent / "heads"
    result = painctl("texture", str(heads), str(tmp_path / "t"))
    assert result.code == 1 and "render-neutral" in result.stderr and not (tmp_path / "t").exists()


def test_hunyuan_backend_is_a_clear_error_when_missing(neutral, tmp_path, painctl):
    pytest.importorskip("trimesh")
    try:
        import textureGenPipeline  # noqa: F401
        pytest.skip("Hunyuan3D is installed here")
    except ImportError:
        pass
    result = painctl("texture", "--backend", "hunyuan", str(neutral), str(tmp_path / "h"))
    assert result.code == 1 and "Hunyuan3D" in result.stderr and "install" in result.stderr
    assert not (tmp_path / "h").exists()


def test_fill_is_seamless_across_uv_seams(neutral):
    """Both sides of every UV seam (a mesh edge mapped to two places in the layout) get the same colour."""
    from PIL import Image

    from painctl.renderer import Camera, Mesh, render
    from painctl.appearance.uv import project_texture, uv_texels

    with h5py.File(neutral / "data.h5") as h5:
        verts, faces = h5["vertices"][0], h5["faces"][:]
        uv, uvf = h5["uv"][:], h5["uv_faces"][:]
        camera = Camera.from_dict(json.loads(h5["camera"][0].decode()))
        image = np.asarray(Image.open(neutral / h5["image"][0].decode()), np.float32) / 255.0
    size = 512
    texels = uv_texels(uv, uvf, size)
    geometry = render(Mesh(verts, faces), camera, [], image.shape[:2], shading=False)
    texture, _ = project_texture(image, geometry, camera, verts, faces, texels)

    def sample(f, a, b, t):
        """Texture colour at fraction t along face f's edge (corner a -> b), nudged 15% inside the face."""
        corners = uv[uvf[f]]
        point = corners[a] * (1 - t) + corners[b] * t
        point = 0.85 * point + 0.15 * corners.mean(0)
        return texture[int((1 - point[1]) * size), int(point[0] * size)]

    sides: dict = {}
    for f, face in enumerate(faces):
        for a, b in ((0, 1), (1, 2), (2, 0)):
            key = (min(face[a], face[b]), max(face[a], face[b]))
            flip = face[a] > face[b]
            sides.setdefault(key, []).append((f, (b, a) if flip else (a, b)))
    diffs = []
    for (f0, e0), (f1, e1) in (v for v in sides.values() if len(v) == 2):
        if {uvf[f0][e0[0]], uvf[f0][e0[1]]} == {uvf[f1][e1[0]], uvf[f1][e1[1]]}:
            continue  # not a seam: both faces share the edge's uv rows
        for t in (0.3, 0.5, 0.7):
            diffs.append(np.abs(sample(f0, *e0, t) - sample(f1, *e1, t)).mean())
    diffs = np.asarray(diffs)
    assert len(diffs) > 100  # the layout does have seams
    assert np.median(diffs) < 0.03 and np.percentile(diffs, 90) < 0.08


def test_texture_over_its_shading_is_the_skins_albedo_in_the_photos_dim_skin(neutral):
    """render-views relights a texture by this frame's light over /shading: dividing the texture by
    it must give back the skin's albedo, also where the lights barely reach (the photo spreads light
    under the skin into such crevices, so the lights' model there is several times too dark: a closed
    eye's lid, hidden in the open lid's fold, came out bright orange on dark skin)."""
    from PIL import Image

    from painctl.appearance.uv import bake_texture, photo_shading, project_texture, uv_texels
    from painctl.renderer import Camera, Mesh, render
    from painctl.renderer.colour import srgb_to_linear
    from painctl.stages.texture import lights_shading
    from painctl.artefact import open_artefact

    art = open_artefact(neutral)
    with h5py.File(neutral / "data.h5") as h5:
        verts, faces = h5["vertices"][0].astype(np.float64), h5["faces"][:]
        uv, uvf = h5["uv"][:], h5["uv_faces"][:]
        camera = Camera.from_dict(json.loads(h5["camera"][0].decode()))
        image = np.asarray(Image.open(neutral / h5["image"][0].decode()).convert("RGB"), np.float32) / 255.0
        albedo = np.asarray(Image.open(neutral / h5["albedo"][0].decode()).convert("RGB"), np.float32) / 255.0
    texels = uv_texels(uv, uvf, albedo.shape[0])
    result = render(Mesh(verts, faces), camera, [], image.shape[1::-1], shading=False)
    model = lights_shading(art, 0, verts, faces)
    shading = photo_shading(bake_texture(image, result, camera, verts, faces, texels), albedo, texels, faces, model)
    texture, _ = project_texture(image, result, camera, verts, faces, texels, shading)
    old, _ = project_texture(image, result, camera, verts, faces, texels)

    rows, cols = texels.inside()[:2]
    corners, bary = texels.inside_corners(faces), texels.inside_barycentric64()
    at = lambda per_vertex: np.einsum("kc,kcd->kd", bary, np.asarray(per_vertex, np.float64)[corners]).mean(1)  # noqa: E731
    pigment = srgb_to_linear(albedo[rows, cols]).mean(1)
    skin = pigment > 0.02
    dim, lit = skin & (at(model) < 0.3), skin & (at(model) > 0.7)
    assert dim.sum() > 200 and lit.sum() > 2000
    recovered = srgb_to_linear(texture[rows, cols]).mean(1) / at(shading) / pigment
    by_model = srgb_to_linear(old[rows, cols]).mean(1) / at(model) / pigment
    # The premise: by the lights' model alone the dim skin's albedo comes out far too bright.
    assert np.median(by_model[dim]) > 1.5
    assert 0.7 < np.median(recovered[dim]) < 1.4
    # Lit skin keeps the model (and the photo's highlights stay in the texture): nothing changes there.
    assert np.array_equal(shading[model.mean(1) > 0.6], model[model.mean(1) > 0.6])
    assert 0.8 < np.median(recovered[lit]) < 1.25
