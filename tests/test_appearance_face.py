"""The face parts' effects: teeth behind a raised upper lip, AU-driven wrinkles, eyes in real proportions."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from tests.conftest import cli  # noqa: F401  (also re-exported to the modules that reuse these fixtures)


@pytest.fixture(scope="module")
def rigs(tmp_path_factory) -> dict[str, Path]:
    """Two identities, each as a neutral face and one single-AU face at FACS 5 (AU4, AU10)."""
    root = tmp_path_factory.mktemp("face")
    heads = root / "heads"
    cli("-q", "sample-mesh", "-n", "2", "--seed", "3", str(heads))
    out = {}
    for au in ("AU4", "AU10"):
        out[au] = root / au
        cli("-q", "rig", "--au", f"{au}=5", str(heads), str(out[au]))
    return out


def _rows(rig: Path) -> dict[str, np.ndarray]:
    with h5py.File(rig / "data.h5") as f:
        return {k: f[k][()] for k in ("vertices", "faces", "au", "is_neutral", "age_years", "uv", "uv_faces")}


def _identity(anny_model, rows, row: int, seed: int = 0):
    from painctl.appearance import Identity

    return Identity(index=row // 2, seed=seed, neutral=rows["vertices"][row], faces=rows["faces"], regions=anny_model.region_vertices(),
                    landmarks=anny_model.landmarks(), uv=rows["uv"], uv_faces=rows["uv_faces"], age_years=float(rows["age_years"][row]))


def test_teeth_show_in_the_mouth_at_au10_and_not_at_neutral(anny_model, rigs):
    from painctl.appearance.mouth import build_mouth
    from painctl.renderer import Mesh, face_offsets, frame_camera, mesh_index, render_many, studio_lights

    rows = _rows(rigs["AU10"])
    for row in np.flatnonzero(rows["is_neutral"]):
        mouth = build_mouth(_identity(anny_model, rows, row))
        camera = frame_camera(rows["vertices"][row], size=224)
        shown = []
        for j in (row, row + 1):
            meshes = [Mesh(rows["vertices"][j], rows["faces"])] + mouth.meshes(rows["vertices"][j], rows["au"][j])
            result = render_many(meshes, [camera], studio_lights(), 224)[0]
            teeth = mesh_index(result.triangle, face_offsets(meshes)) >= 1
            shown.append(teeth)
        neutral, raised = shown
        # Measured on 6 balanced identities at 224 px: 69-152 teeth pixels at AU10 = 5, 0-20 at
        # neutral (where anny's lips leave a sub-pixel seam).
        assert raised.sum() >= 50 and raised.sum() >= 4 * neutral.sum()
        # The teeth are seen between the lips: inside the box of the mouth corners and lips.
        lm = anny_model.landmarks()
        ys, xs = np.nonzero(raised)
        pts = rows["vertices"][row + 1][[lm["mouth_left"], lm["mouth_right"], lm["upper_lip"], lm["lower_lip"]]]
        px = _project(camera, pts, 224)
        assert px[1, 0] - 2 <= xs.min() and xs.max() <= px[0, 0] + 2
        assert px[2, 1] - 3 <= ys.min() and ys.max() <= px[3, 1] + 3


def _project(camera, points: np.ndarray, size: int) -> np.ndarray:
    cam = (points - camera.position()) @ camera.rotation().T
    focal = camera.focal_pixels(size)
    return np.stack([cam[:, 0] / -cam[:, 2] * focal + size / 2, size / 2 - cam[:, 1] / -cam[:, 2] * focal], 1)


def _glabella_contrast(image: np.ndarray, box) -> float:
    """Local contrast (std of luminance minus its 5x5 mean) in ``box`` = (x0, y0, x1, y1) pixels."""
    from scipy.ndimage import uniform_filter

    lum = image @ np.array([0.2126, 0.7152, 0.0722])
    detail = lum - uniform_filter(lum, 5)
    x0, y0, x1, y1 = box
    return float(detail[y0:y1, x0:x1].std())


def _room_lighting(window_side: int):
    """A room's lighting (key from the window side, fill, image-based light), as render-views draws it."""
    from painctl.appearance import lighting, scene
    from painctl.seeding import rng_for

    from dataclasses import replace

    room = replace(scene.draw_room(rng_for(0, scene.STREAM, 0)), window_side=window_side)
    return lighting.draw_lighting(rng_for(0, lighting.STREAM, 0), room)


