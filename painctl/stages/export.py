"""Export render-views or heatmap artefacts in the layout of the released 3D-Pain dataset.

Matches the dataset ``SoroushMehraban/3D-Pain`` on Hugging Face and the loader its authors ship
(TaatiTeam/Pain-in-3D, ``data/pain3d_loader.py``, class ``Pain3DDataset``):

  meshes_inpainted/<base>_view_NNN.png       every image (pain and neutral)
  annotations/<base>_annotations.json        pain faces only: AU4 AU6 AU7 AU9 AU10 AU43 PSPI
  heatmaps/<base>_view_NNN.png               from a heatmap artefact
  textured_meshes/<base>.obj (+ .mtl)        when the artefact's inputs include a texture artefact;
  textured_meshes/<subject>_texture.png      one texture per identity, shared by its meshes

``<base>`` is ``flame_sample_0000_neutral`` or ``flame_sample_0000_pain_1``: identities are numbered
from 0 in artefact order (as the authors' split file counts them), pain faces from 1 within their
identity, views from 0 in the order of --views. Neutral images have no JSON: that loader finds them
by name, and a neutral JSON would make it count each neutral image twice. The ``flame_sample``
prefix is kept whatever the face model, so readers written for the release read ours; ``prefix``
changes it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from painctl import console
from painctl.artefact.stage import Context, Input, Parameters, Stage, run
from painctl.errors import BadValue
from painctl.facs import AU_NAMES

DEFAULT_PREFIX = "flame_sample"
IMAGES = "meshes_inpainted"
ANNOTATIONS = "annotations"
HEATMAPS = "heatmaps"
MESHES = "textured_meshes"
REQUIRE = {"image": "N:S", "identity": "N:iuS", "rig_row": "N:iu", "view": "N:S", "au": "N,6:f", "pspi": "N:f", "is_neutral": "N:biu"}


def base_names(identity: np.ndarray, rig_row: np.ndarray, is_neutral: np.ndarray, prefix: str = DEFAULT_PREFIX) -> list[str]:
    """Return the 3D-Pain base name of every row (N,) from its identity, rig row and neutral flag.

    Identities count from 0 in order of first appearance, pain faces from 1 within an identity.
    """
    order: dict = {}
    pain_index: dict = {}
    names = []
    for ident, row, neutral in zip(identity.tolist(), rig_row.tolist(), is_neutral.tolist()):
        number = order.setdefault(ident, len(order))
        if neutral:
            names.append(f"{prefix}_{number:04d}_neutral")
            continue
        seen = pain_index.setdefault(ident, {})
        j = seen.setdefault(row, len(seen) + 1)
        names.append(f"{prefix}_{number:04d}_pain_{j}")
    return names


def estimate_bytes(art, images: list[str], heatmaps: list[str] | None) -> int:
    """Disk (bytes) of exporting ``art``: the sizes of the image and heatmap files it copies (a
    reflink shares them, but that is known only when done) and about 200 bytes per annotation."""
    files = images + (heatmaps or [])
    return sum(art.resolve(rel, what="a file it exports").stat().st_size for rel in files) + 200 * len(images)


def _estimate(ctx: Context) -> dict:
    art = ctx.inputs["art"]
    heat = [str(x) for x in art.read("heatmap_png")] if art.has("heatmap_png") else None
    return {"disk_bytes": estimate_bytes(art, [str(x) for x in art.read("image")], heat), "what": "this export"}


@dataclass(frozen=True)
class ExportParams(Parameters):
    """export's parameters: the target ``format`` (3dpain) and the base names' ``prefix``."""

    format: str = "3dpain"
    prefix: str = DEFAULT_PREFIX

    def check(self) -> None:
        if self.format != "3dpain":
            raise BadValue("format", f"must be 3dpain, got {self.format!r}")
        if not re.fullmatch(r"[A-Za-z0-9_-]+", self.prefix):
            raise BadValue("prefix", f"must use letters, digits, _ and - only, got {self.prefix!r}")


def _export(ctx: Context) -> str:
    art, tmp, prefix = ctx.inputs["art"], ctx.dir, ctx.params.prefix
    images = [str(x) for x in art.read("image")]
    views = [str(x) for x in art.read("view")]
    view_order = {name: k for k, name in enumerate(dict.fromkeys(_ordered_views(art, views)))}
    neutral = art.read("is_neutral").astype(bool)
    rig_row = art.read("rig_row")
    bases = base_names(art.read("identity"), rig_row, neutral, prefix)
    au = art.read("au").astype(np.float64)
    pspi = art.read("pspi").astype(np.float64)
    heat = [str(x) for x in art.read("heatmap_png")] if art.has("heatmap_png") else None
    meshes = _mesh_sources(art)
    for sub in (IMAGES, ANNOTATIONS) + ((HEATMAPS,) if heat else ()) + ((MESHES,) if meshes else ()):
        (tmp / sub).mkdir()
    written: set[str] = set()
    meshed: dict[str, int] = {}
    for i in ctx.track(range(len(images)), total=len(images), description="exporting"):
        stem = f"{bases[i]}_view_{view_order[views[i]]:03d}"
        _place(art, images[i], f"/image row {i}", tmp / IMAGES / f"{stem}.png")
        if heat:
            _place(art, heat[i], f"/heatmap_png row {i}", tmp / HEATMAPS / f"{stem}.png")
        if not neutral[i] and bases[i] not in written:
            labels = {name: _number(au[i, j]) for j, name in enumerate(AU_NAMES)}
            labels["PSPI"] = _number(pspi[i])
            (tmp / ANNOTATIONS / f"{bases[i]}_annotations.json").write_text(json.dumps(labels, indent=2) + "\n")
            written.add(bases[i])
        if meshes and bases[i] not in meshed:
            meshed[bases[i]] = int(rig_row[i])
    if meshes:
        _write_meshes(meshes, meshed, tmp / MESHES)
    extra = f", {console.plural(len(meshed), 'textured mesh', 'textured meshes')}" if meshes else ""
    return f"exported {console.plural(len(images), 'image')}, {console.plural(len(written), 'pain annotation')}{extra} to {ctx.where}"


#: export: one render-views or heatmap artefact, written as a plain directory in the 3D-Pain layout (never
#: cached). Named "export 3dpain", which the directory's marker file records as what wrote it.
EXPORT = Stage("export 3dpain", ExportParams, _export, output="directory",
               inputs=(Input("art", stages=("render-views", "heatmap"), require=REQUIRE),), estimate=_estimate)


def export_3dpain(art, out: str | Path, force: bool = False, prefix: str = DEFAULT_PREFIX, big_ok: bool = False) -> Path:
    """Write ``art`` (a render-views or heatmap artefact, a path or opened) as a 3D-Pain tree at ``out``; return it.

    Built in a temporary sibling and renamed into place; refuses an existing ``out`` unless ``force``,
    and a tree estimated not to fit on the disk unless ``big_ok``.
    """
    return run(EXPORT, out, ExportParams(prefix=prefix), {"art": art}, force=force, big_ok=big_ok)


def _mesh_sources(art):
    """(rig, texture) artefacts the input was rendered from, found through the manifests' recorded
    inputs (:func:`painctl.artefact.recorded_input`), or None when there is no texture among them."""
    from painctl.artefact import recorded_input
    from painctl.errors import ArtefactError

    found: dict[str, object] = {}
    frontier = [art]
    while frontier:
        current = frontier.pop(0)
        for stage in ("render-views", "rig", "texture"):
            if stage in found:
                continue
            try:
                parent = recorded_input(current, stage)
            except ArtefactError:  # a moved or changed input just means "no meshes to export"
                parent = None
            if parent is not None:
                found[stage] = parent
                frontier.append(parent)
    rig, texture = found.get("rig"), found.get("texture")
    if rig is None or texture is None or not (rig.has("vertices") and rig.has("faces")):
        return None
    if not (texture.has("identity") and texture.has("texture")):
        return None
    return rig, texture


def _write_meshes(sources, rows: dict[str, int], folder: Path) -> None:
    """Write textured_meshes/<base>.obj (+ .mtl) per base from its rig row, textured with its
    identity's texture (copied once per identity as <subject>_texture.png)."""
    from painctl.io.export_mesh import write_textured_obj

    rig, texture = sources
    faces = rig.read("faces")
    uv_art = texture if texture.has("uv") and texture.has("uv_faces") else rig
    if not (uv_art.has("uv") and uv_art.has("uv_faces")):
        return
    uv, uv_faces = uv_art.read("uv"), uv_art.read("uv_faces")
    tex_of = dict(zip((str(x) for x in texture.read("identity")), (str(x) for x in texture.read("texture"))))
    identity = rig.read("identity")
    for base, row in console.track(sorted(rows.items()), total=len(rows), description="textured meshes"):
        png = tex_of.get(str(identity[row]))
        if png is None:
            continue
        subject = base.rsplit("_neutral", 1)[0] if base.endswith("_neutral") else base.rsplit("_pain_", 1)[0]
        name = f"{subject}_texture.png"
        if not (folder / name).exists():
            _place(texture, png, f"the texture of {subject}", folder / name)
        write_textured_obj(folder / f"{base}.obj", rig.read("vertices", row), faces, uv, uv_faces, name)


def _ordered_views(art, views: list[str]) -> list[str]:
    # Views numbered in the order they were requested (the render-views attrs), else first appearance.
    try:
        from painctl.stages.render_views import view_name

        requested = [view_name(*v) for v in json.loads(art.attrs().get("views", "[]"))]
    except (ValueError, TypeError):
        requested = []
    return [v for v in requested if v in set(views)] + views


def _place(art, rel: str, what: str, dst: Path) -> None:
    # A verified copy (a reflink where the filesystem can): editing the export never edits the artefact.
    from painctl.artefact.images import verify_png
    from painctl.artefact.store import copy_file

    src = art.resolve(rel, what=what)
    verify_png(src, art.where)
    copy_file(src, dst)


def _number(value: float):
    return int(value) if float(value).is_integer() else round(float(value), 4)
