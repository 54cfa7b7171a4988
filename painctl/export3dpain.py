"""Export render-views or heatmap artefacts in the released 3D-Pain dataset layout.

Layout: ``images/<base>_view_NNN.png``, ``annotations/<base>_annotations.json`` (keys AU4 AU6 AU7
AU9 AU10 AU43 PSPI), and ``heatmaps/<base>_view_NNN.png`` when the input is a heatmap artefact.
``<base>`` is ``flame_sample_0001_neutral`` or ``flame_sample_0001_pain_3``: identities are numbered
from 1 in artefact order, pain faces from 1 within their identity, views from 0 in the order of
--views. The ``flame_sample`` prefix is kept whatever the face model, so readers written for the
released dataset (which match that prefix) read ours; ``prefix`` changes it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from painctl import console
from painctl.errors import PainctlError
from painctl.facs import AU_NAMES

DEFAULT_PREFIX = "flame_sample"
REQUIRE = {"image": "N:S", "identity": "N:iuS", "rig_row": "N:iu", "view": "N:S", "au": "N,6:f", "pspi": "N:f", "is_neutral": "N:biu"}


def base_names(identity: np.ndarray, rig_row: np.ndarray, is_neutral: np.ndarray, prefix: str = DEFAULT_PREFIX) -> list[str]:
    """Return the 3D-Pain base name of every row (N,) from its identity, rig row and neutral flag."""
    order: dict = {}
    pain_index: dict = {}
    names = []
    for ident, row, neutral in zip(identity.tolist(), rig_row.tolist(), is_neutral.tolist()):
        number = order.setdefault(ident, len(order) + 1)
        if neutral:
            names.append(f"{prefix}_{number:04d}_neutral")
            continue
        seen = pain_index.setdefault(ident, {})
        j = seen.setdefault(row, len(seen) + 1)
        names.append(f"{prefix}_{number:04d}_pain_{j}")
    return names


def export_3dpain(art, out: str | Path, force: bool = False, prefix: str = DEFAULT_PREFIX) -> Path:
    """Write ``art`` (opened render-views or heatmap artefact) as a 3D-Pain tree at ``out``; return it.

    Built in a temporary sibling and renamed into place; refuses an existing ``out`` unless ``force``.
    """
    from painctl.artefact.store import DirectoryOutput

    target = DirectoryOutput(out, force, inputs=[art], what="export 3dpain")
    out = target.path
    images = [_text(x) for x in art.read("image")]
    views = [_text(x) for x in art.read("view")]
    view_order = {name: k for k, name in enumerate(dict.fromkeys(_ordered_views(art, views)))}
    bases = base_names(art.read("identity"), art.read("rig_row"), art.read("is_neutral").astype(bool), prefix)
    au = art.read("au").astype(np.float64)
    pspi = art.read("pspi").astype(np.float64)
    heat = [_text(x) for x in art.read("heatmap_png")] if art.has("heatmap_png") else None
    with target as tmp:
        for sub in ("images", "annotations") + (("heatmaps",) if heat else ()):
            (tmp / sub).mkdir()
        written = set()
        for i in console.track(range(len(images)), total=len(images), description="exporting"):
            stem = f"{bases[i]}_view_{view_order[views[i]]:03d}"
            _place(art, images[i], f"/image row {i}", tmp / "images" / f"{stem}.png")
            if heat:
                _place(art, heat[i], f"/heatmap_png row {i}", tmp / "heatmaps" / f"{stem}.png")
            if bases[i] not in written:
                labels = {name: _number(au[i, j]) for j, name in enumerate(AU_NAMES)}
                labels["PSPI"] = _number(pspi[i])
                (tmp / "annotations" / f"{bases[i]}_annotations.json").write_text(json.dumps(labels, indent=2) + "\n")
                written.add(bases[i])
    console.info(f"exported {len(images)} images, {len(written)} annotations to {out}")
    return out


def _ordered_views(art, views: list[str]) -> list[str]:
    # Views numbered in the order they were requested (the render-views attrs), else first appearance.
    try:
        from painctl.views import view_name

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


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
