"""The heatmap stage: per-vertex displacement from the neutral face, splatted into each rendered view.

Per pain image: the pain mesh is rendered (geometry only) with the image's own camera, and the
rig's per-vertex displacement (metres) is interpolated through the render's triangle ids and
barycentrics, so the heatmap is aligned pixel for pixel with the RGB image and nonzero only where
the face covers the pixel. Per AU: the same splat of the displacement that AU alone, at the face's
intensity, would cause (rigged by the same deformer), on the same pain-mesh surface.
Dataset level: mean and spread of displacement per AU and per PSPI level, in UV space.
"""

from __future__ import annotations

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


def colour_map(values: np.ndarray, mask: np.ndarray, scale: float = PNG_SCALE) -> np.ndarray:
    """Return (H,W,3) uint8: ``values`` (H,W) metres through the colour map (0..scale), black off ``mask``."""
    import matplotlib

    lut = (matplotlib.colormaps[COLORMAP](np.linspace(0.0, 1.0, 256))[:, :3] * 255.0 + 0.5).astype(np.uint8)
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
    from painctl.renderer import Camera, Mesh, render, studio_lights
    from painctl.renderer.splat import splat
    from painctl.rig.deform import deformer_for

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
    neutral_row = rig.read("neutral_row").astype(np.int64)
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
                camera = Camera.from_dict(json.loads(_text(cameras[i])))
                result = render(Mesh(rig.read("vertices", row), faces), camera, lights, size, shading=False)
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
            draw_stats(stats, rig.read("faces"), rig.read("uv"), rig.read("uv_faces"), writer.dir / "stats.png", window=_face_region(rig))
    console.info(f"wrote {n} heatmaps ({int((~is_neutral).sum())} pain images) and stats.png ({writer.path})")
    return writer.path


def _link_images(views, out_dir: Path, images: np.ndarray) -> None:
    # The heatmap artefact carries the RGB images so `painctl train heatmaps/` finds pairs in one place;
    # hard links cost no space (copies where links are impossible).
    import os
    import shutil

    (out_dir / "images").mkdir(exist_ok=True)
    for rel in images:
        rel = _text(rel)
        src, dst = views.resolve(rel), out_dir / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, dst)
        except OSError:
            shutil.copyfile(src, dst)


def displacement_stats(rig, deformer, rows: np.ndarray, au_left: np.ndarray, au_right: np.ndarray) -> dict[str, np.ndarray]:
    """Return per-vertex mean and standard deviation of displacement (metres) over the pain ``rows``.

    Keys: ``au_mean``/``au_std`` (6,V) of each AU alone over the faces where it is active (count in
    ``au_count`` (6,)); ``pspi_levels`` (L,), ``pspi_mean``/``pspi_std`` (L,V) of the whole
    expression per PSPI level (count in ``pspi_count``).
    """
    from painctl.facs import pspi as pspi_of

    n_vertices = rig.shapes()["vertices"][0][1]
    neutral_row = rig.read("neutral_row").astype(np.int64)
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


def uv_values(values: np.ndarray, faces: np.ndarray, uv_faces: np.ndarray, n_uv: int) -> np.ndarray:
    """Carry per-vertex ``values`` (V,) to per-UV-point values (T,) through matching face corners."""
    out = np.zeros(n_uv, np.float32)
    out[np.asarray(uv_faces).reshape(-1)] = np.asarray(values)[np.asarray(faces).reshape(-1)]
    return out


def draw_stats(stats: dict[str, np.ndarray], faces: np.ndarray, uv: np.ndarray, uv_faces: np.ndarray, path: Path, window: np.ndarray | None = None) -> None:
    """Draw mean and spread per AU and per PSPI level on the UV layout into one PNG at ``path``.

    ``window`` (vertex ids, e.g. the model's ``face`` region) chooses the UV area shown and the
    colour scale; default: every vertex that moves.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.tri import Triangulation

    tri = Triangulation(uv[:, 0], uv[:, 1], uv_faces)
    panels = [(f"{AU_NAMES[j]} mean (n={int(stats['au_count'][j])})", stats["au_mean"][j]) for j in range(6)]
    panels += [(f"{AU_NAMES[j]} spread (sd)", stats["au_std"][j]) for j in range(6)]
    levels = stats["pspi_levels"]
    panels += [(f"PSPI {levels[k]:g} mean (n={int(stats['pspi_count'][k])})", stats["pspi_mean"][k]) for k in range(len(levels))]
    panels += [(f"PSPI {levels[k]:g} spread (sd)", stats["pspi_std"][k]) for k in range(len(levels))]
    cols = 6
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.7 * rows), squeeze=False)
    per_uv = [uv_values(values, faces, uv_faces, len(uv)) * 1000.0 for _, values in panels]
    stacked = np.max(per_uv, axis=0) if per_uv else np.zeros(len(uv))
    # Colour scale and view window from the moving region: the eyelids' full closure would
    # otherwise wash out everything else, and most of the UV sheet is scalp and neck.
    vmax = max(float(np.percentile(stacked[stacked > 0], 99)) if np.any(stacked > 0) else 0.0, 1e-3)
    moving = stacked > 0.05 * vmax
    if window is not None and len(window):
        in_window = np.zeros(len(faces) * 3, bool)
        in_window[np.isin(np.asarray(faces).reshape(-1), window)] = True
        moving = np.zeros(len(uv), bool)
        moving[np.asarray(uv_faces).reshape(-1)[in_window]] = True
        inside = stacked[moving]
        vmax = max(float(np.percentile(inside[inside > 0], 99)) if np.any(inside > 0) else 0.0, 1e-3)
    lo, hi = (uv[moving].min(0), uv[moving].max(0)) if np.any(moving) else (uv.min(0), uv.max(0))
    pad = 0.05 * float(max(hi - lo))
    image = None
    for ax, (title, _), values in zip(axes.ravel(), panels, per_uv):
        image = ax.tripcolor(tri, values, shading="gouraud", cmap=COLORMAP, vmin=0.0, vmax=vmax)
        ax.set_title(title, fontsize=8)
        ax.set_xlim(lo[0] - pad, hi[0] + pad)
        ax.set_ylim(lo[1] - pad, hi[1] + pad)
    for ax in axes.ravel():
        ax.set_aspect("equal")
        ax.axis("off")
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.6, label="displacement (mm; 99th percentile and above saturate)")
    fig.suptitle("Displacement from the neutral face in UV space, per AU (alone) and per PSPI level")
    fig.savefig(path, dpi=80, metadata={"Software": None})
    plt.close(fig)


def _face_region(rig) -> np.ndarray | None:
    from painctl.facemodels import face_model_of

    try:
        return face_model_of(rig).region_vertices().get("face")
    except PainctlError:
        return None


def _image_size(views) -> int:
    from PIL import Image

    with Image.open(views.resolve(_text(views.read("image", 0)))) as img:
        return int(img.height)


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
