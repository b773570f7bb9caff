"""Model-free anomaly-detection baselines, thresholded the way the zoo's detectors are.

Given a user's normal series and a test series, each baseline is fitted on the first 80 % of the
normal series, its threshold is set on the last 20 % so that the requested point-wise false-alarm
rate holds there (:func:`zoo.models.common.detection_scores.threshold_for_false_alarm_rate`), and
it scores the test series point by point:

- ``isolation_forest``: scikit-learn's IsolationForest (100 trees, seeded) on all windows of
  `window` points (stride 1) of the series' first differences, standardised with the normal
  part's; window score ``-score_samples``; a point's score is the max over the windows of its
  difference with the previous point (the first point takes the second's). Differences keep a
  trend or a slow drift between the normal and the test data from flagging everything.
- ``zscore``: ``|x - mean| / std`` with the normal part's fitted mean and std, point by point.

The result is one :func:`zoo.models.common.detection_scores.detection_report` per baseline (false
alarms counted on the points farther than window - 1 from every labelled anomaly), the
``baselines`` object of ``zoo evaluate``'s JSON for a detector.
"""

from __future__ import annotations

import numpy as np

from zoo.models.common.detection_scores import (
    detection_report,
    point_scores,
    threshold_for_false_alarm_rate,
)

__all__ = ["baseline_margins", "detection_baselines", "isolation_forest_scorer", "zscore_scorer"]


def _standardiser(normal: np.ndarray):
    mean, std = float(np.mean(normal)), float(np.std(normal)) or 1.0
    return lambda x: (np.asarray(x, "float64") - mean) / std


def zscore_scorer(normal: np.ndarray):
    """A function x -> |x - mean| / std, mean and std fitted on `normal`."""
    standard = _standardiser(normal)
    return lambda x: np.abs(standard(x))


def isolation_forest_scorer(normal: np.ndarray, window: int, seed: int = 0):
    """A function x -> point scores of an IsolationForest fitted on windows of `normal`'s
    first differences."""
    from sklearn.ensemble import IsolationForest

    standard = _standardiser(np.diff(normal))

    def windows(x):
        return np.lib.stride_tricks.sliding_window_view(standard(np.diff(x)), window)

    forest = IsolationForest(n_estimators=100, random_state=seed).fit(windows(normal))

    def score(x):
        steps = point_scores(-forest.score_samples(windows(x)), window, len(x) - 1)
        return np.r_[steps[:1], steps]

    return score


def baseline_margins(
    normal, test, *, window: int, false_alarm_rate: float = 0.001, seed: int = 0
) -> dict[str, tuple[np.ndarray, float]]:
    """{baseline: (its point scores of `test` less its threshold, the threshold)}: each fitted
    on the first 80 % of `normal` (at least 5·window points), its threshold set on the rest for
    `false_alarm_rate`; a point is flagged where its margin is > 0. Margins of baselines fitted
    on different series share one scale (0: the threshold), so they can be pooled."""
    normal = np.asarray(normal, "float64").ravel()
    test = np.asarray(test, "float64").ravel()
    if len(normal) < 5 * window or len(test) <= window:
        raise ValueError(
            f"`normal` must hold at least 5·window = {5 * window} points and `test` at least "
            f"window + 1 = {window + 1}. Received {len(normal)} and {len(test)}"
        )
    cut = int(0.8 * len(normal))
    fit, held_out = normal[:cut], normal[cut:]
    scorers = {
        "isolation_forest": isolation_forest_scorer(fit, window, seed),
        "zscore": zscore_scorer(fit),
    }
    margins = {}
    for name, score in scorers.items():
        threshold = threshold_for_false_alarm_rate(score(held_out), false_alarm_rate)
        margins[name] = (score(test) - threshold, threshold)
    return margins


def detection_baselines(
    normal,
    test,
    *,
    window: int,
    labels=None,
    false_alarm_rate: float = 0.001,
    seed: int = 0,
) -> dict[str, dict]:
    """Fit, threshold and score every baseline (see the module docstring).

    Args:
        normal: 1-D normal (anomaly-free) series; at least 5·window points.
        test: 1-D series to score; at least `window` + 1 points.
        window: window length of the IsolationForest.
        labels: optional (len(test),) 1 = anomaly, for ROC-AUC, PR-AUC, F1 and false alarms.
        false_alarm_rate: point-wise rate the threshold allows on the held-out normal part.
        seed: IsolationForest seed.
    """
    margins = baseline_margins(
        normal, test, window=window, false_alarm_rate=false_alarm_rate, seed=seed
    )
    reports = {}
    for name, (margin, threshold) in margins.items():
        reports[name] = detection_report(margin + threshold, threshold, labels, margin=window - 1)
        reports[name]["threshold"] = threshold
    return reports
