"""integral-zoo: a Keras 3 / TensorFlow model zoo built on calculus.

`import zoo` is cheap: it imports neither Keras nor TensorFlow. The public functions below are
imported on first use, and zoo's Keras custom objects are registered as soon as Keras is imported
(before or after zoo), so `keras.saving.load_model` finds them in any process that imported zoo.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from zoo import _registration

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "backtest",
    "build",
    "detect",
    "evaluate",
    "export",
    "fine_tune",
    "forecast",
    "infer_threshold",
    "info",
    "list_models",
    "load",
    "plot",
    "predict",
    "predictor",
    "read_series",
    "register_custom_objects",
]

# Public name -> the module that defines it (imported when the name is first used).
_PUBLIC = {
    "backtest": "zoo.own_data",
    "build": "zoo.registry",
    "detect": "zoo.own_data",
    "evaluate": "zoo.own_data",
    "export": "zoo.serving",
    "fine_tune": "zoo.own_data",
    "infer_threshold": "zoo.models.anomaly.model",
    "info": "zoo.registry",
    "list_models": "zoo.registry",
    "load": "zoo.registry",
    "plot": "zoo.own_data",
    "predict": "zoo.own_data",
    "read_series": "zoo.own_data",
    "predictor": "zoo.models.common.predictor",
}

if TYPE_CHECKING:
    from zoo.models.anomaly.model import infer_threshold
    from zoo.models.common.predictor import predictor
    from zoo.own_data import backtest, detect, evaluate, fine_tune, plot, predict, read_series
    from zoo.registry import build, info, list_models, load
    from zoo.serving import export


def forecast(model, series, horizon: int, *, period=None, quantiles=(0.1, 0.5, 0.9)):
    """Forecasts of `horizon` steps from the end of each series, with no training.

    `model` is a name (e.g. "forecaster_universal", loaded with its checksums checked), a
    `.keras` file or a loaded universal forecaster (a fine-tuned one forecasts with its own
    season, scale and band, up to its own horizon, as `zoo predict` does); `series` a 1-D
    array, a list of 1-D arrays of any lengths, a long `unique_id, ds, y` DataFrame (one series
    without `unique_id`) or a pandas Series with a DatetimeIndex. Returns {"forecast": (n,
    horizon), "quantiles": (n, horizon, len(quantiles))} (a DataFrame when given one). See
    `zoo.models.universal.forecast.forecast`.
    """
    from zoo.models.universal.forecast import forecast as universal_forecast
    from zoo.own_data import load_model

    model = load_model(model, shared=True)
    if type(model).__name__ not in ("UniversalForecaster", "TunedUniversalForecaster"):
        raise ValueError(
            "`zoo.forecast` takes forecaster_universal or a model fine-tuned from it. Received "
            f"{type(model).__name__} {getattr(model, 'name', '')!r}: use zoo.predict(model, "
            "data, column, ...) for the other forecasters and zoo.detect for detectors."
        )
    quantile_fn = None
    if type(model).__name__ == "TunedUniversalForecaster":  # its own season, scale and band
        from zoo.models.universal.tuned import tuned_quantiles

        def quantile_fn(arrays, steps):
            return tuned_quantiles(model, arrays, period, steps)

    return universal_forecast(
        model, series, horizon, period=period, quantiles=quantiles, quantile_fn=quantile_fn
    )


def register_custom_objects() -> None:
    """Register every Keras custom object of the zoo now (imports Keras and TensorFlow)."""
    _registration.register_now()


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


_registration.install()
