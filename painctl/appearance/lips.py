"""The lips' vermilion: where the red of the lips ends, from the shape of the identity's own lips.

    shape = lip_shape(vertices, regions)                    # the mouth opening and upper border
    excess = vermilion_excess(points, vertices, regions, age)  # metres beyond the red (< 0 on it)
    weight = vermilion_weight(points, vertices, regions, age)  # the red's soft-edged weight 0-1

The upper vermilion runs from the mouth opening up to its border, the ridge where the lip's red
turns into the philtrum's skin: in profile the upper lip's most forward point (labrale superius,
the landmark anthropometry measures the upper vermilion height to; Farkas, *Anthropometry of the
Head and Face*, 1994). The border is found on the mesh itself, so the red covers the lip the
geometry shows. (A band of fixed 3-D distance from the lip margin, which on anny's heads lies 4-11
mm behind the lip's front, ended 1-5 mm short of the ridge: thin painted lips under fuller
shaded ones, and a landmarker trained on real faces put the upper lip at the paint on some people
and at the shading on others.) The lower vermilion keeps its band of ``LOWER_LIP_M`` from the
margin. Points are (K,3) metres in the painctl frame (+Y up, face toward +Z), on or near the
neutral head ``vertices`` (V,3) whose ``regions`` name the ``lip_margin`` and ``skin`` vertices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The lower vermilion's height below the lip margin at the centre (metres), thinning with age and
#: toward the corners.
LOWER_LIP_M = 0.0095
#: Bounds (metres) on the upper vermilion's height at the centre found on the mesh: adults' upper
#: vermilion is 5-10 mm high (Farkas' norms); a head whose ridge falls outside gets the bound.
UPPER_HEIGHT_BOUNDS_M = (0.0035, 0.010)
#: How far above the opening (metres) and how near the centre line the border is looked for.
RIDGE_SEARCH_M = 0.014
RIDGE_HALF_WIDTH_M = 0.004
#: The red's edge: it fades over this band (metres) about the border, most of it inside.
EDGE_INSIDE_M, EDGE_OUTSIDE_M = 0.0012, 0.0004


@dataclass(frozen=True)
class LipShape:
    """The mouth opening and upper border of one neutral head: the opening's upper contour
    (``contour_x``, ``contour_y``: (N,) metres, sorted by x), its ``centre`` (3,), ``half_width``
    (metres, the opening's half-width with 8% to spare) and ``upper_height``, the upper
    vermilion's height above the opening at the centre (metres)."""

    contour_x: np.ndarray
    contour_y: np.ndarray
    centre: np.ndarray
    half_width: float
    upper_height: float


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def lip_shape(vertices: np.ndarray, regions: dict[str, np.ndarray]) -> LipShape | None:
    """Return the :class:`LipShape` of the neutral head ``vertices`` (V,3), or None without a lip
    margin in ``regions``."""
    ring_ids = regions.get("lip_margin")
    if ring_ids is None or len(ring_ids) == 0:
        return None
    v = np.asarray(vertices, np.float64)
    ring = v[np.asarray(ring_ids)]
    centre = ring.mean(0)
    half = float(np.abs(ring[:, 0] - centre[0]).max() * 1.08)
    upper = ring[ring[:, 1] >= centre[1]]
    upper = upper[np.argsort(upper[:, 0])]
    contour_x, contour_y = upper[:, 0], upper[:, 1]
    skin = v[np.asarray(regions.get("skin", np.arange(len(v))))]
    height = skin[:, 1] - np.interp(skin[:, 0], contour_x, contour_y)
    near = (np.abs(skin[:, 0] - centre[0]) < RIDGE_HALF_WIDTH_M) & (height > 0) & (height < RIDGE_SEARCH_M) & (skin[:, 2] > centre[2])
    if not near.any():
        return LipShape(contour_x, contour_y, centre, half, UPPER_HEIGHT_BOUNDS_M[0])
    h, z = height[near], skin[near, 2]
    # The ridge lies between mesh rows: a parabola through the most forward vertex and the rows
    # just below and above it puts it where the surface turns from facing down to facing up.
    order = np.argsort(h)
    h, z = h[order], z[order]
    k = int(np.argmax(z))
    ridge = h[k]
    if 0 < k < len(h) - 1:
        a, b, _ = np.polyfit(h[k - 1:k + 2], z[k - 1:k + 2], 2)
        if a < 0:
            ridge = float(np.clip(-b / (2 * a), h[k - 1], h[k + 1]))
    return LipShape(contour_x, contour_y, centre, half, float(np.clip(ridge, *UPPER_HEIGHT_BOUNDS_M)))


def upper_lip_excess(points: np.ndarray, shape: LipShape) -> np.ndarray:
    """Return (K,) metres: how far each of ``points`` (K,3) lies above the upper vermilion's border
    (negative on the red), measured up the face from the opening's upper contour; the border is
    :attr:`LipShape.upper_height` at the centre, thinning toward the corners. Points beside the
    mouth (beyond :attr:`LipShape.half_width`) or behind it (2 cm and more) are infinitely far."""
    p = np.asarray(points, np.float64)
    across = np.clip(1 - ((p[:, 0] - shape.centre[0]) / shape.half_width) ** 2, 0, 1)
    border = shape.upper_height * np.sqrt(across) + 0.0008
    above = p[:, 1] - np.interp(p[:, 0], shape.contour_x, shape.contour_y)
    on_mouth = (p[:, 2] > shape.centre[2] - 0.02) & (across > 0)
    return np.where(on_mouth, above - border, np.inf)


def vermilion_excess(points: np.ndarray, vertices: np.ndarray, regions: dict[str, np.ndarray], age: float = 0.0) -> np.ndarray:
    """Return (K,) metres: how far each of ``points`` (K,3) lies beyond the edge of the lips' red
    (negative on it). Above the mouth's centre the upper vermilion's border
    (:func:`upper_lip_excess`); below it a band of :data:`LOWER_LIP_M` from the lip margin
    (thinning 30% at ``age`` 1, the ageing factor 0-1, and toward the corners). Infinite
    everywhere on a head without a lip margin."""
    from scipy.spatial import cKDTree

    p = np.asarray(points, np.float64)
    shape = lip_shape(vertices, regions)
    if shape is None:
        return np.full(len(p), np.inf)
    ring = np.asarray(vertices, np.float64)[np.asarray(regions["lip_margin"])]
    # Only points within reach of the ring's box are looked up; beyond it they are far off the red.
    reach = LOWER_LIP_M + 0.0008 + EDGE_OUTSIDE_M + 1e-4
    near = np.all((p >= ring.min(0) - reach) & (p <= ring.max(0) + reach), axis=1)
    distance = np.full(len(p), np.inf)
    distance[near] = cKDTree(ring).query(p[near])[0]
    across = np.clip(1 - ((p[:, 0] - shape.centre[0]) / shape.half_width) ** 2, 0, 1)
    thickness = LOWER_LIP_M * (1 - 0.3 * age) * np.sqrt(across) + 0.0008
    lower = np.where(p[:, 2] > shape.centre[2] - 0.02, distance - thickness, np.inf)
    return np.where(p[:, 1] > shape.centre[1], upper_lip_excess(p, shape), lower)


def vermilion_weight(points: np.ndarray, vertices: np.ndarray, regions: dict[str, np.ndarray], age: float = 0.0) -> np.ndarray:
    """Return (K,) 0-1: how much of the lips' red each of ``points`` (K,3) carries: 1 on the red
    (:func:`vermilion_excess`), fading to 0 over a 1.6 mm edge, most of it inside."""
    return 1 - _smoothstep(-EDGE_INSIDE_M, EDGE_OUTSIDE_M, vermilion_excess(points, vertices, regions, age))
