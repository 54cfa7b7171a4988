"""A fixed small generation chain and the sha256 of every file it writes, to check that a speed-up keeps the bytes.

    python benchmarks/check_same_bytes.py OUT.json [--work DIR] [--compare REF.json] [--from STAGE]

Runs sample-mesh (4 balanced identities) -> render-neutral -> texture -> rig (--pspi 0,4,8,12
--per-identity 2) -> render-views (3 default views) -> heatmap, each as a real `painctl` process
in DIR (default /tmp/painctl-same-bytes: the same place every run, since manifests name their
inputs' paths), and writes {relative path: sha256} of every file under DIR to OUT.json (of a
manifest.json without its "created" time). With
--compare, exits non-zero and names the files whose bytes differ from REF.json. --from STAGE reuses
the artefacts before STAGE from an earlier run in DIR (their bytes are still hashed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path


def chain(work: Path) -> list[tuple[str, list[str]]]:
    w = lambda name: str(work / name)  # noqa: E731
    return [
        ("sample-mesh", ["sample-mesh", "-n", "4", "--balance", "age,gender,ethnicity", "--seed", "1", w("heads")]),
        ("render-neutral", ["render-neutral", "--texture-size", "512", w("heads"), w("neutral")]),
        ("texture", ["texture", "--size", "512", w("neutral"), w("textures")]),
        ("rig", ["rig", "--pspi", "0,4,8,12", "--per-identity", "2", "--seed", "1", w("heads"), w("pain")]),
        ("render-views", ["render-views", "--jobs", "1", "--texture", w("textures"), w("pain"), w("views")]),
        ("heatmap", ["heatmap", w("views"), w("heat")]),
    ]


#: Manifest keys that differ between two runs of the same chain (the wall-clock time it was made).
VOLATILE = ("created",)


def file_digest(path: Path) -> str:
    """sha256 hex of the file's bytes; of a manifest.json, of its JSON without the :data:`VOLATILE` keys."""
    data = path.read_bytes()
    if path.name == "manifest.json":
        manifest = {k: v for k, v in json.loads(data).items() if k not in VOLATILE}
        data = json.dumps(manifest, sort_keys=True).encode()
    return hashlib.sha256(data).hexdigest()


def digests(work: Path) -> dict[str, str]:
    """Return {path relative to ``work``: sha256 hex} of every regular file under ``work``."""
    return {str(p.relative_to(work)): file_digest(p) for p in sorted(work.rglob("*")) if p.is_file()}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="where the {path: sha256} JSON goes")
    parser.add_argument("--work", type=Path, default=Path("/tmp/painctl-same-bytes"))
    parser.add_argument("--compare", type=Path, help="a JSON of an earlier run to compare with")
    parser.add_argument("--from", dest="start", help="rerun from this stage, keeping the artefacts before it")
    args = parser.parse_args()
    steps = chain(args.work)
    names = [name for name, _ in steps]
    first = names.index(args.start) if args.start else 0
    if args.start and args.start not in names:
        parser.error(f"--from must be one of {', '.join(names)}")
    args.work.mkdir(parents=True, exist_ok=True)
    for name, argv in steps[first:]:
        target = Path(argv[-1])
        if target.exists():
            shutil.rmtree(target)
        t0, cpu0 = time.perf_counter(), _children_cpu()
        subprocess.run([sys.executable, "-m", "painctl", "-q", *argv], check=True)
        print(f"{name}: {time.perf_counter() - t0:.1f} s wall, {_children_cpu() - cpu0:.1f} s CPU", file=sys.stderr)
    found = digests(args.work)
    args.out.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")
    print(f"{len(found)} files hashed into {args.out}")
    if args.compare:
        ref = json.loads(args.compare.read_text())
        differ = sorted(k for k in set(ref) | set(found) if ref.get(k) != found.get(k))
        for key in differ:
            print(f"differs: {key}")
        if differ:
            sys.exit(f"{len(differ)} of {len(set(ref) | set(found))} files differ from {args.compare}")
        print(f"all {len(found)} files have the same bytes as {args.compare}")


if __name__ == "__main__":
    main()
