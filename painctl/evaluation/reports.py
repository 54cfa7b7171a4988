"""Write a cross-validation report: report.json, predictions.csv, summary.md and PNG plots.

Files (all deterministic for the same report):
  report.json      per fold (subjects, thresholds, metrics), the summary (mean, std, 95% CI) and
                   the pooled metrics (all test frames together, each fold at its own thresholds)
  predictions.csv  one row per test frame: fold, subject, key, true PSPI/AUs, predicted PSPI,
                   P(PSPI >= 1, 2, 3), predicted AUs, references averaged
  summary.md       Markdown table: mean +- std [95% CI] per metric
  roc.png          ROC curves at PSPI >= 1, 2, 3 (test frames of all folds pooled)
  calibration.png  reliability diagram of P(PSPI >= 1, 2, 3)
  scatter.png      predicted vs true PSPI
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from painctl.console import plural
from painctl.facs import AU_NAMES, PAIN_THRESHOLDS

#: (metric key, label) rows of the summary table, in order.
TABLE_ROWS = (
    ("pcc", "PSPI PCC"), ("mae", "PSPI MAE"), ("rmse", "PSPI RMSE"), ("icc31", "PSPI ICC(3,1)"),
    *((f"auroc_{t}", f"AUROC @ PSPI>={t}") for t in PAIN_THRESHOLDS),
    *((f"f1_{t}", f"F1 @ PSPI>={t}") for t in PAIN_THRESHOLDS),
    *((f"auroc_reg_{t}", f"AUROC @ PSPI>={t} (PSPI regression)") for t in PAIN_THRESHOLDS),
    *((f"f1_reg_{t}", f"F1 @ PSPI>={t} (PSPI regression)") for t in PAIN_THRESHOLDS),
    *((f"au_mae_{a}", f"{a} MAE") for a in AU_NAMES),
    *((f"au_pcc_{a}", f"{a} PCC") for a in AU_NAMES),
)


def _clean(value: Any) -> Any:
    """JSON cannot hold NaN: undefined metrics become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return _clean(value.item())
    return value


def _fmt(x: float, digits: int = 3) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def summary_table(report: dict[str, Any]) -> str:
    """The Markdown summary table of a :func:`painctl.evaluation.cross_validation.cross_validate` report:
    one row per metric, ``mean +- std [95% CI low, high]`` across folds."""
    k = report["k"]
    fixed = str(report.get("split", "")).startswith("fixed")
    design = "a fixed train/validation/test split" if fixed else f"{k}-fold subject-independent cross-validation"
    lines = [
        f"ViTPain, {design} ({plural(report['n_subjects'], 'test subject')}, {plural(report['n_frames'], 'test frame')})",
        "",
        "| metric | mean +- std | 95% CI | folds | pooled |",
        "|---|---|---|---|---|",
    ]
    pooled = report.get("pooled") or {}
    for key, label in TABLE_ROWS:
        s = report["summary"].get(key)
        if s is None:
            continue
        ci = "n/a" if s["ci_low"] is None or not math.isfinite(s["ci_low"]) else f"[{_fmt(s['ci_low'])}, {_fmt(s['ci_high'])}]"
        lines.append(f"| {label} | {_fmt(s['mean'])} +- {_fmt(s['std'])} | {ci} | {s['n']} | {_fmt(pooled.get(key))} |")
    lines += ["", "mean +- std and the 95% t-interval are across folds; pooled is over all test frames together.",
              "AUROC/F1 rows without a note score the binary heads' P(PSPI >= L); '(PSPI regression)' rows score the "
              "predicted PSPI, F1 at a PSPI cut calibrated like the thresholds (the authors' evaluation scores this way).",
              report["calibration"] + "."]
    return "\n".join(lines) + "\n"


def _pooled(report: dict[str, Any]) -> dict[str, np.ndarray]:
    parts = report["predictions"]
    if not parts:
        return {"pspi": np.zeros(0), "pred": np.zeros(0), "prob": np.zeros((0, 3))}
    return {
        "pspi": np.concatenate([[f.pspi for f in p["frames"]] for p in parts]).astype(np.float64),
        "pred": np.concatenate([p["pred"].pspi for p in parts]).astype(np.float64),
        "prob": np.concatenate([p["pred"].prob for p in parts]).astype(np.float64),
    }


