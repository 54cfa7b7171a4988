"""Beards as they photograph: irregular hair (no comb of parallel stripes), no grey-blue sheen on a
black moustache, a grey beard's salt and pepper as a fine low-contrast grain; and its seeding."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter
from test_appearance_hair import _luminance, _textured_identity

from painctl.appearance import Identity
from painctl.appearance import beard as beard_mod
from painctl.renderer import Light, face_offsets, frame_camera, mesh_index, render_many, studio_lights
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
    vertical strands: averaged down each column, its fine detail mostly cancels (0.12 and 0.098
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
    neutral grey, against the hair's 0.8; 0.81 at most measured now)."""
    white = [Light(direction=[-0.3, 0.5, 0.8], colour=[1.0, 1.0, 1.0], intensity=2.0, ambient=0.15)]
    res, beard, part, bare = _dressed(hair_rigs, "moustache", 512, lights=white, ethnicity="african", age_years=25.0)
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
    (0.169 and 0.082 measured; 0.218 and 0.126 with full-contrast white and dark hairs and inner
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
