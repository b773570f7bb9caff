"""The window detector on a user's series (see `zoo.models.common.detector_user`).

The forecaster family's `user.py` has the same three functions, so the face calls either without
knowing which. A point's score comes from the scores of the stride-1 windows that cover it — the
lowest of them for a detector fine-tuned here (`point_rule="min"`: a point scores high only when
every window over it does), the highest for the preset — and the point is flagged when that
score passes the stored threshold. Since `fine_tune` sets the threshold on the point scores of
held-out normal data, the false-alarm rate it promises counts points.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from zoo.data.series_input import UserSeries
from zoo.models.anomaly.model import get_threshold, predict, window_length
from zoo.models.common.detector_user import evaluate_scores, plot_first, scores_table

__all__ = ["evaluate_series", "plot_series", "predict_table"]


def point_scores(model: keras.Model, series: Sequence[UserSeries]) -> list[np.ndarray]:
    """The point-wise score of every point of every series."""
    return [predict(model, item.values)["point_score"] for item in series]


def predict_table(model: keras.Model, series: Sequence[UserSeries]) -> pd.DataFrame:
    """One row per input point: (unique_id,) (ds,) value, score, is_anomaly."""
    return scores_table(series, point_scores(model, series), get_threshold(model))


def evaluate_series(model, series, *, labels=None, false_alarm_rate: float = 0.001, **_ignored):
    """`zoo.models.common.detector_user.evaluate_scores` for this detector."""
    scores = point_scores(model, series)
    return evaluate_scores(
        series,
        scores,
        get_threshold(model),
        window_length(model),
        labels=labels,
        false_alarm_rate=false_alarm_rate,
    )


def plot_series(model, series, path: str | Path, *, labels=None, **_ignored) -> Path:
    """The first series with its flagged points, and its point scores with the threshold."""
    scores = point_scores(model, series[:1])[0]
    return plot_first(model.name, series, scores, get_threshold(model), path, labels=labels)
