"""The universal detector on a user's series (see `zoo.models.common.detector_user`).

A point's score is the mean of its scores over the windows that cover it
(`zoo.models.universal_anomaly.model.point_scores`); the point is flagged when that score passes
the stored threshold (zero-shot: set on held-out normal series of the training corpus; after
`zoo fine-tune`: on the held-out part of the user's normal series).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from zoo.data.series_input import UserSeries
from zoo.models.common.detector_user import evaluate_scores, plot_first, scores_table
from zoo.models.universal_anomaly.model import get_threshold, many_point_scores

__all__ = ["evaluate_series", "plot_series", "predict_table"]

# The margin (points) around a labelled anomaly that false alarms skip, and the baselines' window.
EVALUATION_WINDOW = 32


def point_scores(model: keras.Model, series: Sequence[UserSeries]) -> list[np.ndarray]:
    """The score of every point of every series; the steps its time column misses (which
    `read_user_series` fills by interpolation) are given to the detector as missing, NaN: a
    straight line across a gap would be an odd shape of its own (a periodic series missing half
    a period was flagged at both ends of the gap). Series of one length are scored in batches
    (`many_point_scores`)."""
    return many_point_scores(model, [item.with_gaps_missing() for item in series])


def predict_table(model: keras.Model, series: Sequence[UserSeries]) -> pd.DataFrame:
    """One row per input point: (unique_id,) (ds,) value, score, is_anomaly."""
    return scores_table(series, point_scores(model, series), get_threshold(model))


def evaluate_series(model, series, *, labels=None, false_alarm_rate: float = 0.001, **_ignored):
    """`zoo.models.common.detector_user.evaluate_scores` for this detector."""
    return evaluate_scores(
        series,
        point_scores(model, series),
        get_threshold(model),
        EVALUATION_WINDOW,
        labels=labels,
        false_alarm_rate=false_alarm_rate,
    )


def plot_series(model, series, path: str | Path, *, labels=None, **_ignored) -> Path:
    """The first series with its flagged points, and its point scores with the threshold."""
    scores = point_scores(model, series[:1])[0]
    return plot_first(model.name, series, scores, get_threshold(model), path, labels=labels)
