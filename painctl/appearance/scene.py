"""Procedural rooms behind the person: a wall (with a corner and a ceiling line), a window with
blinds or curtains, a bed head with a pillow, a bed-head service rail, a picture, and the soft
shadow the person casts on the wall.

A :class:`Room` is drawn once per identity (:func:`draw_room`, stream :data:`STREAM`) and painted
per view (:func:`paint_room`): the views of one identity look at the same room from their own
angle (the wall behind the person slides with the camera's yaw). Every painted room is an
(H,W,3) float32 sRGB image in [0,1], a pure function of the room, the size and the view.
The lights of the frame come from the same room (:mod:`painctl.appearance.lighting`): the window
is on the key light's side.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

#: painctl.seeding stream of the scene (see APPEARANCE.md's stream table).
STREAM = 14700

#: Wall paints (sRGB): hospital and home walls, from off-white to muted pastels.
WALLS = {
    "off-white": (0.86, 0.85, 0.81), "cream": (0.86, 0.82, 0.72), "sage": (0.72, 0.78, 0.68),
    "pale-blue": (0.72, 0.80, 0.86), "beige": (0.80, 0.72, 0.62), "light-grey": (0.74, 0.75, 0.76),
    "warm-grey": (0.66, 0.62, 0.57), "peach": (0.86, 0.76, 0.67), "mint": (0.72, 0.80, 0.76),
}
#: Bed heads: wood, hospital plastic and upholstered ones.
BED_HEADS = {
    "oak": (0.56, 0.40, 0.26), "walnut": (0.36, 0.24, 0.16), "white-plastic": (0.90, 0.90, 0.88),
    "grey-plastic": (0.62, 0.64, 0.66), "blue-plastic": (0.52, 0.64, 0.76), "upholstered": (0.50, 0.48, 0.52),
}
CURTAINS = {"blue": (0.36, 0.46, 0.62), "green": (0.45, 0.56, 0.44), "cream": (0.86, 0.80, 0.66), "rose": (0.74, 0.52, 0.52), "grey": (0.55, 0.56, 0.58)}


@dataclass(frozen=True)
class Room:
    """One identity's room. Positions are in units of the image height, x = 0 straight behind the
    person (the frontal view's centre), y = 0 at the top of the frame and 1 at the bottom.

    ``window_side`` is -1 (image left in the frontal view) or +1; it is the key light's side.
    Optional elements are None when the room has none.
    """

    wall: str
    wall_rgb: tuple[float, float, float]
    wall_light: float
    window_side: int
    window: tuple[float, float, float, float] | None
    window_style: str
    daylight: float
    curtain: str | None
    corner_x: float | None
    ceiling_y: float | None
    bed_head: str | None
    bed_head_top: float
    pillow: bool
    rail_y: float | None
    picture: tuple[float, float, float, float] | None
    picture_rgb: tuple[tuple[float, float, float], tuple[float, float, float]]
    shadow_strength: float
    shadow_distance: float
    shadow_softness: float
    texture_seed: int

    def to_dict(self) -> dict:
        """Return the room as JSON-ready plain data (what data.h5's /scene holds)."""
        def plain(value):
            if isinstance(value, (tuple, list)):
                return [plain(v) for v in value]
            if isinstance(value, float):
                return round(value, 5)
            return value

        return {k: plain(v) for k, v in asdict(self).items()}


def _choice(rng: np.random.Generator, table: dict) -> tuple[str, tuple]:
    name = list(table)[int(rng.integers(len(table)))]
    return name, table[name]


def draw_room(rng: np.random.Generator) -> Room:
    """Draw a room from ``rng`` (one identity's :data:`STREAM` generator).

    Every element is drawn whether or not it is used, in a fixed order, so one switch does not
    reshuffle the rest: a window in 80% of rooms (blinds, a plain pane or panes with a mullion;
    curtains beside half of them), a corner in 45%, a ceiling line in 40%, a bed head in 65%
    (with a pillow in 75% of those), a service rail in 25%, a picture in 30%.
    """
    wall, wall_rgb = _choice(rng, WALLS)
    wall_rgb = tuple(float(np.clip(c * rng.uniform(0.9, 1.05), 0, 1)) for c in wall_rgb)
    side = int(rng.choice([-1, 1]))
    u = rng.random(24)
    x0 = 0.18 + 0.2 * u[0]
    width = 0.28 + 0.22 * u[1]
    window = (side * (x0 + width / 2), width, 0.05 + 0.12 * u[2], 0.42 + 0.2 * u[3])  # centre x, width, top, bottom
    style = ("blinds", "pane", "mullion")[int(u[4] * 3) % 3]
    curtain_name = list(CURTAINS)[int(u[5] * len(CURTAINS)) % len(CURTAINS)]
    corner = -side * (0.38 + 0.3 * u[6])
    bed_name = list(BED_HEADS)[int(u[7] * len(BED_HEADS)) % len(BED_HEADS)]
    picture_side = -side
    picture = (picture_side * (0.42 + 0.15 * u[8]), 0.16 + 0.08 * u[9], 0.12 + 0.1 * u[10], 0.12 + 0.08 * u[11])  # centre x, width, top, height
    colours = rng.uniform(0.2, 0.85, size=(2, 3))
    return Room(
        wall=wall,
        wall_rgb=wall_rgb,
        wall_light=float(0.12 + 0.2 * u[12]),
        window_side=side,
        window=window if u[13] < 0.8 else None,
        window_style=style,
        daylight=float(0.92 + 0.08 * u[14]),
        curtain=curtain_name if u[15] < 0.5 else None,
        corner_x=float(corner) if u[16] < 0.45 else None,
        ceiling_y=float(0.03 + 0.1 * u[17]) if u[18] < 0.4 else None,
        bed_head=bed_name if u[19] < 0.65 else None,
        bed_head_top=float(0.5 + 0.2 * u[20]),
        pillow=bool(u[21] < 0.75),
        rail_y=float(0.28 + 0.12 * u[22]) if u[23] < 0.25 else None,
        picture=picture if rng.random() < 0.3 else None,
        picture_rgb=(tuple(map(float, colours[0])), tuple(map(float, colours[1]))),
        shadow_strength=float(rng.uniform(0.18, 0.4)),
        shadow_distance=float(rng.uniform(0.03, 0.08)),
        shadow_softness=float(rng.uniform(0.02, 0.045)),
        texture_seed=int(rng.integers(2**31)),
    )


def _smooth(edge0, edge1, x):
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _box(x, y, x0, x1, y0, y1, soft):
    """Soft-edged rectangle mask (1 inside) on coordinate grids ``x``, ``y``."""
    return _smooth(x0 - soft, x0 + soft, x) * (1 - _smooth(x1 - soft, x1 + soft, x)) * _smooth(y0 - soft, y0 + soft, y) * (1 - _smooth(y1 - soft, y1 + soft, y))


def _fill(canvas, mask, rgb):
    canvas *= 1.0 - mask[..., None]
    canvas += mask[..., None] * np.asarray(rgb, np.float32)


def _wall_texture(seed: int, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Low-contrast mottling of painted plaster (about +-1.3%), fixed to the wall: a coarse random
    grid over x in -1.5..1.5 and y in 0..1 (image heights), sampled smoothly at ``x``, ``y``."""
    from scipy.ndimage import map_coordinates

    coarse = np.random.default_rng(seed).random((9, 31)).astype(np.float32)
    rows = np.clip(y, 0.0, 1.0) * 8.0
    cols = (np.clip(x, -1.5, 1.5) + 1.5) * 10.0
    smooth = map_coordinates(coarse, [rows.ravel(), cols.ravel()], order=1, mode="nearest").reshape(x.shape)
    return 1.0 + 0.025 * (smooth - 0.5)


#: The room is painted at this fraction of the image's resolution and enlarged: the camera model
#: blurs it by at least 0.8 px (at 224) anyway, and it costs a quarter as much.
PAINT_SCALE = 0.5


def slide_pixels(yaw: float, height: int) -> int:
    """Return how far (pixels, to the left) the wall behind the person slides in a view at ``yaw``
    degrees: a quarter of the frame height per 30 degrees, rounded to whole pixels."""
    return int(round(float(yaw) / 30.0 * 0.25 * height))


def paint_room_views(room: Room, size: tuple[int, int], yaws) -> list[np.ndarray]:
    """Return the room behind a person in views at each of ``yaws`` (degrees): (H,W,3) float32 sRGB.

    ``size`` = (width, height) pixels. Each view is painted on its own (at :data:`PAINT_SCALE`),
    :func:`slide_pixels` along the wall (the camera orbits the person, so what is behind them moves
    the other way); painting one strip for all views would make a view's pixels depend on which
    other views were asked for.
    """
    return [paint_room(room, size, yaw) for yaw in yaws]


def paint_room(room: Room, size: tuple[int, int], yaw: float = 0.0) -> np.ndarray:
    """Return the (H,W,3) float32 sRGB room seen from one view at ``yaw`` degrees (see :func:`paint_room_views`)."""
    from PIL import Image

    width, height = size
    shift = slide_pixels(yaw, height)
    low = (max(8, int(round(width * PAINT_SCALE))), max(8, int(round(height * PAINT_SCALE))))
    # The view's pixel centres in room coordinates (image heights), then painted small.
    left = (shift - width / 2.0) / height
    xs = left + (np.arange(low[0], dtype=np.float32) + 0.5) * (width / low[0]) / height
    ys = (np.arange(low[1], dtype=np.float32) + 0.5) / low[1]
    small = _paint(room, *np.meshgrid(xs, ys), soft=1.0 / low[1])
    codes = Image.fromarray((small * 255.0 + 0.5).astype(np.uint8)).resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(codes, np.float32) * np.float32(1.0 / 255.0)


def _paint(room: Room, x: np.ndarray, y: np.ndarray, soft: float) -> np.ndarray:
    """Paint the room at room coordinates ``x``, ``y`` (H,W); ``soft`` is the edge width (one pixel)."""
    height, width = x.shape
    side = room.window_side
    wall = np.asarray(room.wall_rgb, np.float32)
    # Light on the wall: brighter toward the window, falling off to the floor and the far side.
    light = 1.0 + room.wall_light * np.tanh(1.5 * x * side) - 0.18 * (y - 0.35) ** 2
    canvas = np.empty((height, width, 3), np.float32)
    canvas[:] = wall
    canvas *= (light * _wall_texture(room.texture_seed, x, y))[..., None]
    if room.ceiling_y is not None:
        # The ceiling: lit from below by the room, a shade lighter than the wall, with a cove shadow.
        top = room.ceiling_y + (0.0 if room.corner_x is None else 0.25 * np.clip((x - room.corner_x) * np.sign(room.corner_x), 0, None))
        ceiling = 1 - _smooth(top - soft, top + soft, y)
        _fill(canvas, ceiling, np.clip(wall * 1.05 + 0.04, 0, 1))
        canvas *= (1 - 0.12 * np.exp(-np.clip(y - top, 0, None) / 0.02) * (1 - ceiling))[..., None]
    if room.corner_x is not None:
        # A side wall beyond the corner, turned away from the window light, with soft occlusion at the join.
        beyond = _smooth(-soft, soft, (x - room.corner_x) * np.sign(room.corner_x))
        d = np.abs(x - room.corner_x)
        canvas *= (1 - 0.22 * beyond - 0.1 * np.exp(-d / 0.03))[..., None]
    if room.rail_y is not None:
        # A bed-head service rail: a light panel across the wall, with sockets and a gas outlet.
        rail = _box(x, y, -5.0, 5.0, room.rail_y, room.rail_y + 0.05, soft)
        _fill(canvas, rail, (0.82, 0.82, 0.80))
        canvas *= (1 - 0.25 * _box(x, y, -5.0, 5.0, room.rail_y + 0.05, room.rail_y + 0.058, soft))[..., None]
        for cx in (-0.55, -0.45, 0.45, 0.55):
            _fill(canvas, _box(x, y, cx - 0.015, cx + 0.015, room.rail_y + 0.012, room.rail_y + 0.038, soft), (0.95, 0.95, 0.93) if cx < 0 else (0.3, 0.45, 0.7))
    if room.window is not None:
        _paint_window(canvas, room, x, y, soft)
    if room.picture is not None:
        cx, w, top, h = room.picture
        frame = _box(x, y, cx - w / 2, cx + w / 2, top, top + h, soft)
        _fill(canvas, frame, (0.2, 0.17, 0.14))
        inner = _box(x, y, cx - w / 2 + 0.012, cx + w / 2 - 0.012, top + 0.012, top + h - 0.012, soft)
        t = np.clip((y - top) / h, 0, 1)[..., None]
        art = np.asarray(room.picture_rgb[0], np.float32) * (1 - t) + np.asarray(room.picture_rgb[1], np.float32) * t
        canvas *= 1 - inner[..., None]
        canvas += inner[..., None] * art
    if room.bed_head is not None:
        _paint_bed_head(canvas, room, x, y, soft)
    return np.clip(canvas, 0.0, 1.0)


def _paint_window(canvas, room: Room, x, y, soft) -> None:
    cx, w, top, bottom = room.window
    x0, x1 = cx - w / 2, cx + w / 2
    frame = _box(x, y, x0 - 0.02, x1 + 0.02, top - 0.02, bottom + 0.03, soft)
    _fill(canvas, frame, (0.9, 0.9, 0.88))
    pane = _box(x, y, x0, x1, top, bottom, soft)
    t = np.clip((y - top) / max(bottom - top, 1e-3), 0, 1)
    # Overcast daylight, nearly blown out as a camera exposed for the face sees it, with a blurred
    # line of trees and buildings low in the view.
    sky = np.stack([0.86 + 0.1 * t, 0.9 + 0.07 * t, 0.97 + 0.02 * t], axis=-1) * room.daylight
    skyline = _smooth(0.62, 0.7, t + 0.05 * np.sin(x * 40.0) * np.sin(x * 13.0))
    outside = sky * (1 - skyline[..., None]) + skyline[..., None] * np.array([0.55, 0.62, 0.52], np.float32) * room.daylight
    if room.window_style == "blinds":
        slats = 0.5 + 0.5 * np.cos((y - top) * 2 * np.pi / 0.028)
        outside = outside * (1 - 0.35 * slats[..., None]) + 0.35 * slats[..., None] * np.array([0.9, 0.89, 0.86], np.float32)
    elif room.window_style == "mullion":
        bars = np.maximum(_box(x, y, cx - 0.008, cx + 0.008, top, bottom, soft), _box(x, y, x0, x1, (top + bottom) / 2 - 0.008, (top + bottom) / 2 + 0.008, soft))
        outside = outside * (1 - bars[..., None]) + bars[..., None] * np.array([0.88, 0.88, 0.86], np.float32)
    canvas *= 1 - pane[..., None]
    canvas += pane[..., None] * np.clip(outside, 0, 1)
    # The sill throws a shadow line under the window.
    canvas *= (1 - 0.2 * _box(x, y, x0 - 0.02, x1 + 0.02, bottom + 0.03, bottom + 0.04, soft))[..., None]
    if room.curtain is not None:
        # A gathered curtain on the window's outer edge: folds as a cosine of the position.
        outer = x1 if room.window_side > 0 else x0
        inner_edge, outer_edge = (outer - 0.08, outer + 0.06) if room.window_side > 0 else (outer - 0.06, outer + 0.08)
        drape = _box(x, y, inner_edge, outer_edge, top - 0.05, 1.2, soft)
        folds = 0.78 + 0.22 * np.cos((x - inner_edge) * 2 * np.pi / 0.035)
        colour = np.asarray(CURTAINS[room.curtain], np.float32)
        canvas *= 1 - drape[..., None]
        canvas += drape[..., None] * colour * folds[..., None]


def _paint_bed_head(canvas, room: Room, x, y, soft) -> None:
    colour = np.asarray(BED_HEADS[room.bed_head], np.float32)
    top = room.bed_head_top
    half = 0.62
    # Rounded top corners: a box whose corners are cut by circles of radius r.
    r = 0.06
    dx = np.clip(np.abs(x) - (half - r), 0, None)
    dy = np.clip(top + r - y, 0, None)
    corner = _smooth(-soft, soft, r - np.sqrt(dx * dx + dy * dy))
    board = _box(x, y, -half, half, top, 5.0, soft) * corner
    shade = (0.82 + 0.18 * np.clip((1.0 - y) / max(1.0 - top, 1e-3), 0, 1))[..., None]
    if room.bed_head.endswith("plastic"):
        # Moulded panel: a recessed inner field and a lighter rounded top rail.
        field = _box(x, y, -half + 0.06, half - 0.06, top + 0.07, 5.0, soft)
        shade = shade * (1 - 0.08 * field[..., None])
    elif room.bed_head in ("oak", "walnut"):
        grain = 1 + 0.025 * np.sin(y * 420.0 + 6.0 * np.sin(x * 7.0)) * (0.6 + 0.4 * np.sin(x * 31.0 + y * 5.0))
        shade = shade * grain[..., None]
    else:  # upholstered: buttoned padding
        tuft = 1 - 0.12 * np.exp(-((np.mod(x, 0.12) - 0.06) ** 2 + (np.mod(y - top, 0.12) - 0.06) ** 2) / 0.0002)
        shade = shade * tuft[..., None]
    rail = 1 + 0.12 * np.exp(-np.clip(y - top, 0, None) / 0.012)[..., None]
    canvas *= 1 - board[..., None]
    canvas += board[..., None] * np.clip(colour * shade * rail, 0, 1)
    # The bed head stands off the wall: a soft shadow on the wall just above it.
    canvas *= (1 - 0.18 * (1 - board) * _box(x, y, -half, half, top - 0.03, top + 0.01, 0.02))[..., None]
    if room.pillow:
        # A pillow propped against the bed head: a soft-cornered slab (a superellipse), lit from
        # above, with a seam along its top edge.
        top_p = top + 0.12
        cy, half_h = top_p + 0.3, 0.3
        d = (np.abs(x) / 0.56) ** 4 + (np.abs(y - cy) / half_h) ** 4
        pillow = _smooth(-0.06, 0.06, 1 - d)
        bulge = np.clip(1 - d, 0, 1) ** 0.35
        shade = (0.72 + 0.28 * bulge) * (1.0 - 0.12 * np.clip((y - top_p) / (2 * half_h), 0, 1))
        seam = 1 - 0.08 * np.exp(-((1 - d) - 0.08) ** 2 / 0.002)
        canvas *= 1 - pillow[..., None]
        canvas += pillow[..., None] * (np.array([0.93, 0.93, 0.91], np.float32) * (shade * seam)[..., None])


def cast_shadow(background: np.ndarray, alpha: np.ndarray, light_direction: np.ndarray, room: Room) -> np.ndarray:
    """Return ``background`` (H,W,3) darkened by the soft shadow the person (coverage ``alpha``
    (H,W)) casts on the wall, thrown away from the key light (``light_direction`` (3,), world
    axes, toward the light) by ``room.shadow_distance`` of the frame height, blurred by
    ``room.shadow_softness``."""
    from scipy.ndimage import gaussian_filter, shift

    height = alpha.shape[0]
    direction = np.asarray(light_direction, np.float64)
    planar = np.array([-direction[0], direction[1]])  # image x right, y down; away from the light
    planar = planar / max(np.linalg.norm(planar), 1e-6)
    offset = planar * room.shadow_distance * height
    moved = shift(np.asarray(alpha, np.float32), (offset[1], offset[0]), order=1, mode="constant", cval=0.0, prefilter=False)
    shadow = gaussian_filter(moved, room.shadow_softness * height, mode="constant", truncate=2.5)
    return (background * (1.0 - room.shadow_strength * np.clip(shadow, 0, 1))[..., None]).astype(np.float32)
