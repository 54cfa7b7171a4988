"""The default backend: one OpenGL pass on an EGL context (Mesa llvmpipe on a CPU, the GPU's EGL driver where present).

One draw writes three buffers: shaded colour, (barycentrics, view depth) and triangle id + 1.
Triangles are drawn with unshared corners (3F vertices) so the corner index gives exact
barycentrics and gl_PrimitiveID gives the face index. Several meshes (a head and the parts drawn
with it: hair, lashes, teeth, a body) share one frame and depth buffer; their triangle ids run on
across meshes in order (see :func:`painctl.renderer.mesh.face_offsets`). The context is created
once per process.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from painctl.errors import PainctlError
from painctl.renderer.camera import Camera
from painctl.renderer.lights import MAX_LIGHTS, Light
from painctl.renderer.mesh import DEFAULT_ALBEDO, Mesh
from painctl.renderer.result import RenderResult

EGL_PACKAGES = "libegl1 libgl1 libegl-mesa0 libgl1-mesa-dri"

_VERTEX_SHADER = """
#version 330
uniform mat4 u_view;
uniform mat4 u_proj;
in vec3 in_pos;
in vec3 in_normal;
in vec3 in_albedo;
in vec2 in_uv;
in vec2 in_material;
in vec4 in_strand;
out vec3 v_world;
out vec3 v_normal;
out vec3 v_albedo;
out vec2 v_uv;
out vec2 v_material;
out vec4 v_strand;
out vec3 v_bary;
out float v_depth;
void main() {
    vec4 view_pos = u_view * vec4(in_pos, 1.0);
    gl_Position = u_proj * view_pos;
    v_world = in_pos;
    v_normal = in_normal;
    v_albedo = in_albedo;
    v_uv = in_uv;
    v_material = in_material;
    v_strand = in_strand;
    int corner = gl_VertexID % 3;
    v_bary = vec3(corner == 0, corner == 1, corner == 2);
    v_depth = -view_pos.z;
}
"""

#: The specular model of lit non-hair surfaces (the GLSL below and the pytorch3d backend's numpy
#: port share these). Skin, like most real surfaces, reflects a light in a broad lobe with a sharper
#: core (skin's measured specular is fit by two lobes: d'Eon and Luebke 2007; Weyrich et al. 2006):
#: the material's GGX lobe (alpha = roughness^2) carries 1 - SHARP_LOBE_WEIGHT of the energy and a
#: second lobe of SHARP_LOBE_ROUGHNESS times the roughness the rest. Every light painctl draws
#: stands for a window, a softbox or a lamp shade, none a bare bulb: a source of angular radius
#: theta moves the half vector by up to theta / 2, which widens both lobes' alpha in quadrature by
#: LIGHT_SPREAD (theta ~ 23 degrees: an 85 cm softbox at 1 m; the window of
#: painctl.appearance.lighting's rooms is 28 degrees in radius). With a point light and one lobe
#: the T-zone's highlight peaked 5x higher in a spot a quarter the area: the hot spot that
#: clipped to white on pale foreheads.
SHARP_LOBE_WEIGHT = 0.15
SHARP_LOBE_ROUGHNESS = 0.6
LIGHT_SPREAD = 0.2

_FRAGMENT_SHADER = """
#version 330
const float PI = 3.14159265358979;
const float SHARP_LOBE_WEIGHT = %(sharp_weight)r;
const float SHARP_LOBE_ROUGHNESS = %(sharp_roughness)r;
const float LIGHT_SPREAD = %(light_spread)r;
uniform bool u_shading;
uniform bool u_use_texture;
uniform bool u_use_material_map;
uniform sampler2D u_texture;
uniform sampler2D u_material_map;
uniform int u_n_lights;
uniform vec3 u_light_dir[%(max_lights)d];
uniform vec3 u_light_rgb[%(max_lights)d];
uniform vec3 u_ambient;
uniform vec3 u_camera_pos;
uniform float u_wrap;
uniform int u_face_offset;
uniform float u_alpha_cutoff;
uniform bool u_hair;
in vec3 v_world;
in vec3 v_normal;
in vec3 v_albedo;
in vec2 v_uv;
in vec2 v_material;
in vec4 v_strand;
in vec3 v_bary;
in float v_depth;
layout(location = 0) out vec4 f_colour;
layout(location = 1) out vec4 f_geometry;
layout(location = 2) out int f_triangle;

