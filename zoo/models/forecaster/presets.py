"""The registry entries of the forecaster family, as data (no Keras import)."""

from zoo.models.common.preset import Preset

CUSTOM_OBJECT_MODULES = ("zoo.models.forecaster.layers", "zoo.models.forecaster.model")

_COMMON = {
    "family": "forecaster",
    "task": "forecasting",
    "builder": "zoo.models.forecaster.model:build_forecaster",
    "predict": "zoo.models.forecaster.model:predict",
    "fine_tune": "zoo.models.forecaster.recipe:fine_tune",
    "signatures": {"forecast": ("forecast",), "quantiles": ("quantiles",)},
}

PRESETS = [
    Preset(
        name="forecaster_co2",
        summary="Weekly Mauna Loa CO2 (ppm): 52-week forecast + 0.1/0.5/0.9 quantiles, "
        "LSTM + integral",
        recipe="zoo.models.forecaster.recipe:train_co2",
        evaluation="zoo.models.forecaster.evaluate:evaluate_co2",
        plot="zoo.models.forecaster.plot:plot_co2",
        data="zoo.data.statsmodels_series:co2_weekly",
        warmup="zoo.models.forecaster.evaluate:warmup_co2",
        config={
            "window": 260,
            "horizon": 52,
            "period": 52,
            "level_steps": 52,
            "scale": 2.6,
            "band_scale": 1.0,
            "lstm_steps": 104,
            "units": 32,
            "members": 3,
            "dropout": 0.0,
        },
        **_COMMON,
    ),
    Preset(
        name="forecaster_sunspots",
        summary="Yearly sunspot number, 11-year forecast + 0.1/0.5/0.9 quantiles; "
        "LSTM + integral head",
        recipe="zoo.models.forecaster.recipe:train_sunspots",
        evaluation="zoo.models.forecaster.evaluate:evaluate_sunspots",
        plot="zoo.models.forecaster.plot:plot_sunspots",
        data="zoo.data.statsmodels_series:sunspots_yearly",
        warmup="zoo.models.forecaster.evaluate:warmup_sunspots",
        config={
            "window": 22,
            "horizon": 11,
            "period": 0,
            "level_steps": 11,
            "scale": 40.0,
            "band_scale": 1.0,
            "lstm_steps": 22,
            "units": 16,
            "members": 3,
            "dropout": 0.0,
            "adaptive_scale": True,
        },
        **_COMMON,
    ),
]
