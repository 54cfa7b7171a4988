"""`painctl heatmap`: pain-region heatmaps aligned pixel for pixel with the rendered views."""

import click

from painctl.cli.options import big_ok_option, force_option


@click.command()
@click.option("--rig", metavar="RIG", help="The rig artefact VIEWS was rendered from (default: the one its manifest records; checked by digest).")
@force_option
@big_ok_option
@click.argument("views_path", metavar="VIEWS")
@click.argument("out", metavar="OUT")
def heatmap(rig, force, big_ok, views_path, out):
    """Write, for every image of VIEWS (a render-views artefact), the displacement from the neutral face.

    Per pain image: /heatmap (metres, float32) and a colour-mapped PNG, aligned with the RGB image;
    per AU alone: /au_heatmap (float16); neutral images get zeros. stats.png shows the mean and
    spread of displacement per AU and per PSPI level in UV space.

    \b
    Examples:
      painctl heatmap views/ heat/
      painctl heatmap --rig pain/ views/ heat/
    """
    from painctl.stages.heatmap import heatmap as run

    run(views_path, out, rig=rig, force=force, big_ok=big_ok)
