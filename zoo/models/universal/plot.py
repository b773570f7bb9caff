"""The universal forecaster's picture: one held-out series of each benchmark set, zero-shot."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoo.data.competitions import BENCHMARK_SETS, load_competition
from zoo.models.universal.forecast import forecast

__all__ = ["plot"]


def plot(model, path: str | Path, *, series_index: int = 0) -> Path:
    """A 2×3 PNG: history, test part, forecast and 0.1–0.9 band of one series per set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(2, 3, figsize=(14, 7))
    for ax, (competition, frequency) in zip(axes.ravel(), BENCHMARK_SETS, strict=True):
        s = load_competition(competition, frequency)[series_index]
        out = forecast(model, s.train, s.horizon, period=s.period)
        n = len(s.train)
        future = np.arange(n, n + s.horizon)
        ax.plot(np.arange(n), s.train, color="black", lw=1.0, label="history")
        ax.plot(future, s.test, color="black", lw=1.0, ls="--", label="actual (held out)")
        band = out["quantiles"][0]
        ax.fill_between(future, band[:, 0], band[:, -1], color="tab:blue", alpha=0.25, lw=0)
        ax.plot(future, out["forecast"][0], color="tab:red", lw=1.2, label="forecast")
        ax.set_title(f"{competition.upper()} {frequency} {s.name} (h={s.horizon})")
    axes[0, 0].legend(loc="upper left", fontsize=8)
    fig.suptitle("forecaster_universal, zero-shot (band: 0.1–0.9 quantiles)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