@pytest.mark.parametrize("light", ["studio", "room"])
def test_wrinkles_raise_contrast_between_the_brows_with_au4_not_with_au10(anny_model, rigs, light):
    """Under the studio rig and under a room's key, fill and image-based light alike (render-views
    hands the part the lighting its frames are rendered with)."""
    from painctl.appearance.wrinkles import build_wrinkles
    from painctl.renderer import Mesh, frame_camera, render_many, studio_lights

    size = 256
    texture = np.tile(np.array([0.78, 0.6, 0.5], np.float32), (512, 512, 1))  # a flat skin: only wrinkles make detail
    lm = anny_model.landmarks()
    lighting = _room_lighting(-1) if light == "room" else None
    gain = {}
    for au, rig in rigs.items():
        rows = _rows(rig)
        row = int(np.flatnonzero(rows["is_neutral"])[0])
        ident = _identity(anny_model, rows, row)
        part = build_wrinkles(type(ident)(**{**ident.__dict__, "lighting": lighting}))
        camera = frame_camera(rows["vertices"][row], size=size)
        verts = rows["vertices"][row + 1]
        head = Mesh(verts, rows["faces"], uv=rows["uv"], uv_faces=rows["uv_faces"], texture=texture, shading=False)
        plain, dressed = (render_many([m], [camera], studio_lights(), size)[0].rgb for m in (head, part.dress(head, verts, rows["au"][row + 1])))
        brows = _project(camera, verts[[lm["left_brow"], lm["right_brow"], lm["left_eye_inner"], lm["right_eye_inner"]]], size)
        x0, x1 = sorted((brows[2, 0], brows[3, 0]))
        box = (int(x0), int(brows[:2, 1].min() - 6), int(x1), int(brows[2:, 1].max()))
        gain[au] = _glabella_contrast(dressed, box) - _glabella_contrast(plain, box)
        if au == "AU10":
            # AU10 weights the nasolabial fold only: nothing changes between the brows.
            assert np.array_equal(plain[box[1]:box[3], box[0]:box[2]], dressed[box[1]:box[3], box[0]:box[2]])
    assert gain["AU4"] > 0.004  # of full scale: furrows a few grey levels deep at 256 px
    assert gain["AU10"] == 0.0


def test_wrinkles_are_shaded_by_the_frames_lighting(anny_model, rigs):
    """The furrows are lit from where the room's key light is: a room lit from the other side
    shades them the other way (the bake is not the studio rig's whatever the lights)."""
    from painctl.appearance.wrinkles import build_wrinkles
    from painctl.renderer import Mesh

    rows = _rows(rigs["AU4"])
    texture = np.tile(np.array([0.78, 0.6, 0.5], np.float32), (512, 512, 1))
    verts = rows["vertices"][1]
    head = Mesh(verts, rows["faces"], uv=rows["uv"], uv_faces=rows["uv_faces"], texture=texture, shading=False)
    ident = _identity(anny_model, rows, 0)
    baked = {}
    for name, lighting in (("studio", None), ("left", _room_lighting(-1)), ("right", _room_lighting(1))):
        part = build_wrinkles(type(ident)(**{**ident.__dict__, "lighting": lighting}))
        baked[name] = part.dress(head, verts, rows["au"][1]).texture
    changed = lambda a, b: np.abs(a - b).max()  # noqa: E731
    assert changed(baked["left"], baked["right"]) > 0.02
    assert changed(baked["left"], baked["studio"]) > 0.01 and changed(baked["right"], baked["studio"]) > 0.01


