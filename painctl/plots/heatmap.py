"""Heatmap figures: displacement through a colour map (per-image PNGs) and the per-AU / per-PSPI
statistics drawn on the UV layout (stats.png)."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from painctl.facs import AU_NAMES

#: Displacement (metres) drawn at the top of the colour map in heatmap PNGs. Pain faces move skin
#: about 1-5 mm (measured on anny heads, PSPI 1-16); closing lids (AU43) move up to ~17 mm and
#: saturate, which keeps brow, cheek and lip movement visible instead of black.
PNG_SCALE = 0.006
COLORMAP = "inferno"


@functools.lru_cache(maxsize=4)
def _lut(name: str) -> np.ndarray:
    import matplotlib

    return (matplotlib.colormaps[name](np.linspace(0.0, 1.0, 256))[:, :3] * 255.0 + 0.5).astype(np.uint8)


def colour_map(values: np.ndarray, mask: np.ndarray, scale: float = PNG_SCALE) -> np.ndarray:
    """Return (H,W,3) uint8: ``values`` (H,W) metres through the colour map (0..scale), black off ``mask``."""
    lut = _lut(COLORMAP)
    mask = np.broadcast_to(np.asarray(mask, bool), np.shape(values))
    out = np.zeros((*np.shape(values), 3), np.uint8)
    # Only the face's pixels are looked up: the background is black whatever its value.
    index = np.clip(np.asarray(np.asarray(values)[mask], np.float64) / scale * 255.0 + 0.5, 0, 255).astype(np.int64)
    out[mask] = lut[index]
    return out


def uv_values(values: np.ndarray, faces: np.ndarray, uv_faces: np.ndarray, n_uv: int) -> np.ndarray:
    """Carry per-vertex ``values`` (V,) to per-UV-point values (T,) through matching face corners."""
    out = np.zeros(n_uv, np.float32)
    out[np.asarray(uv_faces).reshape(-1)] = np.asarray(values)[np.asarray(faces).reshape(-1)]
    return out


def face_crop(uv: np.ndarray, uv_faces: np.ndarray, moved: np.ndarray, window: np.ndarray | None = None,
              margin: float = 0.06) -> tuple[np.ndarray, np.ndarray]:
    """Return the UV box (lo (2,), hi (2,)) to draw: the moving part of the island that moves most.

    ``moved`` (T,) is the largest displacement at each UV point (any unit); ``window`` (T,) bool, if
    given, limits the points considered (e.g. the face model's ``face`` region). The box is grown by
    ``margin`` times its longer side. The whole layout when nothing moves.
    """
    uv = np.asarray(uv, np.float64)
    moved = np.where(window if window is not None else True, np.asarray(moved, np.float64), 0.0)
    if not np.any(moved > 0):
        lo, hi = uv.min(0), uv.max(0)
    else:
        # Ignore the falloff tails (a deformer moves skin far away by a hair) ...
        moving = moved > 0.05 * float(np.percentile(moved[moved > 0], 99))
        # ... and the small islands that move too (eyeballs, teeth): the skin island carries the face.
        islands = _point_islands(uv_faces, len(uv))
        main = np.argmax(np.bincount(islands[moving], weights=moved[moving], minlength=islands.max() + 1))
        keep = moving & (islands == main)
        lo, hi = uv[keep].min(0), uv[keep].max(0)
    pad = margin * float(max(hi - lo))
    return lo - pad, hi + pad


def _point_islands(uv_faces: np.ndarray, n_uv: int) -> np.ndarray:
    """(T,) island label of each UV point (points no face uses get a label of their own)."""
    from painctl.appearance.uv import uv_islands

    uv_faces = np.asarray(uv_faces, np.int64)
    per_face = uv_islands(uv_faces, n_uv)
    labels = np.full(n_uv, per_face.max() + 1 if len(per_face) else 0, np.int64)
    labels[uv_faces.reshape(-1)] = np.repeat(per_face, 3)
    return labels


def upright(uv: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Return the (2,2) turn or mirror of the UV axes, a signed permutation, that best shows UV
    points ``uv`` (K,2) as a frontal view of their 3D ``points`` (K,3) (+Y up, face toward +Z):
    draw ``uv @ M.T``."""
    uv = np.asarray(uv, np.float64) - np.mean(uv, 0)
    xy = np.asarray(points, np.float64)[:, :2] - np.mean(points, 0)[:2]
    candidates = [np.array(m, np.float64) for m in ([[1, 0], [0, 1]], [[0, 1], [1, 0]])]
    candidates = [m * np.array(s)[:, None] for m in candidates for s in ((1, 1), (1, -1), (-1, 1), (-1, -1))]
    return max(candidates, key=lambda m: float(np.sum((uv @ m.T) * xy)))


def draw_stats(stats: dict[str, np.ndarray], faces: np.ndarray, uv: np.ndarray, uv_faces: np.ndarray, path: Path,
               window: np.ndarray | None = None, vertices: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Draw mean and spread per AU and per PSPI level on the UV layout into one PNG at ``path``.

    Every panel shows the same UV box, :func:`face_crop` of the displacement (``window``: vertex ids,
    e.g. the model's ``face`` region, limits where it looks), turned upright by :func:`upright` when
    a neutral face's ``vertices`` (V,3) are given; one colour scale, 0 to :data:`PNG_SCALE` in mm as
    in the per-image heatmaps. Returns the box in UV (lo (2,), hi (2,)).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.tri import Triangulation

    faces, uv_faces, uv = np.asarray(faces), np.asarray(uv_faces), np.asarray(uv, np.float64)

    def mm(values):
        return uv_values(values, faces, uv_faces, len(uv)) * 1000.0

    levels = stats["pspi_levels"]
    au = [(f"{AU_NAMES[j]} (n={int(stats['au_count'][j])})", mm(stats["au_mean"][j]), mm(stats["au_std"][j])) for j in range(6)]
    pspi = [(f"PSPI {levels[k]:g} (n={int(stats['pspi_count'][k])})", mm(stats["pspi_mean"][k]), mm(stats["pspi_std"][k]))
            for k in range(len(levels))]
    in_window = None
    if window is not None and len(window):
        member = np.zeros(max(int(faces.max()), int(np.max(window))) + 1, bool)
        member[np.asarray(window)] = True
        in_window = np.zeros(len(uv), bool)
        in_window[uv_faces.reshape(-1)] = member[faces.reshape(-1)]
    box = face_crop(uv, uv_faces, np.max([m for _, m, _ in au + pspi], axis=0), in_window)
    # UV islands are laid out at any angle; the anny face lies on its side.
    turn = np.eye(2)
    if vertices is not None:
        inside = np.zeros(len(uv), bool)
        inside[uv_faces.reshape(-1)] = True
        inside &= np.all((uv >= box[0]) & (uv <= box[1]), axis=1)
        at = np.zeros(len(uv), np.int64)
        at[uv_faces.reshape(-1)] = faces.reshape(-1)
        if inside.sum() >= 3:
            turn = upright(uv[inside], np.asarray(vertices)[at[inside]])
    drawn = uv @ turn.T
    ends = np.array([box[0], box[1]]) @ turn.T
    lo, hi = ends.min(0), ends.max(0)
    tri = Triangulation(drawn[:, 0], drawn[:, 1], uv_faces)
    # Triangles wholly on the far side of one edge of the box are never seen: skip them (60 panels).
    corners = drawn[uv_faces]
    tri.set_mask((corners[..., 0] < lo[0]).all(1) | (corners[..., 0] > hi[0]).all(1)
                 | (corners[..., 1] < lo[1]).all(1) | (corners[..., 1] > hi[1]).all(1))

    cols = max(6, min(len(pspi), 8))
    sections = [("Each AU alone, over the faces where it is active", [au])]
    sections.append(("Whole expression, per PSPI level", [pspi[i:i + cols] for i in range(0, len(pspi), cols)]))
    # Layout in inches; every panel has the crop's aspect ratio.
    width, height = hi - lo
    pw = 1.6
    ph = pw * float(np.clip(height / max(width, 1e-9), 0.4, 2.5))
    title_h, gap, header_h, top, bottom, left, right = 0.28, 0.12, 0.45, 0.75, 0.25, 0.6, 1.4
    n_rows = sum(2 * len(chunks) for _, chunks in sections)
    fig_w = left + cols * (pw + gap) + right
    fig_h = top + bottom + header_h * len(sections) + n_rows * (title_h + ph + gap)
    fig = plt.figure(figsize=(fig_w, fig_h))
    vmax = PNG_SCALE * 1000.0
    y = top
    image = None
    for header, chunks in sections:
        fig.text(left / fig_w, 1 - (y + 0.3) / fig_h, header, fontsize=12, weight="bold")
        y += header_h
        for chunk in chunks:
            for row, label in ((1, "mean"), (2, "spread (sd)")):
                y += title_h
                for c, panel in enumerate(chunk):
                    x = left + c * (pw + gap)
                    ax = fig.add_axes((x / fig_w, 1 - (y + ph) / fig_h, pw / fig_w, ph / fig_h))
                    image = ax.tripcolor(tri, panel[row], shading="gouraud", cmap=COLORMAP, vmin=0.0, vmax=vmax)
                    ax.set_xlim(lo[0], hi[0])
                    ax.set_ylim(lo[1], hi[1])
                    ax.set_aspect("equal", adjustable="box")
                    ax.set_xticks([])
                    ax.set_yticks([])
                    for spine in ax.spines.values():
                        spine.set_visible(False)
                    ax.set_title(panel[0] if row == 1 else panel[0].split(" (n=")[0], fontsize=10)
                    if c == 0:
                        ax.set_ylabel(label, fontsize=11)
                y += ph + gap
    if image is not None:
        panels_h = fig_h - top - bottom
        bar_h = min(panels_h * 0.8, 6.0)
        cax = fig.add_axes(((fig_w - right + 0.3) / fig_w, 1 - (top + (panels_h + bar_h) / 2) / fig_h, 0.22 / fig_w, bar_h / fig_h))
        bar = fig.colorbar(image, cax=cax, extend="max")
        bar.set_label(f"displacement from the neutral face (mm; {vmax:g} and above saturate)")
    fig.suptitle("Displacement in UV space (face region), per AU and per PSPI level", y=1 - 0.3 / fig_h, fontsize=14)
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)
    return box
