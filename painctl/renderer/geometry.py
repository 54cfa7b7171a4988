"""Geometry-only renders: which triangle, which point on it and how far, behind every pixel; no colour.

Stages that carry per-vertex values into images (heatmaps, segmentation) need only the triangle ids
and barycentrics. The moderngl path draws with a program that reads nothing but positions and
writes nothing but (barycentrics, view depth) and triangle id + 1, on the shared EGL context of
:mod:`painctl.renderer.moderngl_backend`: the same rasterisation as the full pass (same corners,
same matrices, same depth test), so the ids and barycentrics are the full pass's bit for bit,
at about a third of its CPU time. Meshes are drawn opaque: alpha cut-outs (hair cards, lashes)
are not cut; render those with :func:`painctl.renderer.render_many`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from painctl.errors import PainctlError
from painctl.renderer.camera import Camera
from painctl.renderer.mesh import Mesh

_VERTEX_SHADER = """
#version 330
uniform mat4 u_view;
uniform mat4 u_proj;
in vec3 in_pos;
out vec3 v_bary;
out float v_depth;
void main() {
    vec4 view_pos = u_view * vec4(in_pos, 1.0);
    gl_Position = u_proj * view_pos;
    int corner = gl_VertexID % 3;
    v_bary = vec3(corner == 0, corner == 1, corner == 2);
    v_depth = -view_pos.z;
}
"""

_FRAGMENT_SHADER = """
#version 330
uniform int u_face_offset;
in vec3 v_bary;
in float v_depth;
layout(location = 0) out vec4 f_geometry;
layout(location = 1) out int f_triangle;
void main() {
    f_geometry = vec4(v_bary, v_depth);
    f_triangle = gl_PrimitiveID + 1 + u_face_offset;
}
"""


@dataclass
class GeometryResult:
    """Per-pixel geometry of one render, H pixels tall and W wide (row 0 is the top).

    triangle (H,W) int32 face index, -1 on the background (ids run on across meshes drawn
    together, as :func:`painctl.renderer.face_offsets` says); barycentric (H,W,3) float32
    perspective-correct weights of the face's corners (0 on the background); depth (H,W) float32
    metres along the camera's view axis, +inf on the background. The same arrays, and values, as
    the :class:`painctl.renderer.RenderResult` of the same render.
    """

    triangle: np.ndarray
    barycentric: np.ndarray
    depth: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """Return the (H,W) bool coverage mask."""
        return self.triangle >= 0

    @property
    def alpha(self) -> np.ndarray:
        """Return the (H,W) float32 coverage, 1 on the mesh and 0 on the background."""
        return self.mask.astype(np.float32)


def render_geometry(mesh: Mesh | Sequence[Mesh], cameras: Sequence[Camera], width: int, height: int, backend: str = "moderngl") -> list[GeometryResult]:
    """Render the geometry of ``mesh`` (or several meshes in one frame) from each camera, ``width`` x ``height`` pixels.

    Returns one :class:`GeometryResult` per camera. Only the meshes' vertices and faces are read.
    ``backend="pytorch3d"`` takes the geometry from that backend's full render (it has no
    geometry-only path).
    """
    meshes = [mesh] if isinstance(mesh, Mesh) else list(mesh)
    if not meshes:
        raise PainctlError("nothing to render: no meshes given")
    width, height = int(width), int(height)
    if not (1 <= width <= 8192 and 1 <= height <= 8192):
        raise PainctlError(f"image size must be 1-8192 pixels per side, got {width}x{height}")
    if backend == "pytorch3d":
        from painctl.renderer import pytorch3d_backend
        from painctl.renderer.lights import studio_lights

        return [GeometryResult(r.triangle, r.barycentric, r.depth)
                for r in pytorch3d_backend.render_many(meshes, list(cameras), studio_lights(), width, height, shading=False)]
    if backend != "moderngl":
        raise PainctlError(f"unknown renderer {backend!r}; choose one of moderngl, pytorch3d")
    state = _geometry_state()
    with state.gl.ctx:
        return _draw(state, meshes, list(cameras), width, height)


class _GeometryGL:
    """The geometry program and its framebuffers per size, on the process's shared GL context."""

    def __init__(self, gl) -> None:
        self.gl = gl
        with gl.ctx:
            self.program = gl.ctx.program(vertex_shader=_VERTEX_SHADER, fragment_shader=_FRAGMENT_SHADER)
        self.uniforms = {name: self.program[name] for name in self.program}
        self.framebuffers: dict[tuple[int, int], object] = {}

    def framebuffer(self, width: int, height: int):
        key = (width, height)
        if key not in self.framebuffers:
            ctx = self.gl.ctx
            geometry = ctx.renderbuffer(key, 4, dtype="f4")
            triangle = ctx.renderbuffer(key, 1, dtype="i4")
            self.framebuffers[key] = ctx.framebuffer(color_attachments=[geometry, triangle], depth_attachment=ctx.depth_renderbuffer(key))
        return self.framebuffers[key]


_state: dict[int, _GeometryGL] = {}


def _geometry_state() -> _GeometryGL:
    # Per process, on the context gl_state() hands out (a forked child makes its own of both).
    from painctl.renderer.moderngl_backend import gl_state

    gl, pid = gl_state(), os.getpid()
    if pid not in _state or _state[pid].gl is not gl:
        _state.clear()
        _state[pid] = _GeometryGL(gl)
    return _state[pid]


def _draw(state: _GeometryGL, meshes: list[Mesh], cameras: list[Camera], width: int, height: int) -> list[GeometryResult]:
    gl, uniforms = state.gl, state.uniforms
    ctx, moderngl = gl.ctx, gl.moderngl
    buffers = []
    try:
        for mesh in meshes:
            # Unshared corners (3F vertices): the corner index gives exact barycentrics.
            vbo = ctx.buffer(np.ascontiguousarray(mesh.vertices[mesh.faces.reshape(-1)], dtype=np.float32).tobytes())
            buffers.append((vbo, ctx.vertex_array(state.program, [(vbo, "3f", "in_pos")])))
        offsets = np.concatenate([[0], np.cumsum([len(m.faces) for m in meshes])])
        fbo = state.framebuffer(width, height)
        fbo.use()
        ctx.enable(moderngl.DEPTH_TEST)
        ctx.disable(moderngl.CULL_FACE | moderngl.BLEND)
        results = []
        for camera in cameras:
            uniforms["u_view"].write(camera.view_matrix().astype("f4").T.tobytes())
            # The full pass's y flip: GL's first row is the image's top row.
            uniforms["u_proj"].write((np.diag([1.0, -1.0, 1.0, 1.0]) @ camera.projection_matrix(width / height)).astype("f4").T.tobytes())
            fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
            for (_, vao), offset in zip(buffers, offsets):
                if "u_face_offset" in uniforms:
                    uniforms["u_face_offset"].value = int(offset)
                vao.render(moderngl.TRIANGLES)
            geometry = np.empty((height, width, 4), np.float32)
            triangle = np.empty((height, width), np.int32)
            fbo.read_into(geometry, attachment=0, components=4, dtype="f4")
            fbo.read_into(triangle, attachment=1, components=1, dtype="i4")
            triangle -= 1
            depth = geometry[..., 3].copy()
            depth[triangle < 0] = np.inf
            results.append(GeometryResult(triangle=triangle, barycentric=geometry[..., :3], depth=depth))
        return results
    finally:
        for vbo, vao in buffers:
            vao.release()
            vbo.release()
