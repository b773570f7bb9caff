"""Fine-tuning the universal forecaster on a user's own series, through `zoo.training.Trainer`.

Every choice is made on the user's training data alone, by an inner split in time of each series
of n values: the last ``held = max(⌈holdout·n⌉, horizon + MIN_ORIGINS − 1)`` values are the
inner holdout, whose origins o = n − held, …, n − horizon (stride 1; each forecasts
``series[o:o + horizon]`` from ``series[:o]``) score a candidate by its MASE (season `period`,
scale from the values before the holdout); the first n − held values are the fit part.

1. The scale the model works in (`transform`: "none", or "log" when every value is > 0, so a
   band calibrated on earlier, lower values widens with the level; `transform.py`), the season
   removed before the network (`adjust_period`: `period`, or a longer natural season,
   `LONGER_SEASONS`: a week of hours) and the history read (`history`: the default, or the
   last `HISTORY_SEASONS` seasons, for a season that drifts). For each transform, the
   (season, history) pair with the lowest holdout MASE zero-shot; between the transforms, the
   one whose band does best on later windows: the band is calibrated (step 4) on the earlier
   half of each series' holdout origins and the mean pinball loss of the three quantiles on
   the later half, scaled as MASE, decides (it sees both the median's error, half the absolute
   error, and whether the band calibrated earlier still fits later).
2. Fine-tuning: `windows` (context, future) pairs cut from the fit part (`sample_windows`,
   seasonally adjusted and normalised as the pretrained corpus was), pinball loss of the three
   quantiles, Adam at `learning_rate`. After each epoch the holdout MASE is measured; the weights
   of the best epoch are kept — the pretrained ones when no epoch beats them (a short series is
   easily overfit) — and training stops after `patience` epochs without improvement.
3. Guard against the seasonal naive forecast: the quantiles move toward it by the weight of
   `NAIVE_WEIGHTS` with the lowest holdout MASE (`naive_blend.py`; 0 on a tie).
4. Band: split-conformal on the holdout windows of the kept weights, in the transformed scale
   (`calibration.py`: per-step scales of each side's distance to the median, finite-sample
   quantile, neighbouring steps pooled on a short series), so the 0.1–0.9 band covers about
   80 % of new windows. Static, or adaptive (`adaptive_band.py`: widened at forecast time by
   the misses of the last `RECENT_ORIGINS` origins before it), whichever band, calibrated on
   the earlier half of the holdout origins (as in step 1), covers a share of the later half's
   actuals nearer the nominal 80 % (static on a tie).

The result is a `TunedUniversalForecaster` (`tuned.py`) carrying the horizon, the transform,
the seasons and the band scales, so `zoo.predict`, `zoo.evaluate` and a saved `.keras` file
forecast alike.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import keras
import numpy as np

from zoo.models.common import forecast_scores as scores
from zoo.models.common.backtest import check_series
from zoo.models.common.runs import KeepBestWeights, open_run, trainer_folders
from zoo.models.universal.adaptive_band import RECENT_ORIGINS
from zoo.models.universal.calibration import band_scales
from zoo.models.universal.model import QUANTILES
from zoo.models.universal.recipe import CONFIG, pinball_loss
from zoo.models.universal.transform import TRANSFORMS, applicable, forward
from zoo.models.universal.tuned import (
    TunedUniversalForecaster,
    forecast_histories,
    season_adjusted,
    transformed_quantiles,
)
from zoo.models.universal.user_settings import user_settings
from zoo.models.universal.windows import CorpusSeries, sample_windows
from zoo.training import Trainer
from zoo.training.callbacks import Callback

__all__ = [
    "LONGER_SEASONS",
    "MIN_ORIGINS",
    "NAIVE_WEIGHTS",
    "fine_tune",
    "inner_split",
    "predict",
]

# Holdout origins per series at least (their windows calibrate the band).
MIN_ORIGINS = 20
# Seasons of history tried beside the default one (see tuned.py).
HISTORY_SEASONS = (5, 8)
# A longer season tried beside the user's: hourly data repeat by the week too.
LONGER_SEASONS = {24: 168, 48: 336}
# Weights toward the seasonal naive forecast tried after training (naive_blend.py).
NAIVE_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def inner_split(length: int, horizon: int, holdout: float) -> int:
    """The size of the fit part of a series of `length` values (see the module docstring)."""
    held = max(math.ceil(holdout * length), horizon + MIN_ORIGINS - 1)
    return length - held


class _HoldoutScore(Callback):
    """Writes the holdout MASE into the epoch logs ("holdout_mase"); stops after `patience`
    epochs without a new best."""

    def __init__(self, score, best: float, patience: int) -> None:
        super().__init__()
        self.score, self.best, self.patience, self.wait = score, best, patience, 0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        value = self.score()
        if logs is not None:
            logs["holdout_mase"] = value
        if value < self.best:
            self.best, self.wait = value, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.model.stop_training = True

    def get_state(self) -> dict:
        return {"best": self.best, "wait": self.wait}

    def set_state(self, state: dict) -> None:
        self.best, self.wait = float(state["best"]), int(state["wait"])


class _Holdout:
    """The inner-holdout windows of every series: histories, actuals, MASE scales, and which
    windows are in the earlier half of their series' origins."""

    def __init__(self, series: list[np.ndarray], horizon: int, holdout: float, period: int):
        self.histories, self.actual, self.scale, self.fit_parts = [], [], [], []
        self.early = []
        for values in series:
            n_fit = inner_split(len(values), horizon, holdout)
            self.fit_parts.append(values[:n_fit])
            scale = scores.seasonal_scale(values[:n_fit], period)
            origins = range(n_fit, len(values) - horizon + 1)
            for k, origin in enumerate(origins):
                self.histories.append(values[:origin])
                self.actual.append(values[origin : origin + horizon])
                self.scale.append(scale)
                self.early.append(k < len(origins) // 2)
        self.actual = np.asarray(self.actual)
        self.scale = np.asarray(self.scale)
        self.early = np.asarray(self.early)

    def forecasts(self, model) -> dict[str, np.ndarray]:
        return forecast_histories(model, self.histories)

    def mase(self, model) -> float:
        errors = np.abs(self.forecasts(model)["forecast"] - self.actual).mean(axis=1)
        return float(np.mean(errors / self.scale))

    def band_scales(self, model, windows=slice(None)) -> tuple[np.ndarray, np.ndarray]:
        """Split-conformal scales of the model's band, in its transformed scale, from the
        holdout `windows` (a slice or a boolean mask)."""
        transform = user_settings(model).get("transform", "none")
        q = transformed_quantiles(model, self.histories)
        return band_scales(forward(self.actual, transform)[windows], q[windows])

    def later_band(self, model, band_adapt: int = 0) -> np.ndarray:
        """(later windows, H, 3) quantiles, the band calibrated on the earlier half of the
        windows (module docstring, steps 1 and 4), static or adaptive (`band_adapt`)."""
        lower, upper = self.band_scales(model, self.early)
        banded = _with(model, band_lower=lower.tolist(), band_upper=upper.tolist(),
                       band_adapt=band_adapt)  # fmt: skip
        later = [h for h, early in zip(self.histories, self.early, strict=True) if not early]
        return forecast_histories(banded, later)["quantiles"]

    def coverage_gap(self, model, band_adapt: int = 0) -> float:
        """|c − 0.8|, c the share of the later windows' actuals inside the 0.1–0.9 band
        calibrated on the earlier half (`later_band`)."""
        q, actual = self.later_band(model, band_adapt), self.actual[~self.early]
        inside = (actual >= q[..., 0]) & (actual <= q[..., 2])
        return abs(float(np.mean(inside)) - (QUANTILES[2] - QUANTILES[0]))

    def banded_pinball(self, model) -> float:
        """The scaled pinball loss of the later windows' `later_band` (step 1)."""
        q = self.later_band(model)
        diff = self.actual[~self.early, :, None] - q
        levels = np.asarray(QUANTILES)
        loss = np.maximum(levels * diff, (levels - 1.0) * diff).mean(axis=(1, 2))
        return float(np.mean(loss / self.scale[~self.early]))


def _with(model: TunedUniversalForecaster, **settings) -> TunedUniversalForecaster:
    """A copy of the tuned `model` (its weights) with some of its settings replaced."""
    out = TunedUniversalForecaster(**{**model.builder_config, **settings}, name=model.name)
    out.set_weights(model.get_weights())
    return out


def _tuned(model: keras.Model, horizon: int, period: int, adjust_period: int, history: int = 0,
           transform: str = "none"):  # fmt: skip
    network = {k: v for k, v in model.builder_config.items() if k not in user_settings(model)}
    network.update(horizon=horizon, future_times=False)
    tuned = TunedUniversalForecaster(
        **network, period=period, adjust_period=adjust_period, history=history,
        transform=transform, name=model.name,
    )  # fmt: skip
    tuned.set_weights(model.get_weights())
    return tuned


def fine_tune(
    model: keras.Model,
    data,
    *,
    horizon: int | None = None,
    period: int | None = None,
    epochs: int = 8,
    learning_rate: float = 3e-4,
    windows: int = 1024,
    batch_size: int = 64,
    holdout: float = 0.2,
    patience: int = 2,
    freeze_backbone: bool = False,
    transforms: tuple[str, ...] | None = None,
    naive_weights: tuple[float, ...] = NAIVE_WEIGHTS,
    band_adapts: tuple[int, ...] = (0, RECENT_ORIGINS),
    window: int | None = None,
    seed: int = 0,
    run_dir: Path | None = None,
    verbose: int = 0,
) -> TunedUniversalForecaster:
    """Fine-tune the universal forecaster on the raw 1-D series `data` (or a list of them, one
    model over all) and calibrate its band (see the module docstring).

    Args:
        model: a `UniversalForecaster` (the preset, or an earlier fine-tune; left unchanged).
        data: a 1-D series or a list of them (finite values).
        horizon: steps to forecast (default: the model's).
        period: the series' season (default: the model's, else 1).
        epochs: most epochs of fine-tuning (0: zero-shot weights, calibrated band).
        learning_rate: Adam's step.
        windows: training windows (drawn once, reshuffled each epoch).
        batch_size: windows per step.
        holdout: least share of each series in the inner holdout.
        patience: epochs without a better holdout MASE before stopping.
        freeze_backbone: train the decoder and the quantile head only (the LSTM encoder and
            the scaler keep their pretrained weights).
        transforms: the transforms tried (default `TRANSFORMS`: "none", and "log" when every
            value is > 0); ("none",) keeps the series' own scale.
        naive_weights: the weights toward the seasonal naive forecast tried after training
            (step 3); (0.0,) keeps the network's forecast.
        band_adapts: the bands tried (step 4): 0 static, r > 0 adaptive over r earlier
            origins; (0,) keeps the static band.
        window: not applicable (the network reads up to `context_length` values, NaN-padded);
            anything but None is an error.
        seed: seeds the windows and the Trainer.
        run_dir: the run folder (checkpoints, logs, best weights; resumable).
        verbose: 1 shows the Trainer's progress bar.

    Returns:
        A new `TunedUniversalForecaster`.
    """
    settings = user_settings(model)
    config = model.builder_config
    horizon = int(horizon or config["horizon"])
    period = int(period or settings.get("period", 1))
    if horizon < 1 or period < 1:
        raise ValueError(
            f"`horizon` and `period` must be >= 1. Received: horizon={horizon}, period={period}"
        )
    if window is not None:
        raise ValueError(
            "`window` does not apply to the universal forecaster: it reads the last "
            f"{config['context_length']} values of any series. Received: window={window!r}"
        )
    if not 0 < holdout < 1:
        raise ValueError(f"`holdout` must be in (0, 1). Received: holdout={holdout!r}")
    many = isinstance(data, list | tuple) and np.ndim(getattr(data[0], "values", data[0])) > 0
    items = data if many else [data]
    least = horizon + MIN_ORIGINS - 1 + max(8, 2 * period)
    series = []
    for k, item in enumerate(items):
        values = check_series(getattr(item, "values", item), name="data", min_length=1)
        if len(values) < least:
            ident = getattr(item, "id", None)
            which = f"Series {ident if ident is not None else k!r} of `data`" if many else "`data`"
            raise ValueError(
                f"{which} must have at least {least} values to fine-tune: the inner holdout's "
                f"{MIN_ORIGINS} origins of horizon={horizon} steps ({horizon + MIN_ORIGINS - 1} "
                f"values) after a fit part of max(8, 2·period={period}). Received {len(values)}. "
                "Lower `horizon` (--horizon), or give a longer series."
            )
        series.append(values)
    held = _Holdout(series, horizon, holdout, period)
    seasons = [period]
    longer = LONGER_SEASONS.get(period)
    if longer and min(len(p) for p in held.fit_parts) >= 3 * longer:
        seasons.append(longer)
    best = {}
    for transform in TRANSFORMS if transforms is None else transforms:
        if not applicable(series, transform):
            continue
        tried = {(m, k * m if m > 1 else 0): 0.0 for m in seasons for k in (0, *HISTORY_SEASONS)}
        for m, history in tried:
            tried[m, history] = held.mase(_tuned(model, horizon, period, m, history, transform))
        pick = min(tried, key=tried.get)
        best[transform] = (*pick, tried[pick])
    if not best:
        raise ValueError(
            f"`transforms` must name one that fits the data (log needs values > 0). "
            f"Received: transforms={transforms!r}"
        )
    judged = {t: held.banded_pinball(_tuned(model, horizon, period, m, h, t))
              for t, (m, h, _) in best.items()}  # fmt: skip
    transform = min(judged, key=judged.get)
    adjust_period, history, zero_shot = best[transform]
    tuned = _tuned(model, horizon, period, adjust_period, history, transform)
    run = open_run(
        run_dir,
        {"fine_tune": model.name, "epochs": epochs, "learning_rate": learning_rate,
         "freeze_backbone": freeze_backbone,
         "horizon": horizon, "period": period, "adjust_period": adjust_period,
         "history": history, "transform": transform, "seed": seed,
         "values": [len(s) for s in series]},
    )  # fmt: skip
    if epochs > 0:
        corpus = [
            CorpusSeries(
                season_adjusted(forward(p, transform), adjust_period, transform), 1, "user"
            )
            for p in held.fit_parts
        ]
        x, y = sample_windows(
            corpus,
            {"user": 1.0},
            windows,
            context_length=config["context_length"],
            horizon=horizon,
            seed=seed,
        )
        with tempfile.TemporaryDirectory() as scratch:
            where = run.best_weights("fine_tune") if run else Path(scratch) / "best.weights.h5"
            keeper = KeepBestWeights(tuned, where, monitor="holdout_mase")
            keeper.best = min(keeper.best, zero_shot)
            pretrained = tuned.get_weights()
            if freeze_backbone:
                tuned.get_layer("encoder").trainable = False
            Trainer(
                model=tuned,
                optimizer=keras.optimizers.Adam(learning_rate),
                loss={"quantiles": pinball_loss},
                seed=seed,
                **trainer_folders(run, "fine_tune"),
            ).fit(
                (x, {"quantiles": y}),
                epochs=epochs,
                batch_size=batch_size,
                callbacks=[_HoldoutScore(lambda: held.mase(tuned), zero_shot, patience), keeper],
                resume=run is not None,
                verbose=verbose,
            )
            tuned.get_layer("encoder").trainable = True
            if keeper.restore() is None:
                tuned.set_weights(pretrained)
    # Ascending weights: a tie keeps the smaller move toward the naive forecast.
    blends = {w: held.mase(_with(tuned, naive_weight=w)) for w in sorted(naive_weights)}
    blended = _with(tuned, naive_weight=min(blends, key=blends.get))
    # Ascending: a tie keeps the static band (0).
    bands = {r: held.coverage_gap(blended, r) for r in sorted(band_adapts)}
    lower, upper = held.band_scales(blended)
    return _with(blended, band_lower=lower.tolist(), band_upper=upper.tolist(),
                 band_adapt=min(bands, key=bands.get))  # fmt: skip


def predict(model: keras.Model, data) -> dict[str, np.ndarray]:
    """The forecast of the model's horizon from the end of a raw 1-D series (a fine-tuned
    model with its seasons and calibrated band)."""
    values = check_series(data, name="data", min_length=1)
    out = forecast_histories(model, [values])
    return {"forecast": out["forecast"][0], "quantiles": out["quantiles"][0]}


def warmup_inputs(model: keras.Model, count: int = 3) -> dict[str, np.ndarray]:
    """The last contexts of a few M3 yearly series (the training corpus' validation part),
    NaN-left-padded as a client sends them."""
    from zoo.data.competitions import load_competition

    context = CONFIG["context_length"]
    batch = np.full((count, context), np.nan, dtype="float32")
    for row, series in enumerate(load_competition("m3", "yearly")[:count]):
        values = np.asarray(series.train, dtype="float32")[-context:]
        batch[row, context - len(values) :] = values
    return {"context": batch}