def test_wrinkles_and_teeth_follow_the_seed(anny_model, rigs):
    from painctl.appearance import build_parts

    rows = _rows(rigs["AU4"])
    texture = np.tile(np.array([0.7, 0.55, 0.45], np.float32), (256, 256, 1))
    from painctl.renderer import Mesh

    def draw(seed: int):
        parts = {p.name: p for p in build_parts(_identity(anny_model, rows, 0, seed=seed)) if p.name in ("mouth", "wrinkles")}
        head = Mesh(rows["vertices"][1], rows["faces"], uv=rows["uv"], uv_faces=rows["uv_faces"], texture=texture, shading=False)
        for part in parts.values():
            head = part.dress(head, rows["vertices"][1], rows["au"][1])
        teeth = parts["mouth"].meshes(rows["vertices"][1], rows["au"][1])
        return head.texture, [t.vertex_colors for t in teeth], {k: p.record() for k, p in parts.items()}

    a, b, c = draw(0), draw(0), draw(7)
    assert np.array_equal(a[0], b[0]) and all(np.array_equal(x, y) for x, y in zip(a[1], b[1])) and a[2] == b[2]
    assert a[2] != c[2] or not np.array_equal(a[0], c[0])


def test_eyes_have_real_proportions_and_an_off_white_sclera(anny_model):
    """On a frontal unlit render of the painted skin: the iris takes the share of the visible eye a
    real one does, and the sclera is off-white, not paper white.

    Adults have an iris of 11.7 mm (11.0-12.5) in a palpebral fissure about 30 mm long and 10 mm
    high (Farkas' norms); the upper lid covers 1-2 mm of the iris, the lower lid meets its lower
    edge. So the iris is about 0.3-0.45 of the visible eye's area and 0.35-0.45 of its width. The
    old painting (a 12.4 mm iris in anny's 22-26 mm fissures) filled 0.55-0.6 of it: doll eyes.
    """
    from painctl.renderer import Mesh, frame_camera, render
    from painctl.appearance.skin import face_atlas, skin_maps, skin_params

    m = anny_model
    names = list(m.phenotype_names)
    regions, lm = m.region_vertices(), m.landmarks()
    for k, (gender, ethnicity, age) in enumerate((("female", "caucasian", 30.0), ("male", "african", 60.0))):
        pheno = m.sample_phenotype(np.random.default_rng(k), age, gender, ethnicity)
        verts = m.neutral(pheno[None])[0]
        uv, uvf = face_atlas(m.faces, m.uv, m.uv_faces, regions)
        params = skin_params(names, pheno, age, 0, k)
        maps = skin_maps(verts, m.faces, uv, uvf, regions, lm, params, 512)
        size = 512
        camera = frame_camera(verts, size=size)
        result = render(Mesh(verts, m.faces, uv=uv, uv_faces=uvf, texture=maps.albedo), camera, [], size, shading=False)
        for side in ("left", "right"):
            member = np.zeros(len(verts), bool)
            member[regions[f"{side}_eye"]] = True
            eye_faces = np.flatnonzero(member[m.faces].all(1))
            eye = np.isin(result.triangle, eye_faces)
            lum = result.rgb[eye] @ np.array([0.2126, 0.7152, 0.0722])
            sclera_level = np.percentile(lum, 90)
            iris = lum < 0.55 * sclera_level
            # 0.26-0.27 on these heads since the face has its own atlas island (0.5 mm texels):
            # the same 11.7 mm iris, drawn sharper, thresholds to a smaller share than when blurred.
            assert 0.25 <= iris.mean() <= 0.5, (side, iris.mean())
            ys, xs = np.nonzero(eye)
            iris_xs = xs[iris]
            width = np.percentile(iris_xs, 99) - np.percentile(iris_xs, 1)
            assert 0.33 <= width / np.ptp(xs) <= 0.5
            # Off-white: clearly brighter than the iris, but not paper white.
            assert 0.6 <= sclera_level <= 0.9


