"""Renderer speed: milliseconds per view of the anny head (~9k triangles) at 224 and 512 pixels.

    python benchmarks/bench_render.py [--frames 50]

For every installed backend, prints the median over many frames of one render (colour, alpha,
depth, triangle ids and barycentrics read back), excluding the first (context and upload) frame.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=50)
    args = parser.parse_args()

    from painctl.facemodels import load_face_model
    from painctl.renderer import BACKENDS, Mesh, frame_camera, render, studio_lights
    from painctl.errors import PainctlError

    model = load_face_model("anny")
    vertices = model.neutral(np.full((1, len(model.phenotype_names)), 0.5))[0]
    mesh = Mesh(vertices, model.faces, vertex_colors=np.full((len(vertices), 3), 0.7, np.float32))
    lights = studio_lights()
    print(f"mesh: {len(vertices)} vertices, {len(model.faces)} triangles")
    for backend in BACKENDS:
        for size in (224, 512):
            cameras = [frame_camera(vertices, yaw=float(y)) for y in np.linspace(-30, 30, args.frames + 1)]
            try:
                render(mesh, cameras[0], lights, size, backend=backend)
            except PainctlError as exc:
                print(f"{backend}: not available ({exc})")
                break
            times = []
            for camera in cameras[1:]:
                start = time.perf_counter()
                render(mesh, camera, lights, size, backend=backend)
                times.append(time.perf_counter() - start)
            print(f"{backend} {size}x{size}: median {1000 * statistics.median(times):.1f} ms per view "
                  f"(min {1000 * min(times):.1f}, {len(times)} frames)")


if __name__ == "__main__":
    main()
