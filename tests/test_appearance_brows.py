"""Eyebrows as a soft mass of hairs: no hatching of parallel strokes, hairs growing up at the brow's head and outward along it."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import binary_erosion, sobel, uniform_filter
from test_appearance_hair import _luminance, _textured_identity

from painctl.appearance import brows as brows_mod
from painctl.renderer import frame_camera, render_many, studio_lights


def test_brows_at_512_px_are_not_hatched_strokes(hair_rigs):
    """Inside the brows (pixels the brows darken, at 512 px) the fine detail has no one dominant
    direction: the coherence of its structure tensor over the brows stays low (0.20 and 0.21
    measured on a woman of 73 with salt-and-pepper brows and a man; 0.29 and 0.34 when the bed's
    grain was cells stretched along x and the strands lay nearly parallel, which read as combed
    stripes; 0.26 on the woman when her dark and white strands had the young brows' 13 degrees of
    spread)."""
    for row in (0, 2):
        ident, verts, au, head = _textured_identity(hair_rigs, row)
        brows = brows_mod.build_brows(ident)
        cam = frame_camera(ident.neutral, size=512)
        res = render_many([brows.dress(head, verts, au)] + brows.meshes(verts, au), [cam], studio_lights(), 512)[0]
        plain = render_many([head], [cam], studio_lights(), 512)[0]
        lum = _luminance(res.rgb)
        inside = binary_erosion((_luminance(plain.rgb) - lum > 0.08) & res.mask, iterations=2)
        assert inside.sum() > 300, int(inside.sum())
        detail = lum - uniform_filter(lum, 7)
        gx, gy = sobel(detail, 1), sobel(detail, 0)
        jxx, jyy, jxy = (gx * gx)[inside].sum(), (gy * gy)[inside].sum(), (gx * gy)[inside].sum()
        coherence = np.sqrt((jxx - jyy) ** 2 + 4 * jxy ** 2) / (jxx + jyy)
        assert coherence < 0.26, (row, float(coherence))


def test_brow_hairs_grow_up_at_the_head_and_outward_along_the_brow(hair_rigs):
    """On the neutral face the strands near the nose point mostly up; further out they point
    outward (and, over the body, at spread angles: not parallel)."""
    ident, verts, au, _ = _textured_identity(hair_rigs, 0)
    brows = brows_mod.build_brows(ident)
    pos = brows.binding.evaluate(ident.neutral)
    root, tip = pos[brows.tangent_pairs[:, 0]], pos[brows.tangent_pairs[:, 1]]
    d = tip - root
    lm = ident.landmarks
    for side in ("left", "right"):
        inner, outer = ident.neutral[lm[f"{side}_eye_inner"], 0], ident.neutral[lm[f"{side}_eye_outer"], 0]
        sign = 1.0 if outer > inner else -1.0
        t = (root[:, 0] - inner) / (outer - inner)
        mine = (t > -0.3) & (t < 1.4)
        angle = np.degrees(np.arctan2(d[mine, 1], sign * d[mine, 0]))
        head, body = angle[t[mine] < 0.1], angle[(t[mine] > 0.35) & (t[mine] < 0.8)]
        assert len(head) > 3 and len(body) > 10
        assert np.median(head) > 50, np.median(head)                # up (and a little out) at the head
        assert -15 < np.median(body) < 35, np.median(body)          # outward along the body
        assert np.std(body) > 10, np.std(body)                      # at spread angles, not combed parallel


def _brow_contrast(hair_rigs, brows_module, row: int, age: float, skin_srgb, size: int) -> tuple[float, float]:
    """(contrast, grey) of the brows of rig row ``row``'s identity made ``age`` years old, on a flat
    unlit ``skin_srgb`` skin at ``size`` px: 1 - the median luminance of the pixels the bed covers by
    at least 0.4 (strands drawn) over the bare skin's, and the brows' recorded grey share."""
    from dataclasses import replace

    ident, verts, au, head = _textured_identity(hair_rigs, row)
    ident = replace(ident, age_years=age)
    brows = brows_module.build_brows(ident)
    head = replace(head, texture=np.tile(np.asarray(skin_srgb, np.float32), (512, 512, 1)))
    cam = frame_camera(ident.neutral, size=size)
    paint = brows.paint(512)
    cover = np.zeros((512, 512, 3), np.float32)
    cover[paint.rows, paint.cols] = paint.coverage[:, None]
    where = render_many([replace(head, texture=cover)], [cam], studio_lights(), size)[0]
    bed = (where.rgb[..., 0] > 0.4) & where.mask
    assert bed.sum() > (20 if size == 224 else 100), int(bed.sum())
    dressed = render_many([brows.dress(head, verts, au)] + brows.meshes(verts, au), [cam], studio_lights(), size)[0]
    bare = render_many([head], [cam], studio_lights(), size)[0]
    return 1.0 - np.median(_luminance(dressed.rgb)[bed]) / np.median(_luminance(bare.rgb)[bed]), brows.record()["grey"]


def test_grey_brows_keep_a_brows_contrast(hair_rigs):
    """An elderly head's brows grey later and less than its scalp, as salt-and-pepper (a share of
    white strands over a bed that stays pigmented), so they still read as brows: at 224 and 512 px
    on a light skin the bed's pixels stay well darker than the skin (1 - luminance ratio over the
    bed 0.27-0.32 measured at 88 years, 0.78-0.90 of the same heads' brows at 30; the uniform grey
    mix of every hair and the bed measured 0.12-0.21, 0.40-0.51 of the young brows), and on a dark
    skin they stay darker than it (0.23 measured; -0.38, lighter than the skin, with the uniform mix)."""
    light, dark = (0.78, 0.6, 0.5), (0.36, 0.24, 0.17)
    for row in (0, 2):  # a woman and a man
        young, young_grey = _brow_contrast(hair_rigs, brows_mod, row, 30.0, light, 224)
        assert young_grey == 0.0
        for size in (224, 512):
            old, grey = _brow_contrast(hair_rigs, brows_mod, row, 88.0, light, size)
            assert 0.2 < grey <= brows_mod.GREY_MAX, grey
            assert old > 0.22 and old > 0.7 * young, (row, size, old, young)
    contrast, _ = _brow_contrast(hair_rigs, brows_mod, 0, 88.0, dark, 224)
    assert contrast > 0.15, contrast


def test_grey_brows_are_salt_and_pepper(hair_rigs):
    """An elderly head's brow strands are white (light and neutral grey) in about the recorded
    share and pigmented (the hairs' own colour, darker) in the rest, not one uniform grey; a young
    head's are all pigmented."""
    from dataclasses import replace

    ident, _, _, _ = _textured_identity(hair_rigs, 0)
    for age, lo, hi in ((30.0, 0.0, 0.0), (88.0, 0.2, 0.6)):
        brows = brows_mod.build_brows(replace(ident, age_years=age))
        strand = brows.colours[::4]
        white = (np.ptp(strand, axis=1) < 0.06) & (strand.min(axis=1) > 0.45)
        grey = brows.record()["grey"]
        assert lo <= white.mean() <= hi and abs(white.mean() - grey) < 0.12, (age, white.mean(), grey)
        if white.any():
            assert _luminance(strand[~white]).max() < 0.6 * _luminance(strand[white]).min(), "pigmented strands as light as white ones"


def test_texture_brows_grey_less_than_the_scalp():
    """The texture stage paints an elderly head's brows darker than its (greyed) hair colour, so
    they do not show through the brows part's bed as a pale band; a young head's in its hair colour."""
    from painctl.appearance import skin
    from painctl.renderer.colour import srgb_to_linear

    pigment = np.array([0.06, 0.045, 0.035])
    for age in (30.0, 85.0):
        g = skin.hair_grey(age)
        hair = tuple(pigment * (1 - g) + np.asarray(skin.GREY_HAIR) * g)
        brow = skin.brow_colour(skin.SkinParams(0.3, 0.1, age, (0.1, 0.1, 0.1), hair, 1))
        if g == 0:
            assert np.allclose(brow, srgb_to_linear(np.asarray(hair)))
        else:
            # 85 years: hair 0.21-0.25 linear (85% grey), brows about 0.01 (a third of that grey, in shadow).
            assert (brow < 0.25 * srgb_to_linear(np.asarray(hair))).all(), (brow, hair)


def _labels(res, ident, part, painted: bool) -> np.ndarray:
    """The segmentation of a render of ``ident``'s head (mesh 0) and one part's meshes as
    render-views makes it: skin and lips on the head, the part's label on its meshes and, when
    ``painted``, where its hair painted into the skin lies."""
    from painctl.appearance import segmentation as seg

    head_faces = len(ident.faces)
    table = np.full(int(res.triangle.max()) + 1, seg.label_id(part.label), np.uint8)
    table[:head_faces] = seg.LABELS.index("skin")
    labels = seg.refine_lips(seg.segmentation(res.triangle, table), res.triangle, res.barycentric, ident.faces,
                             seg.lip_weights(ident.neutral, ident.regions))
    return seg.refine_skin(labels, res.triangle, res.barycentric, head_faces, [part]) if painted else labels


def test_the_segmentation_labels_the_whole_brow_and_it_moves_down_with_au4(hair_rigs):
    """The brows class is the brow, its painted bed with the strands over it, not only the strand
    cards: at 224 px it holds 0.87 and 0.95 of the pixels the brows darken (neutral, AU4 = 5;
    0.31 and 0.25 when only the cards were labelled), and 0.94 and 0.89 of it is darkened."""
    from painctl.appearance.segmentation import LABELS

    brow = LABELS.index("brows")
    heights = []
    for row in (0, 1):  # neutral, AU4 = 5 of the same man
        ident, verts, au, head = _textured_identity(hair_rigs, row)
        brows = brows_mod.build_brows(ident)
        cam = frame_camera(ident.neutral, size=224)
        res = render_many([brows.dress(head, verts, au)] + brows.meshes(verts, au), [cam], studio_lights(), 224)[0]
        plain = render_many([head], [cam], studio_lights(), 224)[0]
        darkened = (_luminance(plain.rgb) - _luminance(res.rgb) > 0.08) & res.mask
        cards_only = _labels(res, ident, brows, False) == brow
        labels = _labels(res, ident, brows, True) == brow
        assert darkened.sum() > 100
        assert labels[darkened].mean() > 0.8 > cards_only[darkened].mean() + 0.2, (labels[darkened].mean(), cards_only[darkened].mean())
        # The class is the brow, not a box round it: most of it is darkened by the brows.
        assert (labels & darkened).sum() > 0.5 * labels.sum()
        heights.append(np.nonzero(labels)[0].mean())
    assert au[0] == 5 and heights[1] > heights[0] + 1.0, heights