def _eye_pixels(vertices, faces, eyes_mask, yaws=(0,)):
    from painctl.renderer import Mesh, frame_camera, render, studio_lights

    count = 0
    for yaw in yaws:
        r = render(Mesh(vertices, faces), frame_camera(vertices, yaw=yaw), studio_lights(), 192)
        count += int(eyes_mask[r.triangle[r.triangle >= 0]].sum())
    return count


def test_eyelids_open_the_eyes_at_rest_and_leave_closed_eyes_closed(anny_model):
    """The lid lift shows more eyeball on the neutral face (anny's lids rest low), leaves a closed
    eye (AU43 = 1, the rig's lid contact) exactly as the rig made it, lifts a narrowed eye (AU7)
    less than an open one, and pushes no skin through skin around the eyes."""
    from painctl.appearance import Identity
    from painctl.appearance.eyelids import LIFT, build_eyelids
    from painctl.rigging.deform import DirectRig
    from painctl.rigging.validation import self_intersections

    rig = DirectRig.for_model(anny_model)
    regions, lm, faces = anny_model.region_vertices(), anny_model.landmarks(), anny_model.faces
    member = np.zeros(anny_model.vertex_count, bool)
    member[np.concatenate([regions["left_eye"], regions["right_eye"]])] = True
    eyes = member[faces].all(1)
    rng = np.random.default_rng(0)
    for age, gender, eth in ((20, "female", "african"), (85, "male", "asian")):
        neutral = anny_model.neutral(anny_model.sample_phenotype(rng, age, gender, eth)[None])[0]
        lids = build_eyelids(Identity(index=0, seed=0, neutral=neutral, faces=faces, regions=regions, landmarks=lm))
        opened = lids.open(neutral)
        gap = lambda v: np.linalg.norm(v[lm["left_upper_lid"]] - v[lm["left_lower_lid"]])  # noqa: E731
        assert gap(opened) == pytest.approx(gap(neutral) * (1 + LIFT), rel=0.2)
        before, after = _eye_pixels(neutral, faces, eyes, (0, -30, 30)), _eye_pixels(opened, faces, eyes, (0, -30, 30))
        # Measured on these two heads: 15-25% more eyeball pixels over the three views.
        assert after > 1.1 * before, (before, after)
        au = np.array([[0, 0, 0, 0, 0, 1.0], [5, 5, 5, 5, 5, 1.0], [0, 0, 5, 0, 0, 0], [0, 5, 0, 0, 0, 0]])
        closed, closed_all, narrowed, cheek = rig.deform(neutral, au, au)
        for face in (closed, closed_all):
            assert np.array_equal(lids.open(face, 1.0), face.astype(np.float32))
            assert _eye_pixels(lids.open(face, 1.0), faces, eyes) == 0
        # On the way to closure (AU43 = 0.6, a --sequence frame) the lift is a fraction of the open eye's.
        halfway = rig.deform(neutral, au[:1] * 0.6, au[:1] * 0.6)[0]
        assert 0 <= lids.open(halfway, 0.6)[lm["left_upper_lid"], 1] - halfway[lm["left_upper_lid"], 1] < 0.4 * LIFT * gap(neutral)
        lift = lambda v: lids.open(v)[lm["left_upper_lid"], 1] - v[lm["left_upper_lid"], 1]  # noqa: E731
        assert 0 <= lift(narrowed) < lift(neutral)
        near = np.min([np.linalg.norm(neutral - neutral[regions[s]].mean(0), axis=1) for s in ("left_eye", "right_eye")], axis=0) < 0.03
        for name in ("left_eye", "right_eye", "left_eye_socket", "right_eye_socket"):
            near[regions[name]] = False
        skin = faces[near[faces].all(1)]
        for face in (neutral, narrowed, cheek):
            assert self_intersections(lids.open(face), skin) == self_intersections(face, skin) == 0


