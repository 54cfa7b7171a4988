"""Beards as they photograph: a mass of hair that hides the skin where it is dense and thins
towards the cheek line, irregular hair (no comb of parallel stripes), no grey-blue sheen on a
black moustache, a moustache down to the upper lip's red but never over it (neutral and AU10 = 5),
stubble as a cool grained shadow, a grey beard's salt and pepper as a fine low-contrast grain;
and its seeding."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import uniform_filter
from test_appearance_hair import _luminance, _project, _rows_of_vertex, _textured_identity

from painctl.appearance import Identity
from painctl.appearance import beard as beard_mod
from painctl.renderer import Light, Mesh, face_offsets, frame_camera, mesh_index, render_many, studio_lights
from painctl.renderer.colour import srgb_to_linear


def _dressed(hair_rigs, kind: str, size: int, yaw: float = 0.0, lights=None, **who):
    """A man's ``kind`` beard on a flat-textured head: (render, beard-shell pixel mask, part, head render)."""
    ident, verts, au, head = _textured_identity(hair_rigs, 0)
    man = Identity(**{**ident.__dict__, "gender": "male", **who})
    part = beard_mod.build_beard(man, kind=kind)
    meshes = [part.dress(head, verts, au)] + part.meshes(verts, au)
    cam = frame_camera(verts, yaw=yaw, size=size)
    lights = studio_lights() if lights is None else lights
    res = render_many(meshes, [cam], lights, size)[0]
    bare = render_many([head], [cam], lights, size)[0]
    return res, mesh_index(res.triangle, face_offsets(meshes)) == 1, part, bare


def _column_stripes(lum: np.ndarray, region: np.ndarray, min_rows: int = 8) -> float:
    """How much of the fine left-right variation of ``lum`` inside ``region`` survives averaging
    down each column: the spread of the column means about their 9-column running mean over the
    spread of the pixels about it. Parallel vertical strands keep it (1 for perfect stripes);
    hairs that curl, cross and end at random average out down a column."""
    width = lum.shape[1]
    counts = region.sum(axis=0)
    means = np.array([lum[region[:, c], c].mean() if counts[c] else 0.0 for c in range(width)])
    columns, pixels = [], []
    for c in range(4, width - 4):
        if (counts[c - 4:c + 5] < min_rows).any():
            continue
        rows = region[:, c]
        columns.append(means[c] - means[c - 4:c + 5].mean())
        # Each pixel against its neighbourhood on the same rows (a beard darkens down the chin).
        pixels.append(lum[rows, c] - np.mean([lum[rows, k].mean() for k in range(c - 4, c + 5)]))
    assert len(columns) > 60, len(columns)
    return float(np.std(columns) / np.std(np.concatenate(pixels)))


def test_a_black_beard_has_no_comb_of_vertical_stripes(hair_rigs):
    """Below the mouth a young African man's black full beard at 224 px shows no regular
    vertical strands: averaged down each column, its fine detail mostly cancels (0.12 and 0.074
    of the pixels' spread, frontal and at 30 degrees, measured; 0.18 and 0.21 when each texture
    column was one strand running down the whole chin)."""
    stripes = []
    for yaw in (0.0, 30.0):
        res, beard, _, _ = _dressed(hair_rigs, "full_beard", 224, yaw, ethnicity="african", age_years=25.0)
        below_mouth = beard.copy()
        below_mouth[:112] = False
        stripes.append(_column_stripes(_luminance(res.rgb), below_mouth))
    assert np.mean(stripes) < 0.15, stripes


def test_a_black_moustache_is_no_bluer_than_the_skin_and_hair_it_lies_on(hair_rigs):
    """Under one white light at 512 px no pixel of a black moustache is bluer (linear blue over
    red) than both the skin under it and the hair's own colour: its strands show their colour,
    not a white highlight (which drew a grey-blue band on the upper lip: linear blue over red 1.0,
    neutral grey, against the hair's 0.8; 0.81 at most measured now, over the strands and the hair
    painted under them)."""
    white = [Light(direction=[-0.3, 0.5, 0.8], colour=[1.0, 1.0, 1.0], intensity=2.0, ambient=0.15)]
    res, beard, part, bare = _dressed(hair_rigs, "moustache", 512, lights=white, ethnicity="african", age_years=25.0)
    # The strands and the hair painted under them (head pixels it darkens to under 0.7).
    beard |= bare.mask & (_luminance(res.rgb) < 0.7 * _luminance(bare.rgb))
    # Pixels of at least 30/255 in red: the 8-bit steps of darker ones alone move their hue by 5-10%.
    beard &= res.rgb[..., 0] >= 30 / 255
    lin = srgb_to_linear(np.clip(res.rgb[beard], 0, 1))
    blueness = lin[:, 2] / np.maximum(lin[:, 0], 1e-4)
    hair = srgb_to_linear(np.asarray(part.info["rgb"]))
    rows, cols = np.nonzero(beard)
    skin_px = srgb_to_linear(np.clip(bare.rgb[rows, cols], 0, 1))
    bound = max(hair[2] / hair[0], float(np.median(skin_px[:, 2] / skin_px[:, 0])))
    assert beard.sum() > 150 and blueness.max() <= 1.1 * bound, (int(beard.sum()), float(blueness.max()), bound, float(np.percentile(blueness, 50)))


