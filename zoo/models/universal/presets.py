"""The registry entry of the universal forecaster, as data (keras-free)."""

from __future__ import annotations

PRESETS = [
    dict(
        name="forecaster_universal",
        family="universal",
        task="forecasting",
        summary="Zero-shot forecaster for any series (LSTM encoder, ODEBlock decoder in "
        "continuous time, quantiles 0.1/0.5/0.9); M1/Tourism held out",
        builder="zoo.models.universal.model:build_universal_forecaster",
        config=dict(
            context_length=96,
            horizon=24,
            lstm_units=96,
            state_dim=32,
            code_dim=16,
            field_hidden=64,
            head_hidden=64,
            time_scale=24.0,
            num_steps=6,
        ),
        recipe="zoo.models.universal.recipe:train",
        evaluation="zoo.models.universal.evaluate:evaluate",
        plot="zoo.models.universal.plot:plot",
        data="zoo.data.competitions:load_competition",
        signatures={"forecast": ("forecast",), "quantiles": ("quantiles",)},
    )
]
