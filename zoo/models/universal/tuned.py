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
  median (split-conformal, `calibration.py`);
- `transform`: "none", or "log" to work on z = log y (`transform.py`; the season removed from z
  is then additive);
- `naive_weight`: w ∈ [0, 1], how far the quantiles move toward the seasonal naive forecast
  (`naive_blend.py`);
- `band_adapt`: r, the earlier origins whose misses widen the band at forecast time
  (`adaptive_band.py`; 0, the default and what older files load as: the static band).

`forecast_histories(model, histories)` is the whole forecast: transform each history, adjust it
by the seasonal index fitted on its last `history` values (by default max(context_length,
`SEASONS`·adjust_period): several seasons, also when the network reads fewer values than that),
run the network on the last `context_length` (at most `history`) adjusted values, put the season
back on its quantiles, move them toward the seasonal naive forecast by `naive_weight`
(`transformed_quantiles` stops here), apply the band scales (widened by the recent misses
when `band_adapt` > 0), and map the
quantiles back (exp for "log"). A plain `UniversalForecaster` gets the same without transform
or band scales, with `period` given.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from zoo.models.universal.adaptive_band import recent_origins, widening
from zoo.models.universal.calibration import apply_band_scales
from zoo.models.universal.forecast import _run, prepare_context
from zoo.models.universal.model import UniversalForecaster
from zoo.models.universal.naive_blend import seasonal_naive, shift_toward_naive
from zoo.models.universal.seasonality import fit_seasonal_index
from zoo.models.universal.transform import check_transform, forward, inverse
from zoo.models.universal.user_settings import user_settings

__all__ = [
    "TunedUniversalForecaster",
    "forecast_histories",
    "transformed_quantiles",
    "tuned_quantiles",
]


