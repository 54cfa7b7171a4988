"""`painctl render-views`: neutral and pain faces of every identity under the same cameras and lights."""

import click

from painctl.cli.options import big_ok_option, force_option, seed_option, shard_option


@click.command("render-views")
@click.option("--texture", metavar="TEXTURE", help="Texture artefact (stage texture) giving each identity's UV texture; default: the texture RIG was rigged from, if any, else plain skin albedo ('none' forces that).")
@click.option("--views", default="0/0,-30/0,30/0", show_default=True, help="Comma-separated yaw/pitch pairs in degrees (yaw -90..90, pitch -60..60).")
@click.option("--size", type=click.IntRange(16, 4096), default=224, show_default=True, help="Image side in pixels.")
@click.option("--background", default="room", show_default=True, metavar="KIND", help="room (procedural rooms), plain, noise, gradient, a directory of images, or kandinsky-inpaint.")
@click.option("--camera-model", type=click.Choice(["photo", "none"]), default="photo", show_default=True, help="photo: focal length, framing, defocus, white balance, exposure, sensor noise and JPEG drawn per image; none: the fixed pinhole, no image effects.")
@click.option("--pose-jitter", type=float, default=4.0, show_default=True, metavar="DEG", help="Standard deviation (degrees) of the head-pose jitter in yaw and pitch (roll 0.75 of it); 0 turns it off.")
@click.option("--lighting", type=click.Choice(["room", "studio"]), default="room", show_default=True, help="room: key, fill and image-based light drawn per identity from its room; studio: the lights the texture was baked under (or the studio rig).")
@click.option("--maps/--no-maps", default=True, show_default=True, help="Write segmentation, depth and normal maps beside each image.")
@click.option("--inpaint-model", metavar="MODEL", help="Kandinsky 2.2 inpainting pipeline (Hugging Face id or local directory) for --background kandinsky-inpaint.")
@click.option("--inpaint-steps", type=click.IntRange(min=1), default=25, show_default=True, help="Denoising steps for --background kandinsky-inpaint.")
@click.option("--renderer", type=click.Choice(["moderngl", "pytorch3d"]), default="moderngl", show_default=True, help="Rendering backend.")
@click.option("--without", metavar="PARTS", help="Leave these parts out: comma-separated names (see painctl-render-views(1)) or 'all' for the bare head.")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Worker processes (default: every core this process may use that memory holds a worker for).")
@seed_option
@shard_option
@force_option
@big_ok_option
@click.argument("rig", metavar="RIG")
@click.argument("out", metavar="OUT")
def render_views(texture, views, size, background, camera_model, pose_jitter, lighting, maps, inpaint_model, inpaint_steps, renderer, without, jobs, seed, shard, force, big_ok, rig, out):
    """Render every identity of RIG (a rig artefact): its neutral face and each pain face, in every view.

    The cameras are framed once per identity on its neutral face and shared by its pain faces,
    with the same room, lights, pose jitter and camera model (noise included), so a pair differs
    only by the expression. Writes images/<identity>_<rigrow>_<view>.png, segmentation/, depth/
    and normals/ maps of the same names, and an index in data.h5.

    \b
    Examples:
      painctl render-views pain/ views/
      painctl render-views --texture tex/ --views 0/0,-30/0,30/0,0/20 --size 512 pain/ views/
      painctl render-views --background noise --seed 3 --shard 2/8 pain/ views-2/
      painctl render-views --background plain --camera-model none --pose-jitter 0 --lighting studio pain/ views/
    """
    from painctl.artefact import open_artefact
    from painctl.stages.render_views import RIG_REQUIRE, ViewsRequest, render_views as run, texture_for

    request = ViewsRequest.of(views=views, size=size, background=background, camera_model=camera_model, pose_jitter=pose_jitter,
                              lighting=lighting, maps=maps, renderer=renderer, seed=seed,
                              inpaint_model=inpaint_model, inpaint_steps=inpaint_steps, without=without)
    request.check()  # before the rig is read: a bad option is refused at once
    rig_art = open_artefact(rig, stage="rig", require=RIG_REQUIRE)
    run(rig_art, out, request, texture=texture_for(rig_art, texture), shard=shard, force=force, big_ok=big_ok, jobs=jobs)
