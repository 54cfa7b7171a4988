"""Identities per minute through the whole generation chain on embedded defaults, and the time for 3DPain.

    python benchmarks/bench_generate.py [--small 2] [--large 8] [--per-identity 10] [--jobs J] [--keep DIR]

Runs sample-mesh -> render-neutral -> texture -> rig -> render-views -> heatmap as a user would
with examples/generate.sh (real `painctl` processes; 10 pain faces per identity, 3 views at
224x224, 512 textures; J shard chains side by side, one per core, then `painctl merge`) for a
small and a large number of identities. Each stage's marginal cost per identity
is the time difference divided by the difference in identities, so start-up (imports, model and
context creation) is not counted N times; that cost is then extrapolated to the paper's 2,500
identities x 11 faces x 3 views = 82,500 images with heatmaps. Medians are not possible for a run
this long: run it on a quiet machine, or read the figures as upper bounds.

Beside the wall clock, each stage's CPU seconds (user + system of its processes, all threads) are
counted: on a machine shared with other work the wall clock grows with the load, the CPU time much
less, so CPU seconds per identity divided by the cores is the time a quiet machine would take
(the "ideal" extrapolation), and each stage's share of it is where the time goes.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAPER_IDENTITIES = 2500


def stages(work: Path, n: int, per_identity: int, shard: str, jobs_option: list[str]) -> list[tuple[str, list[str]]]:
    w = lambda name: str(work / name)  # noqa: E731
    return [
        ("sample-mesh", ["sample-mesh", "-n", str(n), "--balance", "age,gender,ethnicity", "--seed", "1", w("heads")]),
        ("render-neutral", ["render-neutral", "--texture-size", "512", "--shard", shard, w("heads"), w("neutral")]),
        ("texture", ["texture", "--size", "512", w("neutral"), w("textures")]),
        ("rig", ["rig", "--pspi", "1-16", "--per-identity", str(per_identity), "--seed", "1", "--shard", shard, w("heads"), w("pain")]),
        ("render-views", ["render-views", *jobs_option, "--texture", w("textures"), w("pain"), w("views")]),
        ("heatmap", ["heatmap", w("views"), w("heat")]),
    ]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_chain(work: Path, n: int, per_identity: int, jobs: int) -> tuple[dict[str, float], dict[str, float]]:
    """Run the chain as examples/generate.sh does: ``jobs`` shard chains side by side (each stage
    started for every shard at once, so each stage's time is the slowest shard's), then the merge.
    Returns (wall seconds, CPU seconds) per stage."""
    env = dict(os.environ)
    env.setdefault("ANNY_CACHE_DIR", str(ROOT / ".cache" / "anny"))
    env.setdefault("WARP_CACHE_PATH", str(ROOT / ".cache" / "warp"))
    jobs = min(jobs, n)
    parts = [work / f"shard-{k}" for k in range(1, jobs + 1)] if jobs > 1 else [work]
    plans = [stages(part, n, per_identity, f"{k}/{jobs}", ["--jobs", "1"] if jobs > 1 else []) for k, part in enumerate(parts, 1)]
    for part in parts:
        part.mkdir(parents=True, exist_ok=True)
    times, cpu = {}, {}
    for step in range(len(plans[0])):
        name = plans[0][step][0]
        start, cpu0 = time.perf_counter(), _children_cpu()
        procs = [subprocess.Popen([sys.executable, "-m", "painctl", "-q", *plan[step][1]], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True, env=env) for plan in plans]
        for proc, plan in zip(procs, plans):
            _, err = proc.communicate()
            if proc.returncode != 0:
                sys.exit(f"bench_generate: painctl {' '.join(plan[step][1])} failed:\n{err.strip()}")
        times[name], cpu[name] = time.perf_counter() - start, _children_cpu() - cpu0
    if jobs > 1:
        start, cpu0 = time.perf_counter(), _children_cpu()
        subprocess.run([sys.executable, "-m", "painctl", "-q", "merge", str(work / "heat"), *(str(p / "heat") for p in parts)],
                       check=True, env=env)
        times["merge"], cpu["merge"] = time.perf_counter() - start, _children_cpu() - cpu0
    return times, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=2, help="identities in the small run")
    parser.add_argument("--large", type=int, default=8, help="identities in the large run")
    parser.add_argument("--per-identity", type=int, default=10, help="pain faces per identity")
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)), help="shard chains side by side (default: every core)")
    parser.add_argument("--keep", type=Path, help="keep the artefacts in this directory")
    args = parser.parse_args()
    if not 0 < args.small < args.large:
        parser.error("need 0 < --small < --large")

    base = args.keep or Path(tempfile.mkdtemp(prefix="bench-generate-"))
    runs, cpus = {}, {}
    load = os.getloadavg()[0]
    for n in (args.small, args.large):
        work = base / f"n{n}"
        work.mkdir(parents=True, exist_ok=True)
        runs[n], cpus[n] = run_chain(work, n, args.per_identity, args.jobs)
    load = max(load, os.getloadavg()[0])
    cores = len(os.sched_getaffinity(0))
    faces = args.per_identity + 1
    print(f"chain on {cores} CPUs as {min(args.jobs, args.small)} shard chains side by side, {faces} faces x 3 views per identity, "
          f"224x224 views, 512 textures (as examples/generate.sh); load average up to {load:.1f}")
    print(f"{'stage':<16}{args.small:>5} ids (s){args.large:>5} ids (s){'s per identity':>16}{'CPU s per id':>14}{'CPU share':>11}")
    marginal_total = cpu_total = 0.0
    per_cpu = {}
    for name in runs[args.small]:
        per_cpu[name] = max(cpus[args.large][name] - cpus[args.small][name], 0.0) / (args.large - args.small)
        cpu_total += per_cpu[name]
    for name in runs[args.small]:
        a, b = runs[args.small][name], runs[args.large][name]
        per = max(b - a, 0.0) / (args.large - args.small)
        marginal_total += per
        share = per_cpu[name] / cpu_total if cpu_total > 0 else 0.0
        print(f"{name:<16}{a:>13.1f}{b:>13.1f}{per:>16.3f}{per_cpu[name]:>14.3f}{share:>10.0%}")
    total_large = sum(runs[args.large].values())
    print(f"{'total':<16}{sum(runs[args.small].values()):>13.1f}{total_large:>13.1f}{marginal_total:>16.3f}{cpu_total:>14.3f}")
    print(f"identities per minute (large run, start-up included): {60.0 * args.large / total_large:.1f}")
    print(f"identities per minute (marginal): {60.0 / marginal_total:.1f}" if marginal_total > 0 else "marginal cost below timer noise")
    hours = marginal_total * PAPER_IDENTITIES / 3600.0
    # On a loaded machine the large run can finish sooner than the small one: no wall-clock figure then.
    wall = f"{hours:.2f} h" if marginal_total > 0 else "(no wall-clock figure: the load changed between the runs)"
    print(f"extrapolated: {PAPER_IDENTITIES} identities x {faces} faces x 3 views = {PAPER_IDENTITIES * faces * 3:,} images "
          f"with heatmaps in {wall} (goal < 1 h)")
    ideal = cpu_total / min(cores, max(args.jobs, 1)) * PAPER_IDENTITIES / 3600.0
    print(f"from CPU time over {min(cores, max(args.jobs, 1))} cores (a quiet machine): {ideal:.2f} h")
    if args.keep is None:
        import shutil

        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
