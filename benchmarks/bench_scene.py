"""What the scene, lights, camera model and per-pixel maps cost render-views per image, and for 3DPain.

    python benchmarks/bench_scene.py [--identities 3] [--per-identity 10] [--size 224] [--repeats 2]

Renders one rig (plain albedo, 3 views, one worker) three ways as a user would (real `painctl`
processes): everything off (grey background, studio lights, the fixed pinhole, no maps), the
maps only, and the defaults (room, room lights, pose jitter, photo camera model, maps). Prints the
least CPU time of ``--repeats`` runs per image (start-up included once per run, so small runs
read high), the difference each adds, and that difference over the paper's 82,500 images on 2 cores.
Then times the pieces in-process: painting a room, the wall shadow, the develop step, the maps.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from time import perf_counter

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PAPER_IMAGES = 82_500
OFF = ["--background", "plain", "--camera-model", "none", "--pose-jitter", "0", "--lighting", "studio"]


def painctl(*args: str) -> None:
    env = dict(os.environ)
    env.setdefault("ANNY_CACHE_DIR", str(ROOT / ".cache" / "anny"))
    env.setdefault("WARP_CACHE_PATH", str(ROOT / ".cache" / "warp"))
    subprocess.run([sys.executable, "-m", "painctl", "-q", *args], check=True, env=env)


def timed(args: list[str], rig: Path, out: Path, repeats: int) -> float:
    """Return the least CPU time (user + system seconds, every thread of the child) of ``repeats`` runs:
    on a shared machine wall time measures the neighbours; CPU time is what 2 cores must supply."""
    import resource

    best = float("inf")
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        painctl("render-views", "--jobs", "1", "--force", *args, str(rig), str(out))
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        best = min(best, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return best


def pieces(size: int, frames: int = 30) -> dict[str, float]:
    """Fastest milliseconds of each piece at ``size`` pixels, in-process."""
    from painctl.appearance import camera_model as cm
    from painctl.appearance import scene as sc
    from painctl.appearance import segmentation as seg
    from painctl.seeding import rng_for

    rng = np.random.default_rng(0)
    image = rng.random((size, size, 3)).astype(np.float32)
    alpha = np.zeros((size, size), np.float32)
    alpha[size // 5 : -size // 5, size // 4 : -size // 4] = 1
    room = sc.draw_room(rng_for(0, sc.STREAM, 0))
    model = cm.draw_camera_model(rng_for(0, cm.STREAM, 0, 0), "photo", 4.0, size)
    triangle = np.where(alpha > 0, rng.integers(0, 9000, (size, size)), -1).astype(np.int32)
    bary = rng.dirichlet(np.ones(3), (size, size)).astype(np.float32)
    normals = rng.standard_normal((5000, 3)).astype(np.float32)
    faces = rng.integers(0, 5000, (9000, 3)).astype(np.int32)
    depth = np.where(alpha > 0, 1.0, np.inf).astype(np.float32)
    tmp = Path(tempfile.mkdtemp())
    jobs = {
        "paint a room (per identity and view)": lambda: sc.paint_room(room, (size, size), 30.0),
        "wall shadow + room blur (per identity and view)": lambda: cm.blur(sc.cast_shadow(image, alpha, np.array([-0.5, 0.5, 0.7]), room), model.background_defocus_px),
        "develop: blur, exposure, noise, JPEG (per image)": lambda: cm.develop(image, model, rng_for(0, cm.STREAM, 0, 0, 1)),
        "maps: compute + write 3 PNGs (per image)": lambda: (
            seg.save_segmentation(tmp / "s.png", seg.segmentation(triangle, np.ones(9000, np.uint8))),
            seg.save_depth(tmp / "d.png", seg.depth_code(depth)),
            seg.save_normals(tmp / "n.png", seg.normal_code(triangle, bary, normals, faces, np.eye(3))),
        ),
    }
    out = {}
    for name, job in jobs.items():
        job()
        times = []
        for _ in range(frames):
            start = perf_counter()
            job()
            times.append(perf_counter() - start)
        # The fastest run: the others wait on other processes of a shared machine.
        out[name] = float(np.min(times) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identities", type=int, default=3)
    parser.add_argument("--per-identity", type=int, default=10)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        painctl("sample-mesh", "-n", str(args.identities), "--balance", "gender", "--seed", "1", str(work / "heads"))
        painctl("rig", "--pspi", "1-16", "--per-identity", str(args.per_identity), "--seed", "1", str(work / "heads"), str(work / "rig"))
        images = args.identities * (args.per_identity + 1) * 3
        size = ["--size", str(args.size)]
        runs = {
            "everything off": timed([*size, *OFF, "--no-maps"], work / "rig", work / "v", args.repeats),
            "maps only": timed([*size, *OFF], work / "rig", work / "v", args.repeats),
            "defaults (room, lights, jitter, camera, maps)": timed(size, work / "rig", work / "v", args.repeats),
        }
    base = runs["everything off"]
    print(f"render-views, {images} images at {args.size} px, one worker (CPU time, least of {args.repeats}):")
    for name, seconds in runs.items():
        extra = (seconds - base) / images
        print(f"  {name:46s} {seconds / images * 1000:7.1f} ms/image  +{extra * 1000:6.1f} ms/image"
              f"  = +{extra * PAPER_IMAGES / 2 / 60:5.1f} min for 82,500 images on 2 cores")
    print(f"pieces at {args.size} px (fastest of 30, ms):")
    for name, ms in pieces(args.size).items():
        print(f"  {name:50s} {ms:6.2f}")


if __name__ == "__main__":
    main()