vec3 to_linear(vec3 c) {
    return mix(c / 12.92, pow((c + 0.055) / 1.055, vec3(2.4)), step(0.04045, c));
}
vec3 to_srgb(vec3 c) {
    c = clamp(c, 0.0, 1.0);
    return mix(c * 12.92, 1.055 * pow(c, vec3(1.0 / 2.4)) - 0.055, step(0.0031308, c));
}

// Hair (Kajiya-Kay with Scheuermann's two shifted lobes): light scatters off a strand in a cone
// around its tangent, so the highlight is a band across the strands, not a spot. The primary lobe
// is white and tight, the secondary (light that crossed the fibre) is tinted by the hair colour
// and broader; both are shifted along the normal because cuticle scales tilt the fibre surface.
vec3 shade_hair(vec3 base, vec3 n, vec3 v, vec2 material) {
    vec3 t = v_strand.xyz - dot(v_strand.xyz, n) * n;
    t = length(t) > 1e-6 ? normalize(t) : normalize(cross(n, vec3(0.0, 0.0, 1.0)) + 1e-3);
    float strength = material.x;
    float exponent = mix(300.0, 20.0, clamp(material.y, 0.0, 1.0));
    vec3 colour = base * u_ambient;
    for (int i = 0; i < u_n_lights; ++i) {
        vec3 l = u_light_dir[i];
        float ndl = dot(n, l);
        float diffuse = clamp(0.3 + 0.7 * ndl, 0.0, 1.0);
        vec3 h = normalize(l + v);
        vec3 t1 = normalize(t + 0.08 * n);
        vec3 t2 = normalize(t - 0.12 * n);
        float th1 = dot(t1, h);
        float th2 = dot(t2, h);
        float lobe1 = pow(sqrt(max(1.0 - th1 * th1, 0.0)), exponent);
        float lobe2 = pow(sqrt(max(1.0 - th2 * th2, 0.0)), exponent * 0.25);
        float shadow = smoothstep(-0.1, 0.3, ndl);
        vec3 specular = strength * (vec3(lobe1) + 0.4 * lobe2 * sqrt(base)) * shadow;
        colour += u_light_rgb[i] * (base * diffuse + specular);
    }
    return colour;
}

// GGX's normal distribution for roughness alpha widened by the light's size (see LIGHT_SPREAD).
float ggx(float ndh, float alpha) {
    float a2 = alpha * alpha + LIGHT_SPREAD * LIGHT_SPREAD;
    float denom = ndh * ndh * (a2 - 1.0) + 1.0;
    return a2 / (PI * denom * denom);
}

