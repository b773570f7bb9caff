"""Unsupervised baselines for the universal detector's benchmark, each fitted on the series it
scores (they need no training data; neither does the detector).

With m the series' baseline window (`LabelledSeries.window`), every baseline scores the
stride-1 windows of m points and a point takes the max over the windows that cover it
(`zoo.models.common.detection_scores.point_scores`):

- ``isolation_forest``: scikit-learn's IsolationForest (100 trees, seed 0) on the windows
  standardised by the series' mean and std; window score ``-score_samples``.
- ``lof``: scikit-learn's LocalOutlierFactor (20 neighbours) on the same windows; window score
  the negative outlier factor's opposite.
- ``matrix_profile``: the discord score of stumpy's matrix profile (z-normalised Euclidean
  distance of each window to its nearest non-trivial neighbour; the classic discord detector).
"""

from __future__ import annotations

import numpy as np

from zoo.models.common.detection_scores import point_scores

__all__ = ["BASELINES", "baseline_scores"]

BASELINES = ("isolation_forest", "lof", "matrix_profile")
MAX_WINDOWS_LOF = 20000


def _windows(values: np.ndarray, m: int) -> np.ndarray:
    standard = (values - values.mean()) / (values.std() or 1.0)
    return np.lib.stride_tricks.sliding_window_view(standard, m)


def _isolation_forest(values: np.ndarray, m: int) -> np.ndarray:
    from sklearn.ensemble import IsolationForest

    windows = _windows(values, m)
    return -IsolationForest(n_estimators=100, random_state=0).fit(windows).score_samples(windows)


def _lof(values: np.ndarray, m: int) -> np.ndarray:
    from sklearn.neighbors import LocalOutlierFactor

    lof = LocalOutlierFactor(n_neighbors=20)
    lof.fit(_windows(values, m))
    return -lof.negative_outlier_factor_


def _matrix_profile(values: np.ndarray, m: int) -> np.ndarray:
    import stumpy

    profile = stumpy.stump(values.astype("float64"), m)[:, 0].astype("float64")
    finite = np.isfinite(profile)
    return np.where(finite, profile, profile[finite].max() if finite.any() else 0.0)


def baseline_scores(values, window: int) -> dict[str, np.ndarray]:
    """{baseline name: point scores (n,)} for a 1-D series (see the module docstring)."""
    values = np.asarray(values, "float64")
    m = int(min(window, max(len(values) // 4, 4)))
    out = {}
    for name, scorer in (
        ("isolation_forest", _isolation_forest),
        ("lof", _lof),
        ("matrix_profile", _matrix_profile),
    ):
        out[name] = point_scores(scorer(values, m), m, len(values))
    return out
