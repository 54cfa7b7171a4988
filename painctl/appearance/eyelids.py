"""A wider eye opening at rest: the upper lids turned up over the eyeball, fading out as the eyes close.

anny's neutral lids rest low: its palpebral fissure is 7.5-9 mm tall, where adults' open eyes
measure 9-11 mm, and a face landmarker trained on photographs reads the neutral faces as
squinting. This part turns each upper lid up about the eyeball's centre (a rotation, as the
levator lifts the lid, so the lid margin slides over the eyeball instead of leaving it), by
:data:`LIFT` of the neutral lid gap at the middle of the lid, fading to nothing at the eye corners
and over about :data:`REACH_M` of lid skin above the margin.

The lift is scaled in every frame by how open the eye is in the rig (:func:`open_fraction`: the
vertical lid gap over the neutral gap, zero below :data:`CLOSED_BELOW`) and by 1 - AU43, so a
closed eye (AU43 = 1) is exactly the rig's, lids in contact (the gap alone cannot say so: a closed
upper lid can hang over the front of the lower one with its landmark 3 mm above the other's),
and a narrowed eye (AU6, AU7) keeps its share of the narrowing. Only what is drawn changes: the rig's vertices, and so the heatmaps and labels, are
the rig's own. Parts drawn on the head (the lashes) are bound to the lids as drawn.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from painctl.appearance.parts import Identity, Part, register

#: Lift of the upper lid's middle, as a fraction of the neutral lid gap (8 mm: 2.8 mm; open adult eyes
#: measure 9.7 +- 1.2 mm, Read et al. 2006, see painctl.rigging.au_correctives). 0.25 was chosen while
#: FaceMesh set the upper lid on the top of a lash strip standing 1-2 mm above the lid; with the lashes
#: on the lid edge the camera sees (painctl.appearance.lashes) it read the neutral eyes narrower
#: (frontal neutral aperture 0.124 of the inter-ocular distance instead of 0.138), and AU7 = 5, whose
#: narrowed eye read as before, fell to -39.7 / -38.9 / -37.4% (views 0 / -30 / +30, 12 identities;
#: AU43 closed/neutral 0.165 / 0.165 / 0.171). 0.35 reads neutral 0.128, still below the old 0.138, and
#: AU7 -41.5 / -41.3 / -39.7% (Spearman 0.90 / 0.90 / 0.91), AU43 0.160 / 0.161 / 0.162.
LIFT = 0.35
#: Lid skin above the margin that follows the lift (Gaussian reach, metres).
REACH_M = 0.008
#: Below this fraction of the neutral lid gap the eye counts as closed: no lift.
CLOSED_BELOW = 0.3


def sphere_fit(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Return the least-squares sphere (centre (3,), radius) through ``points`` (N,3)."""
    p = np.asarray(points, np.float64)
    a = np.column_stack([2 * p, np.ones(len(p))])
    sol, *_ = np.linalg.lstsq(a, (p**2).sum(1), rcond=None)
    centre = sol[:3]
    return centre, float(np.sqrt(max(sol[3] + centre @ centre, 0.0)))


def open_fraction(gap: float, gap0: float) -> float:
    """Return 0-1 how much of the lift a lid gets at vertical lid gap ``gap`` (neutral ``gap0``, metres; closed lids: 0 or less)."""
    r = float(np.clip((gap / max(gap0, 1e-6) - CLOSED_BELOW) / (1.0 - CLOSED_BELOW), 0.0, 1.0))
    return r * r * (3 - 2 * r)