void main() {
    vec4 texel = u_use_texture ? texture(u_texture, v_uv) : vec4(v_albedo, 1.0);
    if (u_hair) {
        // Hair cards and shells: the texture's alpha is strand length, cut per vertex (shell
        // layers cut longer strands), and its rgb tints the vertex colour (root shadowing).
        if (texel.a < v_strand.w) discard;
        texel.rgb *= v_albedo;
    }
    // Cut-out transparency (hair cards, lashes): no blending, so depth, ids and barycentrics stay exact.
    if (texel.a < u_alpha_cutoff) discard;
    vec3 albedo = texel.rgb;
    vec3 rgb = albedo;
#if LIT
    if (u_shading) {
        vec2 material = u_use_material_map ? texture(u_material_map, v_uv).rg : v_material;
        float f0 = material.x;
        float rough = clamp(material.y, 0.04, 1.0);
        vec3 base = to_linear(albedo);
        vec3 n = normalize(v_normal);
        vec3 v = normalize(u_camera_pos - v_world);
        // Inner surfaces (mouth, eye sockets) are seen from behind their normals: light them as two-sided.
        if (dot(n, v) < 0.0) n = -n;
        float ndv = max(dot(n, v), 1e-4);
        vec3 colour = base * u_ambient;
        if (u_hair) {
            f_colour = vec4(to_srgb(shade_hair(base, n, v, material)), 1.0);
            f_geometry = vec4(v_bary, v_depth);
            f_triangle = gl_PrimitiveID + 1 + u_face_offset;
            return;
        }
#if !HAIR
        float alpha = rough * rough;
        float alpha_sharp = rough * SHARP_LOBE_ROUGHNESS * rough * SHARP_LOBE_ROUGHNESS;
        float k = (rough + 1.0) * (rough + 1.0) / 8.0;
        for (int i = 0; i < u_n_lights; ++i) {
            vec3 l = u_light_dir[i];
            float ndl_raw = dot(n, l);
            // Wrapped Lambert: light bleeds past the terminator as it does through skin.
            float diffuse = max((ndl_raw + u_wrap) / (1.0 + u_wrap), 0.0) / (1.0 + u_wrap);
            float ndl = max(ndl_raw, 0.0);
            vec3 h = normalize(l + v);
            float ndh = max(dot(n, h), 0.0);
            float vdh = max(dot(v, h), 0.0);
            float d = (1.0 - SHARP_LOBE_WEIGHT) * ggx(ndh, alpha) + SHARP_LOBE_WEIGHT * ggx(ndh, alpha_sharp);
            float g = (ndv / (ndv * (1.0 - k) + k)) * (ndl / (ndl * (1.0 - k) + k));
            float fresnel = f0 + (1.0 - f0) * pow(1.0 - vdh, 5.0);
            float specular = d * g * fresnel / (4.0 * ndv * max(ndl, 1e-4)) * ndl * PI;
            colour += u_light_rgb[i] * (base * diffuse + vec3(specular));
        }
        rgb = to_srgb(colour);
#endif
    }
#endif
    f_colour = vec4(rgb, 1.0);
    f_geometry = vec4(v_bary, v_depth);
    f_triangle = gl_PrimitiveID + 1 + u_face_offset;
}
""" % {"max_lights": MAX_LIGHTS, "sharp_weight": SHARP_LOBE_WEIGHT, "sharp_roughness": SHARP_LOBE_ROUGHNESS, "light_spread": LIGHT_SPREAD}


def fragment_shader(lit: bool, hair: bool = False) -> str:
    """Return the fragment shader's source for one kind of mesh: ``lit`` and not ``hair`` the
    full one; unlit, one without the shading (a head whose texture holds its light); lit hair,
    one without the skin's lobes. A mesh's pixels run only the code its kind needs."""
    version, rest = _FRAGMENT_SHADER.lstrip().split("\n", 1)
    return f"{version}\n#define LIT {int(lit)}\n#define HAIR {int(lit and hair)}\n{rest}"


class _GL:
    """The per-process GL state: context, program, framebuffers per size and the last texture."""

    def __init__(self) -> None:
        try:
            import moderngl
        except ImportError as exc:  # pragma: no cover - moderngl is a dependency
            raise PainctlError(f"the moderngl renderer needs the moderngl package ({exc})") from None
        try:
            self.ctx = moderngl.create_standalone_context(backend="egl", require=330)
        except Exception as exc:  # noqa: BLE001 - EGL failures surface as several exception types
            raise PainctlError(
                f"cannot create an EGL OpenGL 3.3 context ({str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__}); "
                f"install the Debian packages {EGL_PACKAGES}"
            ) from None
        self.moderngl = moderngl
        # A program per variant (lit or not), each with its active uniforms by name (``name in
        # program`` walks every member each time); the lit one is made now, so a broken driver fails at once.
        self.programs: dict[tuple[bool, bool], tuple[object, dict]] = {}
        self.variant(True)
        self.framebuffers: dict[tuple[int, int], object] = {}
        self.layers = _Layers()
        # Uploaded maps by the ids of their source arrays, newest last; the sources are held so
        # their ids cannot be reused while cached. A few entries cover a head and its parts.
        self._maps: dict[tuple, tuple[object, object, tuple]] = {}
        # The corners' unchanging attributes (albedo, uv, material, strands) by what they are made
        # of (see :func:`_static_key`), as GPU buffers, newest last; ``_seen`` holds keys met once.
        self._static: dict[tuple, tuple[object, tuple]] = {}
        self._seen: dict[tuple, None] = {}
        # 1x1 placeholders keep both samplers bound to valid textures.
        self.blank = self.ctx.texture((1, 1), 3, np.zeros(3, np.float32).tobytes(), dtype="f4")

    def variant(self, lit: bool, hair: bool = False) -> tuple[object, dict]:
        """Return (program, uniforms by name) of the shader for ``lit`` (or unlit) meshes, lit ``hair``
        or not (:func:`fragment_shader`), compiling it on first use."""
        key = (bool(lit), bool(lit and hair))
        if key not in self.programs:
            program = self.ctx.program(vertex_shader=_VERTEX_SHADER, fragment_shader=fragment_shader(*key))
            self.programs[key] = (program, {name: program[name] for name in program})
        return self.programs[key]

    @property
    def renderer_name(self) -> str:
        return str(self.ctx.info.get("GL_RENDERER", "unknown"))

    def framebuffer(self, width: int, height: int):
        key = (width, height)
        if key not in self.framebuffers:
            self.framebuffers[key] = self.new_framebuffer(width, height)
        return self.framebuffers[key]

    def new_framebuffer(self, width: int, height: int):
        """Return a new framebuffer of the three outputs (colour, geometry, triangle) and depth."""
        key = (width, height)
        # 8-bit colour: the shader already writes sRGB, which is what PNGs store; less to write and read.
        colour = self.ctx.renderbuffer(key, 4, dtype="f1")
        geometry = self.ctx.renderbuffer(key, 4, dtype="f4")
        triangle = self.ctx.renderbuffer(key, 1, dtype="i4")
        depth = self.ctx.depth_renderbuffer(key)
        return self.ctx.framebuffer(color_attachments=[colour, geometry, triangle], depth_attachment=depth)

    def upload_maps(self, mesh: Mesh) -> tuple[object | None, object | None]:
        """Return (albedo texture, material map) of ``mesh`` on the GPU, uploading them unless cached."""
        material_map = None
        if isinstance(mesh.specular, np.ndarray) and mesh.specular.ndim == 2 or isinstance(mesh.roughness, np.ndarray) and mesh.roughness.ndim == 2:
            material_map = (mesh.specular, mesh.roughness)
        key = (id(mesh.texture), id(material_map[0]) if material_map else None, id(material_map[1]) if material_map else None)
        if key in self._maps:
            entry = self._maps.pop(key)
            self._maps[key] = entry
            return entry[0], entry[1]
        # Hair textures tile around the head (strand coordinates wrap); others are clamped.
        texture = self._make_texture(mesh.texture, repeat=mesh.strand_tangents is not None) if mesh.texture is not None else None
        material_texture = None
        if material_map is not None:
            shape = next(m.shape for m in material_map if isinstance(m, np.ndarray) and m.ndim == 2)
            maps = [np.broadcast_to(np.asarray(m, np.float32), shape) if np.ndim(m) != 1 else None for m in material_map]
            if any(m is None for m in maps):
                raise PainctlError("mixing a per-vertex and a UV-map material is not supported; give both as UV maps")
            material_texture = self._make_texture(np.stack([maps[0], maps[1], np.zeros(shape, np.float32)], axis=-1))
        self._maps[key] = (texture, material_texture, (mesh.texture, material_map))
        while len(self._maps) > MAX_CACHED_MAPS:
            old = self._maps.pop(next(iter(self._maps)))
            for tex in old[:2]:
                if tex is not None:
                    tex.release()
        return texture, material_texture

    def static_corners(self, mesh: Mesh):
        """Return the GPU buffer of ``mesh``'s per-corner albedo, uv, material and strand columns
        (columns 6-16 of :func:`corner_attributes`) when a mesh made of the same arrays was drawn
        before (a head re-dressed every frame, a part re-bound to the moved skin); else None (the
        first time: a mesh seen once, as a part rebuilt from new arrays every frame is, costs no
        split and no upload it would not reuse)."""
        key, held = _static_key(mesh)
        entry = self._static.pop(key, None)
        if entry is None:
            if key not in self._seen:
                self._seen[key] = None
                while len(self._seen) > 4 * MAX_STATIC_CORNERS:
                    self._seen.pop(next(iter(self._seen)))
                return None
            block = np.ascontiguousarray(corner_attributes(mesh)[:, 6:])
            entry = (self.ctx.buffer(block), held)
            while len(self._static) >= MAX_STATIC_CORNERS:
                self._static.pop(next(iter(self._static)))[0].release()
        self._static[key] = entry
        return entry[0]

    def _make_texture(self, image: np.ndarray, repeat: bool = False):
        # Textures follow the OBJ convention (uv origin bottom-left); GL's first row is t = 0.
        scaled = np.clip(image, 0.0, 1.0)
        scaled *= 255.0
        scaled += 0.5
        data = np.flipud(scaled).astype(np.uint8, order="C")
        height, width, channels = data.shape
        tex = self.ctx.texture((width, height), channels, data, dtype="f1", alignment=1)
        tex.build_mipmaps()
        tex.filter = (self.moderngl.LINEAR_MIPMAP_LINEAR, self.moderngl.LINEAR)
        tex.repeat_x = tex.repeat_y = repeat
        return tex


#: Albedo/material uploads kept on the GPU per process (a head texture and its parts' maps).
MAX_CACHED_MAPS = 8
#: Static corner columns kept on the GPU per process (the head and the parts of an identity).
MAX_STATIC_CORNERS = 16

_state: dict[int, _GL] = {}


def gl_state() -> _GL:
    """Return this process's GL state, creating the EGL context on first use (a forked child makes its own)."""
    pid = os.getpid()
    if pid not in _state:
        from painctl import console

        _state.clear()
        _state[pid] = _GL()
        # Says with -v whether rendering runs on a GPU or on Mesa's llvmpipe (CPU).
        console.debug(f"renderer: moderngl on {_state[pid].renderer_name}")
    return _state[pid]


