"""Optional backend for GPU machines where the user has installed PyTorch3D.

PyTorch3D's hard rasteriser gives triangle ids, barycentrics and view depth; shading uses the same
model as the OpenGL shader (wrapped Lambert + GGX specular + ambient, in linear light), computed
here with torch on the rasteriser's device. PyTorch3D is imported only when this backend is chosen.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from painctl.renderer.colour import linear_to_srgb, srgb_to_linear
from painctl.errors import PainctlError
from painctl.renderer.camera import Camera
from painctl.renderer.lights import Light
from painctl.renderer.mesh import DEFAULT_ALBEDO, Mesh
from painctl.renderer.result import RenderResult

INSTALL_HINT = (
    "the pytorch3d renderer needs PyTorch3D, which is not installed; it has no PyPI release for this "
    "platform: build it from https://github.com/facebookresearch/pytorch3d (INSTALL.md) on a GPU machine, "
    "or use --renderer moderngl"
)


def _import():
    try:
        import pytorch3d.renderer as p3r
        import pytorch3d.structures as p3s
        import torch
    except ImportError:
        raise PainctlError(INSTALL_HINT) from None
    return torch, p3r, p3s


def available() -> bool:
    """Return True when PyTorch3D can be imported."""
    try:
        _import()
    except PainctlError:
        return False
    return True


def render_many(mesh: Mesh, cameras: Sequence[Camera], lights: Sequence[Light], width: int, height: int, shading: bool = True, device: str | None = None) -> list[RenderResult]:
    """Render ``mesh`` from each camera with PyTorch3D's rasteriser; see :func:`painctl.renderer.render`."""
    if not isinstance(mesh, Mesh):
        if len(mesh) != 1:
            raise PainctlError("the pytorch3d renderer draws one mesh per frame; render the head's parts (hair, teeth, body) with {renderer} moderngl", params=("renderer",))
        mesh = mesh[0]
    torch, p3r, p3s = _import()
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    verts = torch.as_tensor(mesh.vertices, device=dev)
    faces = torch.as_tensor(mesh.faces.astype(np.int64), device=dev)
    n = len(cameras)
    # PyTorch3D's view space has +x left and +z forward: flip x and z of the OpenGL view matrix.
    flip = np.diag([-1.0, 1.0, -1.0])
    rs, ts, focals = [], [], []
    for cam in cameras:
        view = cam.view_matrix()
        rs.append((flip @ view[:3, :3]).T)  # row-vector convention: X_cam = X_world @ R + T
        ts.append(flip @ view[:3, 3])
        focals.append(cam.focal_pixels(height))
    p3_cameras = p3r.PerspectiveCameras(
        focal_length=torch.tensor([[f, f] for f in focals], dtype=torch.float32),
        principal_point=torch.tensor([[width / 2.0, height / 2.0]] * n, dtype=torch.float32),
        R=torch.tensor(np.stack(rs), dtype=torch.float32),
        T=torch.tensor(np.stack(ts), dtype=torch.float32),
        in_ndc=False,
        image_size=torch.tensor([[height, width]] * n),
        device=dev,
    )
    settings = p3r.RasterizationSettings(image_size=(height, width), blur_radius=0.0, faces_per_pixel=1, perspective_correct=True, cull_backfaces=False)
    rasterizer = p3r.MeshRasterizer(cameras=p3_cameras, raster_settings=settings)
    meshes = p3s.Meshes(verts=[verts] * n, faces=[faces] * n)
    with torch.no_grad():
        fragments = rasterizer(meshes)
    faces_per_mesh = len(mesh.faces)
    pix_to_face = fragments.pix_to_face[..., 0]
    offsets = torch.arange(n, device=dev).view(n, 1, 1) * faces_per_mesh
    triangle = torch.where(pix_to_face >= 0, pix_to_face - offsets, torch.full_like(pix_to_face, -1))
    bary = torch.where((triangle >= 0)[..., None], fragments.bary_coords[..., 0, :], torch.zeros_like(fragments.bary_coords[..., 0, :]))
    depth = torch.where(triangle >= 0, fragments.zbuf[..., 0], torch.full_like(fragments.zbuf[..., 0], float("inf")))
    results = []
    for i, cam in enumerate(cameras):
        tri = triangle[i].cpu().numpy().astype(np.int32)
        bc = bary[i].cpu().numpy().astype(np.float32)
        rgb = shade(mesh, tri, bc, cam, lights, shading)
        results.append(RenderResult(rgb=rgb, alpha=(tri >= 0).astype(np.float32), depth=depth[i].cpu().numpy().astype(np.float32), triangle=tri, barycentric=bc))
    return results



