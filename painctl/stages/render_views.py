"""The render-views stage: every identity's neutral and pain faces seen by the same cameras and lights.

For each identity of a rig artefact the cameras are framed once on its neutral face and reused
for all its pain faces. The identity's room and lights (painctl.appearance.scene, .lighting) and
each view's camera model, pose jitter and background (painctl.appearance.camera_model) are drawn
from the seed, the identity's global index and the view, so a neutral/pain pair differs only by
the expression. Segmentation, depth and normal maps (painctl.appearance.segmentation) are written
beside every image, and ``/landmarks`` (N, K, 2) holds the face model's landmarks of the identity's
neutral face projected into each view (pixels), so a loader crops the face of a neutral and of its
pain faces alike, at one scale whatever the camera's framing.

Rows of the output, in order: identity, then rig row (neutral first), then view.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from painctl import console
from painctl.artefact.resources import NOISY_PNG_RATIO, PNG_RATIO, Estimate, default_jobs, png_bytes
from painctl.artefact.stage import Input, Parameters, Stage, run
from painctl.errors import ArtefactError, BadValue, PainctlError
from painctl.artefact.shard import WHOLE, Shard

#: The released 3D-Pain images: frontal and turned 30 degrees either way.
DEFAULT_VIEWS = "0/0,-30/0,30/0"
YAW_LIMIT = 90.0
PITCH_LIMIT = 60.0
#: Folders (and data.h5 path datasets) of the per-pixel maps beside the images.
MAP_FOLDERS = ("segmentation", "depth", "normals")
#: Datasets render-views needs in its rig input.
RIG_REQUIRE = {"vertices": "N,V,3:f", "identity": "N:iuS", "is_neutral": "N:biu", "au": "N,6:f", "pspi": "N:f", "faces": "F,3:iu"}
CARRIED = ("age_group", "gender", "ethnicity")

#: Plain albedo (sRGB) by ancestry group; lips, eyes and mouth interior are painted over it. Light
#: skin as measured (the ColorChecker "light skin" patch is 0.76, 0.59, 0.51), as painctl.appearance.skin has it.
SKIN_TONES = {"african": (0.45, 0.30, 0.22), "asian": (0.74, 0.57, 0.45), "caucasian": (0.80, 0.62, 0.52)}
DEFAULT_SKIN = (0.78, 0.60, 0.50)
#: The lips' tone as a share of the skin's per channel: darker and redder than the skin round them
#: (light skin's lips (0.62, 0.32, 0.32)). One fixed pink over the whole vermilion was brighter than
#: dark skin and read as lipstick.
LIP_SHADE = (0.78, 0.52, 0.62)
EYE_TONE = (0.88, 0.86, 0.82)
MOUTH_TONE = (0.35, 0.12, 0.12)


def parse_views(text: str) -> list[tuple[float, float]]:
    """Parse ``"yaw/pitch,yaw/pitch,..."`` (degrees) into a list of (yaw, pitch); raise on bad input."""
    items = [s.strip() for s in str(text).split(",") if s.strip()]
    if not items:
        raise BadValue("views", "is empty; give at least one yaw/pitch pair such as 0/0")
    views = []
    for item in items:
        match = re.fullmatch(r"([-+]?\d+(?:\.\d+)?)\s*(?:/\s*([-+]?\d+(?:\.\d+)?))?", item)
        if not match:
            raise BadValue("views", f": {item!r} is not yaw/pitch in degrees (for example -30/0)")
        yaw, pitch = float(match.group(1)), float(match.group(2) or 0.0)
        if not -YAW_LIMIT <= yaw <= YAW_LIMIT:
            raise BadValue("views", f": yaw {yaw:g} is outside -{YAW_LIMIT:g}..{YAW_LIMIT:g} degrees")
        if not -PITCH_LIMIT <= pitch <= PITCH_LIMIT:
            raise BadValue("views", f": pitch {pitch:g} is outside -{PITCH_LIMIT:g}..{PITCH_LIMIT:g} degrees")
        views.append((yaw, pitch))
    if len(set(views)) != len(views):
        raise BadValue("views", "lists the same view twice")
    return views


def view_name(yaw: float, pitch: float) -> str:
    """Return the view's name, e.g. ``yaw+30_pitch+0``."""
    return f"yaw{yaw:+g}_pitch{pitch:+g}"


def view_key(yaw: float, pitch: float) -> int:
    """Return the view's random-stream index (a 32-bit int of its name).

    A view's draws (camera model, pose jitter, background, sensor noise) follow the view itself, not
    its place in ``--views``: the frontal image of ``--views 0/0`` is the frontal image of the
    default three views, so views rendered apart match those rendered together.
    """
    return zlib.crc32(view_name(yaw, pitch).encode("ascii"))


def identity_blocks(identity: np.ndarray, is_neutral: np.ndarray) -> list[tuple[int, int]]:
    """Return (start, stop) rig rows of each identity: a neutral row followed by its pain rows."""
    starts = np.flatnonzero(is_neutral)
    if len(starts) == 0 or starts[0] != 0:
        raise ArtefactError("rig rows must start with a neutral face for every identity (/is_neutral)")
    stops = np.r_[starts[1:], len(identity)]
    for a, b in zip(starts, stops):
        if np.any(identity[a:b] != identity[a]):
            raise ArtefactError(f"rig rows {a}..{b - 1} mix identities; each identity's rows must follow its neutral face")
    return list(zip(starts.tolist(), stops.tolist()))


def identity_offset(rig, blocks: list[tuple[int, int]]) -> int:
    """Return the global index of the rig's first identity: 0, or for a rig made with ``--shard``
    (which records the global row of its first row) that row over the rows per identity.

    Every per-identity draw (room, lights, camera, parts) is keyed by the global index, so a chain
    run in shards from the rig on draws what the whole run draws."""
    from painctl.stages.rig import FIRST_ROW_ATTR

    first_row = int(rig.attrs().get(FIRST_ROW_ATTR, 0))
    sizes = {b - a for a, b in blocks}
    if first_row == 0 or len(sizes) != 1 or first_row % next(iter(sizes)):
        return 0
    return first_row // next(iter(sizes))


def plain_albedo(regions: dict[str, np.ndarray], n_vertices: int, ethnicity: str | None = None,
                 neutral: np.ndarray | None = None) -> np.ndarray:
    """Return (V,3) float32 sRGB vertex colours: a skin tone with darker, redder lips
    (:data:`LIP_SHADE` of the skin), light eyes, dark mouth.

    With the identity's ``neutral`` (V,3) vertices the lips are the vertices the segmentation
    labels lips (:func:`painctl.appearance.segmentation.lip_vertices`, up to the upper lip's own
    border); without, the lip margin only."""
    from painctl.appearance.segmentation import lip_vertices

    skin = np.asarray(SKIN_TONES.get(str(ethnicity), DEFAULT_SKIN), np.float32)
    colours = np.tile(skin, (n_vertices, 1))
    lips = lip_vertices(neutral, regions) if neutral is not None and len(neutral) == n_vertices else None
    lip_tone = skin * np.asarray(LIP_SHADE, np.float32)
    for name, tone in (("mouth_cavity", MOUTH_TONE), ("tongue", MOUTH_TONE), ("lip_margin", lip_tone), ("lips", lip_tone),
                       ("left_eye", EYE_TONE), ("right_eye", EYE_TONE)):
        ids = lips if name == "lips" else regions.get(name)
        if ids is not None and len(ids):
            colours[np.asarray(ids)[np.asarray(ids) < n_vertices]] = tone
    return colours