def _rotate(points: np.ndarray, centre: np.ndarray, axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotate ``points`` (N,3) about the line through ``centre`` along unit ``axis`` by ``angle`` (N,) radians (Rodrigues)."""
    d = points - centre
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    return centre + d * c + np.cross(axis, d) * s + axis * (d @ axis)[:, None] * (1 - c)


class Eyelids(Part):
    """The identity's upper lids turned up at rest (see the module docstring)."""

    name = "eyelids"
    label = "skin"

    def __init__(self, sides: list[dict], info: dict):
        #: Per eye: eyeball centre, rotation axis, moved vertex ids, their weight (0-1), the lid
        #: landmarks and neutral gap, and the full-lift angle (radians).
        self.sides, self.info = sides, info

    def open(self, vertices: np.ndarray, au43: float = 0.0) -> np.ndarray:
        """Return ``vertices`` (V,3) metres with the upper lids lifted by this frame's share: the
        lid gap's (:func:`open_fraction`) times 1 - ``au43`` (the frame's eye closure label, 0-1)."""
        out = np.array(vertices, np.float64, copy=True)
        keep = 1.0 - float(np.clip(au43, 0.0, 1.0))
        for s in self.sides:
            # The lids' vertical gap: a closed upper lid hangs over the front of the lower one, so
            # the 3D distance between their landmarks stays large while the gap is zero or less.
            f = keep * open_fraction(float(out[s["upper"], 1] - out[s["lower"], 1]), s["gap0"])
            if f <= 0:
                continue
            ids = s["ids"]
            # The centre rides with the eye (the rig does not move eyeballs, but a pose might).
            centre = s["centre"] + out[s["eye"]].mean(0) - s["eye_rest"]
            out[ids] = _rotate(out[ids], centre, s["axis"], s["angle"] * f * s["weight"])
        return out.astype(np.float32)

    def dress(self, head, vertices, au):
        opened = self.open(head.vertices, float(au[5]))
        return head if np.array_equal(opened, head.vertices) else replace(head, vertices=opened)

    def record(self):
        return dict(self.info)


def build_eyelids(identity: Identity, lift: float = LIFT) -> Eyelids | None:
    """Fit each eyeball and weight its upper lid's vertices on the neutral head (None on heads without eye regions)."""
    lm, regions = identity.landmarks, identity.regions
    need = [f"{s}_{k}" for s in ("left", "right") for k in ("eye_inner", "eye_outer", "upper_lid", "lower_lid")]
    if not all(k in lm for k in need) or not all(f"{s}_{r}" in regions for s in ("left", "right") for r in ("eye", "lid_margin")):
        return None
    v = identity.neutral.astype(np.float64)
    sides, info = [], {"lift": lift}
    for side in ("left", "right"):
        eye = np.asarray(regions[f"{side}_eye"])
        centre, radius = sphere_fit(v[eye])
        inner, outer = v[lm[f"{side}_eye_inner"]], v[lm[f"{side}_eye_outer"]]
        axis = outer - inner
        axis[1] = 0.0
        axis /= np.linalg.norm(axis)
        upper, lower = lm[f"{side}_upper_lid"], lm[f"{side}_lower_lid"]
        gap0 = float(v[upper, 1] - v[lower, 1])
        # The upper half of the margin ring: above the line through the corners.
        ring = np.asarray(regions[f"{side}_lid_margin"])
        t_ring = (v[ring] - inner) @ (outer - inner) / float((outer - inner) @ (outer - inner))
        above = v[ring, 1] > inner[1] + t_ring * (outer[1] - inner[1])
        margin = ring[above]
        # Candidates: every vertex but the eyeballs' within reach of the upper margin and above the corners' line.
        moving = np.ones(len(v), bool)
        for name in ("left_eye", "right_eye"):
            moving[np.asarray(regions[name])] = False
        d = np.min(np.linalg.norm(v[:, None, :] - v[margin][None], axis=2), axis=1)
        t = (v - inner) @ (outer - inner) / float((outer - inner) @ (outer - inner))
        line_y = inner[1] + t * (outer[1] - inner[1])
        along = np.sin(np.pi * np.clip(t, 0.0, 1.0))  # 0 at the corners, 1 mid-lid
        weight = np.exp(-((d / REACH_M) ** 2)) * along * (v[:, 1] > line_y) * moving
        ids = np.flatnonzero(weight > 1e-3)
        # The angle that lifts the lid's middle by ``lift`` of the gap (arc over its distance from the centre).
        arm = np.linalg.norm((v[upper] - centre) - ((v[upper] - centre) @ axis) * axis)
        angle = lift * gap0 / max(arm, 1e-4)
        # Sign: the rotation must move the upper lid's landmark up.
        probe = _rotate(v[[upper]], centre, axis, np.array([angle]))[0]
        if probe[1] < v[upper, 1]:
            angle = -angle
        sides.append({"centre": centre, "axis": axis, "ids": ids, "weight": weight[ids], "upper": upper, "lower": lower, "gap0": gap0,
                      "angle": angle, "eye": eye, "eye_rest": v[eye].mean(0)})
        info[f"{side}_gap_mm"] = round(gap0 * 1000, 2)
        info[f"{side}_eyeball_radius_mm"] = round(radius * 1000, 2)
    return Eyelids(sides, info)


@register("eyelids")
def builder(identity: Identity) -> Eyelids | None:
    """Build the identity's lid lift (None on heads without eye regions and lid landmarks)."""
    return build_eyelids(identity)
