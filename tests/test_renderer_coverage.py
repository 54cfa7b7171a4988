"""Cut-out hair resolved as soft coverage: fine strands become partial pixels, dense hair and
everything away from hair keep their colour, the hair's share of light is kept, and the brows
and lashes of a real render lose their black speckle."""

from __future__ import annotations

import numpy as np
from test_appearance_hair import _luminance, _textured_identity

from painctl.appearance import brows as brows_mod
from painctl.appearance import lashes as lashes_mod
from painctl.renderer import cutout_meshes, cutout_pixels, frame_camera, render_many, soften_cutouts, studio_lights


def _skin_with_strands(size: int = 64):
    """A flat skin image with a dense 12x12 block of black hair and, beside it, black one-pixel strands every other column."""
    rgb = np.tile(np.array([0.8, 0.6, 0.5], np.float32), (size, size, 1))
    mask = np.zeros((size, size), bool)
    mask[10:22, 10:22] = True
    mask[34:50, 30:50:2] = True
    rgb[mask] = 0.02
    return rgb, mask


def test_fine_strands_become_partial_and_dense_hair_and_bare_skin_keep_their_colour():
    rgb, mask = _skin_with_strands()
    out = soften_cutouts(rgb, mask)
    lum, before = out.mean(axis=2), rgb.mean(axis=2)
    strands = np.s_[36:48, 32:48]
    # Alternate black and skin columns: from 0.02 / 0.63 to a narrow band about their mean.
    assert before[strands].std() > 0.25
    assert lum[strands].std() < 0.1, float(lum[strands].std())
    assert abs(lum[strands].mean() - before[strands].mean()) < 0.03, (float(lum[strands].mean()), float(before[strands].mean()))
    # The inside of the dense block stays hair, and skin a few pixels from any hair is untouched.
    assert np.abs(out[13:19, 13:19] - rgb[13:19, 13:19]).max() < 0.01
    far = np.ones(mask.shape, bool)
    far[4:28, 4:28] = False
    far[28:56, 24:56] = False
    assert np.array_equal(out[far], rgb[far])
    # Nothing to resolve: the same pixels back.
    assert np.array_equal(soften_cutouts(rgb, np.zeros(mask.shape, bool)), rgb)


def test_only_cut_out_meshes_count(hair_rigs):
    ident, verts, au, head = _textured_identity(hair_rigs, 0)
    brows = brows_mod.build_brows(ident)
    lashes = lashes_mod.build_lashes(ident)
    meshes = [head] + brows.meshes(verts, au) + lashes.meshes(verts, au)
    cut = cutout_meshes(meshes)
    assert not cut[0] and cut[1:].all(), cut


def test_brows_and_lashes_at_224_px_lose_their_black_speckle_and_keep_their_darkness(hair_rigs):
    """A man's brows and lashes at 224 px: under the cut-out renderer a brow or lash pixel is
    either a whole strand or bare skin, and the brows read as dotted black bands; resolved, the
    isolated dark pixels (darker than their neighbourhood's mean by over 0.25) fall to under half
    as many (71 to none measured), while the mean luminance over the brows and lashes and a pixel
    round them moves by under 0.03 (0.358 to 0.368: the hair's share of the light is kept, not
    washed out)."""
    from scipy.ndimage import binary_dilation, uniform_filter

    ident, verts, au, head = _textured_identity(hair_rigs, 0)
    brows = brows_mod.build_brows(ident)
    lashes = lashes_mod.build_lashes(ident)
    dressed = brows.dress(head, verts, au)
    meshes = [dressed] + brows.meshes(verts, au) + lashes.meshes(dressed.vertices, au)
    res = render_many(meshes, [frame_camera(ident.neutral, size=224)], studio_lights(), 224)[0]
    cutout = cutout_pixels(res.triangle, meshes)
    assert cutout.sum() > 50, int(cutout.sum())
    out = soften_cutouts(res.rgb, cutout)
    near = binary_dilation(cutout, iterations=1)

    def specks(rgb):
        lum = _luminance(rgb)
        return int(((uniform_filter(lum, 3) - lum > 0.25) & near).sum())

    assert specks(out) < 0.5 * specks(res.rgb), (specks(out), specks(res.rgb))
    assert abs(_luminance(out)[near].mean() - _luminance(res.rgb)[near].mean()) < 0.03
