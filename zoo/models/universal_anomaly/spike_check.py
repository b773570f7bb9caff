"""Checks of a universal detector beside the shipped one: the validation groups at the detector's
own stored threshold, and spikes of k noise units in four kinds of series.

`group_scores(model)` → {group: (ROC-AUC, PR-AUC, F1 at the threshold)}, means over the
validation series of `validation.validation_set` (the five groups), each scored by the whole
detector (`model.point_scores`), flags at its stored threshold.

`spike_table(model)` → {(kind, k): (spikes flagged of len(SPIKE_PLACES), false flags)}: a spike
of k noise units (k innovations for AR(1) and the random walk) added at each of SPIKE_PLACES of
a 3000-point series of each of `spike_series`' kinds (white noise, AR(1) with φ = 0.8, a random
walk, a period-100 sine of amplitude 5 plus unit noise); a false flag is a flag farther than 2
points from the spike.
"""

from __future__ import annotations

import numpy as np

from zoo.models.common.detection_scores import average_precision, roc_auc
from zoo.models.universal_anomaly.model import get_threshold, point_scores
from zoo.models.universal_anomaly.validation import f1_of_flags, validation_set

__all__ = ["SPIKES", "SPIKE_PLACES", "group_scores", "spike_series", "spike_table"]

SPIKES = (4, 6, 8, 10, 12, 20)
SPIKE_PLACES = (700, 1500, 2300)


def group_scores(model) -> dict[str, np.ndarray]:
    """{group: mean (ROC-AUC, PR-AUC, F1 of the flags at the stored threshold)}."""
    threshold = get_threshold(model)
    groups: dict[str, list] = {}
    for item in validation_set():
        score = point_scores(model, item.values)
        row = (
            roc_auc(item.labels, score),
            average_precision(item.labels, score),
            f1_of_flags(item.labels, score > threshold),
        )
        groups.setdefault(item.group, []).append(row)
    return {g: np.mean(rows, axis=0) for g, rows in groups.items()}


def spike_series(n: int = 3000) -> dict[str, np.ndarray]:
    """Four normal series of `n` points with unit noise (seed 0)."""
    rng = np.random.default_rng(0)
    noise = rng.normal(size=n)
    ar = np.zeros(n)
    for t in range(1, n):
        ar[t] = 0.8 * ar[t - 1] + noise[t]
    return {
        "white": noise,
        "ar1": ar,
        "walk": np.cumsum(noise),
        "sine": 5 * np.sin(2 * np.pi * np.arange(n) / 100) + noise,
    }


def spike_table(model, spikes=SPIKES) -> dict[tuple[str, int], tuple[int, int]]:
    """{(kind, k): (spikes flagged, false flags)}, one spike at a time."""
    threshold = get_threshold(model)
    table = {}
    for name, x in spike_series().items():
        for k in spikes:
            hits = false = 0
            for place in SPIKE_PLACES:
                y = x.copy()
                y[place] += k
                flags = point_scores(model, y) > threshold
                hits += int(flags[place])
                near = np.zeros_like(flags)
                near[place - 2 : place + 3] = True
                false += int(np.sum(flags & ~near))
            table[(name, k)] = (hits, false)
    return table
