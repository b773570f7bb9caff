"""The registry entries of the anomaly family, as data (no Keras import)."""

from zoo.models.common.preset import Preset

CUSTOM_OBJECT_MODULES = ("zoo.models.anomaly.model",)

PRESETS = [
    Preset(
        name="anomaly_ucr135",
        family="anomaly",
        task="anomaly-detection",
        summary="LSTM autoencoder anomaly detector, integrated reconstruction error (UCR #135)",
        builder="zoo.models.anomaly.model:build_detector",
        recipe="zoo.models.anomaly.recipe:train",
        evaluation="zoo.models.anomaly.evaluate:evaluate",
        plot="zoo.models.anomaly.plot:plot",
        predict="zoo.models.anomaly.model:predict",
        fine_tune="zoo.models.anomaly.recipe:fine_tune",
        data="zoo.data.kdd_tsad:load_ucr135",
        warmup="zoo.models.anomaly.model:warmup_inputs",
        config={"window": 32, "units": 64, "latent": 16},
        signatures={"score": ("score",), "is_anomaly": ("is_anomaly",)},
    )
]
