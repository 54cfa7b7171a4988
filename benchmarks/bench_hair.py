"""Cost of the hair parts (scalp hair, brows, lashes, beard) per identity and per frame at 224 px.

    python benchmarks/bench_hair.py RIG [--size 224] [--repeat 5]

RIG is a rig artefact (painctl rig). For each identity: the time to build its parts once, then per
frame (one rig row, 3 views in one render call as render-views draws it) the time the parts take
to follow the head (Part.meshes) and the extra render time of the head with its parts over the
bare head. Reports, in ms, the median over identities of each identity's fastest repeat (the
machine is shared: the fastest repeat is the least disturbed one).
"""

from __future__ import annotations

import argparse
import statistics
import time
from types import SimpleNamespace

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rig")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeat", type=int, default=8)
    args = parser.parse_args()

    from painctl.appearance import build_parts
    from painctl.artefact import open_artefact
    from painctl.renderer import Mesh, frame_camera, render_many, studio_lights
    from painctl.stages.render_views import _demographics, _identity_for_parts, _model_regions

    rig = open_artefact(args.rig)
    faces = rig.read("faces")
    regions, landmarks = _model_regions(rig)
    # The fields of render_views.ViewsPlan that _identity_for_parts reads.
    plan = SimpleNamespace(seed=0, faces=faces, regions=regions, landmarks=landmarks, uv=None, uv_faces=None)
    lights = studio_lights()
    neutral_rows = np.flatnonzero(rig.read("is_neutral"))
    build, follow, bare, dressed, triangles = [], [], [], [], []
    for g, row in enumerate(neutral_rows):
        verts = rig.read("vertices", int(row))
        au = rig.read("au", int(row))
        t0 = time.perf_counter()
        parts = build_parts(_identity_for_parts(plan, g, verts, _demographics(rig, int(row))))
        build.append(time.perf_counter() - t0)
        cams = [frame_camera(verts, yaw=y, size=args.size) for y in (0.0, -30.0, 30.0)]
        head = Mesh(verts, faces)
        render_many([head], cams, lights, args.size)  # warm the context and the head's upload
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            # A fresh head per repeat: the parts cannot hand back last frame's meshes.
            meshes = [m for p in parts for m in p.meshes(verts + np.float32(1e-7) * len(times), au)]
            t1 = time.perf_counter()
            render_many([head], cams, lights, args.size)
            t2 = time.perf_counter()
            render_many([head] + meshes, cams, lights, args.size)
            times.append((t1 - t0, t2 - t1, time.perf_counter() - t2))
        follow.append(min(t[0] for t in times))
        bare.append(min(t[1] for t in times))
        dressed.append(min(t[2] for t in times))
        triangles.append(sum(len(m.faces) for m in meshes))
    ms = lambda xs: 1000.0 * statistics.median(xs)  # noqa: E731
    print(f"{len(neutral_rows)} identities, {args.size} px, 3 views per frame; part triangles median {int(statistics.median(triangles))}")
    print(f"build parts per identity  {ms(build):7.1f} ms")
    print(f"follow the head per frame {ms(follow):7.1f} ms")
    print(f"render bare head, 3 views {ms(bare):7.1f} ms")
    print(f"render with parts         {ms(dressed):7.1f} ms  (+{ms(dressed) - ms(bare):.1f} ms per frame, "
          f"+{(ms(dressed) - ms(bare) + ms(follow)) / 3:.1f} ms per image with following)")


if __name__ == "__main__":
    main()
