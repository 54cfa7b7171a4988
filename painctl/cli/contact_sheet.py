"""`painctl contact-sheet`: one PNG to look at a generated dataset."""

import click


@click.command("contact-sheet")
@click.argument("art", metavar="ART")
@click.argument("out", metavar="OUT.png", type=click.Path(dir_okay=False))
@click.option("--view", help="Camera to show (a /view name such as yaw+0_pitch+0; default: the first).")
@click.option("--rows", "max_rows", type=int, default=8, show_default=True, help="At most this many identities, as varied in demographics as the data allows.")
@click.option("--tile", type=int, default=160, show_default=True, help="Tile size in pixels.")
@click.option("--force", is_flag=True, help="Replace OUT.png if it exists.")
def contact_sheet(art: str, out: str, view: str | None, max_rows: int, tile: int, force: bool) -> None:
    """Draw identities (rows) by neutral face, pain faces by PSPI and heatmap (columns) from ART.

    ART is a render-views artefact or a heatmap artefact (which adds the heatmap column).

    \b
    Example:
      painctl contact-sheet heatmaps/ sheet.png
    """
    from painctl import console
    from painctl.artefact import open_artefact
    from painctl.artefact.images import png_info, written_by_painctl
    from painctl.artefact.store import FileOutput
    from painctl.contactsheet import contact_sheet as draw

    if max_rows < 1 or not 16 <= tile <= 1024:
        raise click.UsageError("--rows must be at least 1 and --tile 16-1024")
    target = FileOutput(out, force, ours=written_by_painctl, what="PNG file")
    sheet = draw(open_artefact(art, stage=("render-views", "heatmap")), view=view, max_rows=max_rows, tile=tile)
    with target as partial:
        sheet.save(partial, format="PNG", pnginfo=png_info())
    console.info(f"wrote {out} ({sheet.width}x{sheet.height})")
