"""AU visibility: what a landmarker trained on real faces sees of each labelled AU (issue 15).

    python benchmarks/bench_au_visibility.py [--identities 12] [--size 512] [--out DIR]

Writes single-AU sweeps through the whole chain (sample-mesh -> render-neutral -> texture -> rig
-> render-views --texture): for each of AU4, AU6, AU7, AU9 and AU10 every identity gets one face at
each FACS level 1-5 (a --prior that allows only that AU), and one face at AU43 = 1, each sweep in
each of the three default views (0, -30 and +30 degrees of yaw) in its own render-views artefact.

When the checker's virtual environment exists (/tmp/facemesh-venv, made by
../shared/tools/setup-facemesh.sh) it reads every image once with MediaPipe FaceMesh through
../shared/tools/facemesh_check.py's own settings and measures (outside the project), computes what
the checker reports (each pain image's change against its neutral partner; Spearman(label, fall)
over the sweep; faces found) per level, then prints the per-level medians with two more figures
(each person's own Spearman, median over people, the pooled Spearman that the landmarker's
person-to-person gain alone would allow a noise-free reading, and the pooled Spearman of the identities
without a beard, which hides the skin between nose and lip), the cross-talk (every
measure at level 5 of each AU), the mesh's own change at level 5 over the identities against the
landmarker's (min / median / max: on a mesh that moves every face alike, the landmarker's spread is
its own), AU43's ratio of the lid points' height difference alone, and the table against the goals,
and writes OUT/dose_response.png;
otherwise it prints how to set the checker up. (The checker itself reports one median over labels
>= 3; running it once per level read every image six times.)

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


#: Run in the checker's virtual environment: MediaPipe FaceMesh once per image of a render-views
#: artefact, with facemesh_check.py's own settings and measures; writes a JSON list, one entry per
#: image row (the measures, or null where no face was found).
READ_LANDMARKS = r"""
import sys, json, pathlib
sys.path.insert(0, sys.argv[1])
import numpy as np, h5py
from PIL import Image
import mediapipe as mp
from facemesh_check import measures, text
root = pathlib.Path(sys.argv[2])
with h5py.File(root / "data.h5") as f:
    images = [text(x) for x in f["image"][()]]
out = []
with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True,
                                     min_detection_confidence=0.5) as fm:
    for name in images:
        im = np.asarray(Image.open(root / name).convert("RGB"))
        r = fm.process(im)
        if not r.multi_face_landmarks:
            out.append(None)
            continue
        lm = r.multi_face_landmarks[0].landmark
        seen = {k: float(v) for k, v in measures(lm, im.shape[1], im.shape[0]).items()}
        # The aperture's vertical part alone (the lid points' height difference): on a closed eye
        # the checker's distance also holds how far apart along the lid line FaceMesh put them.
        p = np.array([[q.x * im.shape[1], q.y * im.shape[0]] for q in lm])
        seen["aperture_vertical"] = float((abs(p[386, 1] - p[374, 1]) + abs(p[159, 1] - p[145, 1])) / 2 / np.linalg.norm(p[263] - p[33]))
        out.append(seen)
json.dump(out, open(sys.argv[3], "w"))
"""


def read_landmarks(views: Path, report: Path) -> list[dict | None]:
    """Return the checker's measures of every image of ``views`` (one FaceMesh pass per image)."""
    if not report.exists():
        report.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(VENV / "bin" / "python"), "-c", READ_LANDMARKS, str(SHARED_TOOLS), str(views), str(report)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.loads(report.read_text())


def measure(out: Path, views: dict[tuple[str, str], Path]) -> dict:
    """Return {view: {au: {"levels": [median change at 1..5], "rho": rho, "found": found, "cross":
    {measure: median change at the top level}}}}: changes of each pain image's measures relative to
    its neutral partner's, as facemesh_check.py computes them (AU43 has one level); rho is its
    Spearman(label, fall) over the whole sweep (the checker's, pooling people), rho_identity the
    median over identities of each one's own Spearman (how strictly one face's reading follows
    its levels, without the landmarker's person-to-person gain), rho_gain_ceiling the pooled
    Spearman a noise-free reading would reach with each person's own level-5 reading as gain;
    cross holds every measure, the AU's own and the
    others' (the cross-talk)."""
    import h5py
    from scipy.stats import spearmanr

    results: dict = {}
    for (au, view), path in views.items():
        seen = read_landmarks(path, out / "landmarks" / f"{path.name}.v2.json")
        with h5py.File(path / "data.h5") as f:
            label, partner = f["au"][()], f["neutral_image_row"][()]
            neutral = f["is_neutral"][()].astype(bool)
            identity = f["identity"][()]
            bearded = np.array([json.loads(a)["beard"]["beard"] != "none" for a in f["appearance"][()]])
        pairs = [i for i in np.flatnonzero(~neutral) if seen[i] is not None and seen[partner[i]] is not None]
        level = label[pairs, AUS.index(au)]
        change = {m: np.array([seen[i][m] / seen[partner[i]][m] - 1 for i in pairs]) for m in ("brow", "aperture", "lip_nose")}
        own = change[MEASURE_KEY[au]]
        levels = [1] if au == "AU43" else [1, 2, 3, 4, 5]
        top = np.isclose(level, levels[-1])
        who = identity[pairs]
        per_identity = [-spearmanr(level[who == g], own[who == g]).statistic for g in np.unique(who) if np.ptp(level[who == g]) > 0]
        # The pooled Spearman if each person's readings were exactly their own level-5 reading
        # times the sweep's median curve: what the landmarker's person-to-person gain alone allows.
        medians = np.array([np.median(own[np.isclose(level, x)]) for x in levels])
        gain = {g: np.mean(own[(who == g) & top]) if ((who == g) & top).any() else np.nan for g in np.unique(who)}
        model = np.array([gain[g] * medians[levels.index(int(round(x)))] / medians[-1] for g, x in zip(who, level)])
        ceiling = float(-spearmanr(level, model).statistic) if len(levels) > 1 and np.isfinite(model).all() else float("nan")
        # Beards hide the skin between nose and lip: the landmarker reads the lip of a bearded face less.
        shaven = ~bearded[partner[pairs]]
        rho_shaven = float(-spearmanr(level[shaven], own[shaven]).statistic) if shaven.any() and np.ptp(level[shaven]) > 0 else float("nan")
        results.setdefault(view, {})[au] = {
            "levels": [float(np.median(own[np.isclose(level, x)])) for x in levels],
            "rho": float(-spearmanr(level, own).statistic) if np.ptp(level) > 0 else float("nan"),
            "rho_identity": float(np.median(per_identity)) if per_identity else float("nan"),
            "rho_gain_ceiling": ceiling,
            "rho_without_beards": rho_shaven,
            "found": float(np.mean([s is not None for s in seen])),
            "cross": {m: float(np.median(c[top])) for m, c in change.items()},
            **({"vertical": float(np.median([seen[i]["aperture_vertical"] / seen[partner[i]]["aperture_vertical"] for i in pairs]))}
               if au == "AU43" and all("aperture_vertical" in seen[i] for i in pairs) else {}),
            "per_identity": [float(f(np.array([np.mean(own[(who == g) & top]) for g in np.unique(who[top])]))) for f in (np.min, np.median, np.max)],
        }
    return results


