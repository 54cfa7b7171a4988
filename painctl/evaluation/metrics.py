"""Metrics of pain estimation: PSPI regression, pain detection at PSPI >= 1, 2, 3 (scored on the binary
heads' probabilities and, separately, on the PSPI regression output), per-AU errors,
F1 thresholds calibrated on training subjects, and mean +- std with a 95% t-interval across folds.

Every function takes plain arrays (PSPI on the 0-16 scale, probabilities in [0, 1], AU intensities on
the FACS scale, NaN = not annotated) and returns floats; a metric that is undefined on its input
(a constant series, a single class) is NaN rather than an exception.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from painctl.facs import AU_NAMES, PAIN_THRESHOLDS

#: Probability threshold used when no calibration data is available.
DEFAULT_THRESHOLD = 0.5


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation of two (N,) series; NaN with fewer than 2 points or a constant series."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if len(x) < 2 or x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute error of two (N,) series."""
    return float(np.mean(np.abs(np.asarray(y_pred, np.float64) - np.asarray(y_true, np.float64)))) if len(y_true) else float("nan")


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root mean squared error of two (N,) series."""
    if not len(y_true):
        return float("nan")
    return float(np.sqrt(np.mean((np.asarray(y_pred, np.float64) - np.asarray(y_true, np.float64)) ** 2)))


def icc_3_1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """ICC(3,1) of Shrout & Fleiss: two-way mixed model, consistency, single rater, with the N frames
    as targets and (truth, prediction) as the two raters: (MSR - MSE) / (MSR + (k - 1) MSE)."""
    table = np.stack([np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)], axis=1)
    n, k = table.shape
    if n < 2:
        return float("nan")
    grand = table.mean()
    ss_rows = k * ((table.mean(axis=1) - grand) ** 2).sum()
    ss_cols = n * ((table.mean(axis=0) - grand) ** 2).sum()
    ss_error = ((table - grand) ** 2).sum() - ss_rows - ss_cols
    ms_rows = ss_rows / (n - 1)
    ms_error = ss_error / ((n - 1) * (k - 1))
    denominator = ms_rows + (k - 1) * ms_error
    return float((ms_rows - ms_error) / denominator) if denominator > 0 else float("nan")


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve of (N,) binary ``labels`` against ``scores``; NaN with one class only."""
    labels = np.asarray(labels).astype(bool)
    if labels.all() or not labels.any():
        return float("nan")
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, np.asarray(scores, np.float64)))


def f1_score(labels: np.ndarray, predicted: np.ndarray) -> float:
    """F1 of (N,) boolean ``predicted`` against ``labels``; 0 when there is no positive on either side."""
    labels, predicted = np.asarray(labels).astype(bool), np.asarray(predicted).astype(bool)
    tp = float(np.sum(labels & predicted))
    denominator = float(labels.sum() + predicted.sum())
    return 2 * tp / denominator if denominator else 0.0


def calibrate_threshold(labels: np.ndarray, probs: np.ndarray) -> float:
    """The probability threshold t maximising F1 of ``probs >= t`` against ``labels`` (validation data
    of training subjects only). Candidates are the distinct probabilities; ties go to the highest t.
    Without any positive label the threshold is :data:`DEFAULT_THRESHOLD`."""
    labels, probs = np.asarray(labels).astype(bool), np.asarray(probs, np.float64)
    if not labels.any():
        return DEFAULT_THRESHOLD
    order = np.argsort(-probs, kind="stable")
    sorted_probs, sorted_labels = probs[order], labels[order]
    # Predicting positive for the top i frames: tp = cumulative positives, predicted = i.
    tp = np.cumsum(sorted_labels)
    count = np.arange(1, len(probs) + 1)
    last_of_value = np.r_[sorted_probs[1:] != sorted_probs[:-1], True]  # ties enter together
    f1 = np.where(last_of_value, 2 * tp / (count + labels.sum()), -1.0)
    best = np.flatnonzero(f1 == f1.max())[0]  # the first maximum is the highest threshold
    return float(sorted_probs[best])


def calibrate_thresholds(true_pspi: np.ndarray, probs: np.ndarray) -> list[float]:
    """One calibrated threshold per pain level (PAIN_THRESHOLDS), from (N,) PSPI and (N, 3) probabilities."""
    true_pspi = np.asarray(true_pspi, np.float64)
    return [calibrate_threshold(true_pspi >= level, probs[:, j]) for j, level in enumerate(PAIN_THRESHOLDS)]


def calibrate_pspi_cuts(true_pspi: np.ndarray, pred_pspi: np.ndarray) -> list[float]:
    """One cut on the predicted PSPI (0-16 scale) per pain level, maximising F1 of ``pred_pspi >= cut``
    on (N,) data of training subjects, for detection scored on the regression output. Without any
    positive frame of a level the cut is the level itself."""
    true_pspi = np.asarray(true_pspi, np.float64)
    pred_pspi = np.asarray(pred_pspi, np.float64)
    return [calibrate_threshold(true_pspi >= level, pred_pspi) if (true_pspi >= level).any() else float(level) for level in PAIN_THRESHOLDS]


