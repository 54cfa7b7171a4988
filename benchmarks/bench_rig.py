"""Rig throughput: pain meshes per second at the paper's scale, and deformation-transfer solve time.

    python benchmarks/bench_rig.py [--identities 2500] [--per-identity 10] [--jobs N]

Prints the time for the rig stage on N identities x K pain faces (goal: 25,000 pain meshes in
under 2 minutes on a 2-core machine), how many of them have closed eyes (their lids come from the
lid corrective, checked eye by eye, or from the full contact solve, about 0.08 s of CPU an eye; the
stage's own line says how many took which; the AU correctives of painctl.rigging.au_correctives, built
and fitted per identity, cost about 8 ms of CPU per identity of 10 faces) and, for deformation transfer onto a re-triangulated ~5k
vertex head, the one-off registration+factorisation time, the solve time per expression, and the
transfer's error against rigging the head directly (the issue's acceptance measure).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def children_cpu() -> float:
    """CPU seconds of this process's finished children (the rig's workers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identities", type=int, default=2500)
    parser.add_argument("--per-identity", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=None, help="rig's worker processes (default: the stage's, every core)")
    args = parser.parse_args()

    from painctl.artefact import open_artefact
    from painctl.facemodels import load_face_model
    from painctl.stages.sample_mesh import sample_mesh
    from painctl.stages.rig import RigRequest, rig_identities, rig_jobs
    from painctl.rigging.transfer import TransferRig

    model = load_face_model("anny")
    with tempfile.TemporaryDirectory() as tmp:
        heads = open_artefact(sample_mesh(Path(tmp) / "heads", args.identities, balance="age,gender,ethnicity", seed=1))
        times, cpu = [], []
        for r in range(args.repeats):
            start, start_cpu = time.perf_counter(), time.process_time() + children_cpu()
            rig_identities(heads, Path(tmp) / f"pain{r}", RigRequest(levels=tuple(range(1, 17)), per_identity=args.per_identity, seed=r),
                           jobs=args.jobs)
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() + children_cpu() - start_cpu)
        meshes = args.identities * args.per_identity
        med = statistics.median(times)
        closed = int((open_artefact(Path(tmp) / "pain0").read("au")[:, 5] > 0).sum())
        jobs = rig_jobs(args.identities, args.jobs)
        print(f"rig on {jobs} process{'es' if jobs > 1 else ''}: {args.identities} identities x {args.per_identity} pain faces = {meshes} pain meshes "
              f"(+{args.identities} neutral), {closed} with closed eyes: median {med:.1f} s "
              f"over {args.repeats} runs ({meshes / med:.1f} pain meshes/s, so 25,000 in {25000 / (meshes / med):.0f} s; "
              f"goal < 120 s); CPU of the stage's processes: median {statistics.median(cpu):.1f} s "
              f"(runs: {', '.join(f'{t:.1f}/{c:.1f}' for t, c in zip(times, cpu))} s wall/CPU; on a shared machine CPU is the steadier figure)")

    from painctl.rigging.validation import retriangulated_copy, transfer_errors

    rest = model.neutral(np.full((1, len(model.phenotype_names)), 0.5))[0].astype(np.float64)
    # A ~5k-vertex head with other vertices and connectivity: split, flipped, slid along the surface.
    v, f = retriangulated_copy(rest, model.faces, np.random.default_rng(0), split_every=40)
    start = time.perf_counter()
    transfer = TransferRig(model, v, f)
    build = time.perf_counter() - start
    solves = []
    for _ in range(5):
        start = time.perf_counter()
        offsets = transfer.unit_offsets(v)
        solves.append((time.perf_counter() - start) / len(offsets))
    print(f"transfer onto a re-triangulated {len(v)}-vertex, {len(f)}-triangle head: registration + factorisation {build:.1f} s once per "
          f"topology; solve {1000 * statistics.median(solves):.1f} ms per expression (median of 5)")
    errors = transfer_errors(model, rest, v, offsets)
    print("transfer vs direct rig, RMS error on the face / the AU's RMS displacement (goal < 10%): "
          + ", ".join(f"{au} {100 * e:.1f}%" for au, e in errors.items()))

if __name__ == "__main__":
    main()
