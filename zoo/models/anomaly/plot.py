"""The picture of `anomaly_ucr135`: the series with its labelled anomaly, and the point score
with the stored threshold."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from zoo.data.kdd_tsad import load_ucr135
from zoo.models.anomaly.model import get_threshold, predict


def plot(model: keras.Model, path: Path) -> Path:
    """The series with its labelled anomaly, and the point score with the stored threshold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    split = load_ucr135()
    points = predict(model, split.series)["point_score"]
    anomaly = np.flatnonzero(split.labels)
    threshold = get_threshold(model)
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(12, 6), sharex=True)
    steps = np.arange(len(split.series))
    top.plot(steps, split.series, lw=0.7, color="tab:blue")
    top.set_ylabel("heart rate")
    bottom.semilogy(steps, points, lw=0.7, color="tab:purple", label="point score")
    bottom.axhline(threshold, color="tab:red", ls="--", lw=1, label=f"threshold {threshold:.3g}")
    bottom.set_ylabel("score (log)")
    bottom.set_xlabel("time step")
    for axes in (top, bottom):
        axes.axvspan(anomaly[0], anomaly[-1] + 1, color="tab:orange", alpha=0.4, label="anomaly")
        axes.axvline(split.train_end, color="grey", lw=0.8)
    top.set_title(f"{model.name}: train | test split at {split.train_end}; labelled anomaly shaded")
    bottom.legend(loc="upper right")
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
