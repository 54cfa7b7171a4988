"""`painctl contact-sheet`: one image (PNG or JPEG) to look at a generated dataset."""

import click


@click.command("contact-sheet")
@click.argument("art", metavar="ART")
@click.argument("out", metavar="[OUT]", required=False, type=click.Path(dir_okay=False))
@click.option("--out", "out_option", metavar="FILE", type=click.Path(dir_okay=False),
              help="Where to write: .png, .jpg or .jpeg, the format follows the name. [default: ART's name + -contact-sheet.png]")
@click.option("--view", help="Camera to show (a /view name such as yaw+0_pitch+0; default: the first).")
@click.option("--rows", "max_rows", type=click.IntRange(min=1), default=8, show_default=True, help="At most this many identities, as varied in demographics as the data allows.")
@click.option("--tile", type=click.IntRange(16, 1024), default=160, show_default=True, help="Tile size in pixels.")
@click.option("--force", is_flag=True, help="Replace OUT if it exists with another input or parameters.")
def contact_sheet(art: str, out: str | None, out_option: str | None, view: str | None, max_rows: int, tile: int, force: bool) -> None:
    """Draw identities (rows) by neutral face, pain faces by PSPI and heatmap (columns) from ART.

    ART is a render-views artefact or a heatmap artefact (which adds the heatmap column). OUT ending
    in .jpg or .jpeg is written as JPEG, else .png as PNG; without OUT the sheet goes to
    <ART name>-contact-sheet.png in the working directory. The same command twice is a cache hit.

    \b
    Example:
      painctl contact-sheet heatmaps/
      painctl contact-sheet --view yaw-30_pitch+0 views/ sheet.jpg
    """
    from painctl.cli.options import pick_out, source_name
    from painctl.stages.contact_sheet import write_contact_sheet

    out = pick_out(out, out_option) or f"{source_name(art)}-contact-sheet.png"
    write_contact_sheet(art, out, view=view, max_rows=max_rows, tile=tile, force=force)
