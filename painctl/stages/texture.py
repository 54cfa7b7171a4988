"""The texture stage: every identity's neutral photo baked into a UV texture and a textured OBJ."""

from __future__ import annotations

import numpy as np

from painctl.appearance.uv import project_texture, uv_texels
from painctl.artefact.resources import Estimate, png_bytes
from painctl.artefact.images import load_rgb
from painctl.io.export_mesh import write_textured_obj

STAGE = "texture"
#: Per-identity datasets of the render-neutral input carried into the texture artefact (with /vertices).
CARRIED = ("age_years", "age_group", "gender", "ethnicity", "phenotype")


def estimate_bytes(identities: int, size: int, n_vertices: int, n_faces: int) -> Estimate:
    """Disk and memory (bytes) of texturing ``identities`` identities at ``size`` texels square.

    Disk per identity: the texture PNG, its OBJ (about 50 bytes a vertex for its position and UV
    lines and 50 a face: 0.56 MB measured for anny's head) and the float32 vertices carried on.
    Memory: the texel coordinates, their barycentrics and a few float32 RGB maps.
    """
    texels = size * size
    return Estimate(identities * (png_bytes(texels) + 50 * (n_vertices + n_faces) + n_vertices * 3 * 4), texels * (3 * 4 * 4 + 8 * 6))


def texture_artefact(in_path: str, out: str, size: int = 1024, backend: str = "project", shard=None, force: bool = False, big_ok: bool = False):
    """Texture every identity (this shard's part) of the render-neutral artefact ``in_path`` into the
    artefact ``out``: textures/<identity>.png with textures/<identity>.obj+.mtl, and rows /identity,
    /texture, /mesh (paths), /coverage (fraction of in-layout texels seen directly)."""
    import json

    from painctl import console
    from painctl.artefact import ArtefactWriter, check_resources, open_artefact, write_dataset
    from painctl.errors import PainctlError
    from painctl.stages.render_neutral import REQUIRE, copy_attrs, save_png
    from painctl.renderer import Camera, Mesh, render
    from painctl.artefact.shard import WHOLE

    shard = shard or WHOLE
    if backend not in ("project", "hunyuan"):
        raise PainctlError(f"--backend must be project or hunyuan, got {backend!r}")
    source = open_artefact(in_path, stage="render-neutral", require=dict(REQUIRE, depth="N,H,W:f", image="N:S", camera="N:S"))
    writer = ArtefactWriter(out, STAGE, {"size": int(size), "backend": backend, "shard": str(shard)}, inputs=[source], force=force)
    if writer.cached:
        console.info(f"{writer.where} is up to date (cache hit)")
        return writer.path
    check_resources(writer.place, *estimate_bytes(len(range(*shard.bounds(source.rows()))), size, *_mesh_size(source)), what="this texture", override=big_ok)
    pipeline = None
    if backend == "hunyuan":
        # Loaded after the cache check (a cache hit pays nothing) and before any output is written.
        from painctl.diffusion.hunyuan import load_paint_pipeline

        pipeline = load_paint_pipeline()
    from PIL import Image

    faces = source.read("faces").astype(np.int32)
    uv, uv_faces = source.read("uv"), source.read("uv_faces").astype(np.int32)
    texels = uv_texels(uv, uv_faces, size)
    start, stop = shard.bounds(source.rows())
    rows = stop - start
    ids = source.read("identity", slice(start, stop)).astype(str)
    with writer:
        h5 = writer.h5
        copy_attrs(source.h5().attrs, h5.attrs)
        (writer.dir / "textures").mkdir()
        coverage = np.zeros(rows, np.float32)
        for k in console.track(range(rows), total=rows, description="texture"):
            index = start + k
            vertices = source.read("vertices", index)
            image_name = str(source.read("image", index))
            image_path = source.resolve(image_name, what=f"/image row {index}")
            texture_name = f"{ids[k]}.png"
            if backend == "hunyuan":
                import trimesh

                from painctl.diffusion.hunyuan import paint

                # Hunyuan3D unwraps and paints the bare mesh itself; its textured mesh is our output.
                bare = writer.dir / "textures" / f"{ids[k]}-untextured.obj"
                trimesh.Trimesh(vertices, faces, process=False).export(bare)
                paint(pipeline, str(bare), str(image_path), str(writer.dir / "textures" / f"{ids[k]}.obj"))
                bare.unlink()
                coverage[k] = np.nan
                continue
            image = np.asarray(load_rgb(image_path, source.where, image_name), np.float32) / 255.0
            camera = Camera.from_dict(json.loads(str(source.read("camera", index))))
            result = render(Mesh(vertices, faces), camera, [], image.shape[1::-1], shading=False)
            texture, coverage[k] = project_texture(image, result, camera, vertices, faces, texels)
            save_png(writer.dir / "textures" / texture_name, texture)
            # OBJ, MTL and PNG side by side: viewers resolve map_Kd relative to the MTL.
            write_textured_obj(writer.dir / "textures" / f"{ids[k]}.obj", vertices, faces, uv, uv_faces, texture_name)
        write_dataset(h5, "identity", ids)
        # The meshes and who they are travel on, so a pipe can go on to rig from here.
        write_dataset(h5, "vertices", source.read("vertices", slice(start, stop)).astype(np.float32), attrs={"units": "m", "frame": "+Y up, face toward +Z, right-handed"})
        for name in CARRIED:
            if source.has(name):
                ds = write_dataset(h5, name, source.read(name, slice(start, stop)))
                copy_attrs(source.h5()[name].attrs, ds.attrs)
        write_dataset(h5, "texture", np.array([f"textures/{i}.png" for i in ids], dtype=str).reshape(rows))
        write_dataset(h5, "mesh", np.array([f"textures/{i}.obj" for i in ids], dtype=str).reshape(rows))
        if source.has("lights"):
            # The lights the neutral image (so the baked texture) was lit with; render-views relights by them.
            write_dataset(h5, "lights", source.read("lights", slice(start, stop)).astype(str).reshape(rows))
        write_dataset(h5, "coverage", coverage, attrs={"meaning": "fraction of in-layout texels seen directly by the frontal camera"})
        write_dataset(h5, "uv", uv, rows=False)
        write_dataset(h5, "uv_faces", uv_faces, rows=False)
        write_dataset(h5, "faces", faces, rows=False)
    console.info(f"wrote {console.plural(rows, 'texture')} and textured meshes ({backend}) into {writer.where}")
    return writer.path


def _mesh_size(source) -> tuple[int, int]:
    layout = source.layout()
    return int(layout["vertices"][0][1]), int(layout["faces"][0][0])