def _lash_heads(anny_model):
    """Two test heads (neutral, AU43 = 1 as the rig closes them) with their drawn lids and lashes."""
    from painctl.appearance import Identity
    from painctl.appearance.eyelids import build_eyelids
    from painctl.appearance.lashes import build_lashes
    from painctl.rigging.deform import DirectRig

    rig = DirectRig.for_model(anny_model)
    regions, lm, faces = anny_model.region_vertices(), anny_model.landmarks(), anny_model.faces
    rng = np.random.default_rng(0)
    for age, gender, eth in ((20, "female", "african"), (85, "male", "asian")):
        neutral = anny_model.neutral(anny_model.sample_phenotype(rng, age, gender, eth)[None])[0]
        ident = Identity(index=0, seed=0, neutral=neutral, faces=faces, regions=regions, landmarks=lm, gender=gender, age_years=age)
        closed = rig.deform(neutral, np.array([[0, 0, 0, 0, 0, 1.0]]), np.array([[0, 0, 0, 0, 0, 1.0]]))[0]
        yield ident, build_eyelids(ident), build_lashes(ident), neutral, closed


def _lash_render(ident, lids, lashes, vertices, au43: float, yaw: float, size: int = 512, au=None, triangles: bool = False):
    """Render the drawn head with its lashes; return (the camera, per pixel: which mesh, 0 the head,
    1 the lash cards, 2 the closed fissure's line) and, with ``triangles``, the pixels' triangle ids."""
    from painctl.renderer import Mesh, face_offsets, frame_camera, mesh_index, render_many, studio_lights

    au = np.array([0, 0, 0, 0, 0, au43]) if au is None else np.asarray(au, float)
    drawn = lids.open(vertices, au43)
    head = Mesh(drawn, ident.faces)
    meshes = [lashes.dress(head, drawn, au)] + lashes.meshes(drawn, au)
    cam = frame_camera(ident.neutral, yaw=yaw, size=size)
    tri = render_many(meshes, [cam], studio_lights(), size)[0].triangle
    which = mesh_index(tri, face_offsets(meshes))
    return (cam, drawn, which, tri) if triangles else (cam, drawn, which)


def _lash_gap_above_the_eyeball(ident, lashes, cam, drawn, which, tri, size: int = 512) -> list[np.ndarray]:
    """Per eye, over the middle 60% of the columns between its corners: the rows of head pixels
    between the topmost eyeball pixel and the lowest lash pixel above it (0: the lashes touch the
    eyeball; -1: no lash pixel above it in that column)."""
    lm = ident.landmarks
    ball = np.zeros(len(drawn), bool)
    for side in ("left", "right"):
        ball[ident.regions[f"{side}_eye"]] = True
    eye_tri = np.zeros(len(ident.faces) + 1, bool)
    eye_tri[:-1] = ball[ident.faces].all(axis=1)
    on_ball = (which == 0) & eye_tri[np.where(which == 0, tri, len(ident.faces))]
    gaps = []
    for side in ("left", "right"):
        inner, outer = _project(cam, drawn[[lm[f"{side}_eye_inner"], lm[f"{side}_eye_outer"]]], size)
        lo, hi = sorted((inner[0], outer[0]))
        cols = np.arange(int(lo + 0.2 * (hi - lo)), int(hi - 0.2 * (hi - lo)) + 1)
        out = []
        for c in cols:
            rows = np.flatnonzero(on_ball[:, c])
            if len(rows) == 0:
                continue
            top = rows[0]
            lash = np.flatnonzero(which[:top, c] == 1)
            out.append(top - 1 - lash[-1] if len(lash) else -1)
        gaps.append(np.array(out))
    return gaps


def _distance_to_polyline(points: np.ndarray, line: np.ndarray) -> np.ndarray:
    a, b = line[:-1], line[1:]
    ab = b - a
    t = np.clip(((points[:, None] - a[None]) * ab[None]).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-9)[None], 0, 1)
    return np.linalg.norm(points[:, None] - (a[None] + t[..., None] * ab[None]), axis=-1).min(1)


