"""The protocol of `cnn_digits` (the zoo's fixed digits split) and its baselines on that split."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from zoo.data.digits import DigitsSplit, load_digits_split
from zoo.models.cnn.model import predict


def accuracy(model: keras.Model, images: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(predict(model, images)["class_id"] == labels))


def baselines(split: DigitsSplit | None = None) -> dict[str, float]:
    """Test accuracy of LogisticRegression and SVC(rbf) fitted on the train part of the split."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC

    split = split or load_digits_split()
    x_train = split.x_train.reshape(len(split.x_train), -1)
    x_test = split.x_test.reshape(len(split.x_test), -1)
    results = {}
    for name, estimator in (
        ("logistic_regression", LogisticRegression(max_iter=5000)),
        ("svc_rbf", SVC(kernel="rbf")),
    ):
        estimator.fit(x_train, split.y_train)
        results[name] = float(np.mean(estimator.predict(x_test) == split.y_test))
    return results


def evaluate(model: keras.Model, *, with_baselines: bool = True) -> dict:
    """Test accuracy on the fixed digits split, next to the baselines fitted on the same split."""
    split = load_digits_split()
    class_ids = predict(model, split.x_test)["class_id"]
    result: dict[str, Any] = {
        "test_accuracy": float(np.mean(class_ids == split.y_test)),
        "test_errors": int(np.sum(class_ids != split.y_test)),
        "test_size": len(split.y_test),
    }
    if with_baselines:
        result["baselines"] = {f"{k}_test_accuracy": v for k, v in baselines(split).items()}
    return result
