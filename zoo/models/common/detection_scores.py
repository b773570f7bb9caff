"""Anomaly-detection scores: point-wise scores from windows, ROC-AUC, PR-AUC, best F1, thresholds.

Conventions: `labels` are 1 for anomalous points, 0 for normal ones; a point is flagged when its
score is **strictly above** the threshold (``score > threshold``).

- :func:`point_scores`: window j covers points ``[j·stride, j·stride + window)``; a point's score is
  the max over the windows that cover it, so a high window raises only its own points and a point
  is flagged only if some window over it passes the threshold; points after the last window take
  its score.
- :func:`roc_auc`: the probability that a random anomalous point scores above a random normal one,
  ties counting 1/2 (Mann–Whitney U / (n₊·n₋)).
- :func:`average_precision` (PR-AUC): ``Σ_k (R_k − R_{k−1})·P_k`` over the distinct score
  values taken as thresholds from high to low (the step-wise area, no interpolation).
- :func:`best_f1`: the highest ``F1 = 2TP / (2TP + FP + FN)`` over those thresholds, with the
  threshold that gives it (just below the lowest flagged score).
- :func:`false_alarm_rate`: flagged normal points / normal points.
- :func:`anomaly_free`: the normal points at least `margin` points away from every anomaly (the
  anomaly-free stretches, where a window-based score cannot have been raised by an anomaly when
  `margin` >= window - 1).
- :func:`threshold_for_false_alarm_rate`: on held-out normal scores s (n of them), the threshold is
  the (a+1)-th largest score with ``a = ⌊rate·n⌋``, so at most a of them (a share ≤ rate) pass it.
- :func:`detection_report`: the ``metrics`` object of ``zoo evaluate``'s JSON for a detector.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "anomaly_free",
    "average_precision",
    "best_f1",
    "detection_report",
    "false_alarm_rate",
    "point_scores",
    "roc_auc",
    "threshold_for_false_alarm_rate",
]


def point_scores(window_scores, window: int, length: int, stride: int = 1) -> np.ndarray:
    """(length,) point-wise scores: the max over the windows covering each point."""
    ws = np.asarray(window_scores, "float64").ravel()
    for name, value in (("window", window), ("stride", stride), ("length", length)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"`{name}` must be an int >= 1. Received: {name}={value!r}")
    starts = np.arange(len(ws)) * stride
    if not len(ws) or starts[-1] + window > length:
        raise ValueError(
            f"`window_scores` must hold at least one window and every window must fit in "
            f"`length`={length}. Received {len(ws)} windows of {window} points, stride {stride}."
        )
    scores = np.full(length, -np.inf)
    covered = starts[:, None] + np.arange(window)[None, :]
    np.maximum.at(scores, covered.ravel(), np.repeat(ws, window))
    tail = starts[-1] + window
    scores[tail:] = ws[-1]
    return scores


def _check(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels).ravel()
    s = np.asarray(scores, "float64").ravel()
    if y.shape != s.shape:
        raise ValueError(
            f"`labels` and `scores` must have the same length. Received {y.size} and {s.size}"
        )
    if not np.isin(y, (0, 1)).all():
        raise ValueError("`labels` must hold only 0 (normal) and 1 (anomaly).")
    if np.isnan(s).any():
        raise ValueError("`scores` must not hold NaN.")
    y = y.astype(bool)
    if y.all() or not y.any():
        raise ValueError(
            f"`labels` must hold both classes. Received {int(y.sum())} anomalous of {y.size}"
        )
    return y, s


def roc_auc(labels, scores) -> float:
    """Area under the ROC curve (ties between classes count 1/2)."""
    y, s = _check(labels, scores)
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_scores = s[order]
    # Average rank (1-based) within each group of equal scores.
    first = np.r_[True, sorted_scores[1:] != sorted_scores[:-1]]
    group = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], len(s)]
    ranks[order] = ((starts + 1 + ends) / 2.0)[group]
    positives, negatives = int(y.sum()), int((~y).sum())
    u = ranks[y].sum() - positives * (positives + 1) / 2.0
    return float(u / (positives * negatives))


def _curve(y: np.ndarray, s: np.ndarray):
    """TP and FP when flagging score >= each distinct value, from the highest value down."""
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[s[1:] != s[:-1], True]
    tp = np.cumsum(y)[last]
    fp = np.cumsum(~y)[last]
    return tp, fp, s[last]


def average_precision(labels, scores) -> float:
    """PR-AUC as average precision: Σ (recall step) × precision."""
    y, s = _check(labels, scores)
    tp, fp, _ = _curve(y, s)
    recall = tp / y.sum()
    precision = tp / (tp + fp)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def best_f1(labels, scores) -> tuple[float, float]:
    """(best F1, threshold): flagging ``score > threshold`` reaches that F1."""
    y, s = _check(labels, scores)
    tp, fp, values = _curve(y, s)
    fn = y.sum() - tp
    f1 = 2 * tp / (2 * tp + fp + fn)
    k = int(np.argmax(f1))
    return float(f1[k]), float(np.nextafter(values[k], -np.inf))


def false_alarm_rate(flags, labels) -> float:
    """Share of normal points (label 0) that are flagged."""
    f = np.asarray(flags).ravel().astype(bool)
    y = np.asarray(labels).ravel()
    if f.shape != y.shape:
        raise ValueError(
            f"`flags` and `labels` must have the same length. Received {f.size} and {y.size}"
        )
    normal = y == 0
    if not normal.any():
        raise ValueError("`labels` must hold at least one normal point (0).")
    return float(f[normal].mean())


def anomaly_free(labels, margin: int = 0) -> np.ndarray:
    """(n,) bool: points farther than `margin` positions from every point labelled 1."""
    y = np.asarray(labels).ravel().astype(bool)
    if isinstance(margin, bool) or not isinstance(margin, int | np.integer) or margin < 0:
        raise ValueError(f"`margin` must be an int >= 0. Received: margin={margin!r}")
    near = y.copy()
    for shift in range(1, margin + 1):
        near[shift:] |= y[:-shift]
        near[:-shift] |= y[shift:]
    return ~near


def threshold_for_false_alarm_rate(normal_scores, rate: float) -> float:
    """The threshold that at most a share `rate` of `normal_scores` passes (score > threshold)."""
    s = np.sort(np.asarray(normal_scores, "float64").ravel())
    if not len(s) or not np.all(np.isfinite(s)):
        raise ValueError("`normal_scores` must be a non-empty array of finite numbers.")
    if not 0.0 <= float(rate) < 1.0:
        raise ValueError(f"`rate` must be in [0, 1). Received: rate={rate!r}")
    allowed = int(np.floor(rate * len(s) + 1e-9))
    return float(s[len(s) - allowed - 1])


def detection_report(scores, threshold: float, labels=None, *, margin: int = 0) -> dict:
    """Scores of point-wise `scores` flagged at ``score > threshold``, as a JSON-ready dict.

    With `labels`: roc_auc, pr_auc (average precision), best_f1 and its threshold, recall of the
    flags, and their false_alarm_rate on the anomaly-free points (normal points farther than
    `margin` from every anomaly; all normal points when 0). Without labels: the flag count and
    share only (nothing to compare against).
    """
    s = np.asarray(scores, "float64").ravel()
    flags = s > float(threshold)
    report = {"flagged": int(flags.sum()), "flagged_share": float(flags.mean())}
    if labels is None:
        return report
    y, _ = _check(labels, s)
    f1, f1_threshold = best_f1(y, s)
    report.update(
        roc_auc=roc_auc(y, s),
        pr_auc=average_precision(y, s),
        best_f1=f1,
        best_f1_threshold=f1_threshold,
        false_alarm_rate=float(flags[anomaly_free(y, margin)].mean()),
        recall=float(flags[y].mean()),
    )
    return report