def test_no_lash_sticks_out_beside_the_inner_eye_corner(anny_model):
    """Lashes follow the lid margin and grow none on its lacrimal part: in the frontal view at
    512 px, no lash pixel near the inner corner (the inner tenth of the corners' span) lies more
    than 2 px off the margin. anny's upper margin climbs steeply from the inner corner, and lashes
    there drew a dark stroke beside it: 9.3 and 4.1 px off on these heads before (side views 10.6 and
    5.8 px). Not asserted in the side views: there the forward-pointing lashes of the inner third of
    the far eye's lid still project up to 10 px over its corner on the long-lashed head (issue 14)."""
    lm = anny_model.landmarks()
    for ident, lids, lashes, neutral, _ in _lash_heads(anny_model):
        for yaw in (0,):
            cam, drawn, which = _lash_render(ident, lids, lashes, neutral, 0.0, yaw)
            ys, xs = np.nonzero(which == 1)
            pix = np.column_stack([xs, ys]).astype(float)
            root = lashes.roots(drawn)
            for eye, side in enumerate(("left", "right")):
                inner, outer = _project(cam, drawn[[lm[f"{side}_eye_inner"], lm[f"{side}_eye_outer"]]], 512)
                axis = outer - inner
                t = (pix - inner) @ axis / (axis @ axis)
                off = np.abs((pix - inner) @ np.array([-axis[1], axis[0]])) / np.linalg.norm(axis)
                zone = (t > -0.3) & (t < 0.1) & (off < 0.6 * np.linalg.norm(axis))
                margin = [_project(cam, root[lashes.lids[0::2] == lid], 512) for lid in (2 * eye, 2 * eye + 1)]
                far = np.minimum(*(_distance_to_polyline(pix[zone], m) for m in margin)) if zone.any() else np.zeros(0)
                assert (far <= 2.0).all(), f"{side} eye, yaw {yaw}: a lash pixel {far.max():.1f} px off the margin by the inner corner"


def test_upper_lashes_draw_a_line_along_the_open_upper_lid(anny_model):
    """The open eye shows its upper lashes: in the frontal view at 512 px, each eye has at least 30
    lash pixels within 4 px of its projected upper roots, over at least half the image columns the
    lashed part of the lid spans. With the roots a fixed 3.2 mm in front of anny's margin the
    upper lid's skin hid them: 0 such pixels on the elderly Asian head, 12 per eye on the other
    (issue 14); roots in front of the frontmost skin over them draw 50-105."""
    for ident, lids, lashes, neutral, _ in _lash_heads(anny_model):
        cam, drawn, which = _lash_render(ident, lids, lashes, neutral, 0.0, 0)
        ys, xs = np.nonzero(which == 1)
        pix = np.column_stack([xs, ys]).astype(float)
        root = lashes.roots(drawn)
        lashed = np.linalg.norm(lashes.binding.evaluate(drawn)[1::2] - lashes.binding.evaluate(drawn)[0::2], axis=1) > 1e-4
        for eye in range(2):
            upper = (lashes.lids[0::2] == 2 * eye) & lashed
            r = _project(cam, root[upper], 512)
            near = np.linalg.norm(pix[:, None] - r[None], axis=-1).min(1) <= 4.0
            columns = np.arange(int(r[:, 0].min()), int(r[:, 0].max()) + 1)
            covered = np.isin(columns, np.round(pix[near, 0]).astype(int)).mean()
            assert near.sum() >= 30 and covered >= 0.5, f"eye {eye}: {near.sum()} upper lash pixels along the lid over {covered:.2f} of its columns"


def test_upper_lashes_grow_from_the_lid_edge_the_camera_sees(anny_model):
    """No band of lid skin between the upper lashes and the eyeball: in the frontal view at 512 px,
    in nearly every column over the middle of the lid the lowest lash pixel above the eyeball is
    within 1 px of its topmost pixel. With the roots on anny's margin (inside the lid, 1-3 mm above
    the edge the camera sees) 2-6 rows of skin showed between them (a false-eyelash strip, issue 14)."""
    for ident, lids, lashes, neutral, _ in _lash_heads(anny_model):
        cam, drawn, which, tri = _lash_render(ident, lids, lashes, neutral, 0.0, 0, triangles=True)
        for eye, gap in enumerate(_lash_gap_above_the_eyeball(ident, lashes, cam, drawn, which, tri)):
            assert len(gap) >= 10
            touching = ((gap >= 0) & (gap <= 1)).mean()
            assert touching >= 0.9, f"eye {eye}: lashes within 1 px of the eyeball over {touching:.2f} of the lid's columns (gaps {gap.tolist()})"


