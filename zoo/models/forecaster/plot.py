"""The forecasters' pictures: forecasts at rolling origins with their 0.1–0.9 band, against the
actual values (matplotlib, Agg backend, PNG)."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from zoo.models.common.backtest import backtest
from zoo.models.forecaster.baselines import PROTOCOLS
from zoo.models.forecaster.evaluate import series

__all__ = ["plot_backtest", "plot_co2", "plot_sunspots"]


def plot_backtest(
    model: keras.Model,
    series,
    path: str | Path,
    *,
    start: int,
    stride: int,
    context: int | None = None,
    title: str = "",
) -> Path:
    """Plot the series and the model's forecasts at origins `range(start, …, stride)` as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = np.asarray(series, "float64")
    frame = backtest(model, values, start, stride)
    context = len(values) - start if context is None else context
    first = max(0, start - context)
    fig, ax = plt.subplots(figsize=(11, 4.5))
    ax.plot(np.arange(first, len(values)), values[first:], color="black", lw=1.0, label="actual")
    for k, (origin, rows) in enumerate(frame.groupby("origin")):
        idx = rows["index"].to_numpy()
        ax.fill_between(
            idx,
            rows["q0.1"],
            rows["q0.9"],
            color="tab:blue",
            alpha=0.2,
            lw=0,
            label="0.1–0.9 band" if k == 0 else None,
        )
        ax.plot(
            idx, rows["forecast"], color="tab:red", lw=1.2, label="forecast" if k == 0 else None
        )
        ax.axvline(origin, color="grey", lw=0.5, ls=":")
    ax.axvline(start, color="grey", lw=1.0, label="first origin")
    ax.set_xlabel("time step")
    ax.set_title(title)
    ax.legend(loc="upper left")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_preset(data: str, model: keras.Model, path: Path) -> Path:
    """The preset's test part: forecasts every `horizon` steps from the first test origin."""
    values = series(data)
    protocol = PROTOCOLS[data]
    return plot_backtest(
        model,
        values,
        path,
        start=protocol.n_train(len(values)),
        stride=protocol.horizon,
        title=f"{data}: rolling-origin forecasts on the test part (0.1–0.9 band)",
    )


def plot_co2(model: keras.Model, path: Path) -> Path:
    return plot_preset("co2", model, path)


def plot_sunspots(model: keras.Model, path: Path) -> Path:
    return plot_preset("sunspots", model, path)
