"""`zoo plot anomaly_universal`: the zero-shot point scores on UCR anomaly #135."""

from __future__ import annotations

from pathlib import Path

from zoo.models.common.plots import plot_scores
from zoo.models.universal_anomaly.benchmark import kdd135
from zoo.models.universal_anomaly.model import get_threshold, point_scores


def plot(model, path: str | Path) -> Path:
    """The series with its flagged points and labelled anomaly, and the point scores with the
    stored threshold."""
    item = kdd135()
    return plot_scores(
        item.values,
        point_scores(model, item.values),
        get_threshold(model),
        path,
        labels=item.labels,
        title=f"{model.name}: zero-shot point scores on UCR anomaly #135",
    )
