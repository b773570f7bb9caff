"""The registry entry of the zero-shot detector, as data (no Keras import)."""

from zoo.models.common.preset import Preset

CUSTOM_OBJECT_MODULES = (
    "zoo.models.universal_anomaly.layers",
    "zoo.models.universal_anomaly.discord",
    "zoo.models.universal_anomaly.series_layers",
    "zoo.models.universal_anomaly.model",
)

PRESETS = [
    Preset(
        name="anomaly_universal",
        family="universal_anomaly",
        task="anomaly-detection",
        summary="Zero-shot point-wise anomaly detector for any series (robust scaling, "
        "IntegralLayer, dilated convolutions, Lp context, fused in the graph with the series' "
        "period-matched discord); no per-series training",
        builder="zoo.models.universal_anomaly.model:build_universal_detector",
        recipe="zoo.models.universal_anomaly.recipe:train",
        evaluation="zoo.models.universal_anomaly.evaluate:evaluate",
        plot="zoo.models.universal_anomaly.plot:plot",
        predict="zoo.models.universal_anomaly.model:predict",
        fine_tune="zoo.models.universal_anomaly.recipe:fine_tune",
        data="zoo.models.universal_anomaly.benchmark:benchmark_series",
        warmup="zoo.models.universal_anomaly.model:warmup_inputs",
        config={
            "window": 256,
            "filters": 32,
            "dilations": [1, 2, 4, 8, 16, 32, 64],
            "series": True,
            "discord_weight": 16.0,
            "match_weight": 0.5,
            "magnitude_floor": 6.0,
        },
        signatures={"score": ("score",), "is_anomaly": ("is_anomaly",)},
    )
]
