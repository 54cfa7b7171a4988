"""Milliseconds per frame the face parts (teeth and mouth, wrinkles) add to render-views.

    python benchmarks/bench_face_parts.py [--size 224] [--texture-size 512] [--identities 2] [--repeat 3]

Builds a small chain in a temporary directory (sample-mesh, render-neutral, texture, rig with 10
pain faces per identity) and then, per identity, times what render-views does per frame (three
views): the textured head alone, and the head with each part (its dress and meshes plus the
render, which uploads the wrinkled texture anew for every pain frame). Reports the median and the
fastest over frames and repeats (on a shared machine the fastest is the better estimate), split into
neutral and pain frames, and each part's own Python time.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--texture-size", type=int, default=512)
    parser.add_argument("--identities", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        run = lambda *a: subprocess.run([sys.executable, "-m", "painctl", "-q", *map(str, a)], check=True)  # noqa: E731
        run("sample-mesh", "-n", args.identities, "--balance", "age,gender,ethnicity", work / "heads")
        run("render-neutral", "--texture-size", args.texture_size, work / "heads", work / "neutral")
        run("texture", "--size", args.texture_size, work / "neutral", work / "tex")
        run("rig", "--pspi", "1-16", "--per-identity", 10, "--seed", 1, work / "heads", work / "rig")
        measure(work, args)


def measure(work: Path, args) -> None:
    import h5py
    from PIL import Image

    from painctl.appearance import Identity
    from painctl.appearance.mouth import build_mouth
    from painctl.appearance.wrinkles import build_wrinkles
    from painctl.facemodels import load_face_model
    from painctl.renderer import Mesh, frame_camera, render_many, studio_lights

    model = load_face_model("anny")
    regions, landmarks = model.region_vertices(), model.landmarks()
    with h5py.File(work / "tex" / "data.h5") as t:
        uv, uv_faces, faces = t["uv"][()], t["uv_faces"][()], t["faces"][()]
        textures = [work / "tex" / p.decode() for p in t["texture"][()]]
    with h5py.File(work / "rig" / "data.h5") as r:
        vertices, au, neutral_flag, ages = r["vertices"][()], r["au"][()], r["is_neutral"][()].astype(bool), r["age_years"][()]
    starts = np.flatnonzero(neutral_flag)
    lights = studio_lights()
    times: dict[str, list[float]] = {}
    build: dict[str, list[float]] = {"mouth": [], "wrinkles": []}
    for g, start in enumerate(starts):
        stop = starts[g + 1] if g + 1 < len(starts) else len(vertices)
        tex = np.asarray(Image.open(textures[g]).convert("RGB"), np.float32) / 255.0
        identity = Identity(index=g, seed=0, neutral=vertices[start], faces=faces, regions=regions, landmarks=landmarks, uv=uv, uv_faces=uv_faces,
                            age_years=float(ages[start]))
        t0 = time.perf_counter()
        mouth = build_mouth(identity)
        build["mouth"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        wrinkles = build_wrinkles(identity)
        build["wrinkles"].append(time.perf_counter() - t0)
        cameras = [frame_camera(vertices[start], yaw=yaw, size=args.size) for yaw in (0, -30, 30)]
        for _ in range(args.repeat):
            for j in range(start, stop):
                kind = "neutral" if neutral_flag[j] else "pain"
                for name, parts in (("head", []), ("head+mouth", [mouth]), ("head+wrinkles", [wrinkles]), ("head+both", [mouth, wrinkles])):
                    t0 = time.perf_counter()
                    head = Mesh(vertices[j], faces, uv=uv, uv_faces=uv_faces, texture=tex, shading=False)
                    for part in parts:
                        head = part.dress(head, vertices[j], au[j])
                    meshes = [head] + [m for part in parts for m in part.meshes(vertices[j], au[j])]
                    t1 = time.perf_counter()
                    render_many(meshes, cameras, lights, args.size)
                    t2 = time.perf_counter()
                    times.setdefault(f"{kind} {name}", []).append(t2 - t0)
                    times.setdefault(f"{kind} {name} (parts' Python)", []).append(t1 - t0)
    ms = lambda xs: 1000 * statistics.median(xs)  # noqa: E731
    print(f"frames of 3 views at {args.size} px, textures {args.texture_size} px; ms per frame, median and fastest")
    for key, values in times.items():
        print(f"  {key:40s} {ms(values):7.1f} {1000 * min(values):7.1f}")
    for name, values in build.items():
        print(f"  build {name} per identity {ms(values):7.1f}")


if __name__ == "__main__":
    main()
