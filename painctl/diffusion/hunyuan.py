"""Adapter for Hunyuan3D 2.1's texture-paint pipeline (optional; never installed by painctl)."""

from __future__ import annotations

from painctl.errors import PainctlError

INSTALL = ("Hunyuan3D 2.1's paint pipeline is not importable; install it from "
           "https://github.com/Tencent-Hunyuan/Hunyuan3D-2.1 (pip install -r requirements.txt, build "
           "hy3dpaint's custom rasteriser, download the weights) on a CUDA machine, then rerun")


def load_paint_pipeline():
    """Return Hunyuan3D's paint pipeline object, or raise PainctlError saying how to install it."""
    try:
        from textureGenPipeline import Hunyuan3DPaintConfig, Hunyuan3DPaintPipeline  # hy3dpaint (2.1)
    except ImportError:
        try:
            from hy3dgen.texgen import Hunyuan3DPaintPipeline  # hy3dgen (2.0 layout)
        except ImportError:
            raise PainctlError(INSTALL) from None
        return Hunyuan3DPaintPipeline.from_pretrained("tencent/Hunyuan3D-2")
    return Hunyuan3DPaintPipeline(Hunyuan3DPaintConfig(max_num_view=6, resolution=512))


def paint(pipeline, mesh_path: str, image_path: str, out_path: str) -> str:
    """Texture the mesh file ``mesh_path`` from the reference image ``image_path`` with the Hunyuan3D
    pipeline; returns the path of the textured mesh it wrote (``out_path``)."""
    if hasattr(pipeline, "config") and callable(pipeline):
        try:
            return pipeline(mesh_path=mesh_path, image_path=image_path, output_mesh_path=out_path)
        except TypeError:
            pass
    import trimesh

    mesh = pipeline(trimesh.load(mesh_path, force="mesh"), image=image_path)
    mesh.export(out_path)
    return out_path
