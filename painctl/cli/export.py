"""`painctl export`: write rendered views (and heatmaps) in another dataset's layout."""

import click

from painctl.cli.options import big_ok_option, force_option


@click.command()
@click.option("--format", "fmt", type=click.Choice(["3dpain"]), default="3dpain", show_default=True, help="Target layout (the released 3D-Pain dataset).")
@click.option("--prefix", default="flame_sample", show_default=True, help="Base-name prefix (the released dataset's is flame_sample).")
@force_option
@big_ok_option
@click.argument("in_path", metavar="IN")
@click.argument("out", metavar="OUT")
def export(fmt, prefix, force, big_ok, in_path, out):
    """Export IN (a render-views or heatmap artefact) to OUT in the 3D-Pain layout.

    The layout of the released dataset (Hugging Face SoroushMehraban/3D-Pain) that its authors'
    loader (TaatiTeam/Pain-in-3D data/pain3d_loader.py) reads: meshes_inpainted/<base>_view_NNN.png,
    annotations/<base>_annotations.json for pain faces only (AU4 AU6 AU7 AU9 AU10 AU43 PSPI), from a
    heatmap artefact heatmaps/<base>_view_NNN.png, and textured_meshes/<base>.obj when the input was
    rendered with a texture. Base names look like flame_sample_0000_neutral and flame_sample_0000_pain_3.

    \b
    Examples:
      painctl export --format 3dpain views/ 3dpain/
      painctl export --format 3dpain heat/ 3dpain-with-heatmaps/
    """
    from painctl.stages.export import export_3dpain

    export_3dpain(in_path, out, force=force, big_ok=big_ok, prefix=prefix)
