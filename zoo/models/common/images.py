"""Image inputs of the classifier families: shapes, labels and the shift augmentation."""

from __future__ import annotations

import numpy as np

from zoo.models.common.checks import check_finite


def as_images(images: np.ndarray, image_size: int = 8) -> np.ndarray:
    """(n, s, s, 1) float32 from (s, s), (n, s, s), (n, s*s) or (n, s, s, 1); clear errors else."""
    images = check_finite("images", images)
    received = images.shape
    side = image_size
    if images.shape == (side, side):
        images = images[None]
    if images.ndim == 2 and images.shape[1] == side * side:
        images = images.reshape(-1, side, side)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[1:] != (side, side, 1):
        raise ValueError(
            f"`images` must have shape (n, {side}, {side}, 1), (n, {side}, {side}) or "
            f"(n, {side * side}). Received shape {received}."
        )
    return images


def as_labels(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Class ids (n,) int32 in [0, num_classes), or an error naming what is wrong."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.all(np.isfinite(labels.astype("float64"))):
        raise ValueError(
            f"`labels` must be a 1-D array of class ids. Received shape {labels.shape}"
        )
    if np.any(labels != np.round(labels)) or labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"`labels` must be integers in [0, {num_classes - 1}]. Received values from "
            f"{labels.min()} to {labels.max()}."
        )
    return labels.astype("int32")


def shifted_copies(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The images and their 8 one-pixel shifts (zero fill): a deterministic 9x augmentation."""
    copies = []
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            shifted = np.roll(images, (dy, dx), axis=(1, 2))
            if dy:
                shifted[:, 0 if dy > 0 else -1] = 0
            if dx:
                shifted[:, :, 0 if dx > 0 else -1] = 0
            copies.append(shifted)
    return np.concatenate(copies), np.tile(labels, 9)