def test_a_grey_beard_is_a_fine_grain_not_speckle(hair_rigs):
    """A greying (55 years) and a grey (75) man's full beard at 224 px: the pixel-to-pixel
    luminance detail inside it (each pixel less its 3x3 mean, relative to the mean) stays low
    (0.144 and 0.080 measured; 0.218 and 0.126 with full-contrast white and dark hairs and inner
    shell layers shaded as deeply as a black beard's)."""
    limits = {55.0: 0.195, 75.0: 0.105}
    for age, limit in limits.items():
        res, beard, part, _ = _dressed(hair_rigs, "full_beard", 224, ethnicity="caucasian", age_years=age)
        assert part.info["grey"] > 0.5
        lum = _luminance(res.rgb)
        rows, cols = np.nonzero(beard)
        r0, r1 = int(np.percentile(rows, 50)), int(np.percentile(rows, 95))
        c = int(np.median(cols))
        half = int(np.percentile(np.abs(cols - c), 60))
        box = lum[r0:r1, c - half:c + half]
        grain = float((box - uniform_filter(box, 3)).std() / box.mean())
        assert grain < limit, (age, grain)


def test_beard_texture_is_seeded_tiles_and_leaves_skin_between_hairs():
    colour = np.array([0.1, 0.08, 0.07])
    a = beard_mod.beard_texture(np.random.default_rng(4), colour, 0.5)
    assert np.array_equal(a, beard_mod.beard_texture(np.random.default_rng(4), colour, 0.5))
    assert not np.array_equal(a, beard_mod.beard_texture(np.random.default_rng(5), colour, 0.5))
    alpha = a[..., 3]
    # Skin shows between the hairs, and hairs cross the tile's edges (the texture wraps).
    assert 0.4 < (alpha > 0).mean() < 0.9
    assert (alpha[:, 0] > 0).mean() > 0.3 and (alpha[0] > 0).mean() > 0.3
    # Half grey: both grey and dark hairs, the grey ones lighter.
    hair = a[alpha > 0, :3].mean(axis=1)
    assert (hair > 0.5).mean() > 0.2 and (hair < 0.3).mean() > 0.2


@pytest.fixture(scope="module")
def au10_rig(hair_rigs):
    """The hair heads rigged neutral + AU10 = 5 (rows: identity 0 neutral, AU10; identity 1 neutral, AU10)."""
    from conftest import cli

    out = hair_rigs / "au10"
    if not out.exists():
        cli("-q", "rig", "--au", "AU10=5", str(hair_rigs / "heads"), str(out))
    return out


def _beard_ratio(hair_rigs, kind: str, size: int = 224, rig: str = "au4", row: int = 0, skin=(0.78, 0.6, 0.5), **who):
    """A man's ``kind`` beard on the head of ``rig``'s ``row``, flat-textured sRGB ``skin``: (luminance of the
    dressed head over the bare head per pixel, 1 off the head; the head's visible pixels in the
    dressed render; the bare render; the camera; the identity, its vertices)."""
    ident, _, _, _ = _textured_identity(hair_rigs, 0)
    from test_appearance_hair import _identity

    base, verts, au = _identity(hair_rigs / rig, row)
    ident = Identity(**{**base.__dict__, "uv": ident.uv, "uv_faces": ident.uv_faces, "gender": "male", **who})
    texture = np.tile(np.array(skin, np.float32), (512, 512, 1))
    head = Mesh(verts, ident.faces, uv=ident.uv, uv_faces=ident.uv_faces, texture=texture, shading=False)
    part = beard_mod.build_beard(ident, kind=kind)
    cam = frame_camera(ident.neutral, size=size)
    meshes = [part.dress(head, verts, au)] + part.meshes(verts, au)
    dressed = render_many(meshes, [cam], studio_lights(), size)[0]
    bare = render_many([head], [cam], studio_lights(), size)[0]
    ratio = np.where(bare.mask, _luminance(dressed.rgb) / np.maximum(_luminance(bare.rgb), 1e-3), 1.0)
    head_seen = (dressed.triangle >= 0) & (dressed.triangle < len(ident.faces))
    return ratio, head_seen, bare, dressed, ident, verts


