"""A detector on a user's series, whatever the detector: the prediction table, the evaluation
against labels beside the model-free baselines, and the picture.

A family's `user.py` computes the point scores of its detector (one array per series, a point's
own score) and passes them here with its stored threshold and its window (the margin around a
labelled anomaly that false alarms skip, and the baselines' window). `series` is a list of
:class:`zoo.data.series_input.UserSeries`; `labels` (when given) one 0/1 array per series. A
point is flagged when its own score passes the threshold.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from zoo.data.series_input import UserSeries
from zoo.data.series_output import detection_table
from zoo.models.common.detection_baselines import baseline_margins
from zoo.models.common.detection_scores import detection_report
from zoo.models.common.plots import plot_scores

__all__ = ["evaluate_scores", "plot_first", "scores_table"]


# A share of flagged points above this is no anomaly hunt: the detector does not fit the data.
FLAGGED_SHARE_WARNING = 0.1


def scores_table(series: Sequence[UserSeries], scores, threshold: float) -> pd.DataFrame:
    """One row per input point: (unique_id,) (ds,) value, score, is_anomaly; a warning when
    more than `FLAGGED_SHARE_WARNING` of the points are flagged."""
    table = detection_table(series, scores, threshold)
    share = float(table["is_anomaly"].mean()) if len(table) else 0.0
    if share > FLAGGED_SHARE_WARNING:
        warnings.warn(
            f"{share:.0%} of the points are flagged: the detector does not fit this data (its "
            "threshold was set for a false-alarm rate of a fraction of a percent on other data). "
            "Fine-tune it on normal data of yours (`zoo fine-tune`), or use anomaly_universal.",
            stacklevel=3,
        )
    return table


def _normal_prefix(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The points before the first labelled anomaly (the baselines' normal data)."""
    hits = np.flatnonzero(labels)
    return values[: hits[0]] if len(hits) else values


def evaluate_scores(
    series: Sequence[UserSeries],
    scores: Sequence[np.ndarray],
    threshold: float,
    window: int,
    *,
    labels: Sequence[np.ndarray] | None = None,
    false_alarm_rate: float = 0.001,
) -> dict:
    """``{"metrics": ..., "baselines": ..., "threshold": ...}`` over all points of all series.

    With `labels`: ROC-AUC, PR-AUC, best F1 and the false-alarm rate on the anomaly-free points
    (farther than window - 1 from every labelled anomaly) of the stored threshold; the baselines
    (IsolationForest, z-score; `zoo.models.common.detection_baselines`) are fitted on each
    series' points before its first labelled anomaly (when there are at least 5 windows of
    them; `_pooled_baselines` says what happens to the others) with a threshold for
    `false_alarm_rate`, and pooled over the series. Without labels: the flagged points.
    """
    if labels is None:
        report = detection_report(np.concatenate(scores), threshold)
        report["flagged_points"] = [int(k) for s in scores for k in np.flatnonzero(s > threshold)][
            :1000
        ]
        return {"metrics": report, "baselines": {}, "threshold": threshold}
    flat_labels = np.concatenate([np.asarray(y).astype("int8") for y in labels])
    report = detection_report(np.concatenate(scores), threshold, flat_labels, margin=window - 1)
    baselines, note = _pooled_baselines(series, scores, threshold, window, labels, false_alarm_rate)
    out = {"metrics": report, "baselines": baselines, "threshold": threshold}
    return {**out, "baselines_note": note} if note else out


def _pooled_baselines(series, scores, threshold, window, labels, false_alarm_rate):
    """({baseline: report}, note): each baseline fitted on each series' points before its first
    labelled anomaly (at least 5·window of them) and scored on that series, the reports over
    every such series pooled (margins over each series' own threshold: `baseline_margins`).
    When some series cannot be fitted, ``model (same series)`` is the model's report on the
    others, so that every column covers the same points, and the note names the series left
    out; when none can, no baselines and a note that says why."""
    margins, kept, left_out = {}, [], []
    for k, (item, y) in enumerate(zip(series, labels, strict=True)):
        y = np.asarray(y).astype("int8")
        normal = _normal_prefix(item.values, y)
        if len(normal) < 5 * window or len(item.values) <= window:
            left_out.append(f"{item.id if item.id is not None else k!s} ({len(normal)})")
            continue
        found = baseline_margins(
            normal, item.values, window=window, false_alarm_rate=false_alarm_rate
        )
        for name, (margin, _) in found.items():
            margins.setdefault(name, []).append(margin)
        kept.append(k)
    why = (
        f"IsolationForest and z-score are fitted on a series' points before its first labelled "
        f"anomaly and need 5·window = {5 * window} of them"
    )
    if not kept:
        return {}, f"{why}; no series has them (points before the first anomaly: " + (
            ", ".join(left_out) + ")"
        )
    kept_labels = np.concatenate([np.asarray(labels[k]).astype("int8") for k in kept])
    pooled = {
        name: detection_report(np.concatenate(parts), 0.0, kept_labels, margin=window - 1)
        for name, parts in margins.items()
    }
    if not left_out:
        return pooled, None
    same = np.concatenate([scores[k] for k in kept])
    model = detection_report(same, threshold, kept_labels, margin=window - 1)
    note = f"{why}; left out: " + ", ".join(left_out) + " (points before the first anomaly)"
    return {"model (same series)": model, **pooled}, note


def plot_first(
    model_name: str,
    series: Sequence[UserSeries],
    scores: np.ndarray,
    threshold: float,
    path: str | Path,
    *,
    labels: Sequence[np.ndarray] | None = None,
) -> Path:
    """The first series with its flagged points, and its point scores with the threshold."""
    first = series[0]
    return plot_scores(
        first.values,
        scores,
        threshold,
        path,
        timestamps=first.timestamps,
        labels=None if labels is None else labels[0],
        title=f"{model_name}: point scores on {first.id or 'the series'}",
    )
