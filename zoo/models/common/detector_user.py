"""A detector on a user's series, whatever the detector: the prediction table, the evaluation
against labels beside the model-free baselines, and the picture.

A family's `user.py` computes the point scores of its detector (one array per series, a point's
own score) and passes them here with its stored threshold and its window (the margin around a
labelled anomaly that false alarms skip, and the baselines' window). `series` is a list of
:class:`zoo.data.series_input.UserSeries`; `labels` (when given) one 0/1 array per series. A
point is flagged when its own score passes the threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from zoo.data.series_input import UserSeries
from zoo.data.series_output import detection_table
from zoo.models.common.detection_baselines import detection_baselines
from zoo.models.common.detection_scores import detection_report
from zoo.models.common.plots import plot_scores

__all__ = ["evaluate_scores", "plot_first", "scores_table"]


def scores_table(series: Sequence[UserSeries], scores, threshold: float) -> pd.DataFrame:
    """One row per input point: (unique_id,) (ds,) value, score, is_anomaly."""
    return detection_table(series, scores, threshold)


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
    (IsolationForest, z-score; `zoo.models.common.detection_baselines`) are fitted on the first
    series' points before its first labelled anomaly (when there are at least 5 windows of
    them, else left out) with a threshold for `false_alarm_rate`. Without labels: the flagged
    points.
    """
    if labels is None:
        report = detection_report(np.concatenate(scores), threshold)
        report["flagged_points"] = [int(k) for s in scores for k in np.flatnonzero(s > threshold)][
            :1000
        ]
        return {"metrics": report, "baselines": {}, "threshold": threshold}
    flat_labels = np.concatenate([np.asarray(y).astype("int8") for y in labels])
    report = detection_report(np.concatenate(scores), threshold, flat_labels, margin=window - 1)
    baselines = {}
    item, first = series[0], np.asarray(labels[0]).astype("int8")
    normal = _normal_prefix(item.values, first)
    if len(normal) >= 5 * window:
        baselines = detection_baselines(
            normal,
            item.values,
            window=window,
            labels=first,
            false_alarm_rate=false_alarm_rate,
        )
    return {"metrics": report, "baselines": baselines, "threshold": threshold}


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
