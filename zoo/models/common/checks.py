"""Input checks, deterministic set-up and card fields shared by the model families."""

from __future__ import annotations

import platform
from importlib.metadata import version

import keras
import numpy as np


def check_finite(name: str, array: np.ndarray) -> np.ndarray:
    """`array` as float32, or an error naming `name` if it holds NaN/inf or is not numeric."""
    try:
        array = np.asarray(array, dtype="float32")
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must hold numbers. Received: {type(array).__name__}") from None
    bad = ~np.isfinite(array)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"`{name}` must hold finite numbers. Received NaN or inf at index {first} "
            f"({int(bad.sum())} value(s) in all); fill or drop missing values first."
        )
    return array


def seed_everything(seed: int) -> None:
    """Seeds Python, numpy and the backend so a training run is repeatable on one machine."""
    keras.utils.set_random_seed(seed)


def environment() -> dict[str, str]:
    """Versions that a card records next to its metrics."""
    names = ("tensorflow", "keras", "numpy", "scikit-learn")
    return {"python": platform.python_version(), **{n: version(n) for n in names}}


def round_floats(value, digits: int = 4):
    """Metrics rounded for a card (nested dicts and lists kept)."""
    if isinstance(value, dict):
        return {k: round_floats(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [round_floats(v, digits) for v in value]
    if isinstance(value, float | np.floating):
        return round(float(value), digits)
    return value
