"""The picture of `cnn_digits`: its confusion matrix on the digits test split."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from zoo.data.digits import load_digits_split
from zoo.models.cnn.model import predict


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
    accuracy = float(np.mean(predicted == split.y_test))
    axes.set_title(f"{model.name}: test accuracy {accuracy:.4f} ({len(split.y_test)} images)")
    figure.colorbar(image, ax=axes)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
