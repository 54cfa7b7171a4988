"""A contact sheet: identities (rows) by neutral face, pain levels and heatmap (columns), as one PNG or JPEG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from painctl.artefact import Artefact
from painctl.errors import ArtefactError, PainctlError

VIEWS_REQUIRE = {"image": "M:S", "identity": "M:S", "pspi": "M:f", "is_neutral": "M:bui", "view": "M:S"}


def pick_identities(labels: list[tuple[str, str]], limit: int) -> list[str]:
    """Pick up to ``limit`` identities from (identity, demographic label) pairs, one per label first.

    Cycling over the distinct labels keeps the rows as varied in age, gender and ancestry as the
    data allows; the order is that of first appearance, so the result is deterministic.
    """
    by_label: dict[str, list[str]] = {}
    for identity, label in labels:
        members = by_label.setdefault(label, [])
        if identity not in members:
            members.append(identity)
    chosen: list[str] = []
    while len(chosen) < limit and any(by_label.values()):
        for members in by_label.values():
            if members and len(chosen) < limit:
                chosen.append(members.pop(0))
    return chosen


def contact_sheet(views: Artefact, heatmaps: Artefact | None = None, view: str | None = None, max_rows: int = 8, tile: int = 160) -> Image.Image:
    """Return a PIL image with one row per identity: neutral, its pain faces by PSPI, and a heatmap.

    ``views`` is a render-views or heatmap artefact; ``heatmaps`` (optional; by default ``views``
    itself when it is a heatmap artefact) supplies heatmap PNGs whose rows align with it; ``view``
    picks the camera (default: the first view name). Tiles are ``tile`` pixels square, captioned
    with the PSPI; rows are labelled with the identity and its demographics.
    """
    if heatmaps is None and views.has("heatmap_png"):
        heatmaps = views
    from painctl.artefact.schema import check_datasets

    check_datasets(views.shapes(), VIEWS_REQUIRE, str(views.path))
    image = views.read("image")
    identity = views.read("identity")
    pspi = views.read("pspi").astype(float)
    neutral = views.read("is_neutral").astype(bool)
    names = views.read("view")
    view = view or str(names[0])
    if view not in set(names.tolist()):
        raise ArtefactError(f"{views.where}: has no view named {view!r} (views: {', '.join(sorted(set(names.tolist())))})")
    demo = [views.read(n) if views.has(n) else np.full(len(identity), "", dtype=object) for n in ("age_group", "gender", "ethnicity")]
    label = [" ".join(str(d[i]) for d in demo).strip() for i in range(len(identity))]
    heat_png = _heatmap_paths(heatmaps, len(identity)) if heatmaps is not None else None

    rows = pick_identities([(identity[i], label[i]) for i in range(len(identity)) if names[i] == view], max_rows)
    per_row = []
    for ident in rows:
        sel = [i for i in range(len(identity)) if identity[i] == ident and names[i] == view]
        neutrals = [i for i in sel if neutral[i]]
        pains = sorted((i for i in sel if not neutral[i]), key=lambda i: pspi[i])
        per_row.append((ident, neutrals[:1], pains))
    columns = 1 + max((len(p) for _, _, p in per_row), default=0) + (1 if heat_png is not None else 0)
    margin = 150
    sheet = Image.new("RGB", (margin + columns * tile, len(per_row) * (tile + 18) + 4), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (ident, neutrals, pains) in enumerate(per_row):
        y = r * (tile + 18) + 2
        first = (neutrals or pains)[0]
        draw.text((6, y + tile // 2 - 12), ident, fill="black")
        draw.text((6, y + tile // 2 + 2), label[first], fill="black")
        cells = [(i, "neutral") for i in neutrals] + [(i, f"PSPI {pspi[i]:g}") for i in pains]
        for c, (i, caption) in enumerate(cells):
            _paste(sheet, views.resolve(str(image[i]), what=f"/image row {i}"), margin + c * tile, y, tile, views.where, str(image[i]))
            draw.text((margin + c * tile + 4, y + tile + 2), caption, fill="black")
        if heat_png is not None and pains:
            top = pains[-1]
            _paste(sheet, heatmaps.resolve(str(heat_png[top]), what=f"heatmap row {top}"), margin + (columns - 1) * tile, y, tile, heatmaps.where,
                   str(heat_png[top]))
            draw.text((margin + (columns - 1) * tile + 4, y + tile + 2), f"heatmap PSPI {pspi[top]:g}", fill="black")
    return sheet


def _heatmap_paths(heatmaps: Artefact, rows: int) -> np.ndarray:
    for name in ("heatmap_png", "heatmap_image", "heatmap"):
        if heatmaps.has(name):
            paths = heatmaps.read(name)
            if paths.dtype.kind in "US" and len(paths) == rows:
                return paths
    raise ArtefactError(f"{heatmaps.where}: has no heatmap PNG paths aligned with the views' rows")


def _paste(sheet: Image.Image, path: Path, x: int, y: int, tile: int, where: str, name: str) -> None:
    # Missing files were refused by resolve(); a corrupt one is refused here, never a blank cell.
    from painctl.artefact.images import load_rgb, verify_png

    verify_png(path, where, name)
    sheet.paste(load_rgb(path, where, name).resize((tile, tile), Image.Resampling.LANCZOS), (x, y))


#: Image formats a contact sheet can be written in, by file name ending.
SHEET_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
#: The PNG text chunk that carries the stamp of a sheet painctl wrote (a JPEG carries it as its comment).
STAMP_KEY = "painctl"


def sheet_format(path: str | Path) -> str:
    """The PIL format a contact sheet named ``path`` is written in (PNG or JPEG, from its ending)."""
    fmt = SHEET_FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise PainctlError(f"{path}: a contact sheet's name must end in {', '.join(SHEET_FORMATS)} (the format is taken from it)")
    return fmt


def read_stamp(path: Path) -> str | None:
    """The parameters stamp painctl wrote into an existing sheet, or None (not painctl's or unreadable)."""
    try:
        with Image.open(path) as im:
            stamp = im.text.get(STAMP_KEY) if im.format == "PNG" else im.info.get("comment")
    except (OSError, ValueError):
        return None
    if isinstance(stamp, bytes):
        stamp = stamp.decode("utf-8", "replace")
    return stamp