def test_a_full_beard_hides_the_skin_of_the_chin(hair_rigs):
    """A young African man's black full beard at 224 px is a mass of hair over the chin: in the
    box from under the lower lip to the chin, the dressed head is at most a third as light as the
    bare one (0.16 median measured) and hardly any pixel lets the skin show through (luminance
    ratio over 0.7: 3.9% of the pixels measured; 16% with the curly shell strands over a thin
    painted layer this replaced)."""
    ratio, _, bare, _, ident, _ = _beard_ratio(hair_rigs, "full_beard", ethnicity="african", age_years=25.0)
    lip = int(np.median(_rows_of_vertex(bare, ident.faces, ident.landmarks["lower_lip"])))
    chin = int(np.median(_rows_of_vertex(bare, ident.faces, ident.landmarks["chin"])))
    centre = int(np.nonzero(bare.mask[chin - 4])[0].mean())
    box = ratio[lip + 6:chin, centre - 8:centre + 9]
    assert box.size > 100
    assert np.median(box) < 0.33 and (box > 0.7).mean() < 0.05, (float(np.median(box)), float((box > 0.7).mean()))


def test_a_beard_thins_towards_the_cheek_line(hair_rigs):
    """The same beard is sparser on the upper cheek, beside the nose, than on the chin: the skin
    shows there between the hairs (luminance ratio 0.41 on the cheek, 0.18 on the chin measured;
    0.28 and 0.25 before the beard's density thinned towards the cheek line)."""
    ratio, _, bare, _, ident, _ = _beard_ratio(hair_rigs, "full_beard", ethnicity="african", age_years=25.0)
    cam = frame_camera(ident.neutral, size=224)
    v = ident.neutral
    lm = ident.landmarks
    mouth = 0.5 * (v[lm["mouth_left"]] + v[lm["mouth_right"]])
    chin = _project(cam, v[[lm["chin"]]], 224)[0]
    # The upper cheek: 3.5 cm to the side of the mouth's centre, 1 cm above the mouth, on the front of the face.
    x = _project(cam, (mouth + [0.035, 0.01, 0.0])[None], 224)[0]
    cheek = ratio[int(x[1]) - 3:int(x[1]) + 4, int(x[0]) - 3:int(x[0]) + 4]
    on_chin = ratio[int(chin[1]) - 12:int(chin[1]) - 5, int(chin[0]) - 3:int(chin[0]) + 4]
    assert cheek.mean() > on_chin.mean() + 0.1, (float(cheek.mean()), float(on_chin.mean()))


