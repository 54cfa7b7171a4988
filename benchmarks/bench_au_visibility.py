"""AU visibility: what a landmarker trained on real faces sees of each labelled AU (issue 15).

    python benchmarks/bench_au_visibility.py [--identities 12] [--size 512] [--out DIR]

Writes single-AU sweeps through the whole chain (sample-mesh -> render-neutral -> texture -> rig
-> render-views --texture): for each of AU4, AU6, AU7, AU9 and AU10 every identity gets one face at
each FACS level 1-5 (a --prior that allows only that AU), and one face at AU43 = 1, each sweep in
each of the three default views (0, -30 and +30 degrees of yaw) in its own render-views artefact.

When the checker's virtual environment exists (/tmp/facemesh-venv, made by
../shared/tools/setup-facemesh.sh) it runs ../shared/tools/facemesh_check.py (MediaPipe FaceMesh,
outside the project) on every sweep and view, and on each level alone, then prints the table (the
change the landmarker measures at level 5, Spearman(level, fall) over levels 1-5, faces found) and
writes OUT/dose_response.png; otherwise it prints how to set the checker up. The checker reports a
median only over faces labelled >= 3, so each level is measured in a copy of the sweep's index that
keeps that level's faces (and their neutral partners) and labels them 5; the images are the sweep's.

Goals (issue 15): AU4 brow height <= -30%, AU6 aperture <= -20%, AU7 aperture <= -40%, AU9
lip-nose <= -15%, AU10 lip-nose <= -30%, AU43 closed/neutral aperture <= 0.15; Spearman >= 0.9 for
every AU in every view; faces found >= 0.99.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

AUS = ("AU4", "AU6", "AU7", "AU9", "AU10", "AU43")
VIEWS = ("0/0", "-30/0", "30/0")
#: Goal on the landmarker's relative change at level 5 (AU43: the closed/neutral ratio, so change + 1).
GOALS = {"AU4": -0.30, "AU6": -0.20, "AU7": -0.40, "AU9": -0.15, "AU10": -0.30, "AU43": 0.15 - 1.0}
#: The checker's measure of each AU (cross-talk: an AU's sweep moving another AU's measure).
MEASURE_KEY = {"AU4": "brow", "AU6": "aperture", "AU7": "aperture", "AU9": "lip_nose", "AU10": "lip_nose", "AU43": "aperture"}
MEASURES = {"AU4": "brow height", "AU6": "aperture", "AU7": "aperture", "AU9": "lip-nose", "AU10": "lip-nose", "AU43": "closed/neutral"}
SHARED_TOOLS = Path(__file__).resolve().parents[1].parent / "shared" / "tools"
VENV = Path("/tmp/facemesh-venv")


def painctl(*args: str) -> None:
    """Run one painctl command in a subprocess (the chain a user runs), failing loudly."""
    subprocess.run([sys.executable, "-m", "painctl", "-q", *args], check=True)


def single_au_prior(path: Path, au: str) -> Path:
    """Write a --prior CSV that allows only ``au`` at levels 1-5 (so PSPI level L is ``au`` = L)."""
    rows = ["AU4,AU6,AU7,AU9,AU10,AU43,weight"]
    for level in range(1, 6):
        values = [level if a == au else 0 for a in AUS]
        rows.append(",".join(map(str, values)) + ",1")
    path.write_text("\n".join(rows) + "\n")
    return path


def make_artefacts(out: Path, identities: int, size: int, views_wanted: tuple[str, ...] = VIEWS,
                   aus: tuple[str, ...] = AUS) -> dict[tuple[str, str], Path]:
    """Run the chain; return (AU, view) -> render-views artefact."""
    heads, neutral, textures = out / "heads", out / "neutral", out / "textures"
    if not (heads / "data.h5").exists():
        painctl("sample-mesh", "-n", str(identities), "--balance", "age,gender,ethnicity", "--seed", "1", str(heads))
    if not (neutral / "data.h5").exists():
        painctl("render-neutral", str(heads), str(neutral))
    if not (textures / "data.h5").exists():
        painctl("texture", str(neutral), str(textures))
    views = {}
    for au in aus:
        rig = out / f"rig-{au}"
        if not (rig / "data.h5").exists():
            if au == "AU43":
                painctl("rig", "--au", "AU43=1", str(heads), str(rig))
            else:
                prior = single_au_prior(out / f"prior-{au}.csv", au)
                painctl("rig", "--pspi", "1-5", "--per-identity", "5", "--prior", str(prior), str(heads), str(rig))
        for view in views_wanted:
            target = out / f"views-{au}-{view.replace('/', '_')}"
            if not (target / "data.h5").exists():
                painctl("render-views", "--texture", str(textures), "--views", view, "--size", str(size), str(rig), str(target))
            views[au, view] = target
    return views


def level_copy(views: Path, au: str, level: float, target: Path) -> Path:
    """Write an index over ``views``'s images holding only faces at ``au`` = ``level`` and their
    neutral partners, those faces labelled 5 (AU43: 1) in every AU, so the checker's medians are
    that level's change of every measure (its own, and the others': the cross-talk)."""
    import h5py

    target.mkdir(parents=True, exist_ok=True)
    link = target / "images"
    if not link.exists():
        link.symlink_to((views / "images").resolve())
    j = AUS.index(au)
    with h5py.File(views / "data.h5") as f:
        image, label = f["image"][()], f["au"][()]
        partner, neutral = f["neutral_image_row"][()], f["is_neutral"][()].astype(bool)
    pain = np.flatnonzero(~neutral & np.isclose(label[:, j], level))
    keep = np.unique(np.r_[pain, partner[pain]])
    index = np.full(len(image), -1)
    index[keep] = np.arange(len(keep))
    label = label[keep].copy()
    label[~neutral[keep], :5] = 5.0
    label[~neutral[keep], 5] = 1.0
    with h5py.File(target / "data.h5", "w") as f:
        f["image"] = image[keep]
        f["au"] = label
        f["neutral_image_row"] = index[partner[keep]]
        f["is_neutral"] = neutral[keep]
    return target


def check(views: Path, report: Path) -> dict:
    """Run the facemesh checker on ``views``; return its JSON report."""
    if not report.exists():
        report.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(VENV / "bin" / "python"), str(SHARED_TOOLS / "facemesh_check.py"), str(views), "--json", str(report)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.loads(report.read_text())


def measure(out: Path, views: dict[tuple[str, str], Path]) -> dict:
    """Return {view: {au: {"levels": [change at 1..5], "rho": rho, "found": found, "cross": {measure:
    change at the top level}}}} (changes relative to the neutral partner; AU43 has one level)."""
    results: dict = {}
    for (au, view), path in views.items():
        name = path.name
        whole = check(path, out / "reports" / f"{name}.json")
        levels = [1] if au == "AU43" else [1, 2, 3, 4, 5]
        changes, found = [], [whole["found"]]
        for level in levels:
            copy = level_copy(path, au, level, out / "levels" / f"{name}-L{level}")
            report = check(copy, out / "reports" / f"{name}-L{level}.json")
            changes.append(report["au"].get(au, {}).get("median_change_high", float("nan")))
            found.append(report["found"])
        # The other measures at the top level (one AU per measure: the checker reports each).
        cross = {MEASURE_KEY[a]: report["au"].get(a, {}).get("median_change_high", float("nan")) for a in ("AU4", "AU6", "AU9")}
        results.setdefault(view, {})[au] = {"levels": changes, "rho": whole["au"].get(au, {}).get("rho_fall", float("nan")),
                                           "found": min(found), "cross": cross}
    return results


def print_levels(results: dict, views: tuple[str, ...] = VIEWS) -> None:
    """Print the per-level medians, Spearman and faces found per AU and view, and the cross-talk."""
    aus = [a for a in AUS if a in results[views[0]]]
    print("\nPer-level medians of the landmarker's change vs neutral (levels 1-5), Spearman(level, fall), faces found")
    for view in views:
        for au in aus:
            r = results[view][au]
            levels = " ".join(f"{x:+7.1%}" for x in r["levels"])
            print(f"view {view:6s} {au:5s} {MEASURES[au]:14s} {levels:40s} rho {r['rho']:5.2f}  found {r['found']:.3f}")
    print("\nCross-talk at the top level: median change of each measure in each AU's sweep "
          "(own measure in brackets; AU6/AU7 both narrow the eye, AU9/AU10 both raise the lip: anatomical)")
    for view in views:
        for au in aus:
            cross = results[view][au]["cross"]
            cells = [f"{m} {'[' if MEASURE_KEY[au] == m else ' '}{cross[m]:+6.1%}{']' if MEASURE_KEY[au] == m else ' '}" for m in ("brow", "aperture", "lip_nose")]
            others = [abs(cross[m]) for m in cross if m != MEASURE_KEY[au]]
            print(f"view {view:6s} {au:5s} " + "  ".join(cells) + f"   largest other {max(others):5.1%}")


def print_table(results: dict, views: tuple[str, ...] = VIEWS) -> None:
    print("\nAU visibility (facemesh_check on single-AU sweeps; change at level 5, AU43 closed/neutral ratio at 1)")
    print(f"{'AU':5s} {'measure':14s} {'goal':>7s} " + " ".join(f"{v + ' chg':>10s} {'rho':>5s}" for v in views))
    for au in (a for a in AUS if a in results[views[0]]):
        goal = GOALS[au] + (1 if au == "AU43" else 0)
        cells = []
        for view in views:
            r = results[view][au]
            value = r["levels"][-1] + (1 if au == "AU43" else 0)
            ok = value <= goal
            cells.append(f"{value:>+9.1%}{'*' if ok else ' '} {r['rho']:>5.2f}" if au != "AU43" else f"{value:>9.2f}{'*' if ok else ' '} {'-':>5s}")
        print(f"{au:5s} {MEASURES[au]:14s} {goal:>+7.2f} " + " ".join(cells))
    found = min(r["found"] for v in views for r in results[v].values())
    print(f"faces found (lowest over sweeps and views): {found:.3f}   (* = goal met; goals: rho >= 0.9, faces found >= 0.99)")


def plot(results: dict, path: Path, views: tuple[str, ...] = VIEWS) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(views), figsize=(4.4 * len(views), 4), sharey=True, squeeze=False)
    axes = axes[0]
    for ax, view in zip(axes, views):
        for au in (a for a in AUS[:5] if a in results[view]):
            ax.plot(range(0, 6), [0.0, *results[view][au]["levels"]], marker="o", label=f"{au} ({MEASURES[au]})")
            ax.axhline(GOALS[au], ls=":", lw=0.8, color=ax.lines[-1].get_color())
        ax.set_title(f"view yaw {view.split('/')[0]} deg")
        ax.set_xlabel("FACS level")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("landmarker's change vs neutral (median)")
    axes[-1].legend(fontsize=8)
    fig.suptitle("Dose-response of single-AU sweeps seen by MediaPipe FaceMesh (dotted: issue 15 goals)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identities", type=int, default=12)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--out", type=Path, default=Path("bench-au-visibility"))
    parser.add_argument("--aus", default=",".join(AUS), help="comma-separated subset of the AUs (quicker runs)")
    parser.add_argument("--views", default=",".join(VIEWS), help="comma-separated subset of the default views (quicker runs)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    wanted = tuple(v for v in args.views.split(",") if v)
    aus = tuple(a for a in args.aus.split(",") if a)
    views = make_artefacts(args.out, args.identities, args.size, wanted, aus)
    print(f"sweeps written to {args.out} in {time.perf_counter() - start:.0f} s")
    if not (VENV / "bin" / "python").exists():
        print(f"the checker's venv {VENV} is missing: make it with {SHARED_TOOLS / 'setup-facemesh.sh'}, then run this again")
        return
    results = measure(args.out, views)
    (args.out / "visibility.json").write_text(json.dumps(results, indent=1))
    print_levels(results, wanted)
    print_table(results, wanted)
    plot(results, args.out / "dose_response.png", wanted)
    print(f"dose-response figure: {args.out / 'dose_response.png'}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
