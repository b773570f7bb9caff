"""Baselines of the anomaly family's protocol: IsolationForest on windows and a z-score."""

from __future__ import annotations

import numpy as np

from zoo.data.kdd_tsad import SeriesSplit, load_ucr135, sliding_windows
from zoo.models.anomaly.metrics import detection_metrics
from zoo.models.anomaly.model import point_scores


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
