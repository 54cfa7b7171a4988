"""`painctl render-neutral`: frontal depth maps and neutral face images."""

import click

from painctl.cli.options import big_ok_option, force_option, in_argument, out_argument, seed_option, shard_option


@click.command("render-neutral")
@click.option("--backend", type=click.Choice(["shaded", "kandinsky"]), default="shaded", show_default=True,
              help="shaded: our skin model under studio lights (CPU); kandinsky: Kandinsky 2.2 depth ControlNet.")
@click.option("--size", type=click.IntRange(16, 4096), default=512, show_default=True, help="Image size in pixels (square).")
@click.option("--texture-size", type=click.IntRange(64, 8192), default=1024, show_default=True, help="Skin albedo texture size in texels.")
@click.option("--model", default=None, metavar="ID|DIR", help="Kandinsky 2.2 depth ControlNet decoder (Hub id in the local cache or a directory).")
@click.option("--prior-model", default=None, metavar="ID|DIR", help="Kandinsky 2.2 prior (Hub id in the local cache or a directory).")
@click.option("--steps", type=click.IntRange(min=1), default=50, show_default=True, help="Denoising steps (kandinsky).")
@click.option("--lights", type=click.Choice(["studio", "soft", "side", "random"]), default="studio", show_default=True,
              help="Light preset (shaded backend): studio three-light rig, soft frontal, side key, or random per identity.")
@click.option("--renderer", type=click.Choice(["moderngl", "pytorch3d"]), default="moderngl", show_default=True, help="Rendering backend.")
@seed_option
@shard_option
@force_option
@big_ok_option
@in_argument
@out_argument
def render_neutral(backend, size, texture_size, model, prior_model, steps, lights, renderer, seed, shard, force, big_ok, in_path, out):
    """Render each identity of mesh artefact IN frontally into OUT: depth map and neutral face.

    Writes /depth (float32, metres), /image, /depth_png and /albedo PNG paths, /camera (JSON), and
    carries the meshes and demographics, so `painctl texture OUT ...` needs nothing else.

    \b
    Example:
      painctl render-neutral heads/ neutral/
      painctl render-neutral --backend kandinsky --steps 50 heads/ neutral-kd/
    """
    from painctl.stages.render_neutral import render_neutral as run

    run(in_path, out, backend=backend, size=size, seed=seed, shard=shard, force=force, big_ok=big_ok, model=model,
        prior_model=prior_model, steps=steps, texture_size=texture_size, renderer=renderer, lights=lights)