def renderer_info() -> str:
    """Return the OpenGL renderer string (e.g. 'llvmpipe (LLVM 15.0.6, 256 bits)')."""
    return gl_state().renderer_name


def corner_attributes(mesh: Mesh) -> np.ndarray:
    """Return the (3F, 17) float32 per-corner vertex data: position, normal, albedo, uv, material, strand (tangent, cutoff)."""
    corners = mesh.faces.reshape(-1)
    # Everything but the uv is per vertex: fill a (V, 17) table and gather its rows once per corner.
    table = np.empty((len(mesh.vertices), 17), dtype=np.float32)
    table[:, 0:3] = mesh.vertices
    table[:, 3:6] = mesh.vertex_normals()
    table[:, 6:9] = mesh.vertex_colors if mesh.vertex_colors is not None else DEFAULT_ALBEDO
    table[:, 9:11] = 0.0
    for column, value in ((11, mesh.specular), (12, mesh.roughness)):
        table[:, column] = value if isinstance(value, np.ndarray) and value.ndim == 1 else (value if np.ndim(value) == 0 else 0.0)
    if mesh.strand_tangents is not None:
        table[:, 13:16] = mesh.strand_tangents
        table[:, 16] = mesh.strand_cutoff if mesh.strand_cutoff is not None else mesh.alpha_cutoff
    else:
        table[:, 13:17] = 0.0
    out = table[corners]
    if mesh.uv is not None:
        out[:, 9:11] = mesh.uv[mesh.uv_faces.reshape(-1)]
    return out