def test_upper_lashes_show_in_front_of_the_brow_fold_at_au4(anny_model):
    """At AU4 = 5 the brow's fold comes down over the upper lid; the lashes stay in front of it: in
    the frontal view at 512 px, over nearly every column of the middle of the lid a lash pixel lies
    within 2 px above the eyeball. With the roots fixed at build time behind the fold's skin the
    lash line vanished there (FaceMesh then read the eye 16% narrower at AU4 = 5, issue 15)."""
    from painctl.rigging.deform import DirectRig

    rig = DirectRig.for_model(anny_model)
    au = np.array([[5.0, 0, 0, 0, 0, 0]])
    for ident, lids, lashes, neutral, _ in _lash_heads(anny_model):
        frown = rig.deform(neutral, au, au)[0]
        cam, drawn, which, tri = _lash_render(ident, lids, lashes, frown, 0.0, 0, au=au[0], triangles=True)
        for eye, gap in enumerate(_lash_gap_above_the_eyeball(ident, lashes, cam, drawn, which, tri)):
            assert len(gap) >= 10
            seen = ((gap >= 0) & (gap <= 2)).mean()
            assert seen >= 0.9, f"eye {eye}: at AU4 = 5 lashes within 2 px of the eyeball over {seen:.2f} of the lid's columns (gaps {gap.tolist()})"


def test_the_upper_lash_fringe_fades_from_a_dark_root_line_towards_the_skin(anny_model):
    """A soft fringe, not a black comb: in the frontal view at 512 px, over the middle of each upper
    lid, the lash pixels furthest from the eyeball (the tips) are lighter than those by it (the root
    line), and the root line is dark. Untinted cut-out cards drew tips as black as the roots (0.032
    both on the first head)."""
    from painctl.renderer import Mesh, face_offsets, frame_camera, mesh_index, render_many, studio_lights

    for ident, lids, lashes, neutral, _ in _lash_heads(anny_model):
        drawn = lids.open(neutral, 0.0)
        au = np.zeros(6)
        head = Mesh(drawn, ident.faces, vertex_colors=np.tile([0.8, 0.62, 0.52], (len(drawn), 1)))
        meshes = [lashes.dress(head, drawn, au)] + lashes.meshes(drawn, au)
        cam = frame_camera(ident.neutral, size=512)
        res = render_many(meshes, [cam], studio_lights(), 512)[0]
        which = mesh_index(res.triangle, face_offsets(meshes))
        lum = res.rgb @ np.array([0.2126, 0.7152, 0.0722])
        lm = ident.landmarks
        for side in ("left", "right"):
            inner, outer, upper = _project(cam, drawn[[lm[f"{side}_eye_inner"], lm[f"{side}_eye_outer"], lm[f"{side}_upper_lid"]]], 512)
            lo, hi = sorted((inner[0], outer[0]))
            root, tip = [], []
            for c in range(int(lo + 0.3 * (hi - lo)), int(hi - 0.3 * (hi - lo)) + 1):
                rows = np.flatnonzero(which[int(upper[1]) - 20:int(upper[1]) + 6, c] == 1)
                if len(rows) >= 3:
                    col = lum[int(upper[1]) - 20:int(upper[1]) + 6, c]
                    root.append(col[rows[-1]])
                    tip.append(col[rows[0]])
            assert len(root) >= 10
            # Measured with the eyelids part's lift at 0.25: roots 0.065-0.07, tips 1.4-1.8 times as light
            # (0.09-0.13; 0.032 both before the tint); at 0.35, which turns the lashes further up with the
            # lid, down to 1.24 times (0.045 and 0.056) on one eye.
            assert np.median(root) < 0.15 and np.median(tip) > 1.15 * np.median(root), (side, np.median(root), np.median(tip))
