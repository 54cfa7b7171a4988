"""`painctl texture`: UV textures and textured meshes from the neutral images."""

import click

from painctl.cli.options import big_ok_option, force_option, in_argument, out_argument, shard_option


@click.command("texture")
@click.option("--size", type=click.IntRange(64, 8192), default=1024, show_default=True, help="Texture size in texels (square).")
@click.option("--backend", type=click.Choice(["project", "hunyuan"]), default="project", show_default=True,
              help="project: back-project the frontal image, mirror and pull-push fill; hunyuan: Hunyuan3D 2.1 paint (if installed).")
@shard_option
@force_option
@big_ok_option
@in_argument
@out_argument
def texture(size, backend, shard, force, big_ok, in_path, out):
    """Build a UV texture and a textured OBJ+MTL mesh for each identity of render-neutral artefact IN.

    \b
    Example:
      painctl texture neutral/ textured/
    """
    from painctl.stages.texture import texture_artefact as run

    run(in_path, out, size=size, backend=backend, shard=shard, force=force, big_ok=big_ok)