def _static_key(mesh: Mesh) -> tuple[tuple, tuple]:
    """What columns 6-16 of :func:`corner_attributes` are made of: (a key, the arrays it names by
    id, to be held while the key is kept so the ids stay theirs). A Mesh is not changed after it
    is made, nor are the arrays it holds (as the texture cache by ids assumes)."""
    def part(value):
        if isinstance(value, np.ndarray):
            return ("array", id(value)) if value.ndim == 1 else ("map",)
        return ("value", float(value))

    arrays = (mesh.faces, mesh.vertex_colors, mesh.uv, mesh.uv_faces, mesh.strand_tangents, mesh.strand_cutoff)
    key = (len(mesh.vertices), *(None if a is None else id(a) for a in arrays), part(mesh.specular), part(mesh.roughness),
           float(mesh.alpha_cutoff) if mesh.strand_tangents is not None and mesh.strand_cutoff is None else None)
    return key, (*arrays, mesh.specular, mesh.roughness)


def _dynamic_corners(mesh: Mesh) -> np.ndarray:
    """Return the (3F, 6) float32 per-corner position and normal: columns 0-5 of :func:`corner_attributes`."""
    table = np.empty((len(mesh.vertices), 6), dtype=np.float32)
    table[:, 0:3] = mesh.vertices
    table[:, 3:6] = mesh.vertex_normals()
    return table[mesh.faces.reshape(-1)]


