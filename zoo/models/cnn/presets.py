"""The registry entries of the CNN family, as data (no Keras import)."""

from zoo.models.common.preset import Preset

CUSTOM_OBJECT_MODULES = ("zoo.models.common.classifier", "zoo.models.cnn.model")

PRESETS = [
    Preset(
        name="cnn_digits",
        family="cnn",
        task="image-classification",
        summary="8x8 digit classifier, CNN with learned-p Lp pooling (sklearn digits)",
        builder="zoo.models.cnn.model:build_cnn",
        recipe="zoo.models.cnn.recipe:train",
        evaluation="zoo.models.cnn.evaluate:evaluate",
        plot="zoo.models.cnn.plot:plot",
        predict="zoo.models.common.classifier:predict",
        fine_tune="zoo.models.common.classifier_training:fine_tune",
        data="zoo.data.digits:load_digits_split",
        warmup="zoo.models.common.digits_protocol:warmup_inputs",
        config={
            "num_classes": 10,
            "image_size": 8,
            "filters": [32, 64],
            "p": 2.0,
            "trainable_p": True,
            "dropout": 0.25,
            "pixel_max": 16.0,
        },
        signatures={"probabilities": ("probabilities",), "class_id": ("class_id",)},
    )
]
