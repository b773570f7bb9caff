"""Detection metrics of the anomaly protocol: ROC-AUC, best F1, and the UCR archive's criterion."""

from __future__ import annotations

import numpy as np

from zoo.data.kdd_tsad import TOLERANCE


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
