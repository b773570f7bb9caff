"""The registry entries of the ODE-Net family, as data (no Keras import)."""

from zoo.models.common.preset import Preset

CUSTOM_OBJECT_MODULES = ("zoo.models.common.classifier", "zoo.models.odenet.model")

PRESETS = [
    Preset(
        name="odenet_digits",
        family="odenet",
        task="image-classification",
        summary="8x8 digit classifier, ODE-Net: a conv field integrated by dopri5 (ODEBlock)",
        builder="zoo.models.odenet.model:build_odenet",
        recipe="zoo.models.odenet.recipe:train",
        evaluation="zoo.models.odenet.evaluate:evaluate",
        plot="zoo.models.odenet.plot:plot",
        predict="zoo.models.common.classifier:predict",
        fine_tune="zoo.models.common.classifier_training:fine_tune",
        data="zoo.data.digits:load_digits_split",
        warmup="zoo.models.common.digits_protocol:warmup_inputs",
        config={
            "num_classes": 10,
            "image_size": 8,
            "width": 32,
            "tolerance": 1e-3,
            "p": 2.0,
            "dropout": 0.2,
            "pixel_max": 16.0,
        },
        signatures={"probabilities": ("probabilities",), "class_id": ("class_id",)},
    )
]
