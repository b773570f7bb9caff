"""UCR anomaly series InternalBleeding16 (KDD-TSAD #135), bundled in `aeon`, and its protocol.

The series is a patient's heart rate, 7501 points, one labelled anomaly (12 points). Protocol of the
zoo: train on the first 1200 points (anomaly-free, the archive's own train part), test on the rest
(points 1200..7500). A window detector scores every sliding window (stride 1) of the test part; a
point's score is the max of the scores of the windows that cover it. Metrics over the test points:
ROC-AUC, best F1 over all thresholds, and whether the top-scoring point lies inside the anomaly
+-100 points (the UCR archive's own success criterion).
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


def point_scores(window_scores: np.ndarray, window: int) -> np.ndarray:
    """Point scores (n,) = max of the scores of the windows covering each point (stride 1)."""
    window_scores = np.asarray(window_scores, dtype="float64")
    pad = np.full(window - 1, -np.inf)
    padded = np.concatenate([pad, window_scores, pad])
    return np.lib.stride_tricks.sliding_window_view(padded, window).max(axis=1)


def best_f1(labels: np.ndarray, scores: np.ndarray) -> float:
    """The highest F1 over all thresholds on `scores`."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, _ = precision_recall_curve(labels, scores)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(f1.max())


def detection_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float | bool]:
    """ROC-AUC, best F1 and whether the top score is inside the anomaly +-`TOLERANCE` points."""
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels)
    anomalous = np.flatnonzero(labels)
    top = int(np.argmax(scores))
    return {
        "roc_auc": float(roc_auc_score(labels, scores)),
        "best_f1": best_f1(labels, scores),
        "top_in_anomaly": bool(anomalous[0] - TOLERANCE <= top <= anomalous[-1] + TOLERANCE),
    }


def isolation_forest_scores(
    train: np.ndarray, test: np.ndarray, window: int = 100, seed: int = 42
) -> np.ndarray:
    """Point scores of an IsolationForest fitted on the train part's windows."""
    from sklearn.ensemble import IsolationForest

    forest = IsolationForest(random_state=seed).fit(sliding_windows(train, window))
    return point_scores(-forest.score_samples(sliding_windows(test, window)), window)


def zscore_scores(train: np.ndarray, test: np.ndarray) -> np.ndarray:
    """|x - mean| / std with the train part's mean and std."""
    return np.abs(test - train.mean()) / train.std()


def baselines(split: SeriesSplit | None = None, seeds: int = 10) -> dict[str, dict]:
    """The baselines on the zoo's split: IsolationForest (seed 42, and the mean over `seeds`
    seeds 0..seeds-1, because a forest on 1100 windows is strongly seed-dependent) and z-score."""
    split = split or load_ucr135()
    results: dict[str, dict] = {
        "isolation_forest_w100": detection_metrics(
            split.test_labels, isolation_forest_scores(split.train, split.test)
        ),
        "zscore": detection_metrics(split.test_labels, zscore_scores(split.train, split.test)),
    }
    if seeds:
        runs = [
            detection_metrics(
                split.test_labels, isolation_forest_scores(split.train, split.test, seed=s)
            )
            for s in range(seeds)
        ]
        results[f"isolation_forest_w100_mean_of_{seeds}_seeds"] = {
            "roc_auc": float(np.mean([r["roc_auc"] for r in runs])),
            "best_f1": float(np.mean([r["best_f1"] for r in runs])),
            "top_in_anomaly_fraction": float(np.mean([r["top_in_anomaly"] for r in runs])),
        }
    return results
