"""The heatmap stage: per-vertex displacement from the neutral face, splatted into each rendered view.

Per pain image: the pain mesh is rendered (geometry only) with the image's own camera, and the
rig's per-vertex displacement (metres) is interpolated through the render's triangle ids and
barycentrics, so the heatmap is aligned pixel for pixel with the RGB image and nonzero only where
the face covers the pixel. Per AU: the same splat of the displacement that AU alone, at the face's
intensity, would cause (rigged by the same deformer), on the same pain-mesh surface.
Dataset level: mean and spread of displacement per AU and per PSPI level, in UV space.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from painctl import console
from painctl.artefact import ROWS_ATTR, Artefact, write_dataset
from painctl.artefact.resources import H5_IMAGE_RATIO, Estimate, png_bytes
from painctl.artefact.stage import Context, Input, Parameters, Stage, run
from painctl.errors import ArtefactError, BadValue, PainctlError
from painctl.facs import AU_NAMES
from painctl.plots.heatmap import COLORMAP, PNG_SCALE, colour_map, draw_stats
from painctl.rigging.displacement import DisplacementStats, faces_per_au_displacement, pool_stats

VIEWS_REQUIRE = {
    "image": "N:S", "identity": "N:iuS", "rig_row": "N:iu", "view": "N:S", "camera": "N:S",
    "au": "N,6:f", "pspi": "N:f", "is_neutral": "N:biu",
}
RIG_REQUIRE = {"vertices": "M,V,3:f", "displacement": "M,V:f", "neutral_row": "M:iu", "au": "M,6:f", "faces": "F,3:iu"}
#: The /stats datasets, summaries over all pain faces (pooled, not concatenated, by `painctl merge`).
STATS_PREFIX = "stats/"
STATS_KEYS = ("au_mean", "au_std", "au_count", "pspi_levels", "pspi_mean", "pspi_std", "pspi_count")
CARRIED = ("image", "identity", "rig_row", "view", "yaw", "pitch", "camera", "au", "pspi", "is_neutral", "neutral_image_row", "age_group", "gender", "ethnicity", "landmarks")


def rig_of_views(views, rig_path=None):
    """Open the rig artefact ``views`` was rendered from (or ``rig_path``, a path or an opened rig) and check its digest.

    The rig is found where ``views``' manifest recorded it (see :func:`painctl.artefact.recorded_input`:
    a copy inside ``views`` when it came through a pipe), never relative to the working directory.
    """
    from painctl.artefact import open_artefact, recorded_input

    if rig_path is None:
        rig = recorded_input(views, "rig", require=RIG_REQUIRE)
        if rig is None:
            raise PainctlError(f"{views.where}: its manifest names no rig input; give {{rig}}", params=("rig",))
        return rig
    rig = rig_path if isinstance(rig_path, Artefact) else open_artefact(rig_path, stage="rig", require=RIG_REQUIRE)
    digests = {i.get("digest") for i in views.manifest.get("inputs", []) if isinstance(i, dict) and i.get("stage") == "rig"}
    if digests and rig.digest not in digests:
        raise ArtefactError(f"{rig.where}: is not the rig {views.where} was rendered from (digest differs); give the right {{rig}}", params=("rig",))
    return rig


def estimate_bytes(rows: int, size: int, views_per_row: int, image_bytes: int) -> Estimate:
    """Disk and memory (bytes) of the heatmaps of ``rows`` images of ``size`` pixels square.

    Disk: lzf'd float32 /heatmap and float16 /au_heatmap (6 per pixel), the colour PNGs, and the
    copies of the views' images (``image_bytes``, their total size). Memory: the renders of one rig
    row's ``views_per_row`` views (about 100 bytes a pixel) and the (H,W,7) float32 splat.
    """
    pixels = size * size
    disk = rows * (int(pixels * (4 + 6 * 2) * H5_IMAGE_RATIO) + png_bytes(pixels)) + image_bytes
    return Estimate(disk, pixels * (100 * max(1, views_per_row) + 7 * 4 * 2))


def _estimate(ctx: Context) -> dict:
    views = ctx.inputs["views"]
    size = int(views.attrs().get("size", 0)) or _image_size(views)
    rig_rows = views.read("rig_row").astype(np.int64)
    disk, memory = estimate_bytes(views.rows(), size, int(np.bincount(rig_rows).max(initial=0)),
                                  _total_bytes(views, views.read("image")))
    return {"disk_bytes": disk, "memory_bytes": memory, "what": "these heatmaps"}


@dataclass(frozen=True)
class HeatmapParams(Parameters):
    """heatmap's parameters: the PNGs' scale (``png_scale`` metres of displacement at full colour)
    and ``colormap``; fixed today, recorded so that a change of either is a new artefact."""

    png_scale: float = PNG_SCALE
    colormap: str = COLORMAP

    def check(self) -> None:
        if (self.png_scale, self.colormap) != (PNG_SCALE, COLORMAP):
            raise BadValue(("png_scale", "colormap"), f"{{png_scale}} and {{colormap}} are fixed at {PNG_SCALE} and {COLORMAP!r}")


def _heatmaps(ctx: Context) -> str:
    from PIL import Image

    from painctl.artefact.store import RowDigest
    from painctl.renderer import Camera, Mesh, render_geometry
    from painctl.renderer.splat import splat
    from painctl.rigging.deform import deformer_for
    from painctl.stages.rig import local_neutral_rows

    views, rig, h5 = ctx.inputs["views"], ctx.inputs["rig"], ctx.h5
    n = views.rows()
    size = int(views.attrs().get("size", 0)) or _image_size(views)
    rig_rows = views.read("rig_row").astype(np.int64)
    n_rig = rig.rows()
    if n and (rig_rows.min() < 0 or rig_rows.max() >= n_rig):
        raise ArtefactError(f"{views.where}: /rig_row points outside the {n_rig} rows of {rig.where}")
    is_neutral = views.read("is_neutral").astype(bool)
    cameras = views.read("camera")
    images = views.read("image")
    faces = rig.read("faces")
    neutral_row = local_neutral_rows(rig)
    au_left = rig.read("au_left") if rig.has("au_left") else rig.read("au")
    au_right = rig.read("au_right") if rig.has("au_right") else rig.read("au")
    deformer = deformer_for(rig)
    pain_rows = np.unique(rig_rows[~is_neutral])
    stats = DisplacementStats(pain_rows, rig.read("au")[pain_rows] if len(pain_rows) else np.zeros((0, 6)), rig.shapes()["vertices"][0][1])
    rows_of_identity: dict[int, list[int]] = {}
    for row in pain_rows:
        rows_of_identity.setdefault(int(neutral_row[row]), []).append(int(row))
    cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def per_vertex(row: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # The row's rigged vertices (V,3); (V,7) total displacement, then each AU alone; and
        # (F+1,) whether each triangle moves in any of the 7 (False last, for the background's -1).
        # Every pain face of the row's identity at once: one deformer call (the AU correctives'
        # fields are built once per identity), and the same numbers feed the stats.
        if row not in cache:
            cache.clear()
            identity = int(neutral_row[row])
            mine = np.asarray(rows_of_identity[identity], np.int64)
            alone = faces_per_au_displacement(deformer, rig.read("vertices", identity), au_left[mine], au_right[mine], identity=identity)
            totals, vertices = rig.read("displacement", mine), rig.read("vertices", mine)
            for r, a, total, verts in zip(mine.tolist(), alone, totals, vertices):
                if stats.wants(r):
                    stats.add(r, a, total)
                table = np.concatenate([total[:, None], a.T], axis=1).astype(np.float32)
                cache[r] = verts, table, np.append(np.any(table[faces] != 0, axis=(1, 2)), False)
        return cache[row]

    views_of_row: dict[int, list[int]] = {}
    for i in np.flatnonzero(~is_neutral):
        views_of_row.setdefault(int(rig_rows[i]), []).append(int(i))
    renders: dict[int, dict[int, object]] = {}

    def rendered(row: int) -> dict[int, object]:
        # Every view of a rig row in one call: the mesh is uploaded once, not once per view. Geometry
        # only (ids, barycentrics): the same values as the full render's, without its colour pass.
        if row not in renders:
            renders.clear()
            members = views_of_row[row]
            results = render_geometry(Mesh(per_vertex(row)[0], faces), [Camera.from_dict(json.loads(str(cameras[i]))) for i in members],
                                      size, size)
            renders[row] = dict(zip(members, results))
        return renders[row]

    (ctx.dir / "heatmaps").mkdir()
    # One image per chunk (read one at a time), lzf-compressed (most of a heatmap is zero). Not
    # create_rows: both datasets exist before either is marked, the order data.h5's bytes have always had.
    heat = h5.create_dataset("heatmap", shape=(n, size, size), dtype=np.float32, chunks=(1, size, size) if n else None, compression="lzf" if n else None)
    au_heat = h5.create_dataset("au_heatmap", shape=(n, 6, size, size), dtype=np.float16, chunks=(1, 6, size, size) if n else None, compression="lzf" if n else None)
    for ds in (heat, au_heat):
        ds.attrs[ROWS_ATTR] = 1
    heat.attrs["units"] = "metres"
    au_heat.attrs["units"] = "metres"
    au_heat.attrs["names"] = list(AU_NAMES)
    # Hashed as written (attributes final above): the manifest's digests need no second read of them.
    heat_rows, au_heat_rows = RowDigest(heat), RowDigest(au_heat)
    pngs = []
    blank = None  # a neutral face's PNG (all black), encoded once
    for i in ctx.track(range(n), total=n, description="heatmaps"):
        name = Path(str(images[i])).name
        rel = f"heatmaps/{name}"
        pngs.append(rel)
        if is_neutral[i]:
            if blank is None:
                buffer = io.BytesIO()
                Image.fromarray(colour_map(np.zeros((size, size), np.float32), np.zeros((size, size), bool))).save(buffer, format="PNG", compress_level=1)
                blank = buffer.getvalue()
            (ctx.dir / rel).write_bytes(blank)
            continue
        row = int(rig_rows[i])
        result = rendered(row)[i]
        _, table, moving = per_vertex(row)
        # Splat only the pixels of moving triangles, as one row of pixels (splat reads nothing but
        # the triangle ids and barycentrics): elsewhere all 7 are 0, as the whole image's splat gives.
        on = moving[result.triangle]
        values = splat(replace(result, triangle=result.triangle[on][None], barycentric=result.barycentric[on][None]), table, faces)[0]
        total = np.zeros((size, size), np.float32)
        total[on] = values[:, 0]
        alone = np.zeros((6, size, size), np.float16)
        alone[:, on] = values[:, 1:].T.astype(np.float16)
        heat_rows.write(i, total)
        au_heat_rows.write(i, alone)
        Image.fromarray(colour_map(total, result.mask)).save(ctx.dir / rel, format="PNG", compress_level=1)
    write_dataset(h5, "heatmap_png", np.array(pngs, dtype="U") if pngs else np.zeros(0, "S1"))
    for name in CARRIED:
        if views.has(name):
            write_dataset(h5, name, views.read(name))
    _link_images(views, ctx.dir, images)
    stats = stats.result()
    for key, value in stats.items():
        write_dataset(h5, f"{STATS_PREFIX}{key}", value, rows=False)
    h5.attrs["png_scale"] = PNG_SCALE
    h5.attrs["size"] = size
    for key, value in views.attrs().items():
        if key not in h5.attrs:
            try:
                h5.attrs[key] = value
            except TypeError:
                pass
    if rig.has("uv") and rig.has("uv_faces"):
        draw_stats(stats, rig.read("faces"), rig.read("uv"), rig.read("uv_faces"), ctx.dir / "stats.png",
                   window=_face_region(rig), vertices=rig.read("vertices", int(neutral_row[0])) if n_rig else None)
    return f"wrote {console.plural(n, 'heatmap')} ({console.plural(int((~is_neutral).sum()), 'pain image')}) and stats.png ({ctx.where})"


#: heatmap: the render-views artefact, and its rig (by default the one the views' manifest records, checked by digest).
HEATMAP = Stage("heatmap", HeatmapParams, _heatmaps, inputs=(
    Input("views", stages=("render-views",), require=VIEWS_REQUIRE),
    Input("rig", stages=("rig",), require=RIG_REQUIRE, resolve=lambda value, opened: rig_of_views(opened["views"], value)),
), estimate=_estimate)


def heatmap(views, out: str | Path, rig=None, force: bool = False, big_ok: bool = False) -> Path:
    """Write the heatmap artefact ``out`` for the render-views artefact ``views`` (a path or opened); return its path.

    ``rig`` is the rig artefact (a path or opened; default: the one recorded in ``views``' manifest).
    Heatmaps estimated not to fit on the disk or in memory are refused unless ``big_ok``.
    """
    return run(HEATMAP, out, HeatmapParams(), {"views": views, "rig": rig}, force=force, big_ok=big_ok)


def _link_images(views, out_dir: Path, images: np.ndarray) -> None:
    # The heatmap artefact carries the RGB images so `painctl train heatmaps/` finds pairs in one place:
    # verified copies (reflinks where the filesystem can), never hard links that would share edits.
    from painctl.artefact.images import verify_png
    from painctl.artefact.store import copy_file

    (out_dir / "images").mkdir(exist_ok=True)
    for row, rel in enumerate(images):
        rel = str(rel)
        src, dst = views.resolve(rel, what=f"/image row {row}"), out_dir / rel
        verify_png(src, views.where, rel)
        dst.parent.mkdir(parents=True, exist_ok=True)
        copy_file(src, dst)


def merge_stats(h5, out_dir: Path, shards: list) -> None:
    """Write the pooled /stats of heatmap artefacts ``shards`` into the open merged data.h5 ``h5``
    and draw its stats.png in ``out_dir`` (used by `painctl merge`)."""
    from painctl.artefact import write_dataset
    from painctl.stages.rig import local_neutral_rows

    parts = [{key: shard.read(f"stats/{key}") for key in STATS_KEYS} for shard in shards]
    stats = pool_stats(parts)
    for key, value in stats.items():
        write_dataset(h5, f"stats/{key}", value, rows=False)
    rig = rig_of_views(shards[0])  # the heatmap artefact lists its rig among its inputs too
    if rig.has("uv") and rig.has("uv_faces"):
        neutral = rig.read("vertices", int(local_neutral_rows(rig)[0])) if rig.rows() else None
        draw_stats(stats, rig.read("faces"), rig.read("uv"), rig.read("uv_faces"), out_dir / "stats.png",
                   window=_face_region(rig), vertices=neutral)


def _face_region(rig) -> np.ndarray | None:
    from painctl.facemodels import face_model_of

    try:
        return face_model_of(rig).region_vertices().get("face")
    except PainctlError:
        return None


def _image_size(views) -> int:
    from PIL import Image

    from painctl.artefact.images import verify_png

    name = str(views.read("image", 0))
    path = views.resolve(name, what="/image row 0")
    verify_png(path, views.where, name)
    with Image.open(path) as img:
        return int(img.height)


def _total_bytes(art, paths) -> int:
    """Total size (bytes) of the files ``paths`` of ``art``, resolved (and so checked) as they will be copied."""
    return sum(art.resolve(str(p), what=f"/image row {row}").stat().st_size for row, p in enumerate(paths))
