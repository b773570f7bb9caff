"""Split-conformal calibration of a quantile band, one scale per side and per forecast step.

The model gives, for each held-out window i and step h, the quantiles q_lo ≤ q_med ≤ q_hi (levels
α_lo < 0.5 < α_hi) and the actual value y. Each side's score measures how far y falls from the
median in units of that side's half-width:

    r_lo[i, h] = (q_med − y) / (q_med − q_lo),        r_hi[i, h] = (y − q_med) / (q_hi − q_med)

(half-widths floored at `1e-6`·(|q_med| + 1), so a collapsed band gives large, finite scores). The
calibrated quantiles keep the median and rescale each half-width by λ ≥ 0:

    q_lo' = q_med − λ_lo[h]·(q_med − q_lo),            q_hi' = q_med + λ_hi[h]·(q_hi − q_med)

y < q_lo' exactly when r_lo > λ_lo. Taking λ_lo as the finite-sample conformal quantile of the
n scores at level 1 − α_lo,

    λ = s₍ₖ₎ (the k-th smallest score),  k = ⌈(n + 1)·(1 − α_lo)⌉

gives P(y_new < q_lo') ≤ α_lo for a new window exchangeable with the held-out ones (Vovk et al.
2005; Romano, Patterson & Candès 2019 for quantile bands), and likewise for the upper side, so the
calibrated band covers at least α_hi − α_lo. When k > n (too few scores for the level) the
largest score is used.

Per step: the spread of a forecast error grows with the step, and the model's band may grow
faster or slower than it does, so λ is fitted per step h. A short series holds few windows per
step, so the scores of neighbouring steps are pooled: step h uses the steps h − w … h + w (clipped
to the horizon) with the smallest w that gives at least `min_scores` scores (all steps when even
that is too few). With many windows each step stands alone.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["apply_band_scales", "band_scales", "conformal_quantile", "side_scores"]


def conformal_quantile(scores, level: float) -> float:
    """s₍ₖ₎ with k = ⌈(n + 1)·level⌉ of the finite `scores` (the largest when k > n)."""
    values = np.sort(np.asarray(scores, "float64").ravel())
    if not len(values):
        raise ValueError("`scores` must hold at least one value. Received an empty array")
    if not 0.0 < level < 1.0:
        raise ValueError(f"`level` must be in (0, 1). Received: level={level!r}")
    k = math.ceil((len(values) + 1) * level - 1e-9)
    return float(values[min(k, len(values)) - 1])


def side_scores(actual: np.ndarray, quantiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    low, mid, high = quantiles[..., 0], quantiles[..., 1], quantiles[..., 2]
    floor = 1e-6 * (np.abs(mid) + 1.0)
    return (
        (mid - actual) / np.maximum(mid - low, floor),
        (actual - mid) / np.maximum(high - mid, floor),
    )


def _pooled_steps(horizon: int, windows: int, min_scores: int) -> list[slice]:
    """For each step h, the slice h − w … h + w with the smallest w giving ≥ min_scores scores."""
    out = []
    for h in range(horizon):
        w = 0
        while (min(h + w, horizon - 1) - max(h - w, 0) + 1) * windows < min_scores and (
            h - w > 0 or h + w < horizon - 1
        ):
            w += 1
        out.append(slice(max(h - w, 0), min(h + w, horizon - 1) + 1))
    return out


def band_scales(
    actual,
    quantiles,
    levels=(0.1, 0.5, 0.9),
    *,
    min_scores: int = 40,
) -> tuple[np.ndarray, np.ndarray]:
    """(λ_lo (H,), λ_hi (H,)) from held-out windows (see the module docstring).

    Args:
        actual: (n, H) actual values of n held-out windows.
        quantiles: (n, H, 3) the model's quantiles at `levels` (low, median, high).
        levels: the three levels, low < 0.5 < high.
        min_scores: scores pooled per step at least (neighbouring steps join until reached).
    """
    actual = np.asarray(actual, "float64")
    quantiles = np.asarray(quantiles, "float64")
    if actual.ndim != 2 or quantiles.shape != (*actual.shape, 3):
        raise ValueError(
            "`actual` must be (n, H) and `quantiles` (n, H, 3). Received shapes "
            f"{actual.shape} and {quantiles.shape}"
        )
    if not levels[0] < 0.5 < levels[2]:
        raise ValueError(f"`levels` must be (low < 0.5, 0.5, high > 0.5). Received {levels!r}")
    r_lo, r_hi = side_scores(actual, quantiles)
    lower, upper = [], []
    for pool in _pooled_steps(actual.shape[1], actual.shape[0], int(min_scores)):
        lower.append(max(conformal_quantile(r_lo[:, pool], 1.0 - levels[0]), 0.0))
        upper.append(max(conformal_quantile(r_hi[:, pool], levels[2]), 0.0))
    return np.asarray(lower), np.asarray(upper)


def apply_band_scales(quantiles, lower, upper) -> np.ndarray:
    """(…, H, 3) quantiles with each half-width scaled by λ_lo/λ_hi of its step (H,)."""
    q = np.array(quantiles, "float64")
    mid = q[..., 1]
    q[..., 0] = mid - np.asarray(lower) * (mid - q[..., 0])
    q[..., 2] = mid + np.asarray(upper) * (q[..., 2] - mid)
    return q
