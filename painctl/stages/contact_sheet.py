"""`painctl contact-sheet`: the sheet of :func:`painctl.plots.contact_sheet.contact_sheet` written as one
PNG or JPEG file that carries a stamp of its input and parameters (so the same call again is a cache hit)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from painctl.artefact import Artefact
from painctl.artefact.stage import Context, Input, Parameters, SingleFile, Stage, run
from painctl.plots.contact_sheet import STAMP_KEY, contact_sheet, read_stamp, sheet_format

STAGE = "contact-sheet"


@dataclass(frozen=True)
class ContactSheetParams(Parameters):
    """contact-sheet's parameters: the camera ``view`` (None: the first), at most ``max_rows``
    identities, tiles ``tile`` pixels square."""

    view: str | None = None
    max_rows: int = 8
    tile: int = 160


def _stamp(ctx: Context) -> str:
    # The same keys as every sheet painctl has written, so an existing sheet stays a cache hit.
    p = ctx.params
    return json.dumps({"stage": STAGE, "input": ctx.inputs["art"].digest, "view": p.view, "max_rows": p.max_rows, "tile": p.tile,
                       "format": sheet_format(ctx.path)}, sort_keys=True)


def _draw(ctx: Context) -> str:
    p, fmt, stamp = ctx.params, sheet_format(ctx.path), ctx.writer.stamp
    sheet = contact_sheet(ctx.inputs["art"], view=p.view, max_rows=p.max_rows, tile=p.tile)
    if fmt == "PNG":
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        info.add_text(STAMP_KEY, stamp)
        sheet.save(ctx.file, format="PNG", pnginfo=info)
    else:
        sheet.save(ctx.file, format="JPEG", quality=92, comment=stamp.encode())
    ctx.result = sheet
    return f"wrote a contact sheet of {ctx.inputs['art'].where} to {ctx.path} ({sheet.width}x{sheet.height} {fmt})"


#: contact-sheet: one render-views or heatmap input; OUT is one image file, replaced only if painctl
#: wrote it (it carries a stamp), cached when it carries this very call's stamp.
CONTACT_SHEET = Stage(STAGE, ContactSheetParams, _draw, inputs=(Input("art", stages=("render-views", "heatmap")),),
                      output=SingleFile(what="contact sheet", ours=lambda path: read_stamp(path) is not None, stamp=_stamp,
                                        read_stamp=read_stamp, check=sheet_format))


def write_contact_sheet(art: str | os.PathLike | Artefact, out: str | os.PathLike, view: str | None = None, max_rows: int = 8,
                        tile: int = 160, force: bool = False):
    """Draw the contact sheet of ``art`` (a render-views or heatmap artefact, path or opened) and write
    it atomically to ``out`` (PNG or JPEG, from the name). Returns the PIL image written, or ``out``'s
    path on a cache hit (the file there already carries this call's stamp; nothing is drawn)."""
    return run(CONTACT_SHEET, out, ContactSheetParams(view=view, max_rows=int(max_rows), tile=int(tile)), {"art": art}, force=force)


__all__ = ["write_contact_sheet", "CONTACT_SHEET", "ContactSheetParams"]
