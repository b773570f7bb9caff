"""UCR anomaly series InternalBleeding16 (KDD-TSAD #135), bundled in `aeon`, and its split.

The series is a patient's heart rate, 7501 points, one labelled anomaly (12 points). The zoo's
split: train on the first 1200 points (anomaly-free, the archive's own train part), test on the
rest (points 1200..7500). The protocol and its baselines live with the anomaly family
(`zoo.models.anomaly.evaluate`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SOURCE = (
    "UCR Time Series Anomaly Archive (Keogh et al., SIGKDD 2021 competition), series "
    "135_UCR_Anomaly_InternalBleeding16, as bundled in aeon (aeon.datasets.load_kdd_tsad_135)"
)
LICENCE = "BSD-3-Clause (aeon, which bundles the CSV files)"
TRAIN_END = 1200
TOLERANCE = 100


@dataclass(frozen=True)
class SeriesSplit:
    """The full series and labels, with the train/test boundary."""

    series: np.ndarray
    labels: np.ndarray
    train_end: int = TRAIN_END

    @property
    def train(self) -> np.ndarray:
        return self.series[: self.train_end]

    @property
    def test(self) -> np.ndarray:
        return self.series[self.train_end :]

    @property
    def test_labels(self) -> np.ndarray:
        return self.labels[self.train_end :]


def aeon_version() -> str:
    from importlib.metadata import version

    return version("aeon")


def load_ucr135() -> SeriesSplit:
    """Series (7501,) float64 and labels (7501,) int of KDD-TSAD #135, from aeon's bundled CSV."""
    from aeon.datasets import load_kdd_tsad_135

    series, labels = load_kdd_tsad_135(split="test")
    return SeriesSplit(np.asarray(series, dtype="float64"), np.asarray(labels, dtype="int64"))


def sliding_windows(series: np.ndarray, window: int) -> np.ndarray:
    """All windows of length `window` with stride 1: (len - window + 1, window)."""
    series = np.asarray(series)
    if series.ndim != 1:
        raise ValueError(f"`series` must be 1-D. Received shape {series.shape}.")
    if len(series) < window:
        raise ValueError(
            f"`series` must have at least `window`={window} points. Received {len(series)}."
        )
    return np.lib.stride_tricks.sliding_window_view(series, window)