def _vertex_array(gl: "_GL", program, mesh: Mesh) -> tuple[object, object]:
    """Return (vertex array, its own vertex buffer) of ``mesh`` for ``program``: positions and
    normals uploaded for this draw over the kept buffer of its other columns when there is one
    (:meth:`_GL.static_corners`), else all 17 columns in one buffer."""
    ctx = gl.ctx
    names = ("in_pos", "in_normal", "in_albedo", "in_uv", "in_material", "in_strand")
    # The unlit program reads fewer attributes (the compiler drops the rest): skip_errors skips those.
    static = gl.static_corners(mesh) if "_corner_bytes" not in mesh.__dict__ else None
    if static is None:
        vbo = ctx.buffer(_corner_bytes(mesh))
        return ctx.vertex_array(program, [(vbo, "3f 3f 3f 2f 2f 4f", *names)], skip_errors=True), vbo
    vbo = ctx.buffer(_dynamic_corners(mesh))
    return ctx.vertex_array(program, [(vbo, "3f 3f", *names[:2]), (static, "3f 2f 2f 4f", *names[2:])], skip_errors=True), vbo


def _corner_bytes(mesh: Mesh) -> np.ndarray:
    # A part that hands back the same Mesh for the next frame (a body, a garment, the upper teeth,
    # hair on an unmoved scalp) skips rebuilding its corners; a Mesh is not changed after it is made.
    # The (C-contiguous) array itself is uploaded, through the buffer protocol: no copy into bytes.
    cached = mesh.__dict__.get("_corner_bytes")
    if cached is None:
        cached = mesh.__dict__["_corner_bytes"] = corner_attributes(mesh)
        cached.setflags(write=False)
    return cached


