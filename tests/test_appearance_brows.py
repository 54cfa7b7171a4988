"""Eyebrows as a soft mass of hairs: no hatching of parallel strokes, hairs growing up at the brow's head and outward along it."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import binary_erosion, sobel, uniform_filter
from test_appearance_hair import _luminance, _textured_identity

from painctl.appearance import brows as brows_mod
from painctl.renderer import frame_camera, render_many, studio_lights


def test_brows_at_512_px_are_not_hatched_strokes(hair_rigs):
    """Inside the brows (pixels the brows darken, at 512 px) the fine detail has no one dominant
    direction: the coherence of its structure tensor over the brows stays low (0.22 and 0.21
    measured on a woman and a man; 0.29 and 0.34 when the bed's grain was cells stretched along x
    and the strands lay nearly parallel, which read as combed stripes)."""
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