def write_predictions_csv(report: dict[str, Any], path: Path) -> None:
    """One row per test frame of every fold (see the module docstring for the columns)."""
    header = ["fold", "subject", "key", "true_pspi", *(f"true_{a}" for a in AU_NAMES), "pred_pspi",
              *(f"p_pspi_ge_{t}" for t in PAIN_THRESHOLDS), *(f"pred_{a}" for a in AU_NAMES), "shots"]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for part in report["predictions"]:
            pred = part["pred"]
            for j, frame in enumerate(part["frames"]):
                au = ["" if not math.isfinite(v) else f"{v:g}" for v in np.asarray(frame.au, np.float64)]
                shots = "" if pred.shots is None else int(pred.shots[j])
                writer.writerow([part["fold"], frame.subject, frame.key or str(frame.image), f"{frame.pspi:g}", *au,
                                 f"{pred.pspi[j]:.9g}", *(f"{p:.9g}" for p in pred.prob[j]), *(f"{a:.9g}" for a in pred.au[j]), shots])


def _save_png(fig, path: Path) -> None:
    # Rendered by Agg and written by PIL: same figure, same bytes (no timestamp, no software tag).
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3].copy()).save(path, optimize=False)


def write_plots(report: dict[str, Any], out: Path) -> list[Path]:
    """Write roc.png, calibration.png and scatter.png from the pooled test predictions; return the paths."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from sklearn.metrics import roc_curve

    data = _pooled(report)
    paths = []
    colours = ("tab:blue", "tab:orange", "tab:red")

    fig = Figure(figsize=(5, 5), dpi=100)
    ax = fig.add_subplot()
    for j, level in enumerate(PAIN_THRESHOLDS):
        labels = data["pspi"] >= level
        s = report["summary"].get(f"auroc_{level}", {})
        if labels.any() and not labels.all():
            fpr, tpr, _ = roc_curve(labels, data["prob"][:, j])
            ax.plot(fpr, tpr, color=colours[j], label=f"PSPI >= {level} (AUROC {_fmt(s.get('mean'))} mean over folds)")
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, test frames of all folds", xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="lower right", fontsize=7)
    paths.append(out / "roc.png")
    _save_png(fig, paths[-1])

    fig = Figure(figsize=(5, 5), dpi=100)
    ax = fig.add_subplot()
    bins = np.linspace(0, 1, 11)
    for j, level in enumerate(PAIN_THRESHOLDS):
        labels = (data["pspi"] >= level).astype(np.float64)
        which = np.clip(np.digitize(data["prob"][:, j], bins) - 1, 0, 9)
        xs, ys = [], []
        for b in range(10):
            sel = which == b
            if sel.any():
                xs.append(data["prob"][sel, j].mean())
                ys.append(labels[sel].mean())
        ax.plot(xs, ys, marker="o", color=colours[j], label=f"PSPI >= {level}")
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=0.8)
    ax.set(xlabel="predicted probability (bin mean)", ylabel="observed frequency", title="Calibration (reliability)", xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="upper left", fontsize=7)
    paths.append(out / "calibration.png")
    _save_png(fig, paths[-1])

    fig = Figure(figsize=(5, 5), dpi=100)
    ax = fig.add_subplot()
    ax.scatter(data["pspi"], data["pred"], s=6, alpha=0.4, color="tab:blue")
    top = max(16.0, float(data["pred"].max(initial=0)))
    ax.plot([0, top], [0, top], color="grey", linestyle="--", linewidth=0.8)
    s = report["summary"].get("pcc", {})
    ax.set(xlabel="true PSPI", ylabel="predicted PSPI", title=f"PSPI, PCC {_fmt(s.get('mean'))} fold mean, {_fmt((report.get('pooled') or {}).get('pcc'))} pooled", xlim=(-0.5, top), ylim=(-0.5, top))
    paths.append(out / "scatter.png")
    _save_png(fig, paths[-1])
    return paths


def write_report(report: dict[str, Any], out: str | Path) -> Path:
    """Write report.json, predictions.csv, summary.md and the plots into the existing directory ``out``."""
    out = Path(out)
    body = {k: v for k, v in report.items() if k != "predictions"}
    (out / "report.json").write_text(json.dumps(_clean(body), indent=2, sort_keys=False) + "\n", encoding="utf-8")
    write_predictions_csv(report, out / "predictions.csv")
    (out / "summary.md").write_text(summary_table(report), encoding="utf-8")
    write_plots(report, out)
    return out


__all__ = ["summary_table", "write_predictions_csv", "write_plots", "write_report", "TABLE_ROWS"]
