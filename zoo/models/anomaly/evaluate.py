"""The protocol of `anomaly_ucr135`: train on points 0..1199, test on the rest, point-wise.

A window detector scores every stride-1 window of the test part; a point's score is the max of the
scores of the windows that cover it. Metrics over the test points: ROC-AUC, best F1 over all
thresholds, whether the top-scoring point lies inside the anomaly +-100 points (the UCR archive's
own success criterion), and precision/recall at the stored threshold.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from zoo.data.kdd_tsad import TOLERANCE, load_ucr135
from zoo.models.anomaly.baselines import baselines
from zoo.models.anomaly.metrics import detection_metrics
from zoo.models.anomaly.model import get_threshold, predict


def evaluate(model: keras.Model, *, with_baselines: bool = True) -> dict:
    """The protocol's metrics on the test part (points 1200..), beside the baselines."""
    split = load_ucr135()
    points = predict(model, split.test)["point_score"]
    labels = split.test_labels
    threshold = get_threshold(model)
    flagged = points > threshold
    hits = int(np.sum(flagged & (labels == 1)))
    anomalous = np.flatnonzero(labels)
    near = np.zeros_like(flagged)
    near[max(anomalous[0] - TOLERANCE, 0) : anomalous[-1] + TOLERANCE + 1] = True
    precision = hits / max(int(flagged.sum()), 1)
    recall = hits / int(labels.sum())
    result: dict[str, Any] = {
        **detection_metrics(labels, points),
        "top_point": int(np.argmax(points)) + split.train_end,
        "anomaly_points": [int(i) for i in np.flatnonzero(split.labels)[[0, -1]]],
        "threshold": threshold,
        "at_threshold": {
            "precision": precision,
            "recall": recall,
            "f1": 2 * precision * recall / max(precision + recall, 1e-12),
            "flagged_points": int(flagged.sum()),
            "flagged_outside_anomaly_pm100": int(np.sum(flagged & ~near)),
        },
    }
    if with_baselines:
        result["baselines"] = baselines(split)
    return result
