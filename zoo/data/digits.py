"""scikit-learn's bundled handwritten digits (8x8, pixel values 0..16) on the zoo's fixed split.

Split: `train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)` (1437 train, 360 test).
The validation part used for early stopping is carved out of the train part only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SOURCE = "sklearn.datasets.load_digits (UCI ML hand-written digits, optdigits test set)"
LICENCE = "CC BY 4.0 (UCI Machine Learning Repository); bundled with scikit-learn (BSD-3-Clause)"
SPLIT = "train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)"
IMAGE_SHAPE = (8, 8, 1)
NUM_CLASSES = 10


@dataclass(frozen=True)
class DigitsSplit:
    """Images (n, 8, 8, 1) float32 in raw pixel units 0..16, labels (n,) int32."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_digits_split() -> DigitsSplit:
    """The bundled digits on the zoo's fixed, stratified 80/20 split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = data.images.astype("float32")[..., None]
    y = data.target.astype("int32")
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.2, stratify=y, random_state=0
    )
    return DigitsSplit(x_train, y_train, x_test, y_test)


def validation_split(
    x: np.ndarray, y: np.ndarray, fraction: float = 0.15, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stratified (x_fit, y_fit, x_val, y_val) carved out of a training part."""
    from sklearn.model_selection import train_test_split

    x_fit, x_val, y_fit, y_val = train_test_split(
        x, y, test_size=fraction, stratify=y, random_state=seed
    )
    return x_fit, y_fit, x_val, y_val