def render_many(mesh: Mesh | Sequence[Mesh], cameras: Sequence[Camera], lights: Sequence[Light], width: int, height: int, shading: bool = True,
                static: Sequence[int] = ()) -> list[RenderResult]:
    """Render ``mesh`` (or several meshes in one frame) from each camera; see :func:`painctl.renderer.render_many`
    (``static``: indices of meshes drawn once per camera into a kept layer)."""
    gl = gl_state()
    if len(lights) > MAX_LIGHTS:
        raise PainctlError(f"at most {MAX_LIGHTS} lights per render, got {len(lights)}")
    meshes = [mesh] if isinstance(mesh, Mesh) else list(mesh)
    if not meshes:
        raise PainctlError("nothing to render: no meshes given")
    # Make our context current: another moderngl context made in this process may have taken over.
    with gl.ctx:
        return _draw(gl, meshes, cameras, lights, width, height, shading, static)


#: Layers of static meshes kept per process (one per view of the identity being rendered, and spare).
MAX_LAYERS = 8


class _Layers:
    """Framebuffers holding static meshes already drawn, by what was drawn: the meshes (their ids,
    held so the ids stay theirs), their triangle-id offsets, camera, lights, size and shading."""

    def __init__(self) -> None:
        self.entries: dict[tuple, tuple[object, list]] = {}

    def get(self, key: tuple):
        entry = self.entries.pop(key, None)
        if entry is not None:
            self.entries[key] = entry
        return None if entry is None else entry[0]

    def add(self, gl: "_GL", key: tuple, width: int, height: int, held: list):
        while len(self.entries) >= MAX_LAYERS:
            old, _ = self.entries.pop(next(iter(self.entries)))
            for attachment in (*old.color_attachments, old.depth_attachment):
                attachment.release()
            old.release()
        fbo = gl.new_framebuffer(width, height)
        self.entries[key] = (fbo, held)
        return fbo


def _draw(gl: _GL, meshes: list[Mesh], cameras: Sequence[Camera], lights: Sequence[Light], width: int, height: int, shading: bool,
          static: Sequence[int] = ()) -> list[RenderResult]:
    ctx = gl.ctx
    static = sorted({int(i) for i in static if 0 <= int(i) < len(meshes)})
    dynamic = [i for i in range(len(meshes)) if i not in set(static)]
    offsets = np.concatenate([[0], np.cumsum([len(m.faces) for m in meshes])])
    # Vertex arrays and maps are made on first use: a static mesh whose layer is kept needs neither.
    prepared: dict[int, tuple] = {}
    buffers = []

    lit = [bool(shading if m.shading is None else m.shading) for m in meshes]
    kinds = [(on, on and m.strand_tangents is not None) for on, m in zip(lit, meshes)]
    variants = {kind: gl.variant(*kind) for kind in set(kinds)}

    def draw(i: int) -> None:
        if i not in prepared:
            vao, vbo = _vertex_array(gl, variants[kinds[i]][0], meshes[i])
            buffers.append((vbo, vao))
            prepared[i] = (vao, gl.upload_maps(meshes[i]))
        vao, maps = prepared[i]
        _draw_mesh(gl, variants[kinds[i]][1], meshes[i], vao, maps, int(offsets[i]), lit[i])

    try:
        for _, uniforms in variants.values():
            uniforms["u_texture"].value = 0
            if "u_material_map" in uniforms:
                uniforms["u_material_map"].value = 1
            light_key = _set_lights(uniforms, lights)
        fbo = gl.framebuffer(width, height)
        ctx.enable(gl.moderngl.DEPTH_TEST)
        ctx.disable(gl.moderngl.CULL_FACE | gl.moderngl.BLEND)
        results = []
        for camera in cameras:
            view = camera.view_matrix().astype("f4").T.tobytes()
            # Flip y in clip space so GL's first row is the image's top row: buffers read back need no flip.
            projection = (np.diag([1.0, -1.0, 1.0, 1.0]) @ camera.projection_matrix(width / height)).astype("f4").T.tobytes()
            position = tuple(float(x) for x in camera.position())
            for _, uniforms in variants.values():
                _set(uniforms, "u_view", view, raw=True)
                _set(uniforms, "u_proj", projection, raw=True)
                _set(uniforms, "u_camera_pos", position)
            if static:
                # The static meshes are drawn first, once per camera, into a kept layer; each frame
                # starts from a copy of it, so a frame draws only what moved.
                key = (width, height, bool(shading), view, projection, position, light_key, tuple((id(meshes[i]), int(offsets[i])) for i in static))
                layer = gl.layers.get(key)
                if layer is None:
                    layer = gl.layers.add(gl, key, width, height, [meshes[i] for i in static])
                    layer.use()
                    layer.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
                    for i in static:
                        draw(i)
                ctx.copy_framebuffer(fbo, layer)
                fbo.use()
            else:
                fbo.use()
                fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
            for i in dynamic:
                draw(i)
            results.append(_read(fbo, width, height))
        return results
    finally:
        for vbo, vao in buffers:
            vao.release()
            vbo.release()