def mesh_spread(out: Path, aus: tuple[str, ...]) -> dict:
    """Return {au: {"mesh": [min, median, max], "ids": ...}}: the mesh's own change of each AU's
    measure at its top level (the frontal projection of the landmarks the landmarker reads:
    painctl.rigging.au_correctives.face_measures) over the identities of the rig artefact
    out/rig-AU, against which the landmarker's person-to-person spread (:func:`measure`'s
    "per_identity") reads as its own gain and noise."""
    import h5py

    from painctl.artefact.store import open_artefact
    from painctl.facemodels import face_model_of
    from painctl.rigging.au_correctives import face_measures, face_points

    spread = {}
    for au in aus:
        rig = out / f"rig-{au}"
        points = face_points(face_model_of(open_artefact(rig)))
        with h5py.File(rig / "data.h5") as f:
            label, neutral, identity, vertices = f["au"][:, AUS.index(au)], f["is_neutral"][()].astype(bool), f["identity"][()], f["vertices"]
            top = label.max()
            change = []
            for g in np.unique(identity):
                n = np.flatnonzero((identity == g) & neutral)
                t = np.flatnonzero((identity == g) & np.isclose(label, top))
                if len(n) and len(t):
                    key = MEASURE_KEY[au]
                    change.append(face_measures(vertices[t[0]], points)[key].mean() / face_measures(vertices[n[0]], points)[key].mean() - 1)
        spread[au] = [float(np.min(change)), float(np.median(change)), float(np.max(change))]
    return spread


def print_spread(results: dict, spread: dict, views: tuple[str, ...] = VIEWS) -> None:
    """Print, per AU, the mesh's change at the top level over identities (min / median / max) and the
    landmarker's in each view: where the mesh's is the same on every face, the landmarker's spread
    is its own person-to-person gain and noise, which bounds the pooled Spearman."""
    print("\nThe mesh's change at the top level over identities (min / median / max) against the landmarker's in each view")
    for au in (a for a in AUS if a in spread):
        mesh = " / ".join(f"{x:+.1%}" for x in spread[au])
        seen = "   ".join(f"{v}: " + " / ".join(f"{x:+.1%}" for x in results[v][au]["per_identity"]) for v in views)
        print(f"{au:5s} {MEASURES[au]:14s} mesh {mesh:24s} landmarker {seen}")
    if "AU43" in spread and all("vertical" in results[v]["AU43"] for v in views):
        print("AU43 closed/neutral of the lid points' height difference alone (the checker's distance less their offset "
              "along the closed lid line): " + "   ".join(f"{v}: {results[v]['AU43']['vertical']:.2f}" for v in views))


def print_levels(results: dict, views: tuple[str, ...] = VIEWS) -> None:
    """Print the per-level medians, Spearman and faces found per AU and view, and the cross-talk."""
    aus = [a for a in AUS if a in results[views[0]]]
    print("\nPer-level medians of the landmarker's change vs neutral (levels 1-5), Spearman(level, fall) pooled, "
          "per identity (median) and its ceiling under the landmarker's person-to-person gain, pooled over the "
          "identities without a beard, faces found")
    for view in views:
        for au in aus:
            r = results[view][au]
            levels = " ".join(f"{x:+7.1%}" for x in r["levels"])
            print(f"view {view:6s} {au:5s} {MEASURES[au]:14s} {levels:40s} rho {r['rho']:5.2f} (per identity {r['rho_identity']:5.2f}, gain ceiling {r['rho_gain_ceiling']:5.2f}, no beard {r['rho_without_beards']:5.2f})  found {r['found']:.3f}")
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
    if axes[-1].lines:
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
    print_spread(results, mesh_spread(args.out, aus), wanted)
    print_table(results, wanted)
    plot(results, args.out / "dose_response.png", wanted)
    print(f"dose-response figure: {args.out / 'dose_response.png'}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