def test_stubble_is_a_blue_grey_shadow_with_bristles(hair_rigs):
    """A young Caucasian man's dark stubble at 512 px darkens the jaw without hiding it (the jaw
    0.55-0.9 of the bare skin's luminance: 0.75 measured), cools it (linear blue over red up by
    9% measured: hair under the skin; 0.99, a warm tint, before) and is grained by bristles, not a
    flat tint (spread of the darkening about its 5 px mean 0.047 measured, 0.019 before)."""
    ratio, _, bare, dressed, ident, _ = _beard_ratio(hair_rigs, "stubble", 512, ethnicity="caucasian", age_years=30.0)
    chin = int(np.median(_rows_of_vertex(bare, ident.faces, ident.landmarks["chin"])))
    lip = int(np.median(_rows_of_vertex(bare, ident.faces, ident.landmarks["lower_lip"])))
    centre = int(np.nonzero(bare.mask[chin - 8])[0].mean())
    box = np.s_[(lip + chin) // 2:chin - 4, centre - 20:centre + 21]
    r = ratio[box]
    assert 0.55 < r.mean() < 0.9, float(r.mean())
    lin_d, lin_b = srgb_to_linear(np.clip(dressed.rgb[box], 0, 1)), srgb_to_linear(np.clip(bare.rgb[box], 0, 1))
    cool = (lin_d[..., 2] / lin_d[..., 0]).mean() / (lin_b[..., 2] / lin_b[..., 0]).mean()
    assert cool > 1.05, cool
    grain = float((r - uniform_filter(r, 5)).std())
    assert grain > 0.02, grain


def test_white_stubble_on_dark_skin_is_bristles_not_a_grey_wash(hair_rigs):
    """An old African man's white stubble at 512 px lightens his dark jaw only a little on
    average and in grains (the brightest bristles), as unpigmented bristles over dark skin do,
    instead of shadowing it grey as if the white hair lay under the skin: measured the jaw at
    1.40 of the bare skin's luminance on average, its brightest tenth from 1.76 (2.24 and 2.43
    when grey bristles were painted as a dark stubble's shadow, a flat grey wash like paint)."""
    ratio, _, bare, dressed, ident, _ = _beard_ratio(hair_rigs, "stubble", 512, skin=(0.3, 0.19, 0.13), ethnicity="african", age_years=90.0)
    part = beard_mod.build_beard(Identity(**{**ident.__dict__, "gender": "male"}), kind="stubble")
    assert part.record()["grey"] > 0.8, part.record()
    chin = int(np.median(_rows_of_vertex(bare, ident.faces, ident.landmarks["chin"])))
    lip = int(np.median(_rows_of_vertex(bare, ident.faces, ident.landmarks["lower_lip"])))
    centre = int(np.nonzero(bare.mask[chin - 8])[0].mean())
    r = ratio[(lip + chin) // 2:chin - 4, centre - 20:centre + 21]
    assert 1.05 < r.mean() < 1.6, float(r.mean())
    # Grains: the brightest bristles stand above the mean as far as the mean stands above bare skin.
    assert np.percentile(r, 90) - r.mean() > 0.5 * (r.mean() - 1.0), (float(np.percentile(r, 90)), float(r.mean()))


def test_a_dark_beard_thins_into_a_stubble_shadow_not_tufts_on_bare_skin(hair_rigs):
    """Where a young man's dark short beard thins towards its edges (painted density 0.1-0.6), the
    skin seen between its tufts at 512 px carries the shadow of the sparse dark hair there, as
    stubble does: it is darker, 0.70 of the bare skin's luminance on average, and cooler, linear
    blue over red up 2.9% (measured). Before, dark tufts stood on nearly bare skin like ink: 0.79,
    and 0.7% warmer than bare skin."""
    ratio, head_seen, bare, dressed, ident, _ = _beard_ratio(hair_rigs, "short_beard", 512, ethnicity="caucasian", age_years=30.0)
    part = beard_mod.build_beard(Identity(**{**ident.__dict__, "gender": "male"}), kind="short_beard")
    assert part.record()["grey"] == 0.0, part.record()
    density = np.zeros(ratio.shape)
    density[head_seen] = part.skin_cover(dressed.triangle[head_seen], dressed.barycentric[head_seen])
    edge = head_seen & (density > 0.1) & (density < 0.6)
    assert edge.sum() > 300, int(edge.sum())
    lin_d, lin_b = srgb_to_linear(np.clip(dressed.rgb[edge], 0, 1)), srgb_to_linear(np.clip(bare.rgb[edge], 0, 1))
    cool = (lin_d[:, 2] / lin_d[:, 0]).mean() / (lin_b[:, 2] / lin_b[:, 0]).mean()
    assert ratio[edge].mean() < 0.75, float(ratio[edge].mean())
    assert cool > 1.015, float(cool)


def _upper_lip(ident, res) -> np.ndarray:
    """(H,W) pixels of ``res`` where the head shows its upper lip (the lips' vertices above the mouth's corners)."""
    from painctl.appearance.segmentation import lip_vertices

    v = ident.neutral
    mouth_y = 0.5 * (v[ident.landmarks["mouth_left"], 1] + v[ident.landmarks["mouth_right"], 1])
    lips = np.asarray(lip_vertices(v, ident.regions))
    weights = np.zeros(len(v))
    weights[lips[v[lips, 1] > mouth_y]] = 1.0
    head = (res.triangle >= 0) & (res.triangle < len(ident.faces))
    out = np.zeros(res.triangle.shape, bool)
    corners = np.asarray(ident.faces)[res.triangle[head]]
    out[head] = np.einsum("kc,kc->k", res.barycentric[head], weights[corners]) > 0.5
    return out


def test_a_moustache_reaches_the_upper_lip_and_leaves_its_red_visible(au10_rig, hair_rigs):
    """A black moustache at 512 px, neutral and at AU10 = 5: the upper lip the bare head shows is
    still the head's (all of its pixels measured) and undarkened (hair never over the vermilion,
    so the lip's contour a landmarker reads moves with AU10), and the skin between the lip's red
    and the nostrils' sill is hair: 20 px of it at rest, 7 px at AU10 = 5, where the lip rises
    to the nose (luminance from 2 px above the red to the sill 0.49 and 0.64 of the bare skin's
    measured; 0.53 and 0.67 with the moustache's edge 10 mm under the nose tip, fading over 12 mm)."""
    for row in (0, 1):
        ratio, head_seen, bare, dressed, ident, verts = _beard_ratio(au10_rig.parent, "moustache", 512, rig="au10", row=row,
                                                                     ethnicity="caucasian", age_years=40.0)
        lip = _upper_lip(ident, bare)
        assert lip.sum() > 200, int(lip.sum())
        seen = (head_seen & _upper_lip(ident, dressed))[lip].mean()
        assert seen > 0.97 and np.median(ratio[lip]) > 0.97, (row, float(seen), float(np.median(ratio[lip])))
        # Above the lip's top edge in its middle third, up to the nostrils' sill: dark with hair.
        rows, cols = np.nonzero(lip)
        mid = np.abs(cols - np.median(cols)) < (cols.max() - cols.min()) / 6
        tops = {}
        for r, c in zip(rows[mid], cols[mid]):
            tops[c] = min(tops.get(c, r), r)
        v, lm = ident.neutral.astype(np.float64), ident.landmarks
        sn = beard_mod.subnasale(v, np.asarray(ident.regions["skin"]), lm, 0.5 * (v[lm["mouth_left"]] + v[lm["mouth_right"]]))
        sill = int(np.median(_rows_of_vertex(bare, ident.faces, sn)))
        assert min(tops.values()) - sill > 4, (row, tops, sill)
        above = [ratio[sill + 1:t - 2, c].mean() for c, t in tops.items()]
        assert np.median(above) < 0.66, (row, float(np.median(above)))


def test_the_painted_beard_is_seeded(hair_rigs):
    """Same identity and seed: the same painted texture, byte for byte; another identity index: another."""
    ident, verts, au, head = _textured_identity(hair_rigs, 0)
    man = Identity(**{**ident.__dict__, "gender": "male"})
    a = beard_mod.build_beard(man, kind="full_beard").dress(head, verts, au).texture
    b = beard_mod.build_beard(man, kind="full_beard").dress(head, verts, au).texture
    c = beard_mod.build_beard(Identity(**{**man.__dict__, "index": man.index + 7}), kind="full_beard").dress(head, verts, au).texture
    assert a.tobytes() == b.tobytes() and a.tobytes() != c.tobytes()


def test_the_segmentation_labels_the_whole_beard_and_not_stubble_or_the_lips(hair_rigs):
    """The beard class is the beard, its painted bed with the shells over it, not only the shells;
    the lips' red stays lips, and stubble stays skin."""
    from test_appearance_brows import _labels

    from painctl.appearance.segmentation import LABELS

    _, _, bare, dressed, ident, verts = _beard_ratio(hair_rigs, "full_beard", ethnicity="african", age_years=25.0)
    part = beard_mod.build_beard(ident, kind="full_beard")
    lip = int(np.median(_rows_of_vertex(bare, ident.faces, ident.landmarks["lower_lip"])))
    chin = int(np.median(_rows_of_vertex(bare, ident.faces, ident.landmarks["chin"])))
    centre = int(np.nonzero(bare.mask[chin - 4])[0].mean())
    box = (slice(lip + 6, chin), slice(centre - 12, centre + 13))
    shells_only = _labels(dressed, ident, part, False)[box] == LABELS.index("beard")
    labels = _labels(dressed, ident, part, True)
    beard = labels[box] == LABELS.index("beard")
    # Under the lower lip, every pixel not on the lip's red is beard (0.82 of the box measured);
    # with only the shells labelled, 0.51.
    assert np.isin(labels[box], [LABELS.index("beard"), LABELS.index("lips")]).all()
    assert beard.mean() > 0.75 and shells_only.mean() < beard.mean() - 0.2, (beard.mean(), shells_only.mean())
    # The lips carry no hair: the head's pixels the segmentation calls lips without the beard it
    # calls lips with it.
    lips = _labels(dressed, ident, part, False) == LABELS.index("lips")
    assert lips.sum() > 20 and (labels[lips] == LABELS.index("lips")).all()
    stubble = beard_mod.build_beard(ident, kind="stubble")
    assert stubble.skin_cover(np.zeros(3, np.int64), np.full((3, 3), 1 / 3)) is None
