"""The digits protocol of the image classifier presets, its baselines and its picture.

Split: scikit-learn's bundled 8x8 digits, `train_test_split(test_size=0.2, stratify=y,
random_state=0)`; a model's test accuracy beside LogisticRegression and SVC(rbf) fitted on the same
train part.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np

from zoo.data.digits import DigitsSplit, load_digits_split
from zoo.models.common.classifier import predict


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


def warmup_inputs(model: keras.Model) -> dict[str, np.ndarray]:
    """Five held-out test images, the warm-up requests of an export."""
    return {model.inputs[0].name.split(":")[0]: load_digits_split().x_test[:5]}


def plot(model: keras.Model, path: Path) -> Path:
    """The confusion matrix on the digits test split, as a PNG at `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    split = load_digits_split()
    predicted = predict(model, split.x_test)["class_id"]
    matrix = np.zeros((10, 10), dtype=int)
    np.add.at(matrix, (split.y_test, predicted), 1)
    figure, axes = plt.subplots(figsize=(6, 5))
    image = axes.imshow(matrix, cmap="Blues")
    for (row, col), count in np.ndenumerate(matrix):
        if count:
            colour = "white" if count > matrix.max() / 2 else "black"
            axes.text(col, row, str(count), ha="center", va="center", color=colour, fontsize=8)
    axes.set_xticks(range(10))
    axes.set_yticks(range(10))
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    correct = float(np.mean(predicted == split.y_test))
    axes.set_title(f"{model.name}: test accuracy {correct:.4f} ({len(split.y_test)} images)")
    figure.colorbar(image, ax=axes)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
