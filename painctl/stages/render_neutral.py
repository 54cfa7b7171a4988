"""`render-neutral`: per identity the frontal depth map and a neutral face image.

Backends: ``shaded`` (our skin model on the renderer, CPU) and ``kandinsky`` (Kandinsky 2.2 prior +
depth ControlNet with the depth map as the hint). The output carries the mesh datasets of its input
(with the skin atlas as /uv, /uv_faces) so `texture` and later stages need nothing else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from painctl import console
from painctl.artefact import IDENTITY
from painctl.artefact.resources import H5_IMAGE_RATIO, Estimate, png_bytes
from painctl.artefact.stage import Input, Parameters, Stage, run
from painctl.errors import BadValue
from painctl.artefact.shard import WHOLE, Shard

STAGE = "render-neutral"
BACKENDS = ("shaded", "kandinsky")
#: Background grey of shaded images (sRGB).
BACKGROUND = 0.5
REQUIRE = dict(IDENTITY, uv="T,2:f", uv_faces="F,3:iu")
#: Names accepted by --lights.
LIGHT_PRESETS = ("studio", "soft", "side", "random")
#: Shaded renders are lit at 1/HEADROOM, so linear values up to HEADROOM survive the renderer's 8-bit
#: output (the studio key on a light forehead reaches ~1.2 and used to clip to white), then scaled
#: back and put through :func:`tone_map`. 1.5 costs at most ~1.2 8-bit steps of precision in the darks.
HEADROOM = 1.5
#: Linear level where the tone curve's shoulder starts (sRGB 0.80); below it nothing changes, which
#: covers dark and medium skin except their specular highlights.
KNEE = 0.6


def light_preset(name: str, seed: int = 0, index: int = 0) -> list:
    """The lights of preset ``name`` for identity ``index``: studio (the renderer's three-light rig),
    soft (broad frontal light, more ambient), side (a strong key from the left, little fill) or
    random (the studio rig with its key turned up to 25 degrees and its intensities varied, drawn
    from (seed, index) so shards reproduce). Directions are world axes, face toward +Z."""
    from painctl.renderer import Light, studio_lights

    if name == "studio":
        return studio_lights()
    if name == "soft":
        return [Light(direction=[-0.2, 0.3, 0.93], colour=[1.0, 0.97, 0.93], intensity=1.3, ambient=0.35),
                Light(direction=[0.4, 0.1, 0.9], colour=[0.9, 0.93, 1.0], intensity=0.5, ambient=0.0)]
    if name == "side":
        return [Light(direction=[-0.85, 0.3, 0.45], colour=[1.0, 0.95, 0.88], intensity=2.0, ambient=0.12),
                Light(direction=[0.6, 0.0, 0.8], colour=[0.85, 0.9, 1.0], intensity=0.25, ambient=0.0)]
    if name == "random":
        from scipy.spatial.transform import Rotation

        from painctl.seeding import rng_for

        rng = rng_for(seed, "render-neutral/lights", index)
        turn = Rotation.from_rotvec(rng.normal(size=3) / np.sqrt(3) * np.deg2rad(rng.uniform(0, 25)))
        lights = studio_lights()
        for light in lights:
            light.direction = turn.apply(light.direction)
            light.intensity *= float(rng.uniform(0.85, 1.15))
        return lights
    raise BadValue("lights", f"must be one of {', '.join(LIGHT_PRESETS)}, got {name!r}")


#: Gaussian widths (mm, R G B) of the light skin carries under its surface before it comes out again:
#: red light travels furthest, blue least (the spread of skin's measured diffusion profile, d'Eon and
#: Luebke 2007), which softens shading edges and reddens the terminator. Shaded images blur the
#: diffuse light on skin by these widths (screen-space subsurface scattering, as in Jimenez et al.
#: 2009), keeping SUBSURFACE_CORE of it sharp; () turns it off.
SUBSURFACE_MM = (1.5, 0.7, 0.4)
SUBSURFACE_CORE = 0.4


def subsurface(lit: np.ndarray, mesh, camera, lights: list, size: int, renderer: str, result, skin_faces: np.ndarray | None = None) -> np.ndarray:
    """Return ``lit`` (H,W,3) linear RGB with skin's diffuse light spread under the surface.

    Renders ``mesh`` twice more (without specular, and unlit for the albedo) to split ``lit`` into
    albedo x irradiance + specular, blurs the irradiance per channel by :data:`SUBSURFACE_MM`
    (converted to pixels at the face's depth) over skin pixels only (``skin_faces`` (F,) bool;
    eyes and lips-free interiors keep their own light), and puts it back together.
    """
    from dataclasses import replace

    from scipy.ndimage import gaussian_filter

    from painctl.renderer.colour import srgb_to_linear
    from painctl.renderer import render

    diffuse = srgb_to_linear(render(replace(mesh, specular=0.0), camera, lights, size, backend=renderer).rgb) * HEADROOM
    albedo = srgb_to_linear(render(mesh, camera, lights, size, backend=renderer, shading=False).rgb)
    covered = result.triangle >= 0
    skin = covered & (skin_faces[np.clip(result.triangle, 0, None)] if skin_faces is not None else True)
    if not skin.any():
        return lit
    depth = float(np.median(result.depth[covered]))
    px_per_mm = camera.focal_pixels(size) / depth * 1e-3
    # Only skin pixels are spread and only their outputs are used; everything else is zero in
    # both blurred images, so filtering the skin's bounding box grown by the widest kernel's
    # reach (scipy's 4 sigma) gives those pixels exactly the values a whole-image filter gives.
    ys, xs = np.nonzero(skin)
    reach = int(4.0 * max(SUBSURFACE_MM) * px_per_mm + 0.5) + 1
    box = (slice(max(int(ys.min()) - reach, 0), int(ys.max()) + reach + 1), slice(max(int(xs.min()) - reach, 0), int(xs.max()) + reach + 1))
    skin, diffuse, albedo, lit_box = skin[box], diffuse[box], albedo[box], lit[box]
    irradiance = np.where(skin[..., None], diffuse / np.maximum(albedo, 1e-3), 0.0)
    weight = skin.astype(np.float64)
    out = lit.copy()
    specular = np.clip(lit_box - diffuse, 0.0, None)
    for c, mm in enumerate(SUBSURFACE_MM):
        sigma = mm * px_per_mm
        spread = gaussian_filter(irradiance[..., c], sigma) / np.maximum(gaussian_filter(weight, sigma), 1e-6)
        blurred = SUBSURFACE_CORE * irradiance[..., c] + (1 - SUBSURFACE_CORE) * spread
        out[box][..., c] = np.where(skin, albedo[..., c] * blurred + specular[..., c], lit_box[..., c])
    return out


def dimmed(lights: list, factor: float) -> list:
    """Copies of ``lights`` with intensity and ambient times ``factor`` (an exposure change: the
    shading is linear in both)."""
    from painctl.renderer import Light

    return [Light(direction=light.direction, colour=light.colour, intensity=light.intensity * factor, ambient=light.ambient * factor)
            for light in lights]


def tone_map(linear: np.ndarray, knee: float = KNEE) -> np.ndarray:
    """Film-like shoulder on linear RGB (...,3): unchanged up to ``knee``, then rolling off toward 1
    with matching slope, so highlights keep their gradation instead of clipping to white."""
    x = np.asarray(linear, np.float64)
    shoulder = knee + (1.0 - knee) * (1.0 - np.exp(-np.maximum(x - knee, 0.0) / (1.0 - knee)))
    return np.where(x <= knee, x, shoulder)


def depth_png(depth: np.ndarray) -> np.ndarray:
    """(H,W) uint8 visualisation of a depth map in metres (+inf background): near bright, background black."""
    from painctl.diffusion.kandinsky import depth_hint

    return (depth_hint(depth)[0] * 255.0 + 0.5).astype(np.uint8)


def save_png(path: Path, image: np.ndarray) -> None:
    """Write a uint8 (H,W) or (H,W,3) array, or a float one in [0,1], as a PNG without timestamps."""
    from PIL import Image

    array = np.asarray(image)
    if array.dtype != np.uint8:
        array = (np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    # zlib level 1: several times faster than the default 6 for files a few percent larger.
    Image.fromarray(array).save(path, format="PNG", optimize=False, compress_level=1)


@dataclass(frozen=True)
class RenderNeutralParams(Parameters):
    """render-neutral's parameters: ``backend`` (shaded or kandinsky), ``lights`` preset, image ``size``
    and skin ``texture_size`` (pixels, square), ``seed``; for kandinsky its ``model``, ``prior_model``
    (None: the defaults) and denoising ``steps``, recorded only with that backend."""

    backend: str = "shaded"
    lights: str = "studio"
    size: int = 512
    seed: int = 0
    texture_size: int = 1024
    model: str | None = None
    prior_model: str | None = None
    steps: int = 50

    def check(self) -> None:
        if self.backend not in BACKENDS:
            raise BadValue("backend", f"must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if not 16 <= self.size <= 4096:
            raise BadValue("size", f"must be 16-4096 pixels, got {self.size}")
        if self.steps < 1:
            raise BadValue("steps", f"must be at least 1, got {self.steps}")
        if self.lights not in LIGHT_PRESETS:
            raise BadValue("lights", f"must be one of {', '.join(LIGHT_PRESETS)}, got {self.lights!r}")

    def manifest(self, inputs) -> dict:
        from painctl.diffusion.loading import CONTROLNET_MODEL, PRIOR_MODEL

        params = {"backend": self.backend, "lights": self.lights, "size": int(self.size), "seed": int(self.seed), "texture_size": int(self.texture_size)}
        if self.backend == "kandinsky":
            params.update(model=self.model or CONTROLNET_MODEL, prior_model=self.prior_model or PRIOR_MODEL, steps=int(self.steps))
        return params


def estimate_bytes(identities: int, size: int, texture_size: int, n_vertices: int) -> Estimate:
    """Disk and memory (bytes) of rendering ``identities`` neutral faces at ``size`` pixels with
    skin maps of ``texture_size`` texels, meshes of ``n_vertices`` vertices.

    Disk per identity: the image, depth and albedo PNGs, the gzip'd float32 /depth and /mask, and
    the float32 vertices carried on.
    Memory: about a dozen float64 RGB frames (the subsurface split and its blurs) and a few
    float32 RGB maps at the texture size, for one identity at a time.
    """
    pixels, texels = size * size, texture_size * texture_size
    disk = identities * (png_bytes(pixels) + png_bytes(pixels, 1) + png_bytes(texels) + int(pixels * 5 * H5_IMAGE_RATIO) + n_vertices * 3 * 4)
    return Estimate(disk, pixels * 3 * 8 * 12 + texels * 3 * 4 * 8)


def _estimate(ctx) -> dict:
    disk, memory = estimate_bytes(ctx.count, ctx.params.size, ctx.params.texture_size, ctx.inputs["heads"].layout()["vertices"][0][1])
    return {"disk_bytes": disk, "memory_bytes": memory, "what": "this render-neutral"}


def _load_generator(ctx):
    if ctx.params.backend != "kandinsky":
        return None
    from painctl.diffusion.kandinsky import DepthToFace
    from painctl.diffusion.loading import CONTROLNET_MODEL, PRIOR_MODEL

    return DepthToFace(ctx.params.model or CONTROLNET_MODEL, ctx.params.prior_model or PRIOR_MODEL)


@dataclass(frozen=True)
class NeutralLayout:
    """What every identity of a run shares: the topology ``faces`` (F,3) int32, the skin atlas
    (``uv`` (T,2), ``uv_faces`` (F,3)) with its texels at ``texture_size``, the face model's
    ``regions`` and ``landmarks``, ``skin_faces`` (F,) bool (triangles whose corners are all skin)
    and the artefact's phenotype column ``names``."""

    faces: np.ndarray
    uv: np.ndarray
    uv_faces: np.ndarray
    texels: object
    regions: dict
    landmarks: dict
    skin_faces: np.ndarray
    names: list


def neutral_layout(source, texture_size: int) -> NeutralLayout:
    """Build the :class:`NeutralLayout` of the sample-mesh artefact ``source`` (opened)."""
    from painctl.appearance.skin import face_atlas
    from painctl.appearance.uv import uv_texels
    from painctl.facemodels import face_model_of

    face_model = face_model_of(source)
    regions, landmarks = face_model.region_vertices(), face_model.landmarks()
    faces = source.read("faces").astype(np.int32)
    uv, uv_faces = face_atlas(faces, source.read("uv"), source.read("uv_faces"), regions)
    texels = uv_texels(uv, uv_faces, texture_size)
    skin_member = np.zeros(int(faces.max()) + 1, bool)
    skin_member[np.asarray(regions["skin"])] = True
    names = source.attrs("phenotype").get("names", source.attrs().get("phenotype_names", []))
    return NeutralLayout(faces, uv, uv_faces, texels, regions, landmarks, skin_member[faces].all(1), names)


@dataclass
class NeutralFace:
    """One identity's render: the ``image`` (H,W,3) sRGB in [0,1] (or uint8), the renderer's
    ``result`` (depth, mask), its skin ``maps``, ``camera``, ``skin`` parameters, ``lights`` and the
    diffusion ``prompt`` ("" when shaded)."""

    image: np.ndarray
    result: object
    maps: object
    camera: object
    skin: object
    lights: list
    prompt: str


def shade(mesh, camera, rig: list, size: int, renderer: str, skin_faces: np.ndarray):
    """Render ``mesh`` under the light ``rig`` with :data:`HEADROOM`, the subsurface spread and the
    tone curve, over the :data:`BACKGROUND` grey; return (RenderResult, image (H,W,3) sRGB [0,1])."""
    from painctl.renderer import render
    from painctl.renderer.colour import linear_to_srgb, srgb_to_linear

    lights = dimmed(rig, 1.0 / HEADROOM)
    result = render(mesh, camera, lights, size, backend=renderer)
    lit = srgb_to_linear(result.rgb) * HEADROOM
    if SUBSURFACE_MM:
        lit = subsurface(lit, mesh, camera, lights, size, renderer, result, skin_faces=skin_faces)
    shaded = linear_to_srgb(tone_map(lit))
    alpha = result.alpha[..., None]
    return result, shaded * alpha + BACKGROUND * (1.0 - alpha)


def render_face(layout: NeutralLayout, vertices: np.ndarray, who: dict, index: int, backend: str, size: int, seed: int,
                texture_size: int, renderer: str, preset: str, generator=None, steps: int = 50) -> NeutralFace:
    """Paint, light and render identity ``index`` (global) with ``vertices`` (V,3) metres and
    demographics ``who`` (age_years, gender, ethnicity, phenotype) by ``backend``."""
    from painctl.appearance.skin import skin_maps, skin_params
    from painctl.renderer import Mesh, frame_camera, render
    from painctl.seeding import seed_for

    skin = skin_params(layout.names, who["phenotype"], float(who["age_years"]), seed, index)
    maps = skin_maps(vertices, layout.faces, layout.uv, layout.uv_faces, layout.regions, layout.landmarks, skin, texture_size, texels=layout.texels)
    camera = frame_camera(vertices, size=size)
    mesh = Mesh(vertices, layout.faces, uv=layout.uv, uv_faces=layout.uv_faces, texture=maps.albedo, specular=maps.specular, roughness=maps.roughness)
    rig = light_preset(preset, seed, index)
    if backend == "shaded":
        result, image = shade(mesh, camera, rig, size, renderer, layout.skin_faces)
        return NeutralFace(image, result, maps, camera, skin, rig, "")
    from painctl.diffusion.kandinsky import face_prompt

    # The diffusion backend needs only the depth map: the lit render is not used.
    result = render(mesh, camera, dimmed(rig, 1.0 / HEADROOM), size, backend=renderer)
    prompt = face_prompt(float(who["age_years"]), who["gender"], who["ethnicity"])
    image = generator(result.depth, prompt, steps=steps, seed=seed_for(seed, "render-neutral/diffusion", index))
    return NeutralFace(image, result, maps, camera, skin, rig, prompt)


#: Per-identity datasets carried from the sample-mesh input, with their attributes.
CARRIED = ("identity", "age_years", "age_group", "gender", "ethnicity", "phenotype")


def _copy_inputs(source, h5, layout: NeutralLayout, start: int, stop: int) -> tuple[np.ndarray, dict]:
    """Write the mesh datasets and the carried rows ``start:stop`` of the input artefact ``source``
    into ``h5``, with their attributes; return the vertices (N,V,3) float32 and the carried rows by name."""
    from painctl.artefact import copy_attrs, write_dataset

    with source.h5() as src:
        copy_attrs(src.attrs, h5.attrs)
    write_dataset(h5, "faces", layout.faces, rows=False)
    write_dataset(h5, "uv", layout.uv, rows=False, attrs={"layout": "painctl skin atlas (repacked model UVs)"})
    write_dataset(h5, "uv_faces", layout.uv_faces, rows=False)
    vertices = source.read("vertices", slice(start, stop)).astype(np.float32)
    write_dataset(h5, "vertices", vertices, attrs={"units": "m", "frame": "+Y up, face toward +Z, right-handed"})
    carried = {}
    for name in CARRIED:
        carried[name] = source.read(name, slice(start, stop))
        ds = write_dataset(h5, name, carried[name])
        with source.h5() as src:
            copy_attrs(src[name].attrs, ds.attrs)
    return vertices, carried


def _render_neutral(ctx) -> str:
    from painctl.artefact import create_rows, write_dataset
    from painctl.renderer import lights_to_list

    source, h5, generator, p = ctx.inputs["heads"], ctx.h5, ctx.models, ctx.params
    renderer = ctx.options.get("renderer", "moderngl")
    layout = neutral_layout(source, p.texture_size)
    start, stop = ctx.start, ctx.stop
    rows = stop - start
    vertices, carried = _copy_inputs(source, h5, layout, start, stop)
    # One image per chunk: images are read one at a time.
    depth = create_rows(h5, "depth", (rows, p.size, p.size), np.float32, chunk_rows=1, compression="gzip",
                        attrs={"units": "m along the view axis; +inf on the background"})
    mask = create_rows(h5, "mask", (rows, p.size, p.size), bool, chunk_rows=1, compression="gzip")
    ids = carried["identity"].astype(str)
    genders, eths = carried["gender"].astype(str), carried["ethnicity"].astype(str)
    cameras, prompts, skins, rigs = [], [], [], []
    # One BLAS thread for the shaded backend: an identity's products are small ((K,3) x (3,12) for
    # the noise) and BLAS's waiting threads cost far more CPU time than they save (10x on 2 busy
    # cores); the bytes are the same (checked on the 4-identity chain). Diffusion keeps its threads.
    with threadpool_limits(1 if p.backend == "shaded" else None, user_api="blas"):
        for k in ctx.track(range(rows), total=rows, description=f"render-neutral ({p.backend})"):
            who = {"age_years": carried["age_years"][k], "gender": genders[k], "ethnicity": eths[k], "phenotype": carried["phenotype"][k]}
            face = render_face(layout, vertices[k], who, start + k, p.backend, p.size, p.seed, p.texture_size, renderer, p.lights, generator, p.steps)
            depth[k] = face.result.depth
            mask[k] = face.result.mask
            save_png(ctx.dir / "images" / f"{ids[k]}.png", face.image)
            save_png(ctx.dir / "depth" / f"{ids[k]}.png", depth_png(face.result.depth))
            save_png(ctx.dir / "albedo" / f"{ids[k]}.png", face.maps.albedo)
            cameras.append(json.dumps(face.camera.to_dict(), sort_keys=True))
            skins.append(json.dumps(face.skin.to_dict(), sort_keys=True))
            rigs.append(json.dumps(lights_to_list(face.lights), sort_keys=True))
            prompts.append(face.prompt)
    write_dataset(h5, "image", np.array([f"images/{i}.png" for i in ids], dtype=str).reshape(rows))
    write_dataset(h5, "depth_png", np.array([f"depth/{i}.png" for i in ids], dtype=str).reshape(rows))
    write_dataset(h5, "albedo", np.array([f"albedo/{i}.png" for i in ids], dtype=str).reshape(rows))
    write_dataset(h5, "camera", np.array(cameras, dtype=str).reshape(rows))
    write_dataset(h5, "skin", np.array(skins, dtype=str).reshape(rows))
    write_dataset(h5, "prompt", np.array(prompts, dtype=str).reshape(rows))
    write_dataset(h5, "lights", np.array(rigs, dtype=str).reshape(rows))
    h5.attrs["lights_preset"] = p.lights
    h5.attrs["neutral_backend"] = p.backend
    return f"rendered {console.plural(rows, 'neutral face')} and depth maps ({p.backend}) into {ctx.where}"


#: render-neutral: one sample-mesh input; the items are its identities; Kandinsky loads after the cache check.
RENDER_NEUTRAL = Stage(STAGE, RenderNeutralParams, _render_neutral, inputs=(Input("heads", stages=("sample-mesh",), require=REQUIRE),),
                       items=lambda inputs, params: inputs["heads"].rows(), load=_load_generator,
                       estimate=_estimate)


def render_neutral(in_path, out: str, backend: str = "shaded", size: int = 512, seed: int = 0, shard: Shard = WHOLE,
                   force: bool = False, model: str | None = None, prior_model: str | None = None, steps: int = 50,
                   texture_size: int = 1024, renderer: str = "moderngl", lights: str = "studio", big_ok: bool = False) -> Path:
    """Render the neutral face of every identity (this shard's part) of the mesh artefact ``in_path``
    (a path or the opened artefact) into the artefact ``out``; see the module docstring and man page
    for the datasets written. ``renderer`` (moderngl or pytorch3d) and ``big_ok`` (run although the
    estimate does not fit the disk or memory) are run options, not recorded parameters."""
    params = RenderNeutralParams(backend=backend, lights=lights, size=int(size), seed=int(seed), texture_size=int(texture_size),
                                 model=model, prior_model=prior_model, steps=int(steps))
    return run(RENDER_NEUTRAL, out, params, {"heads": in_path}, shard=shard, force=force, big_ok=big_ok, renderer=renderer)
