"""Rendering meshes to colour, coverage, depth, triangle ids and barycentrics, with interchangeable backends.

    from painctl.renderer import Camera, Mesh, render, render_geometry, frame_camera, studio_lights, splat
    cam = frame_camera(vertices, yaw=30)
    out = render(Mesh(vertices, faces), cam, studio_lights(), 224)
    heat = splat(out, per_vertex_values, faces)      # (224, 224), aligned with out.rgb
    ids = render_geometry(Mesh(vertices, faces), [cam], 224, 224)[0]  # ids, barycentrics, depth only

Backends: ``moderngl`` (default; OpenGL 3.3 on EGL, Mesa llvmpipe on a CPU) and ``pytorch3d``
(optional, for GPU machines that have PyTorch3D installed).
"""

from __future__ import annotations

from collections.abc import Sequence

from painctl.errors import PainctlError
from painctl.renderer.camera import Camera, frame_camera
from painctl.renderer.coverage import cutout_meshes, cutout_pixels, soften_cutouts
from painctl.renderer.geometry import GeometryResult, render_geometry
from painctl.renderer.lights import Light, irradiance, lights_from_list, lights_to_list, relight, shading_ratio, studio_lights
from painctl.renderer.mesh import Mesh, face_offsets, mesh_index, vertex_normals
from painctl.renderer.result import RenderResult
from painctl.renderer.splat import splat

#: Backend names accepted by ``render(..., backend=...)`` and ``--renderer``.
BACKENDS = ("moderngl", "pytorch3d")

__all__ = [
    "BACKENDS",
    "Camera",
    "GeometryResult",
    "Light",
    "Mesh",
    "RenderResult",
    "available_backends",
    "backend_info",
    "cutout_meshes",
    "cutout_pixels",
    "face_offsets",
    "frame_camera",
    "irradiance",
    "lights_from_list",
    "lights_to_list",
    "mesh_index",
    "render",
    "render_geometry",
    "relight",
    "render_many",
    "shading_ratio",
    "soften_cutouts",
    "splat",
    "studio_lights",
    "vertex_normals",
]


def _size(size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(size, (tuple, list)):
        width, height = int(size[0]), int(size[1])
    else:
        width = height = int(size)
    if not (1 <= width <= 8192 and 1 <= height <= 8192):
        raise PainctlError(f"image size must be 1-8192 pixels per side, got {width}x{height}")
    return width, height


def _backend(name: str):
    if name == "moderngl":
        from painctl.renderer import moderngl_backend

        return moderngl_backend
    if name == "pytorch3d":
        from painctl.renderer import pytorch3d_backend

        return pytorch3d_backend
    raise PainctlError(f"unknown renderer {name!r}; choose one of {', '.join(BACKENDS)}")


def render_many(mesh: Mesh | Sequence[Mesh], cameras: Sequence[Camera], lights: Sequence[Light], size: int | tuple[int, int] = 224, backend: str = "moderngl", shading: bool = True,
                static: Sequence[int] = ()) -> list[RenderResult]:
    """Render ``mesh`` once per camera (uploading it once); returns one RenderResult per camera.

    ``mesh`` may be a list of meshes drawn together in one frame (a head and its parts); their
    triangle ids then run on across the list (:func:`face_offsets`, :func:`mesh_index`).
    ``size`` is an int (square) or (width, height) in pixels; ``shading=False`` gives the bare
    albedo (a mesh's own ``shading`` overrides it).

    ``static`` lists the indices of meshes that the caller passes again, the same objects, in
    frame after frame with the same cameras and lights (a body, a garment): the moderngl backend
    draws them once per camera into a layer it keeps and each frame draws the others over a copy
    of it. They are drawn before the others, so only where a static mesh and another one give a
    pixel exactly the same depth can the result differ from drawing all in list order.
    """
    width, height = _size(size)
    if backend == "moderngl" and static:
        return _backend(backend).render_many(mesh, list(cameras), list(lights), width, height, shading=shading, static=static)
    return _backend(backend).render_many(mesh, list(cameras), list(lights), width, height, shading=shading)


def render(mesh: Mesh, camera: Camera, lights: Sequence[Light], size: int | tuple[int, int] = 224, backend: str = "moderngl", shading: bool = True) -> RenderResult:
    """Render ``mesh`` seen by ``camera`` under ``lights`` into an image of ``size`` pixels.

    Returns a :class:`RenderResult` (rgb, alpha, depth in metres along the view axis with +inf on
    the background, triangle ids with -1 on the background, barycentrics).
    """
    return render_many(mesh, [camera], lights, size, backend=backend, shading=shading)[0]


def backend_info(backend: str = "moderngl") -> str:
    """Return a one-line description of the device a backend renders on (e.g. the GL_RENDERER string)."""
    if backend == "moderngl":
        from painctl.renderer.moderngl_backend import renderer_info

        return f"moderngl on {renderer_info()}"
    module = _backend(backend)
    module._import()
    import torch

    return f"pytorch3d on {'cuda: ' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu'}"


def available_backends() -> list[str]:
    """Return the backends that work in this process (moderngl needs EGL, pytorch3d needs PyTorch3D)."""
    names = []
    for name in BACKENDS:
        try:
            backend_info(name)
        except PainctlError:
            continue
        names.append(name)
    return names