@keras.saving.register_keras_serializable(package="zoo")
class TunedUniversalForecaster(UniversalForecaster):
    """`UniversalForecaster` with the settings fitted on a user's series (module docstring).

    Args:
        period: the user's season (>= 1).
        adjust_period: the season removed before the network (>= 1; 1 = none).
        history: the last values read (>= 0; 0 = the default above).
        band_lower: `horizon` scales (>= 0) of the 0.1 quantile's distance to the median.
        band_upper: likewise for the 0.9 quantile.
        transform: "none" or "log" (the scale the model works in; `transform.py`).
        naive_weight: w in [0, 1] toward the seasonal naive forecast (`naive_blend.py`).
        band_adapt: r >= 0 earlier origins that widen the band (`adaptive_band.py`; 0: static).
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
        transform: str = "none",
        naive_weight: float = 0.0,
        band_adapt: int = 0,
        **config,
    ) -> None:
        super().__init__(**config)
        horizon = self.builder_config["horizon"]
        for arg, value, low in (("period", period, 1), ("adjust_period", adjust_period, 1),
                                ("history", history, 0),
                                ("band_adapt", band_adapt, 0)):  # fmt: skip
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
        if isinstance(naive_weight, bool) or not 0.0 <= float(naive_weight) <= 1.0:
            raise ValueError(
                f"`naive_weight` must be in [0, 1]. Received: naive_weight={naive_weight!r}"
            )
        self._builder_config.update(
            {"period": int(period), "adjust_period": int(adjust_period), "history": int(history)}
            | bands
            | {"transform": check_transform(transform), "naive_weight": float(naive_weight)}
            | {"band_adapt": int(band_adapt)}
        )

    def served_model(self, period: int | None = None) -> keras.Model:
        """What `zoo export FILE.keras` exports for this model: the season, history and band
        scales inside the graph (`zoo.models.universal.served.served_forecaster`), so the
        SavedModel answers as `zoo.predict` does. `period` must be None (the model has its own)."""
        from zoo.models.universal.served import served_forecaster

        return served_forecaster(self, period=period)


def season_adjusted(z: np.ndarray, period: int, transform: str = "none") -> np.ndarray:
    """The transformed series `z` without the season of its whole length (fine-tuning windows:
    the index as `prepare_context` fits it, additive in the log scale)."""
    index = fit_seasonal_index(z, period, transform == "none") if period > 1 else None
    return z if index is None else index.adjust(z)


def transformed_quantiles(
    model: keras.Model,
    histories: Sequence[np.ndarray],
    period: int | Sequence[int] | None = None,
    horizon: int | None = None,
) -> np.ndarray:
    """(n, H, 3) quantiles in the model's transformed scale, season restored, band not scaled.

    H is `horizon` for a plain `UniversalForecaster` (default: its own) and the model's own
    `horizon` for a fine-tuned one (its band scales are per step); the season removed is the
    model's `adjust_period` (a plain `UniversalForecaster`: `period`, one for every history or
    one per history; default none).
    """
    config = model.builder_config
    settings = user_settings(model)
    if "adjust_period" in settings or period is None or np.ndim(period) == 0:
        season = int(settings.get("adjust_period", period or 1))
        seasons = [season] * len(histories)
    else:
        seasons = [int(p or 1) for p in period]
    transform = settings.get("transform", "none")
    horizon = int(horizon if horizon is not None and not settings else config["horizon"])
    length, history = int(config["context_length"]), int(settings.get("history", 0))
    z = [forward(h, transform) for h in histories]
    prepared = [
        prepare_context(h, length, m, history, transform == "none")
        for h, m in zip(z, seasons, strict=True)
    ]
    q = _run(model, [c for c, _, _ in prepared], horizon, 256)
    for i, (_, index, end) in enumerate(prepared):
        if index is not None:
            q[i] = index.restore(q[i].T, start=end).T
    weight = float(settings.get("naive_weight", 0.0))
    if weight > 0:
        q = shift_toward_naive(q, seasonal_naive(z, int(settings["period"]), horizon), weight)
    return q


def forecast_histories(
    model: keras.Model,
    histories: Sequence[np.ndarray],
    period: int | Sequence[int] | None = None,
    horizon: int | None = None,
) -> dict[str, np.ndarray]:
    """{"forecast" (n, H), "quantiles" (n, H, 3)} from the end of each 1-D finite history
    (`transformed_quantiles`, band scales, back to the series' scale); H as there."""
    settings = user_settings(model)
    q = transformed_quantiles(model, histories, period, horizon)
    if settings:
        lower, upper = np.asarray(settings["band_lower"]), np.asarray(settings["band_upper"])
        recent = int(settings.get("band_adapt", 0))
        factor = np.ones(len(q))
        if recent > 0:
            # the earlier histories raw (transformed_quantiles transforms them), actuals in z
            subs, _, valid = recent_origins(histories, q.shape[1], recent)
            z = [forward(h, settings["transform"]) for h in histories]
            _, actual, _ = recent_origins(z, q.shape[1], recent)
            earlier = transformed_quantiles(model, subs).reshape(*actual.shape, 3)
            factor = widening(actual, earlier, lower, upper, valid)
        q = apply_band_scales(q, factor[:, None] * lower, factor[:, None] * upper)
    q = inverse(q, settings.get("transform", "none"))
    return {"forecast": q[..., 1], "quantiles": q}


def tuned_quantiles(model, arrays: list[np.ndarray], period, horizon: int) -> np.ndarray:
    """(n, horizon, 3) quantiles of a fine-tuned universal forecaster, as `zoo predict` gives
    them (`tuned.forecast_histories`: its season, scale and per-step band); at most its own
    horizon, with its own season (another `period` is an error that says so)."""
    settings, own = user_settings(model), int(model.builder_config["horizon"])
    if horizon > own:
        raise ValueError(
            f"`horizon` must be at most this fine-tuned model's {own} steps (its band is "
            f"calibrated per step). Received: horizon={horizon}. Fine-tune it with a longer "
            "horizon, or use the zero-shot forecaster_universal, which forecasts any."
        )
    if period is not None and int(period) != int(settings["period"]):
        raise ValueError(
            f"`period` must be this fine-tuned model's own season {settings['period']} (or None). "
            f"Received: period={period}. Fine-tune it with the other season to change it."
        )
    histories = []
    for k, values in enumerate(arrays):
        values = values[np.flatnonzero(np.isfinite(values))[0] :]
        if not np.isfinite(values).all():
            raise ValueError(
                "`series` must have no missing values after its first one for a fine-tuned "
                f"forecaster. Series {k} has NaN at row {int(np.flatnonzero(np.isnan(values))[0])} "
                "of its observed part; give a DataFrame with ds to have gaps filled."
            )
        histories.append(values)
    return forecast_histories(model, histories)["quantiles"][:, :horizon]