def _draw_mesh(gl: _GL, uniforms: dict, mesh: Mesh, vao, maps: tuple, offset: int, lit: bool) -> None:
    texture, material_texture = maps
    (texture or gl.blank).use(location=0)
    (material_texture or gl.blank).use(location=1)
    _set(uniforms, "u_use_texture", texture is not None)
    _set(uniforms, "u_use_material_map", material_texture is not None)
    _set(uniforms, "u_shading", lit)
    _set(uniforms, "u_wrap", float(mesh.wrap))
    _set(uniforms, "u_face_offset", offset)
    # Hair cuts strands per vertex (strand_cutoff) instead of by one cut-off per mesh.
    _set(uniforms, "u_alpha_cutoff", float(mesh.alpha_cutoff) if texture is not None and mesh.texture.shape[2] == 4 and mesh.strand_tangents is None else -1.0)
    _set(uniforms, "u_hair", mesh.strand_tangents is not None)
    vao.render(gl.moderngl.TRIANGLES)


def _read(fbo, width: int, height: int) -> RenderResult:
    # Read straight into fresh (writable) arrays; rows already run from the top (see the y flip).
    colour = np.empty((height, width, 4), np.uint8)
    geometry = np.empty((height, width, 4), np.float32)
    triangle = np.empty((height, width), np.int32)
    fbo.read_into(colour, attachment=0, components=4, dtype="f1")
    fbo.read_into(geometry, attachment=1, components=4, dtype="f4")
    fbo.read_into(triangle, attachment=2, components=1, dtype="i4")
    triangle -= 1
    covered = triangle >= 0
    depth = geometry[..., 3].copy()
    depth[~covered] = np.inf
    return RenderResult(
        rgb=colour[..., :3].astype(np.float32) * np.float32(1.0 / 255.0),
        alpha=covered.astype(np.float32),
        depth=depth,
        triangle=triangle,
        barycentric=geometry[..., :3],
    )


def _set(uniforms: dict, name: str, value, raw: bool = False) -> None:
    # The GLSL compiler drops unused uniforms (e.g. all lighting when shading is off).
    uniform = uniforms.get(name)
    if uniform is not None:
        if raw:
            uniform.write(value)
        else:
            uniform.value = value


def _set_lights(uniforms: dict, lights: Sequence[Light]) -> tuple:
    # Returns what was set, as a key.
    dirs = np.zeros((MAX_LIGHTS, 3), np.float32)
    rgbs = np.zeros((MAX_LIGHTS, 3), np.float32)
    ambient = np.zeros(3, np.float32)
    for i, light in enumerate(lights):
        dirs[i] = light.direction
        rgbs[i] = light.colour * light.intensity
        ambient += light.colour * light.ambient
    _set(uniforms, "u_n_lights", len(lights))
    _set(uniforms, "u_light_dir", dirs.tobytes(), raw=True)
    _set(uniforms, "u_light_rgb", rgbs.tobytes(), raw=True)
    _set(uniforms, "u_ambient", tuple(float(x) for x in ambient))
    return (len(lights), dirs.tobytes(), rgbs.tobytes(), ambient.tobytes())
