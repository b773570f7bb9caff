"""The universal forecaster fine-tuned on a user's series, and its forecasts from any history.

A `TunedUniversalForecaster` is the `UniversalForecaster` network (its `horizon` the user's) plus
what was fitted on the user's data and travels in its config (so a `.keras` file keeps it):

- `period`: the season of the user's series (MASE and the baselines use it);
- `adjust_period`: the season removed before the network reads the series (classical
  decomposition, `seasonality.py`); it may be a longer season than `period` (a week of hours);
- `history`: how many of the last values are read, for the seasonal index and as the network's
  context (0: max(context_length, `SEASONS`·adjust_period) for the index, the last
  `context_length` as context);
- `band_lower`, `band_upper`: per-step scales of the 0.1 and 0.9 quantiles' distances to the
  median (split-conformal, `calibration.py`).

`forecast_histories(model, histories)` is the whole forecast: adjust each history by the seasonal
index fitted on its last `history` values (by default max(context_length, `SEASONS`·adjust_period):
several seasons, also when the network reads fewer values than that), run the network on the
last `context_length` (at most `history`) adjusted values, put the season back on its
quantiles, then apply the band scales. A plain `UniversalForecaster` gets the same without band
scales, with `period` given.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from zoo.models.universal.calibration import apply_band_scales
from zoo.models.universal.forecast import _run
from zoo.models.universal.model import UniversalForecaster
from zoo.models.universal.seasonality import fit_seasonal_index
from zoo.models.universal.user_settings import SEASONS, user_settings

__all__ = ["TunedUniversalForecaster", "forecast_histories"]


@keras.saving.register_keras_serializable(package="zoo")
class TunedUniversalForecaster(UniversalForecaster):
    """`UniversalForecaster` with the settings fitted on a user's series (module docstring).

    Args:
        period: the user's season (>= 1).
        adjust_period: the season removed before the network (>= 1; 1 = none).
        history: the last values read (>= 0; 0 = the default above).
        band_lower: `horizon` scales (>= 0) of the 0.1 quantile's distance to the median.
        band_upper: likewise for the 0.9 quantile.
        **config: the `UniversalForecaster` arguments.
    """

    def __init__(
        self,
        *,
        period: int = 1,
        adjust_period: int = 1,
        history: int = 0,
        band_lower: Sequence[float] | None = None,
        band_upper: Sequence[float] | None = None,
        **config,
    ) -> None:
        super().__init__(**config)
        horizon = self.builder_config["horizon"]
        for arg, value, low in (("period", period, 1), ("adjust_period", adjust_period, 1),
                                ("history", history, 0)):  # fmt: skip
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
                raise ValueError(f"`{arg}` must be an integer >= {low}. Received: {arg}={value!r}")
        bands = {}
        for arg, value in (("band_lower", band_lower), ("band_upper", band_upper)):
            scales = [1.0] * horizon if value is None else [float(v) for v in value]
            if len(scales) != horizon or not all(np.isfinite(scales)) or min(scales) < 0:
                raise ValueError(
                    f"`{arg}` must hold `horizon`={horizon} finite scales >= 0. Received: "
                    f"{arg}={value!r}"
                )
            bands[arg] = scales
        self._builder_config.update(
            {"period": int(period), "adjust_period": int(adjust_period), "history": int(history)}
            | bands
        )

    def served_model(self, period: int | None = None) -> keras.Model:
        """What `zoo export FILE.keras` exports for this model: the season, history and band
        scales inside the graph (`zoo.models.universal.served.served_forecaster`), so the
        SavedModel answers as `zoo.predict` does. `period` must be None (the model has its own)."""
        from zoo.models.universal.served import served_forecaster

        return served_forecaster(self, period=period)


def _adjusted(values: np.ndarray, context_length: int, period: int, history: int = 0):
    """(the last `context_length` adjusted values, the index or None, its position offset)."""
    tail = np.asarray(values, "float64")[-(history or max(context_length, SEASONS * period)) :]
    index = fit_seasonal_index(tail, period) if period > 1 else None
    adjusted = tail if index is None else index.adjust(tail)
    return adjusted[-context_length:], index, len(tail)


def forecast_histories(
    model: keras.Model, histories: Sequence[np.ndarray], period: int | None = None
) -> dict[str, np.ndarray]:
    """{"forecast" (n, H), "quantiles" (n, H, 3)} from the end of each 1-D finite history.

    H is the model's `horizon`; the season removed is the model's `adjust_period` (a plain
    `UniversalForecaster`: `period`, default none).
    """
    config = model.builder_config
    settings = user_settings(model)
    season = int(settings.get("adjust_period", period or 1))
    horizon = int(config["horizon"])
    length, history = int(config["context_length"]), int(settings.get("history", 0))
    prepared = [_adjusted(h, length, season, history) for h in histories]
    q = _run(model, [c for c, _, _ in prepared], horizon, 256)
    for i, (_, index, end) in enumerate(prepared):
        if index is not None:
            q[i] = index.restore(q[i].T, start=end).T
    if settings:
        q = apply_band_scales(q, settings["band_lower"], settings["band_upper"])
    return {"forecast": q[..., 1], "quantiles": q}
