"""A detector on a user's series: point-wise scores and flags, their evaluation against labels
beside the model-free baselines, and the picture of both.

The forecaster family's `user.py` has the same three functions, so the face calls either without
knowing which. `series` is a list of :class:`zoo.data.series_input.UserSeries`; `labels` (when
given) one 0/1 array per series. A point's score comes from the scores of the stride-1 windows
that cover it — the lowest of them for a detector fine-tuned here (`point_rule="min"`: a point
scores high only when every window over it does), the highest for the preset — and the point is
flagged when that score passes the stored threshold. Since `fine_tune` sets the threshold on the
point scores of held-out normal data, the false-alarm rate it promises counts points.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from zoo.data.series_input import UserSeries
from zoo.data.series_output import detection_table
from zoo.models.anomaly.model import get_threshold, predict, window_length
from zoo.models.common.detection_baselines import detection_baselines
from zoo.models.common.detection_scores import detection_report
from zoo.models.common.plots import plot_scores

__all__ = ["evaluate_series", "plot_series", "predict_table"]


def point_scores(model: keras.Model, series: Sequence[UserSeries]) -> list[np.ndarray]:
    """The point-wise score of every point of every series."""
    return [predict(model, item.values)["point_score"] for item in series]


def predict_table(model: keras.Model, series: Sequence[UserSeries]) -> pd.DataFrame:
    """One row per input point: (unique_id,) (ds,) value, score, is_anomaly."""
    return detection_table(series, point_scores(model, series), get_threshold(model))


def _normal_prefix(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The points before the first labelled anomaly (the baselines' normal data)."""
    hits = np.flatnonzero(labels)
    return values[: hits[0]] if len(hits) else values


def evaluate_series(
    model: keras.Model,
    series: Sequence[UserSeries],
    *,
    labels: Sequence[np.ndarray] | None = None,
    false_alarm_rate: float = 0.001,
    **_ignored,
) -> dict:
    """``{"metrics": ..., "baselines": ...}`` over all points of all series.

    With `labels`: ROC-AUC, PR-AUC, best F1 and the false-alarm rate on the anomaly-free points
    (farther than window - 1 from every labelled anomaly) of the stored threshold; the baselines
    (IsolationForest, z-score; `zoo.models.common.detection_baselines`) are fitted on each series'
    points before its first labelled anomaly (when there are at least 5 windows of them, else
    left out) with a threshold for `false_alarm_rate`. Without labels: the flagged points.
    """
    window = window_length(model)
    scores = point_scores(model, series)
    threshold = get_threshold(model)
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


def plot_series(
    model: keras.Model,
    series: Sequence[UserSeries],
    path: str | Path,
    *,
    labels: Sequence[np.ndarray] | None = None,
    **_ignored,
) -> Path:
    """The first series with its flagged points, and its point scores with the threshold."""
    first = series[0]
    return plot_scores(
        first.values,
        point_scores(model, [first])[0],
        get_threshold(model),
        path,
        timestamps=first.timestamps,
        labels=None if labels is None else labels[0],
        title=f"{model.name}: point scores on {first.id or 'the series'}",
    )
