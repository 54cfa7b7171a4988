"""painctl.evaluation.metrics checked against scikit-learn, scipy and a hand-computed two-way ANOVA."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from painctl.evaluation import metrics
from painctl.facs import AU_NAMES


@pytest.fixture
def fold():
    rng = np.random.default_rng(3)
    n = 200
    true = rng.choice([0, 0, 0, 1, 2, 3, 4, 6, 9], size=n).astype(np.float64)
    pred = np.clip(true + rng.normal(0, 1.5, n), 0, 16)
    probs = np.stack([1 / (1 + np.exp(-(pred - level + 0.5) + rng.normal(0, 0.5, n))) for level in (1, 2, 3)], axis=1)
    true_au = rng.integers(0, 6, size=(n, 6)).astype(np.float64)
    true_au[:, 5] = rng.integers(0, 2, n)
    true_au[:20, 2] = np.nan  # not coded
    pred_au = np.clip(np.nan_to_num(true_au) + rng.normal(0, 1, (n, 6)), 0, 5)
    return true, pred, probs, true_au, pred_au


def test_regression_metrics_match_scipy_and_sklearn(fold):
    true, pred, *_ = fold
    assert metrics.pearson(true, pred) == pytest.approx(stats.pearsonr(true, pred)[0], abs=1e-12)
    assert metrics.mae(true, pred) == pytest.approx(skm.mean_absolute_error(true, pred), abs=1e-12)
    assert metrics.rmse(true, pred) == pytest.approx(math.sqrt(skm.mean_squared_error(true, pred)), abs=1e-12)
    assert math.isnan(metrics.pearson(true, np.ones_like(true)))


def test_icc_3_1_matches_a_hand_computed_two_way_anova():
    # Shrout & Fleiss style table: 5 targets x 2 raters.
    truth = np.array([9.0, 6.0, 8.0, 7.0, 10.0])
    rater = np.array([2.0, 1.0, 4.0, 1.0, 5.0])
    # Grand mean 5.3; row means 5.5 3.5 6 4 7.5; column means 8 2.6.
    ss_rows = 2 * sum((m - 5.3) ** 2 for m in (5.5, 3.5, 6.0, 4.0, 7.5))  # 20.6
    ss_total = sum((x - 5.3) ** 2 for x in (*truth, *rater))  # 96.1
    ss_cols = 5 * ((8 - 5.3) ** 2 + (2.6 - 5.3) ** 2)  # 72.9
    ms_rows, ms_error = ss_rows / 4, (ss_total - ss_rows - ss_cols) / 4
    assert ss_rows == pytest.approx(20.6) and ss_total == pytest.approx(96.1) and ss_cols == pytest.approx(72.9)
    expected = (ms_rows - ms_error) / (ms_rows + ms_error)  # (5.15 - 0.65) / (5.15 + 0.65)
    assert expected == pytest.approx(4.5 / 5.8)
    assert metrics.icc_3_1(truth, rater) == pytest.approx(expected, abs=1e-12)
    # Consistency: a constant offset between raters does not lower ICC(3,1); perfect agreement is 1.
    assert metrics.icc_3_1(truth, truth + 3) == pytest.approx(1.0)
    assert metrics.icc_3_1(truth, -truth) == pytest.approx(-1.0)


def test_auroc_and_f1_match_sklearn(fold):
    true, _, probs, *_ = fold
    for j, level in enumerate((1, 2, 3)):
        labels = true >= level
        assert metrics.auroc(labels, probs[:, j]) == pytest.approx(skm.roc_auc_score(labels, probs[:, j]), abs=1e-12)
        for t in (0.2, 0.5, 0.8):
            assert metrics.f1_score(labels, probs[:, j] >= t) == pytest.approx(skm.f1_score(labels, probs[:, j] >= t), abs=1e-12)
    assert math.isnan(metrics.auroc(np.zeros(5, bool), np.linspace(0, 1, 5)))


def test_calibrated_threshold_maximises_f1_like_a_brute_force_search(fold):
    true, _, probs, *_ = fold
    for j, level in enumerate((1, 2, 3)):
        labels = true >= level
        t = metrics.calibrate_threshold(labels, probs[:, j])
        best = max(skm.f1_score(labels, probs[:, j] >= c) for c in np.unique(probs[:, j]))
        assert skm.f1_score(labels, probs[:, j] >= t) == pytest.approx(best, abs=1e-12)
        assert t in set(probs[:, j])
    # Ties in probability enter together; no positive at all keeps the default.
    assert metrics.calibrate_threshold(np.array([1, 0, 1, 0], bool), np.array([0.9, 0.5, 0.5, 0.1])) == 0.5
    assert metrics.calibrate_threshold(np.array([1, 0, 0], bool), np.array([0.9, 0.8, 0.1])) == 0.9
    assert metrics.calibrate_threshold(np.zeros(3, bool), np.array([0.9, 0.8, 0.1])) == metrics.DEFAULT_THRESHOLD


def test_evaluate_uses_given_thresholds_and_masks_uncoded_aus(fold):
    true, pred, probs, true_au, pred_au = fold
    thresholds = [0.3, 0.5, 0.7]
    out = metrics.evaluate(true, pred, probs, true_au, pred_au, thresholds)
    for j, level in enumerate((1, 2, 3)):
        assert out[f"f1_{level}"] == pytest.approx(skm.f1_score(true >= level, probs[:, j] >= thresholds[j]))
        assert out[f"threshold_{level}"] == thresholds[j]
    coded = ~np.isnan(true_au[:, 2])
    assert out["au_mae_AU7"] == pytest.approx(skm.mean_absolute_error(true_au[coded, 2], pred_au[coded, 2]))
    assert out["au_pcc_AU7"] == pytest.approx(stats.pearsonr(true_au[coded, 2], pred_au[coded, 2])[0])
    assert out["au_mae_AU4"] == pytest.approx(skm.mean_absolute_error(true_au[:, 0], pred_au[:, 0]))
    assert {f"au_pcc_{n}" for n in AU_NAMES} <= set(out)
    assert out["icc31"] == pytest.approx(metrics.icc_3_1(true, pred))


def test_summary_is_mean_std_and_t_interval():
    values = [0.5, 0.6, 0.55, 0.7, float("nan"), 0.45]
    s = metrics.summarise(values)
    v = np.array([0.5, 0.6, 0.55, 0.7, 0.45])
    low, high = stats.t.interval(0.95, len(v) - 1, loc=v.mean(), scale=stats.sem(v))
    assert s["n"] == 5
    assert s["mean"] == pytest.approx(v.mean()) and s["std"] == pytest.approx(v.std(ddof=1))
    assert (s["ci_low"], s["ci_high"]) == pytest.approx((low, high))
    one = metrics.summarise([0.3])
    assert one["mean"] == 0.3 and math.isnan(one["std"]) and math.isnan(one["ci_low"])
    folds = metrics.summarise_folds([{"pcc": 0.1, "mae": 2.0}, {"pcc": 0.3, "mae": 1.0}])
    assert folds["pcc"]["mean"] == pytest.approx(0.2) and folds["mae"]["std"] == pytest.approx(math.sqrt(0.5))
