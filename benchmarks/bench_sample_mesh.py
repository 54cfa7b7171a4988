"""Identities per second of `sample-mesh` with anny at the paper's scale (N = 2,500, balanced).

Run: .venv/bin/python benchmarks/bench_sample_mesh.py [--n 2500] [--repeats 3]
Goal (issue 2): all 2,500 in under 30 s on a 2-core machine once the anny model is built.
Times the library call that the CLI makes (sampling, forward passes, HDF5 write); the model is
loaded once before timing, as it is once per process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("ANNY_CACHE_DIR", str(ROOT / ".cache" / "anny"))
os.environ.setdefault("WARP_CACHE_PATH", str(ROOT / ".cache" / "warp"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import torch

    from painctl import console
    from painctl.facemodels import load_face_model
    from painctl.stages.sample_mesh import sample_mesh

    console.verbosity = -1  # no summary tables between timings
    start = time.perf_counter()
    load_face_model("anny")
    print(f"model load: {time.perf_counter() - start:.2f} s (torch threads {torch.get_num_threads()}, {os.cpu_count()} CPUs)")
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeats):
            start = time.perf_counter()
            sample_mesh(Path(tmp) / f"run{k}", args.n, balance="age,gender,ethnicity", seed=k)
            times.append(time.perf_counter() - start)
            print(f"run {k + 1}: {times[-1]:.2f} s", file=sys.stderr)
    median = statistics.median(times)
    print(f"sample-mesh anny N={args.n}: median {median:.2f} s over {args.repeats} runs "
          f"({args.n / median:.0f} identities/s; min {min(times):.2f} s, max {max(times):.2f} s)")
    print(f"goal: {args.n} in < 30 s -> {'met' if median < 30 else 'NOT met'}")


if __name__ == "__main__":
    main()
