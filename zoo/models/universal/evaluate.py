"""Zero-shot evaluation of the universal forecaster on M1 and Tourism (never trained on).

For each of the six sets (M1 yearly/quarterly/monthly, Tourism yearly/quarterly/monthly) with its
official split, horizon and season m: the model forecasts every test part from its training
part; seasonal naive, AutoETS, AutoTheta and AutoARIMA (statsforecast) are refit on the same
training parts. Reported per set: MASE and weighted quantile loss (quantiles 0.1/0.5/0.9; the
statistical models' from their 80 % intervals); overall: the geometric mean over the six sets of
MASE relative to seasonal naive. The same function scores M3 (the validation split of training).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from zoo.data.competitions import BENCHMARK_SETS, load_competition
from zoo.models.universal import metrics
from zoo.models.universal.forecast import forecast

__all__ = ["BASELINES", "baseline_forecasts", "evaluate", "score_sets"]

BASELINES = ("SeasonalNaive", "AutoETS", "AutoTheta", "AutoARIMA")
LEVELS = (0.1, 0.5, 0.9)


def baseline_forecasts(series, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Point forecasts (n, h) and quantiles (n, h, 3) of one statsforecast model refit per series.

    The 0.1/0.9 quantiles are the bounds of the model's 80 % prediction interval, the 0.5 its
    point forecast.
    """
    import pandas as pd
    from statsforecast import StatsForecast
    from statsforecast import models as sf

    period, horizon = series[0].period, series[0].horizon
    model = {
        "SeasonalNaive": lambda: sf.SeasonalNaive(season_length=period),
        "AutoETS": lambda: sf.AutoETS(season_length=period),
        "AutoTheta": lambda: sf.AutoTheta(season_length=period),
        "AutoARIMA": lambda: sf.AutoARIMA(season_length=period),
    }[name]()
    frame = pd.concat(
        [
            pd.DataFrame({"unique_id": i, "ds": np.arange(len(s.train)), "y": s.train})
            for i, s in enumerate(series)
        ]
    )
    out = StatsForecast(models=[model], freq=1, n_jobs=1).forecast(df=frame, h=horizon, level=[80])
    out = out.sort_values(["unique_id", "ds"])
    shape = (len(series), horizon)
    point = out[name].to_numpy().reshape(shape)
    low = out[f"{name}-lo-80"].to_numpy().reshape(shape)
    high = out[f"{name}-hi-80"].to_numpy().reshape(shape)
    return point, np.stack([low, point, high], axis=-1)


def _score(series, point, quantiles) -> dict:
    tests = np.stack([s.test for s in series])
    return {
        "mase": metrics.mase([s.train for s in series], tests, point, series[0].period),
        "wql": metrics.weighted_quantile_loss(tests, quantiles, LEVELS),
    }


def score_sets(
    model,
    sets=BENCHMARK_SETS,
    *,
    baselines=BASELINES,
    cache_dir: str | Path | None = None,
    verbose: int = 1,
    keep=None,
) -> dict:
    """{"sets": {set: {method: {mase, wql}}}, "relative_mase": {method: geometric mean}}.

    `model` may be None (baselines only). `cache_dir` keeps baseline figures between calls (they
    do not depend on the model); None recomputes them. `keep(series) -> bool` filters series.
    """
    from keras.utils import Progbar

    results: dict = {}
    steps = len(sets) * (len(baselines) + (model is not None))
    bar = Progbar(steps, verbose=verbose, unit_name="fit")
    for competition, frequency in sets:
        key = f"{competition}_{frequency}"
        series = [s for s in load_competition(competition, frequency) if keep is None or keep(s)]
        entry = results.setdefault(key, {})
        if model is not None:
            out = forecast(
                model, [s.train for s in series], series[0].horizon, period=series[0].period
            )
            entry["forecaster_universal"] = _score(series, out["forecast"], out["quantiles"])
            bar.add(1)
        for name in baselines:
            cached = Path(cache_dir) / f"{key}_{name}.json" if cache_dir else None
            if cached is not None and cached.exists():
                entry[name] = json.loads(cached.read_text())
            else:
                entry[name] = _score(series, *baseline_forecasts(series, name))
                if cached is not None:
                    cached.parent.mkdir(parents=True, exist_ok=True)
                    cached.write_text(json.dumps(entry[name]))
            bar.add(1)
    methods = [m for m in next(iter(results.values())) if m != "SeasonalNaive"]
    relative = {
        m: metrics.geometric_mean(
            [r[m]["mase"] / r["SeasonalNaive"]["mase"] for r in results.values()]
        )
        for m in methods
    }
    return {"sets": results, "relative_mase": relative}


def evaluate(model, *, cache_dir: str | Path | None = None, verbose: int = 1) -> dict:
    """The card's figures: zero-shot on the six M1/Tourism sets, beside the refit baselines."""
    return score_sets(model, BENCHMARK_SETS, cache_dir=cache_dir, verbose=verbose)
