"""render-views over its worker pool: one process against one per core, on the same textured rig.

    python benchmarks/bench_render_pool.py [--identities 12] [--repeats 3] [--jobs J] [--keep DIR]

Builds a small chain once (sample-mesh -> render-neutral -> texture -> rig, 8 pain faces per
identity, 1024 textures, as make demo's held-out set), then runs `painctl render-views` (3 views
at 224 px) with --jobs 1 and with --jobs J (default: every core), each --repeats times, as real
processes. Prints the median wall clock and CPU seconds (user + system of the stage's processes)
of each, the speed-up, the CPU the pool adds over one process (its workers' imports and
per-worker caches), and whether both wrote the same bytes. bench_generate.py runs one shard chain
per core with --jobs 1, so it never sees the pool; render-views uses the pool by default.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def painctl(env: dict, *args: str) -> tuple[float, float]:
    """Run one painctl command; return its (wall, CPU) seconds."""
    start, cpu0 = time.perf_counter(), _children_cpu()
    done = subprocess.run([sys.executable, "-m", "painctl", "-q", *args], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        sys.exit(f"bench_render_pool: painctl {' '.join(args)} failed:\n{done.stderr.strip()}")
    return time.perf_counter() - start, _children_cpu() - cpu0


def same_tree(a: Path, b: Path) -> bool:
    """Whether two artefacts hold the same files with the same bytes (the manifests but for the
    time they were written)."""
    names = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    if names != sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file()):
        return False
    manifest = Path("manifest.json")
    undated = lambda root: {k: v for k, v in json.loads((root / manifest).read_text()).items() if k != "created"}  # noqa: E731
    return undated(a) == undated(b) and all(filecmp.cmp(a / n, b / n, shallow=False) for n in names if n != manifest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identities", type=int, default=12, help="as in make demo's held-out set")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)), help="workers of the pool (default: every core)")
    parser.add_argument("--keep", type=Path, help="keep the artefacts in this directory")
    args = parser.parse_args()
    if args.jobs < 2:
        parser.error("--jobs must be at least 2 for a pool")

    env = dict(os.environ)
    env.setdefault("ANNY_CACHE_DIR", str(ROOT / ".cache" / "anny"))
    env.setdefault("WARP_CACHE_PATH", str(ROOT / ".cache" / "warp"))
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-render-pool-"))
    work.mkdir(parents=True, exist_ok=True)
    w = lambda name: str(work / name)  # noqa: E731
    painctl(env, "sample-mesh", "-n", str(args.identities), "--balance", "age,gender,ethnicity", "--seed", "1", w("heads"))
    # As examples/demo.sh makes its held-out set (1024 textures).
    painctl(env, "render-neutral", w("heads"), w("neutral"))
    painctl(env, "texture", w("neutral"), w("textures"))
    painctl(env, "rig", "--pspi", "1,2,3,4,6,8,11,14", "--per-identity", "8", "--seed", "1", w("heads"), w("pain"))

    figures: dict[int, list[tuple[float, float]]] = {1: [], args.jobs: []}
    for _ in range(args.repeats):
        for jobs in figures:
            out = work / f"views-{jobs}"
            shutil.rmtree(out, ignore_errors=True)
            figures[jobs].append(painctl(env, "render-views", "--jobs", str(jobs), "--texture", w("textures"), w("pain"), str(out)))
    same = same_tree(work / "views-1", work / f"views-{args.jobs}")

    images = args.identities * 9 * 3
    print(f"render-views of {args.identities} identities ({images} images, 224 px, textured) on "
          f"{len(os.sched_getaffinity(0))} CPUs, median of {args.repeats}")
    median = {j: (statistics.median(x[0] for x in f), statistics.median(x[1] for x in f)) for j, f in figures.items()}
    for jobs, (wall, cpu) in median.items():
        print(f"  --jobs {jobs}: {wall:6.1f} s wall, {cpu:6.1f} s CPU, {1000 * wall / images:5.0f} ms per image")
    (w1, c1), (wj, cj) = median[1], median[args.jobs]
    print(f"speed-up {w1 / wj:.2f} x on {args.jobs} workers (ideal {args.jobs}); the pool's CPU over one process: {cj / c1 - 1:+.0%}")
    print(f"same bytes from both: {'yes' if same else 'NO'}")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
