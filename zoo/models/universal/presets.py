"""The registry entry of the universal forecaster, as data (keras-free)."""

from zoo.models.common.preset import Preset

CUSTOM_OBJECT_MODULES = (
    "zoo.models.universal.layers",
    "zoo.models.universal.model",
    "zoo.models.universal.tuned",
    "zoo.models.universal.served",
)

PRESETS = [
    Preset(
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
        predict="zoo.models.universal.fine_tune:predict",
        fine_tune="zoo.models.universal.fine_tune:fine_tune",
        data="zoo.data.competitions:load_competition",
        warmup="zoo.models.universal.fine_tune:warmup_inputs",
        signatures={"forecast": ("forecast",), "quantiles": ("quantiles",)},
    )
]