@dataclass(frozen=True)
class ViewsRequest(Parameters):
    """render-views' parameters: ``views`` (yaw, pitch) degrees, ``size`` pixels, ``background`` kind
    or DIR, ``camera_model`` (photo or none), ``pose_jitter`` degrees (standard deviation of the
    head-pose jitter), ``lighting`` (room or studio), ``maps`` (write segmentation, depth and
    normals), ``renderer``, ``seed``, the inpainting model and steps (kandinsky-inpaint only) and
    the parts left out (``without``)."""

    views: list[tuple[float, float]] = field(default_factory=lambda: parse_views(DEFAULT_VIEWS))
    size: int = 224
    background: str = "room"
    camera_model: str = "photo"
    pose_jitter: float = 4.0
    lighting: str = "room"
    maps: bool = True
    renderer: str = "moderngl"
    seed: int = 0
    inpaint_model: str | None = None
    inpaint_steps: int = 25
    #: Parts of :mod:`painctl.appearance` left out (``--without``); every other registered part is drawn.
    without: tuple[str, ...] = ()

    @classmethod
    def of(cls, views: str | list[tuple[float, float]] = DEFAULT_VIEWS, without: str | tuple[str, ...] | list[str] | None = None, **rest) -> "ViewsRequest":
        """Parse ``views`` ("yaw/pitch,...") and ``without`` ("a,b" or names) and take the other parameters as they are."""
        from painctl.appearance import parse_without

        parsed = parse_views(views) if isinstance(views, str) else [tuple(map(float, v)) for v in views]
        names = parse_without(without if without is None or isinstance(without, str) else ",".join(without))
        return cls(views=parsed, without=names, **rest)

    def check(self) -> None:
        if not 16 <= self.size <= 4096:
            raise BadValue("size", f"must be 16-4096 pixels, got {self.size}")
        if not self.views:
            raise BadValue("views", "is empty")
        from painctl.appearance import camera_model, lighting
        from painctl.appearance.backgrounds import KINDS, image_files

        if self.camera_model not in camera_model.KINDS:
            raise BadValue("camera_model", f"must be one of {', '.join(camera_model.KINDS)}, got {self.camera_model!r}")
        if self.lighting not in lighting.KINDS:
            raise BadValue("lighting", f"must be one of {', '.join(lighting.KINDS)}, got {self.lighting!r}")
        if not 0.0 <= self.pose_jitter <= 15.0:
            raise BadValue("pose_jitter", f"must be 0-15 degrees, got {self.pose_jitter:g}")
        if self.renderer not in ("moderngl", "pytorch3d"):
            raise BadValue("renderer", f"must be moderngl or pytorch3d, got {self.renderer!r}")
        if self.background == "kandinsky-inpaint":
            if self.size % 8:
                raise BadValue(("background", "size"), f"{{background}} kandinsky-inpaint needs a {{size}} that is a multiple of 8, got {self.size}")
            check_inpaint_model(self.inpaint_model)
        elif self.background not in KINDS:
            image_files(self.background)

    def manifest(self, inputs) -> dict:
        from painctl.appearance.backgrounds import KINDS, image_files

        background = self.background
        if background not in KINDS and background != "kandinsky-inpaint":
            background = {"dir": str(Path(background).resolve()), "files": [p.name for p in image_files(background)]}
        params = {
            "views": [list(v) for v in self.views],
            "size": self.size,
            "background": background,
            "renderer": self.renderer,
            "seed": self.seed,
            "texture": inputs.get("texture") is not None,
            "without": list(self.without),
            "camera_model": self.camera_model,
            "pose_jitter": self.pose_jitter,
            "lighting": self.lighting,
            "maps": self.maps,
        }
        if self.background == "kandinsky-inpaint":
            params.update(inpaint_model=self.inpaint_model, inpaint_steps=self.inpaint_steps)
        return params


#: Datasets a texture artefact needs for render-views.
TEXTURE_REQUIRE = {"identity": "N:iuS", "texture": "N:S"}


def texture_for(rig, texture=None):
    """Return the texture artefact to render ``rig`` with: the one named (a path or an opened
    artefact, or "none" for the plain albedo), else the texture the rig was made from (a pipe ``texture | rig | render-views``
    carries it), else None."""
    from painctl.artefact import Artefact, open_artefact, recorded_input

    if isinstance(texture, Artefact):
        return texture
    if texture is not None:
        return None if str(texture) == "none" else open_artefact(texture, stage="texture", require=TEXTURE_REQUIRE)
    return recorded_input(rig, "texture", require=TEXTURE_REQUIRE)


# ---------------------------------------------------------------------------------- the worker
@dataclass
class ViewsPlan:
    """What every identity's worker needs, fixed for the run (sent once to each worker process).

    ``rig_data`` is the rig's data.h5; ``faces`` (F,3), ``uv`` (T,2) and ``uv_faces`` (F,3) the head's
    topology and texture layout (None without a texture layout); ``views`` (yaw, pitch) degrees;
    ``background_kind`` a kind of painctl.appearance.backgrounds (or "room", "dir") with its
    ``background_files``; ``out_dir`` the artefact directory the PNGs go to; ``mask_dir`` and
    ``scalp`` (V,) are set only for kandinsky-inpaint (where its repaint masks go, where hair grows).
    """

    rig_data: str
    faces: np.ndarray
    uv: np.ndarray | None
    uv_faces: np.ndarray | None
    views: list[tuple[float, float]]
    size: int
    background_kind: str
    background_files: list[Path] | None
    seed: int
    renderer: str
    out_dir: str
    regions: dict
    landmarks: dict
    without: tuple[str, ...]
    camera_model: str
    pose_jitter: float
    lighting: str
    maps: bool
    #: zlib level of the image PNGs: 1 is nearly as small as the default 6 and several times faster.
    compress_level: int = 1
    mask_dir: str | None = None
    scalp: np.ndarray | None = None


