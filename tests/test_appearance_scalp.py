"""Scalp hair as it reads at 224-512 px: a hairline that thins into the skin in locks and gaps,
grey hair that reads as a mass, not stripes, a soft outline without a halo of spikes; and the
refined hairline triangles it needs."""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage

from painctl.appearance import hair as hair_mod
from painctl.renderer import Mesh, face_offsets, frame_camera, mesh_index, render_many, studio_lights

from test_appearance_hair import _identity, _luminance, _project


def _render(ident, verts, au, style: str, size: int = 512):
    """(hair mask (H,W) bool, rgb (H,W,3), the brow's row) of a frontal untextured render of ``style``."""
    hair = hair_mod.build_hair(ident, style=style)
    meshes = [Mesh(verts, ident.faces)] + hair.meshes(verts, au)
    cam = frame_camera(verts, size=size)
    res = render_many(meshes, [cam], studio_lights(), size)[0]
    brow = int(_project(cam, verts[[ident.landmarks["left_brow"]]], size)[0, 1])
    return mesh_index(res.triangle, face_offsets(meshes)) >= 1, res.rgb, brow


def measure_hairline_breaks(root) -> list[float]:
    """Per test head, the hair/skin changes per image column across the middle of a close crop's
    forehead (512 px, from the crown's first hair row down to the brows): 1 where the hair ends
    in one cut, more where locks reach down between gaps of skin."""
    out = []
    for row in (0, 2):
        hair, _, brow = _render(*_identity(root / "au4", row), "close_crop")
        hair = hair[:brow - 4]
        cols = np.nonzero(hair.any(axis=0))[0]
        lo, hi = np.percentile(cols, [35, 65]).astype(int)
        changes = [int(np.abs(np.diff(hair[:, c].astype(int))).sum()) for c in range(lo, hi)]
        out.append(float(np.mean(changes)))
    return out


def test_the_hairline_ends_in_locks_and_gaps_not_one_cut(hair_rigs):
    """The strand textures are mipmapped, so a smooth coverage cut the hairline in one line, however
    ragged the strands (at 512 px 6.4 and 3.9 hair/skin changes per column on the two test heads);
    refined triangles and tufted coverage end it in locks and gaps (9.1 and 6.9 measured)."""
    breaks = measure_hairline_breaks(hair_rigs)
    assert np.mean(breaks) > 6.5, breaks


def measure_stripes(root) -> list[float]:
    """Per test head made 80 years old (grey), the contrast of the stripes across medium hair's
    crown in a 512 px frontal render: the spread of luminance minus its 9 px running mean along
    each row, over the mean luminance, in a window of hair above the forehead."""
    out = []
    for row in (0, 2):
        ident, verts, au = _identity(root / "au4", row)
        hair, rgb, brow = _render(dataclasses.replace(ident, age_years=80.0), verts, au, "medium")
        nose = int(_project(frame_camera(verts, size=512), verts[[ident.landmarks["nose_tip"]]], 512)[0, 0])
        cols = slice(nose - 40, nose + 40)
        top = int(np.argmax(hair[:, cols].mean(axis=1) > 0.95))  # below the wisps, where the hair is solid
        window = (slice(top + 5, top + 35), cols)
        assert hair[window].mean() > 0.97, hair[window].mean()
        lum = _luminance(rgb[window])
        high = lum - ndimage.uniform_filter1d(lum, 9, axis=1)
        out.append(float(high.std() / lum.mean()))
    return out


def test_grey_hair_reads_as_a_mass_not_stripes(hair_rigs):
    """Grey medium hair's crown at 512 px: its stripe contrast is 0.120 and 0.063 on the two test
    heads (0.179 and 0.097 when locks differed in greying by a log-sd of 0.6 and the inner layers
    were as dark under white hair as under black, so every parting drew a dark line crown to tip)."""
    stripes = measure_stripes(hair_rigs)
    assert np.mean(stripes) < 0.115, stripes


def test_refined_hairline_triangles_leave_no_cracks_and_follow_the_head(hair_rigs):
    """The hairline's split triangles share their new edges with their neighbours (no T-junction
    for the skin to show through), cover the same surface, and their points follow the head's
    vertices by their fixed weights."""
    ident, verts, _ = _identity(hair_rigs / "au4", 2)
    head = ident.neutral.astype(np.float64)
    cover = lambda p, on: hair_mod._smoothstep(-0.01, 0.01, p[:, 1] - (head[:, 1].max() - 0.06)) * on
    points, faces, on_skin, bind, _ = hair_mod.refine_hairline(head, ident.faces, ident.regions["skin"], cover)
    assert len(faces) > len(ident.faces) + 500 and len(points) > len(head)

    def edge_counts(f):
        e = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
        return np.unique(e, axis=0, return_counts=True)[1]

    def area(p, f):
        return 0.5 * np.linalg.norm(np.cross(p[f[:, 1]] - p[f[:, 0]], p[f[:, 2]] - p[f[:, 0]]), axis=1).sum()

    before, after = edge_counts(np.asarray(ident.faces)), edge_counts(faces)
    assert after.max() <= before.max() and (after == 1).sum() == (before == 1).sum()  # no new open edges
    assert abs(area(points, faces) - area(head, ident.faces)) < 1e-9
    np.testing.assert_allclose(bind @ head, points, atol=1e-6)
    np.testing.assert_allclose(bind @ verts, bind @ verts.astype(np.float64), atol=1e-6)
    moved = verts + np.float32(0.01)
    np.testing.assert_allclose(bind @ moved - bind @ verts, 0.01, atol=1e-5)


def measure_halo(root) -> int:
    """Over short, curly and medium hair on both test heads (512 px frontal renders), the hair
    pixels beyond the head that stand more than 5 px off the hair's solid mass (what an opening
    of radius 2 px keeps): wisps and strands sticking out of the outline."""
    total = 0
    for style in ("short", "curly", "medium"):
        for row in (0, 2):
            ident, verts, au = _identity(root / "au4", row)
            hair, _, brow = _render(ident, verts, au, style)
            head = render_many([Mesh(verts, ident.faces)], [frame_camera(verts, size=512)], studio_lights(), 512)[0].alpha > 0
            solid = ndimage.binary_opening(hair, structure=np.ones((5, 5), bool))
            # Against the background only (the hairline's locks on the forehead are not outline).
            off = ndimage.distance_transform_edt(~solid)[:brow][(hair & ~head)[:brow]]
            total += int((off > 5).sum())
    return total


def test_the_outline_is_soft_not_a_halo_of_spikes(hair_rigs):
    """Flyaways lie along the outline: 482 hair pixels stand more than 5 px off the solid mass over
    the six renders (847 when wisps were rooted a centimetre inside thick hair, climbed radially
    through its sparse outer layers and left it at up to 17 degrees: a halo of pen strokes)."""
    halo = measure_halo(hair_rigs)
    assert halo < 650, halo