def _bilinear(image: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Sample ``image`` (H,W,C) at OBJ-convention ``uv`` (K,2) (origin bottom-left) with clamped bilinear filtering."""
    h, w = image.shape[:2]
    x = np.clip(uv[:, 0] * w - 0.5, 0, w - 1)
    y = np.clip((1.0 - uv[:, 1]) * h - 0.5, 0, h - 1)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    top = image[y0, x0] * (1 - fx) + image[y0, x1] * fx
    bottom = image[y1, x0] * (1 - fx) + image[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def shade(mesh: Mesh, triangle: np.ndarray, barycentric: np.ndarray, camera: Camera, lights: Sequence[Light], shading: bool = True) -> np.ndarray:
    """Return (H,W,3) float32 sRGB colour for the surface points given by ``triangle`` and ``barycentric``.

    The same shading model as the OpenGL backend's fragment shader, in numpy (without mipmapping).
    """
    from painctl.renderer.splat import splat

    result = RenderResult(rgb=None, alpha=None, depth=None, triangle=triangle, barycentric=barycentric)  # type: ignore[arg-type]
    mask = triangle >= 0
    out = np.zeros(triangle.shape + (3,), np.float32)
    if not mask.any():
        return out
    if mesh.texture is not None:
        corners = mesh.uv_faces[triangle[mask]]
        uv = np.einsum("kc,kcd->kd", barycentric[mask], mesh.uv[corners])
        albedo = _bilinear(mesh.texture, uv)
    elif mesh.vertex_colors is not None:
        albedo = splat(result, mesh.vertex_colors, mesh.faces)[mask]
    else:
        albedo = np.broadcast_to(np.asarray(DEFAULT_ALBEDO, np.float32), (int(mask.sum()), 3))
    if not shading:
        out[mask] = albedo
        return out
    world = splat(result, mesh.vertices, mesh.faces)[mask].astype(np.float64)
    normal = splat(result, mesh.vertex_normals(), mesh.faces)[mask].astype(np.float64)
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)

    def material(value):
        if np.ndim(value) == 0:
            return np.full(len(world), float(value))
        if np.ndim(value) == 1:
            return splat(result, value, mesh.faces)[mask]
        corners = mesh.uv_faces[triangle[mask]]
        uv = np.einsum("kc,kcd->kd", barycentric[mask], mesh.uv[corners])
        return _bilinear(np.asarray(value, np.float32)[..., None], uv)[:, 0]

    f0 = material(mesh.specular)[:, None]
    rough = np.clip(material(mesh.roughness), 0.04, 1.0)[:, None]
    base = srgb_to_linear(np.asarray(albedo, np.float64))
    view = camera.position()[None, :] - world
    view /= np.linalg.norm(view, axis=1, keepdims=True)
    normal = np.where((normal * view).sum(1, keepdims=True) < 0, -normal, normal)
    ndv = np.maximum((normal * view).sum(1, keepdims=True), 1e-4)
    ambient = sum((light.colour * light.ambient for light in lights), np.zeros(3))
    colour = base * ambient
    from painctl.renderer.moderngl_backend import LIGHT_SPREAD, SHARP_LOBE_ROUGHNESS, SHARP_LOBE_WEIGHT

    def ggx(ndh, alpha):
        a2 = alpha**2 + LIGHT_SPREAD**2
        return a2 / (np.pi * (ndh**2 * (a2 - 1.0) + 1.0) ** 2)

    k = (rough + 1.0) ** 2 / 8.0
    wrap = float(mesh.wrap)
    for light in lights:
        ndl_raw = normal @ light.direction
        diffuse = np.maximum((ndl_raw + wrap) / (1.0 + wrap), 0.0)[:, None] / (1.0 + wrap)
        ndl = np.maximum(ndl_raw, 0.0)[:, None]
        half = light.direction[None, :] + view
        half /= np.linalg.norm(half, axis=1, keepdims=True)
        ndh = np.maximum((normal * half).sum(1, keepdims=True), 0.0)
        vdh = np.maximum((view * half).sum(1, keepdims=True), 0.0)
        d = (1.0 - SHARP_LOBE_WEIGHT) * ggx(ndh, rough**2) + SHARP_LOBE_WEIGHT * ggx(ndh, (rough * SHARP_LOBE_ROUGHNESS) ** 2)
        g = (ndv / (ndv * (1 - k) + k)) * (ndl / (ndl * (1 - k) + k))
        fresnel = f0 + (1.0 - f0) * (1.0 - vdh) ** 5
        specular = d * g * fresnel / (4.0 * ndv * np.maximum(ndl, 1e-4)) * ndl * np.pi
        colour = colour + (light.colour * light.intensity)[None, :] * (base * diffuse + specular)
    out[mask] = linear_to_srgb(colour)
    return out