@dataclass
class IdentityTask:
    """One identity to render: its global index ``g``, its rig rows ``start``:``stop`` (neutral
    first), the output row of its first image ``row0``, its plain vertex ``albedo`` (V,3) (without a
    texture), its ``texture`` PNG path and the ``texture_lights`` it was baked under (JSON; None:
    the studio rig), its demographics ``who`` (Identity fields) and its file-name stem ``name``."""

    g: int
    start: int
    stop: int
    row0: int
    albedo: np.ndarray | None
    texture: str | None
    texture_lights: str | None
    who: dict
    name: str
    #: The light (V,3) each vertex had in the photo the texture was baked from (the texture
    #: artefact's /shading; None: the model of ``texture_lights``).
    texture_shading: np.ndarray | None = None


_PLAN: ViewsPlan | None = None
_RIG = None


def _init_worker(plan: ViewsPlan) -> None:
    global _PLAN, _RIG
    _PLAN = native_dtypes(plan)
    _RIG = None


def native_dtypes(value):
    """Return ``value`` (an array, or a dataclass, dict, list or tuple holding arrays) with every
    array a view on numpy's own dtype instance of its type (a dataclass is updated in place);
    other values as they are.

    An array unpickled in a spawned worker carries an equal but separate dtype object, and numpy
    (2.4) copies such an array in ``np.asarray(a, dtype=...)``. A worker's Mesh then got a new
    ``uv`` every frame, and every cache keyed on the array (the wrinkle maps, the renderer's
    buffers) missed: two workers took 114 s of CPU for what one process did in 54 s.
    """
    import dataclasses

    if isinstance(value, np.ndarray):
        return value.view(np.dtype(value.dtype.str)) if value.dtype.fields is None and value.dtype.kind not in "OV" else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            object.__setattr__(value, f.name, native_dtypes(getattr(value, f.name)))
        return value
    if isinstance(value, dict):
        return {k: native_dtypes(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(native_dtypes(v) for v in value)
    return value


def _rig_file():
    global _RIG
    if _RIG is None:
        import h5py

        _RIG = h5py.File(_PLAN.rig_data, "r")
    return _RIG


def _load_texture(path: str) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as src:
        return np.asarray(src.convert("RGB"), dtype=np.float32) / 255.0


@dataclass
class IdentityScene:
    """Everything one identity's frames share: per view its camera ``models`` and pinhole
    ``cameras``, the ``lighting`` (and its shader ``lights``), the room's or backdrop's
    ``backgrounds`` per view, the head ``texture`` with the irradiance it was baked under
    (``baked_irradiance`` (V,), None untextured), its ``parts``, the segmentation's
    ``head_labels`` and ``lip_weights`` (None without maps), the JSON ``records`` every image row carries and, per view, the neutral's projected landmarks
    ``face_points`` (K,2) pixels (None when the face model has none)."""

    models: list
    cameras: list
    lighting: object
    lights: list
    room: object
    backgrounds: list
    texture: np.ndarray | None
    baked_irradiance: np.ndarray | None
    parts: list
    head_labels: np.ndarray | None
    lip_weights: np.ndarray | None
    records: dict
    face_points: list | None = None
    #: Per view the sensor noise's standard normal draws (H,W,3), drawn on the view's first frame.
    noise: list = field(default_factory=list)
    #: The light the texture's photo shows beyond the lights' model (V,3; the light spread under
    #: the skin into crevices, :func:`painctl.appearance.uv.photo_shading`) and the neutral's unit
    #: normals (V,3) it belongs to; None without a texture /shading.
    photo_lift: np.ndarray | None = None
    neutral_normals: np.ndarray | None = None


def identity_scene(plan: ViewsPlan, task: IdentityTask, neutral: np.ndarray) -> IdentityScene:
    """Draw identity ``task.g``'s cameras, room, lights, backgrounds and parts, framed on its
    ``neutral`` (V,3) face. Every draw depends on the seed, g and the view only."""
    from painctl.appearance import build_parts
    from painctl.appearance import camera_model as cm
    from painctl.appearance import lighting as lt
    from painctl.appearance import scene as sc
    from painctl.appearance import segmentation as seg
    from painctl.appearance.backgrounds import make_background
    from painctl.renderer import frame_camera, lights_from_list, lights_to_list, studio_lights, vertex_normals
    from painctl.seeding import rng_for

    size, views, seed, g = plan.size, plan.views, plan.seed, task.g
    models = [cm.draw_camera_model(rng_for(seed, cm.STREAM, g, view_key(*view)), plan.camera_model, plan.pose_jitter, size) for view in views]
    cameras = [frame_camera(neutral, yaw=yaw + m.pose_jitter[0], pitch=pitch + m.pose_jitter[1], roll=m.pose_jitter[2], size=size, fov=m.fov, margin=m.margin)
               for (yaw, pitch), m in zip(views, models)]
    # The neutral face's landmarks in each view: one face crop for a neutral and its pain faces
    # (a crop following each expression would move the pair apart by the expression itself).
    marks = np.array(list(plan.landmarks.values()), np.int64) if plan.landmarks else None
    face_points = None if marks is None else [cam.project(neutral[marks], size, size).astype(np.float32) for cam in cameras]
    baked = lights_from_list(json.loads(task.texture_lights)) if task.texture_lights else studio_lights()
    room = sc.draw_room(rng_for(seed, sc.STREAM, g))
    lighting = lt.draw_lighting(rng_for(seed, lt.STREAM, g), room) if plan.lighting == "room" else lt.studio_lighting(baked)
    lights = lighting.shader_lights()
    if plan.background_kind == "room":
        backgrounds = sc.paint_room_views(room, (size, size), [yaw for yaw, _ in views])
        scene_record = json.dumps({"kind": "room", **room.to_dict()}, sort_keys=True)
    else:
        backgrounds = [make_background(plan.background_kind, (size, size), rng_for(seed, "render-views/background", g, view_key(*view)), plan.background_files)
                       for view in views]
        scene_record = json.dumps({"kind": plan.background_kind}, sort_keys=True)
    texture = _load_texture(task.texture) if task.texture else None
    # The texture holds the light it was baked under (render-neutral's photo): the head is drawn
    # unlit and multiplied by how much more or less light this frame's surface gets.
    baked_irradiance = photo_lift = neutral_normals = None
    if texture is not None:
        neutral_normals = vertex_normals(neutral, plan.faces)
        baked_irradiance = lt.studio_lighting(baked).irradiance(neutral_normals)
        if task.texture_shading is not None:
            photo_lift = np.maximum(task.texture_shading - baked_irradiance, 0.0)
            baked_irradiance = task.texture_shading
    parts = build_parts(_identity_for_parts(plan, g, neutral, task.who, baked if texture is not None else None, lighting), plan.without)
    records = {
        "lights": json.dumps(lights_to_list(lights), sort_keys=True),
        "lighting": json.dumps(lighting.to_dict(), sort_keys=True),
        "scene": scene_record,
        "appearance": json.dumps({part.name: part.record() for part in parts}, sort_keys=True),
    }
    head_labels = seg.head_triangle_labels(neutral, plan.faces, plan.regions) if plan.maps else None
    lip_weights = seg.lip_weights(neutral, plan.regions) if plan.maps else None
    return IdentityScene(models, cameras, lighting, lights, room, backgrounds, texture, baked_irradiance, parts, head_labels, lip_weights, records,
                         face_points, noise=[None] * len(views), photo_lift=photo_lift, neutral_normals=neutral_normals)


def frame_meshes(plan: ViewsPlan, task: IdentityTask, scene: IdentityScene, verts: np.ndarray, au: np.ndarray) -> tuple[list, list]:
    """Return one frame's meshes (the head dressed by its parts, then the parts' own meshes) and
    each mesh's per-triangle segmentation labels, for rigged vertices ``verts`` (V,3) and labels ``au`` (6,)."""
    from painctl.appearance import segmentation as seg
    from painctl.renderer import Mesh

    if scene.texture is not None:
        mesh = Mesh(verts, plan.faces, uv=plan.uv, uv_faces=plan.uv_faces, texture=scene.texture, shading=False)
    else:
        mesh = Mesh(verts, plan.faces, vertex_colors=task.albedo)
    for part in scene.parts:
        mesh = part.dress(mesh, verts, au)
    meshes, labels = [mesh], [scene.head_labels]
    # Parts are drawn on the head as dressed (the eyelids part opens the lids the lashes sit on).
    drawn = mesh.vertices
    for part in scene.parts:
        for m in part.meshes(drawn, au):
            meshes.append(m)
            # A part drawing several classes (a neck and its garment) labels each mesh (``mesh.label``).
            labels.append(np.full(len(m.faces), seg.label_id(getattr(m, "label", None) or part.label), np.uint8))
    return meshes, labels


def render_identity(task: IdentityTask) -> list[dict]:
    """Render one identity's rig rows in every view, write the PNGs; return the rows' index records.

    Runs in a worker process with the plan set by :func:`_init_worker`. Per identity: its room,
    lights and parts; per (identity, view): its camera model (focal length, framing, pose jitter,
    image effects and their noise) and background. Every draw depends on the seed, g and the view
    only, never on the rig row, so a neutral face and its pain faces share them exactly.
    """
    # One worker per core already: BLAS threads would only share those cores with the others
    # (and keep spinning between the small products a frame makes).
    with _one_blas_thread():
        return _render_identity(native_dtypes(task))


_CONTROLLER: list = []


def _one_blas_thread():
    """A context limiting BLAS to one thread (the loaded libraries found once per process)."""
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1, user_api="blas")


def _render_identity(task: IdentityTask) -> list[dict]:
    from painctl.appearance import scene as sc
    from painctl.appearance import camera_model as cm
    from painctl.renderer import cutout_meshes, cutout_pixels, relight, render_many

    plan = _PLAN
    vertices = _rig_file()["vertices"][task.start:task.stop]
    au_rows = _rig_file()["au"][task.start:task.stop]
    scene = identity_scene(plan, task, vertices[0])
    prepared: list[np.ndarray | None] = [None] * len(plan.views)
    records = []
    frames = [frame_meshes(plan, task, scene, verts, au_rows[j]) for j, verts in enumerate(vertices[:2])]
    # Meshes a part hands back unchanged (the same object in the first two frames: body, garment,
    # upper teeth) are drawn once per view into a layer the renderer keeps (painctl.renderer.render_many).
    # (Held by id with the mesh itself, so no new mesh can take the id.)
    kept = {id(m): m for m in frames[0][0] if len(frames) > 1 and any(m is n for n in frames[1][0])}
    for j, verts in enumerate(vertices):
        meshes, labels = frames[j] if j < len(frames) else frame_meshes(plan, task, scene, verts, au_rows[j])
        if j < len(frames):
            frames[j] = None
        static = [i for i, m in enumerate(meshes) if id(m) in kept]
        results = render_many(meshes, scene.cameras, scene.lights, plan.size, backend=plan.renderer, static=static)
        if scene.texture is not None:
            # The head's normals (dressing changes only its texture), computed once for the frame's draw too.
            ratio = np.clip(frame_light(scene, meshes[0].vertex_normals()) / np.maximum(scene.baked_irradiance, 1e-4), 0.25, 4.0)
            for res in results:
                # Covered pixels only: the background is replaced by the room when composited.
                covered = res.alpha > 0
                res.rgb[covered] = relight(res.rgb[covered], _covered_ratio(res, covered, ratio, plan.faces))
        stacked = _stacked_geometry(meshes, labels) if plan.maps else None
        cut = cutout_meshes(meshes)
        for v, (res, cam) in enumerate(zip(results, scene.cameras)):
            if prepared[v] is None:
                # Prepared on the neutral face (j = 0) and shared by its pain faces: the shadow the
                # person casts on the wall and the room's depth-of-field blur.
                background = scene.backgrounds[v]
                if plan.background_kind == "room":
                    background = sc.cast_shadow(background, res.alpha, scene.lights[0].direction, scene.room)
                prepared[v] = cm.blur(background, scene.models[v].background_defocus_px)
            stem = f"{task.name}_{task.start + j:06d}_{view_name(*plan.views[v])}"
            rel = _write_image(plan, task, scene, res, prepared[v], v, stem, cutout_pixels(res.triangle, meshes, cut))
            record = _image_record(plan, task, scene, v, rel, task.start + j, cam, res)
            if plan.maps:
                _write_maps(plan, scene, res, cam, stacked, stem, record)
            records.append(record)
    assert len(records) == (task.stop - task.start) * len(plan.views)
    return records


#: The photo's light under the skin stays with a vertex while its normal turns less than
#: LIFT_TURN_DEG from the neutral's, and is gone from a turn of twice that.
LIFT_TURN_DEG = 15.0


def frame_light(scene: IdentityScene, normals: np.ndarray) -> np.ndarray:
    """The (V,3) light of a textured head's frame with unit vertex ``normals`` (V,3): the scene's
    lighting on them, plus the photo's light under the skin in crevices (``scene.photo_lift``)
    where the skin keeps its orientation. A crevice keeps the light its neighbours spread into it
    while it stays a crevice (the neutral frame then shows the photo as it is), and loses it as it
    opens to the light: the fold of an open upper lid faces down, and closed it faces the camera,
    lit by the lights like the lid around it."""
    light = scene.lighting.irradiance(normals)
    if scene.photo_lift is None:
        return light
    turn = np.degrees(np.arccos(np.clip(np.einsum("vd,vd->v", normals, scene.neutral_normals), -1.0, 1.0)))
    keep = np.clip(2.0 - turn / LIFT_TURN_DEG, 0.0, 1.0)[:, None]
    return light + keep * scene.photo_lift


def _covered_ratio(res, covered: np.ndarray, ratio: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """The head's per-vertex relighting ``ratio`` (V,3) at the ``covered`` (H,W) pixels of ``res``,
    in their row-major order (K,3): 1 where a part, not the head, is seen. The numbers of
    ``splat(res, ratio, faces, background=1.0)[covered]`` (painctl.renderer.splat), without an
    image-sized array."""
    tri = res.triangle[covered]
    head = (tri >= 0) & (tri < len(faces))
    out = np.ones((len(tri), ratio.shape[1]), np.float32)
    out[head] = np.einsum("kc,kcd->kd", res.barycentric[covered][head], np.asarray(ratio, np.float32)[np.asarray(faces)[tri[head]]])
    return out


def _stacked_geometry(meshes: list, labels: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The frame's meshes as one: (triangle labels (T,), vertex normals (W,3), faces (T,3) into them)."""
    offsets = np.cumsum([0] + [len(m.vertices) for m in meshes[:-1]])
    return (np.concatenate(labels), np.concatenate([m.vertex_normals() for m in meshes]),
            np.concatenate([m.faces + off for m, off in zip(meshes, offsets)]))


def _write_image(plan: ViewsPlan, task: IdentityTask, scene: IdentityScene, res, background: np.ndarray, v: int, stem: str,
                 cutout: np.ndarray | None = None) -> dict:
    """Composite view ``v``'s render over its background, resolve its ``cutout`` (H,W) hair pixels
    as soft coverage (:func:`painctl.renderer.coverage.soften_cutouts`), develop it through the
    camera model, save images/<stem>.png (and its repaint mask for inpainting); return its path in the artefact."""
    from PIL import Image

    from painctl.appearance import camera_model as cm
    from painctl.appearance.backgrounds import composite
    from painctl.renderer import soften_cutouts
    from painctl.seeding import rng_for

    rgb = composite(res.rgb, res.alpha, background)
    if cutout is not None:
        # After compositing: hair against the room blends with the room, not with empty pixels.
        rgb = soften_cutouts(rgb, cutout)
    rel = f"images/{stem}.png"
    model = scene.models[v]
    if scene.noise[v] is None and (model.shot_noise > 0 or model.read_noise > 0):
        # One sensor-noise draw per (identity, view), shared by the neutral and its pain faces.
        scene.noise[v] = cm.noise_draw(rgb.shape, rng_for(plan.seed, cm.STREAM, task.g, view_key(*plan.views[v]), 1))
    pixels = cm.develop(rgb, model, noise=scene.noise[v])
    Image.fromarray(pixels).save(Path(plan.out_dir) / rel, format="PNG", compress_level=plan.compress_level)
    if plan.mask_dir:
        _save_repaint_mask(res, plan, Path(plan.mask_dir) / rel)
    return rel


def _image_record(plan: ViewsPlan, task: IdentityTask, scene: IdentityScene, v: int, rel: str, rig_row: int, cam, res) -> dict:
    """One image row of the output's index (see :func:`_write_index`)."""
    yaw, pitch = plan.views[v]
    record = {
        "image": rel,
        "rig_row": rig_row,
        "view": view_name(yaw, pitch),
        "yaw": yaw,
        "pitch": pitch,
        "camera": json.dumps(cam.to_dict(), sort_keys=True),
        "camera_model": json.dumps(scene.models[v].to_dict(), sort_keys=True),
        "neutral_image_row": task.row0 + v,
        "alpha_mean": float(res.alpha.mean()),
        **scene.records,
    }
    if scene.face_points is not None:
        record["landmarks"] = scene.face_points[v]
    return record


def _write_maps(plan: ViewsPlan, scene: IdentityScene, res, cam, stacked, stem: str, record: dict) -> None:
    """Save the segmentation, depth and normal maps of one image beside it; add their paths to ``record``."""
    from painctl.appearance import segmentation as seg

    triangle_labels, normals, faces = stacked
    out_dir = Path(plan.out_dir)
    for folder in MAP_FOLDERS:
        record[folder] = f"{folder}/{stem}.png"
    labels_image = seg.refine_lips(seg.segmentation(res.triangle, triangle_labels), res.triangle, res.barycentric, plan.faces, scene.lip_weights)
    labels_image = seg.refine_skin(labels_image, res.triangle, res.barycentric, len(plan.faces), scene.parts)
    seg.save_segmentation(out_dir / record["segmentation"], labels_image)
    seg.save_depth(out_dir / record["depth"], seg.depth_code(res.depth))
    seg.save_normals(out_dir / record["normals"], seg.normal_code(res.triangle, res.barycentric, normals, faces, cam.rotation()))


def _identity_for_parts(plan: ViewsPlan, g: int, neutral: np.ndarray, who: dict, texture_lights=None, lighting=None):
    """Return the :class:`painctl.appearance.Identity` of identity ``g`` for its part builders
    (``lighting``: the scene lighting its frames are rendered under)."""
    from painctl.appearance import Identity

    return Identity(index=g, seed=plan.seed, neutral=np.asarray(neutral, np.float32), faces=plan.faces,
                    regions=plan.regions, landmarks=plan.landmarks, uv=plan.uv, uv_faces=plan.uv_faces,
                    texture_lights=texture_lights, lighting=lighting, **who)


def _demographics(rig, row: int) -> dict:
    """Return the Identity fields a rig carries for ``row`` (age_years, gender, ethnicity, phenotype)."""
    who = {}
    if rig.has("age_years"):
        who["age_years"] = float(rig.read("age_years", row))
    for name in ("gender", "ethnicity"):
        if rig.has(name):
            who[name] = _decode(rig.read(name, row))
    if rig.has("phenotype"):
        who["phenotype"] = np.asarray(rig.read("phenotype", row), np.float32)
    return who


def _save_repaint_mask(res, plan: ViewsPlan, path: Path) -> None:
    """Save where kandinsky-inpaint may repaint: the background and, with hair, the scalp (1-bit PNG)."""
    from PIL import Image

    from painctl.renderer import splat

    repaint = ~res.mask
    if plan.scalp is not None:
        repaint |= splat(res, plan.scalp, plan.faces) > 0.5
    Image.fromarray(repaint).save(path, format="PNG")


def scalp_vertices(rig, n_vertices: int) -> np.ndarray | None:
    """Return (V,) float32, 1 on skin above the brows (where hair grows), from the rig's face model; None if unknown."""
    from painctl.facemodels import face_model_of

    try:
        model = face_model_of(rig)
        regions, landmarks = model.region_vertices(), model.landmarks()
    except (PainctlError, NotImplementedError):
        return None
    if "skin" not in regions or "left_brow" not in landmarks or "right_brow" not in landmarks:
        return None
    neutral = rig.read("vertices", 0)
    # 2.5 cm above the brows is where a typical hairline starts; the whole cranium above it gets hair.
    hairline = max(neutral[landmarks["left_brow"], 1], neutral[landmarks["right_brow"], 1]) + 0.025
    scalp = np.zeros(n_vertices, np.float32)
    skin = regions["skin"][regions["skin"] < n_vertices]
    scalp[skin[neutral[skin, 1] > hairline]] = 1.0
    return scalp




def run_tasks(plan: ViewsPlan, tasks: list[IdentityTask], jobs: int, description: str):
    """Yield :func:`render_identity` results for ``tasks`` in order, over ``jobs`` processes."""
    if jobs <= 1 or len(tasks) <= 1:
        _init_worker(plan)
        try:
            for task in console.track(tasks, total=len(tasks), description=description):
                yield render_identity(task)
        finally:
            _close_rig()
        return
    import multiprocessing
    from contextlib import closing

    # spawn: a forked child would inherit the parent's EGL/llvmpipe threads, if it ever rendered.
    from painctl.artefact.signals import quiet_map

    results = quiet_map(multiprocessing.get_context("spawn"), min(jobs, len(tasks)), _init_worker, (plan,), render_identity,
                        tasks, "render-views")
    with closing(results):  # stops the workers at once if this generator is closed early
        yield from console.track(results, total=len(tasks), description=description)


def _close_rig() -> None:
    global _RIG
    if _RIG is not None:
        _RIG.close()
        _RIG = None


def _blocks(rig) -> list[tuple[int, int]]:
    return identity_blocks(rig.read("identity"), rig.read("is_neutral").astype(bool))


#: Resident memory (bytes) of a render-views worker process before its first frame: torch and the
#: renderer (540-550 MiB measured, untextured, 12 identities, --jobs 2), and what a textured render
#: adds (hair, brows, lashes, body and scene: 1.02-1.07 GiB in all at 224 px, 1.14-1.17 GiB at 512).
WORKER_BYTES = 600 * 2**20
TEXTURED_WORKER_BYTES = 500 * 2**20


def frame_bytes(request: ViewsRequest, texture=None) -> int:
    """Bytes one identity's frames hold while it renders (``request`` textured from the ``texture``
    artefact or not): about 200 bytes a pixel (colour, depth, triangle ids, barycentrics and alpha
    of a frame per view, the background and its composite) and the identity's float32 texture."""
    texture_size = int(texture.params.get("size", 0)) if texture is not None else 0
    return 200 * request.size * request.size * len(request.views) + texture_size * texture_size * 3 * 4


def worker_bytes(request: ViewsRequest, texture=None) -> int:
    """Peak resident bytes of one render-views worker process: its :func:`frame_bytes` and its own
    torch, renderer and appearance models (:data:`WORKER_BYTES`, :data:`TEXTURED_WORKER_BYTES`)."""
    return frame_bytes(request, texture) + WORKER_BYTES + (TEXTURED_WORKER_BYTES if texture is not None else 0)


def views_jobs(identities: int, jobs: int | None, request: ViewsRequest, texture=None) -> int:
    """Return the worker processes for ``identities`` identities: ``jobs``, or by default every
    core that the memory available now holds a worker for (:func:`worker_bytes`); at most one per
    identity."""
    if jobs is None:
        jobs = default_jobs(worker_bytes(request, texture))
    return max(1, min(jobs, identities))


def estimate_bytes(images: int, identities: int, request: ViewsRequest, jobs: int | None = 1, texture=None) -> Estimate:
    """Disk and memory (bytes) of rendering ``images`` images (rig rows x views) of ``identities``
    identities over ``jobs`` workers (None: :func:`views_jobs`' default), textured from the
    ``texture`` artefact or not.

    Disk per image: the RGB PNG (less compressible through the photo camera model) and, with maps,
    the segmentation (8-bit), depth (16-bit) and normals (RGB) PNGs. Memory: each worker's
    :func:`worker_bytes`; in one process only the :func:`frame_bytes` (its models are loaded already).
    """
    pixels = request.size * request.size
    workers = views_jobs(identities, jobs, request, texture)
    per_image = png_bytes(pixels, 3, NOISY_PNG_RATIO if request.camera_model == "photo" else PNG_RATIO) + (png_bytes(pixels, 1) + png_bytes(pixels, 2) + png_bytes(pixels) if request.maps else 0)
    per_worker = worker_bytes(request, texture) if workers > 1 else frame_bytes(request, texture)
    return Estimate(images * per_image, workers * per_worker)


def _estimate(ctx) -> dict:
    mine = _blocks(ctx.inputs["rig"])[ctx.start:ctx.stop]
    workers = views_jobs(len(mine), ctx.options.get("jobs"), ctx.params, ctx.inputs["texture"])
    disk, memory = estimate_bytes(sum(b - a for a, b in mine) * len(ctx.params.views), len(mine), ctx.params, workers, ctx.inputs["texture"])
    return {"disk_bytes": disk, "memory_bytes": memory, "what": f"this render-views on {workers} processes" if workers > 1 else "this render-views"}


def _load_inpainting(ctx) -> None:
    if ctx.params.background == "kandinsky-inpaint":
        # Load before rendering, so a missing or broken model fails at once and nothing is written.
        check_inpaint_model(ctx.params.inpaint_model, load=True)


def _render_views(ctx) -> str:
    from painctl.artefact import write_dataset
    from painctl.appearance.backgrounds import KINDS, image_files

    rig, texture, request, writer = ctx.inputs["rig"], ctx.inputs["texture"], ctx.params, ctx.writer
    jobs = ctx.options.get("jobs")
    files: list[Path] | None = None
    kind = request.background
    if kind not in KINDS and kind != "kandinsky-inpaint":
        files = image_files(kind)
        kind = "dir"
    identity = rig.read("identity")
    is_neutral = rig.read("is_neutral").astype(bool)
    blocks = identity_blocks(identity, is_neutral)
    tex_paths = _texture_paths(texture, identity, blocks) if texture is not None else None
    tex_lights = _texture_lights(texture, identity, blocks) if texture is not None else None
    tex_shading = _texture_shading(texture, identity, blocks, ctx.start, ctx.stop, int(rig.shapes()["vertices"][0][1])) if texture is not None else None

    n_views = len(request.views)
    first, last = ctx.start, ctx.stop
    mine = blocks[first:last]
    starts_out = np.cumsum([0] + [(b - a) * n_views for a, b in blocks])
    faces = rig.read("faces")
    # A texture is painted in its own UV layout (painctl texture repacks the islands), so map it
    # with the texture artefact's /uv and /uv_faces whenever it has them.
    uv_source = texture if texture is not None and texture.has("uv") and texture.has("uv_faces") else rig
    has_uv = uv_source.has("uv") and uv_source.has("uv_faces")
    if tex_paths is not None and not has_uv:
        raise ArtefactError(f"{rig.where}: has no /uv and /uv_faces, so a texture cannot be mapped onto its meshes")
    if uv_source is texture and texture.has("faces") and not np.array_equal(texture.read("faces"), faces):
        raise ArtefactError(f"{texture.where}: its meshes have another topology than {rig.where}'s")
    albedos = None
    if tex_paths is None:
        albedos = _plain_albedos(rig, blocks, mine, int(rig.shapes()["vertices"][0][1]))
    names = [_safe(str(_decode(identity[a]))) for a, _ in blocks]
    regions, landmarks = _model_regions(rig)

    (writer.dir / "images").mkdir()
    if request.maps:
        for folder in MAP_FOLDERS:
            (writer.dir / folder).mkdir()
    plan = ViewsPlan(
        rig_data=str(Path(rig.path) / "data.h5"),
        faces=faces,
        uv=uv_source.read("uv") if has_uv else None,
        uv_faces=uv_source.read("uv_faces") if has_uv else None,
        views=[tuple(v) for v in request.views],
        size=request.size,
        background_kind="plain" if kind == "kandinsky-inpaint" else kind,
        background_files=files,
        seed=request.seed,
        renderer=request.renderer,
        out_dir=str(writer.dir),
        regions=regions,
        landmarks=landmarks,
        without=tuple(request.without),
        # Inpainting repaints the finished image, so it gets the pinhole's image as it was.
        camera_model="none" if request.background == "kandinsky-inpaint" else request.camera_model,
        pose_jitter=request.pose_jitter,
        lighting=request.lighting,
        maps=request.maps,
    )
    if request.background == "kandinsky-inpaint":
        import tempfile

        plan.mask_dir = tempfile.mkdtemp(prefix="painctl-masks-")
        (Path(plan.mask_dir) / "images").mkdir()
        plan.scalp = scalp_vertices(rig, len(rig.read("vertices", 0)))
    offset = identity_offset(rig, blocks)
    tasks = [
        IdentityTask(g=offset + first + i, start=a, stop=b, row0=int(starts_out[first + i]), albedo=None if albedos is None else albedos[i],
                     texture=None if tex_paths is None else tex_paths[first + i],
                     texture_lights=None if tex_lights is None else tex_lights[first + i], who=_demographics(rig, a), name=names[first + i],
                     texture_shading=None if tex_shading is None else tex_shading[i])
        for i, (a, b) in enumerate(mine)
    ]
    records: list[dict] = []
    for block in run_tasks(plan, tasks, views_jobs(len(tasks), jobs, request, texture), "rendering views"):
        records.extend(block)
    rig_rows = np.array([r["rig_row"] for r in records], np.int64)
    if request.background == "kandinsky-inpaint":
        import shutil

        try:
            if records:
                inpaint_backgrounds(writer.dir, Path(plan.mask_dir), records, rig, rig_rows, request)
        finally:
            shutil.rmtree(plan.mask_dir, ignore_errors=True)
    _write_index(writer, write_dataset, rig, records, rig_rows, n_views)
    writer.h5.attrs["lights"] = json.dumps([l.to_dict() for l in __import__("painctl.renderer", fromlist=["studio_lights"]).studio_lights()], sort_keys=True)
    writer.h5.attrs["size"] = request.size
    if request.maps:
        from painctl.appearance import segmentation

        writer.h5.attrs["segmentation_labels"] = json.dumps(list(segmentation.LABELS))
        writer.h5.attrs["segmentation_palette"] = json.dumps([list(c) for c in segmentation.PALETTE])
        writer.h5.attrs["depth_scale_m"] = segmentation.DEPTH_SCALE_M
        writer.h5.attrs["normals_encoding"] = "camera space (x right, y up, z toward the camera), rgb = round((n + 1) / 2 * 255), 0 = background"
    writer.h5.attrs["views"] = json.dumps([list(v) for v in request.views])
    if "landmarks" in writer.h5:
        writer.h5["landmarks"].attrs["names"] = json.dumps(list(landmarks))
    for key, value in rig.attrs().items():
        if key not in writer.h5.attrs and isinstance(value, (str, int, float, list, tuple)):
            try:
                writer.h5.attrs[key] = value
            except TypeError:
                pass
    return f"rendered {console.plural(len(records), 'image')} of {console.plural(last - first, 'identity', 'identities')} in {console.plural(n_views, 'view')} ({ctx.where})"


#: render-views: a rig artefact and optionally a texture artefact; the items are the rig's identities.
RENDER_VIEWS = Stage("render-views", ViewsRequest, _render_views, inputs=(
    Input("rig", stages=("rig",), require=RIG_REQUIRE),
    Input("texture", stages=("texture",), require=TEXTURE_REQUIRE, optional=True),
), items=lambda inputs, params: len(_blocks(inputs["rig"])), load=_load_inpainting, estimate=_estimate)


def render_views(rig, out: str | Path, request: ViewsRequest, texture=None, shard: Shard = WHOLE, force: bool = False, jobs: int | None = None,
                 big_ok: bool = False) -> Path:
    """Render the rig artefact ``rig`` (a path or opened) into the render-views artefact ``out``; return its path.

    ``texture`` is a texture artefact (rows with /identity and /texture PNG paths; a path or opened)
    or None for the plain vertex albedo (:func:`texture_for` finds the one a rig was made from).
    ``jobs`` worker processes (default: every core) render identities. Work estimated not to fit on
    the disk or in memory is refused unless ``big_ok``.
    """
    if jobs is not None and jobs < 1:
        raise BadValue("jobs", f"must be at least 1, got {jobs}")
    return run(RENDER_VIEWS, out, request, {"rig": rig, "texture": texture}, shard=shard, force=force, big_ok=big_ok, jobs=jobs)


def check_inpaint_model(model: str | None, load: bool = False) -> None:
    """Raise PainctlError unless the Kandinsky inpainting backend is present and ``model`` is named
    (and, with ``load``, loads: it stays cached for the run)."""
    try:
        from painctl.diffusion.inpaint import inpaint  # noqa: F401
    except ImportError:
        raise PainctlError("{background} kandinsky-inpaint needs painctl.diffusion.inpaint, which this install lacks", params=("background",)) from None
    if not model:
        raise BadValue(("background", "inpaint_model"), "{background} kandinsky-inpaint needs {inpaint_model} (a Hugging Face id or a local pipeline directory)")
    if load:
        from painctl.diffusion.inpaint import _pipelines, default_prior

        _pipelines(model, default_prior(model))


def inpaint_prompt(rig, row: int) -> str:
    """Return the inpainting prompt for rig ``row``: a studio portrait naming the person's demographics."""
    words = []
    for name in ("age_group", "ethnicity", "gender"):
        if rig.has(name):
            value = _decode(rig.read(name, row)).strip()
            if value and value.lower() not in ("unknown", "mixed", "none"):
                words.append(value.replace("_", " "))
    who = " ".join(words) + " person" if words else "person"
    return f"a studio portrait photo of a {who} with natural hair, soft light, neutral indoor background"


def inpaint_backgrounds(out_dir: Path, mask_dir: Path, records: list[dict], rig, rig_rows: np.ndarray, request: ViewsRequest) -> None:
    """Repaint background and hair of every image in ``records`` with Kandinsky 2.2 inpainting, in place.

    One diffusion call per (identity, view): the neutral image is inpainted under the union of the
    repaint masks of all that identity's faces in that view, and every image of the group takes the
    result where its own mask is set, so a neutral/pain pair still differs only by the expression.
    The seed is derived from ``request.seed`` and the neutral image's output row.
    """
    from PIL import Image

    from painctl.diffusion.inpaint import inpaint
    from painctl.seeding import seed_for

    is_neutral = rig.read("is_neutral").astype(bool)
    groups: dict[int, list[int]] = {}
    for i, rec in enumerate(records):
        groups.setdefault(rec["neutral_image_row"], []).append(i)
    for neutral_row, members in console.track(sorted(groups.items()), total=len(groups), description="inpainting backgrounds"):
        images = [np.asarray(Image.open(out_dir / records[i]["image"]).convert("RGB"), np.float32) / 255.0 for i in members]
        masks = [np.asarray(Image.open(mask_dir / records[i]["image"]), bool) for i in members]
        lead = next((i for i in members if is_neutral[rig_rows[i]]), members[0])
        union = np.logical_or.reduce(masks)
        seed = seed_for(request.seed, "render-views/inpaint", neutral_row)
        filled = inpaint(images[members.index(lead)][None], union[None], [inpaint_prompt(rig, int(rig_rows[lead]))],
                         model=request.inpaint_model, steps=request.inpaint_steps, seed=seed)[0]
        for image, mask, i in zip(images, masks, members):
            out = np.where(mask[..., None], filled, image)
            pixels = (np.clip(out, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
            Image.fromarray(pixels).save(out_dir / records[i]["image"], format="PNG", compress_level=1)


def _write_index(writer, write_dataset, rig, records: list[dict], rig_rows: np.ndarray, n_views: int) -> None:
    h5 = writer.h5
    write_dataset(h5, "image", np.array([r["image"] for r in records], dtype="U"))
    ident = rig.read("identity")
    write_dataset(h5, "identity", ident[rig_rows] if len(rig_rows) else ident[:0])
    write_dataset(h5, "rig_row", rig_rows)
    write_dataset(h5, "view", np.array([r["view"] for r in records], dtype="U") if records else np.zeros(0, "S1"))
    write_dataset(h5, "yaw", np.array([r["yaw"] for r in records], np.float32))
    write_dataset(h5, "pitch", np.array([r["pitch"] for r in records], np.float32))
    write_dataset(h5, "camera", np.array([r["camera"] for r in records], dtype="U") if records else np.zeros(0, "S1"))
    au = rig.read("au").astype(np.float32)
    write_dataset(h5, "au", au[rig_rows] if len(rig_rows) else np.zeros((0, 6), np.float32), attrs={"names": ["AU4", "AU6", "AU7", "AU9", "AU10", "AU43"]})
    write_dataset(h5, "pspi", rig.read("pspi").astype(np.float32)[rig_rows] if len(rig_rows) else np.zeros(0, np.float32))
    write_dataset(h5, "is_neutral", rig.read("is_neutral").astype(bool)[rig_rows] if len(rig_rows) else np.zeros(0, bool))
    write_dataset(h5, "neutral_image_row", np.array([r["neutral_image_row"] for r in records], np.int64))
    for name in CARRIED:
        if rig.has(name):
            values = rig.read(name)
            write_dataset(h5, name, values[rig_rows] if len(rig_rows) else values[:0])
    if records and "landmarks" in records[0]:
        write_dataset(h5, "landmarks", np.stack([r["landmarks"] for r in records]).astype(np.float32))
    for name in ("lights", "lighting", "camera_model", "scene", "appearance", *MAP_FOLDERS):
        if records and name in records[0]:
            write_dataset(h5, name, np.array([r[name] for r in records], dtype="U"))


def _texture_lights(texture, identity: np.ndarray, blocks: list[tuple[int, int]]) -> list[str] | None:
    """The lights (JSON) each identity's texture was baked under, or None if the texture does not say."""
    if not texture.has("lights"):
        return None
    by_id = dict(zip((_decode(x) for x in texture.read("identity")), (_decode(x) for x in texture.read("lights"))))
    return [by_id[_decode(identity[a])] for a, _ in blocks]


def _texture_shading(texture, identity: np.ndarray, blocks: list[tuple[int, int]], first: int, last: int, n_vertices: int) -> list[np.ndarray] | None:
    """The photo light (V,3) each of blocks[first:last]'s textures was baked under (the texture's
    /shading), or None if the texture does not hold it (an older one: the lights' model is used)."""
    if not texture.has("shading"):
        return None
    shape = texture.shapes()["shading"][0]
    if len(shape) != 3 or shape[1:] != (n_vertices, 3):
        raise ArtefactError(f"{texture.where}: /shading has shape {shape}, not (N, {n_vertices}, 3)")
    row = {_decode(x): k for k, x in enumerate(texture.read("identity"))}
    return [np.asarray(texture.read("shading", row[_decode(identity[a])]), np.float32) for a, _ in blocks[first:last]]


def _texture_paths(texture, identity: np.ndarray, blocks: list[tuple[int, int]]) -> list[str]:
    if not texture.has("identity") or not texture.has("texture"):
        raise ArtefactError(f"{texture.where}: a texture artefact needs /identity and /texture (PNG paths)")
    tex_ids = [_decode(x) for x in texture.read("identity")]
    tex_files = [_decode(x) for x in texture.read("texture")]
    by_id = dict(zip(tex_ids, tex_files))
    paths = []
    for a, _ in blocks:
        key = _decode(identity[a])
        if key not in by_id:
            raise ArtefactError(f"{texture.where}: has no texture for identity {key!r} of the rig")
        path = texture.resolve(by_id[key])
        if not path.is_file():
            raise ArtefactError(f"{texture.where}: texture file {by_id[key]!r} is missing")
        paths.append(str(path))
    return paths


def _model_regions(rig) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Return the rig's face-model regions and landmarks, or empty ones when the model is unknown."""
    from painctl.facemodels import face_model_of

    try:
        model = face_model_of(rig)
        return model.region_vertices(), model.landmarks()
    except (PainctlError, NotImplementedError):
        return {}, {}


def _plain_albedos(rig, blocks, mine, n_vertices: int) -> list[np.ndarray]:
    from painctl.facemodels import face_model_of

    try:
        regions = face_model_of(rig).region_vertices()
    except PainctlError:
        regions = {}
    eth = rig.read("ethnicity") if rig.has("ethnicity") else None
    # Each identity's first rig row is its neutral face (identity_blocks).
    return [plain_albedo(regions, n_vertices, None if eth is None else _decode(eth[a]), rig.read("vertices", a) if regions else None)
            for a, _ in mine]


def _decode(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name) or "identity"
