"""Pictures any model's results can use (matplotlib, Agg backend, PNG): forecasts with their
band against the actual values, and anomaly scores with the threshold and the flagged points.

Both take what the model-free pieces produce: :func:`plot_forecasts` the ``frame`` of
:func:`zoo.models.common.rolling_origin.rolling_origin` (or any table with ``index``/``ds``,
``origin``, ``forecast`` and ``q<low>``/``q<high>`` columns); :func:`plot_scores` point-wise scores.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["plot_forecasts", "plot_scores"]


def _figure(rows: int):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(rows, 1, figsize=(11, 3.2 * rows + 1), sharex=True, squeeze=False)
    return plt, fig, axes[:, 0]


def _save(plt, fig, path) -> Path:
    """Write `fig` as a PNG at `path` (parents created) and free it, also when writing fails."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fig.tight_layout()
        fig.savefig(target, dpi=110)
    finally:
        plt.close(fig)
    return target


def plot_forecasts(
    values,
    frame: pd.DataFrame,
    path: str | Path,
    *,
    timestamps=None,
    band: tuple[str, str] = ("q0.1", "q0.9"),
    baseline: str | None = None,
    context: int | None = None,
    title: str = "",
) -> Path:
    """One series and its forecasts at every origin of `frame`, with the band, as a PNG.

    Args:
        values: (n,) the series' values.
        frame: rows of one series: ``origin``, ``index`` (position of the forecast value),
            ``forecast`` and the two `band` columns (drawn when present).
        path: where to write the PNG (folders are created).
        timestamps: optional (n,) time stamps for the x axis (else positions).
        baseline: also draw this baseline's point forecast column (e.g. "ets").
        context: values shown before the first origin (default: as many as the test part).
    """
    y = np.asarray(values, "float64")
    x = np.arange(len(y)) if timestamps is None else np.asarray(timestamps)
    first_origin = int(frame["origin"].min())
    shown = len(y) - first_origin if context is None else int(context)
    begin = max(0, first_origin - shown)
    plt, fig, (ax,) = _figure(1)
    ax.plot(x[begin:], y[begin:], color="black", lw=1.0, label="actual")
    for k, (origin, rows) in enumerate(frame.groupby("origin", sort=True)):
        at = x[rows["index"].to_numpy()]
        first = k == 0
        if set(band) <= set(rows.columns):
            ax.fill_between(
                at,
                rows[band[0]],
                rows[band[1]],
                color="tab:blue",
                alpha=0.18,
                lw=0,
                label=f"{band[0][1:]}–{band[1][1:]} band" if first else None,
            )
        ax.plot(at, rows["forecast"], color="tab:red", lw=1.1, label="forecast" if first else None)
        if baseline is not None:
            ax.plot(
                at,
                rows[baseline],
                color="tab:green",
                lw=0.9,
                ls="--",
                label=baseline if first else None,
            )
        ax.axvline(x[origin], color="grey", lw=0.4, ls=":")
    ax.set_title(title)
    ax.legend(loc="upper left")
    return _save(plt, fig, path)


def plot_scores(
    values,
    scores,
    threshold: float,
    path: str | Path,
    *,
    timestamps=None,
    labels=None,
    title: str = "",
) -> Path:
    """The series with flagged points (score > threshold) above, the scores and threshold below.

    `labels` (1 = anomaly), when given, are shaded on both panels so misses and false alarms show.
    """
    y = np.asarray(values, "float64")
    s = np.asarray(scores, "float64")
    x = np.arange(len(y)) if timestamps is None else np.asarray(timestamps)
    flagged = s > float(threshold)
    plt, fig, (top, bottom) = _figure(2)
    top.plot(x, y, color="black", lw=0.8, label="value")
    top.scatter(
        x[flagged],
        y[flagged],
        color="tab:red",
        s=10,
        zorder=3,
        label=f"flagged ({int(flagged.sum())})",
    )
    bottom.plot(x, s, color="tab:blue", lw=0.8, label="score")
    bottom.axhline(float(threshold), color="tab:red", lw=1.0, ls="--", label="threshold")
    if labels is not None:
        marked = np.asarray(labels).astype(bool)
        for ax in (top, bottom):
            low, high = ax.get_ylim()
            ax.fill_between(
                x,
                low,
                high,
                where=marked,
                color="orange",
                alpha=0.25,
                lw=0,
                label="labelled anomaly" if ax is top else None,
            )
            ax.set_ylim(low, high)
    top.set_title(title)
    top.legend(loc="upper left")
    bottom.legend(loc="upper left")
    return _save(plt, fig, path)