def evaluate(true_pspi: np.ndarray, pred_pspi: np.ndarray, probs: np.ndarray, true_au: np.ndarray, pred_au: np.ndarray,
             thresholds: Sequence[float], pspi_cuts: Sequence[float] | None = None) -> dict[str, float]:
    """All per-fold metrics as a flat dict.

    Takes (N,) true and predicted PSPI, (N, 3) P(PSPI >= 1, 2, 3), (N, 6) true AUs (NaN = not coded)
    and predicted AUs, and the probability thresholds for F1 (calibrated on training subjects): (3,),
    or (N, 3) for one threshold per frame when folds with their own thresholds are pooled.
    Keys: pcc, mae, rmse, icc31; auroc_L, f1_L, threshold_L for L in 1, 2, 3, scored on the binary
    heads' probabilities (threshold_L is NaN for per-frame thresholds); auroc_reg_L, f1_reg_L, cut_reg_L
    scored on the PSPI regression output instead (as the authors of 3DPain score them), F1 at
    ``pred_pspi >= pspi_cuts`` ((3,) or (N, 3) on the 0-16 scale; default the level L itself);
    au_mae_AUx, au_pcc_AUx.
    """
    cuts_reg = np.asarray(PAIN_THRESHOLDS if pspi_cuts is None else pspi_cuts, np.float64)
    thresholds = np.asarray(thresholds, np.float64)
    true_pspi, pred_pspi = np.asarray(true_pspi, np.float64), np.asarray(pred_pspi, np.float64)
    out = {
        "pcc": pearson(true_pspi, pred_pspi),
        "mae": mae(true_pspi, pred_pspi),
        "rmse": rmse(true_pspi, pred_pspi),
        "icc31": icc_3_1(true_pspi, pred_pspi),
    }
    for j, level in enumerate(PAIN_THRESHOLDS):
        tag = f"{level:g}"
        labels = true_pspi >= level
        out[f"auroc_{tag}"] = auroc(labels, probs[:, j])
        cut = thresholds[..., j]
        out[f"f1_{tag}"] = f1_score(labels, probs[:, j] >= cut)
        out[f"threshold_{tag}"] = float(cut) if cut.ndim == 0 else float("nan")
    for j, level in enumerate(PAIN_THRESHOLDS):
        tag = f"{level:g}"
        labels = true_pspi >= level
        out[f"auroc_reg_{tag}"] = auroc(labels, pred_pspi)
        cut = cuts_reg[..., j]
        out[f"f1_reg_{tag}"] = f1_score(labels, pred_pspi >= cut)
        out[f"cut_reg_{tag}"] = float(cut) if cut.ndim == 0 else float("nan")
    true_au, pred_au = np.asarray(true_au, np.float64), np.asarray(pred_au, np.float64)
    for j, name in enumerate(AU_NAMES):
        coded = np.isfinite(true_au[:, j])
        out[f"au_mae_{name}"] = mae(true_au[coded, j], pred_au[coded, j])
        out[f"au_pcc_{name}"] = pearson(true_au[coded, j], pred_au[coded, j])
    return out


def metric_range(name: str) -> tuple[float, float]:
    """Return the (low, high) a metric of this :func:`evaluate` name can take (for clipping intervals)."""
    if name.startswith(("auroc_", "f1_", "threshold_")):
        return 0.0, 1.0
    if name in ("pcc", "icc31") or name.startswith("au_pcc_"):
        return -1.0, 1.0
    if name in ("mae", "rmse") or name.startswith("au_mae_"):
        return 0.0, math.inf
    return -math.inf, math.inf


def summarise(values: Sequence[float], confidence: float = 0.95, bounds: tuple[float, float] = (-math.inf, math.inf)) -> dict[str, float]:
    """Mean, sample std (ddof 1) and the t-interval for the mean of per-fold ``values`` (NaNs dropped).

    Returns {"mean", "std", "ci_low", "ci_high", "n"}; std and the interval are NaN with fewer than 2 values.
    The interval is clipped to ``bounds``, the range the metric can take (an AUROC interval never
    leaves [0, 1]).
    """
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], np.float64)
    n = len(v)
    nan = float("nan")
    if n == 0:
        return {"mean": nan, "std": nan, "ci_low": nan, "ci_high": nan, "n": 0}
    mean = float(v.mean())
    if n < 2:
        return {"mean": mean, "std": nan, "ci_low": nan, "ci_high": nan, "n": 1}
    from scipy import stats

    std = float(v.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n)
    low, high = bounds
    return {"mean": mean, "std": std, "ci_low": max(low, mean - half), "ci_high": min(high, mean + half), "n": n}


def summarise_folds(per_fold: Sequence[dict[str, float]]) -> dict[str, dict[str, float]]:
    """:func:`summarise` every metric of a list of :func:`evaluate` dicts (one per fold)."""
    names = list(per_fold[0]) if per_fold else []
    return {name: summarise([fold.get(name, float("nan")) for fold in per_fold], bounds=metric_range(name)) for name in names}


__all__ = [
    "DEFAULT_THRESHOLD", "pearson", "mae", "rmse", "icc_3_1", "auroc", "f1_score", "calibrate_threshold",
    "calibrate_thresholds", "calibrate_pspi_cuts", "evaluate", "summarise", "summarise_folds",
]
