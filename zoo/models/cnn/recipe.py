"""Training and fine-tuning of the CNN family, through `zoo.training.Trainer`.

`train` reproduces `cnn_digits` with the digits recipe of the image classifiers
(`zoo.models.common.classifier_training`); `fine_tune` is theirs too.
"""

from __future__ import annotations

from pathlib import Path

from zoo.models.cnn.model import build_cnn, learned_p
from zoo.models.cnn.presets import PRESETS
from zoo.models.common.classifier_training import (
    DIGITS_RECIPE,
    digits_card,
    fine_tune,
    train_on_digits,
)
from zoo.models.common.images import shifted_copies
from zoo.models.common.preset_files import write_preset

__all__ = ["CONFIG", "RECIPE", "fine_tune", "shifted_copies", "train"]

PRESET = PRESETS[0]
CONFIG = dict(PRESET.config)
RECIPE = {
    **DIGITS_RECIPE,
    "learning_rate": 2e-3,
    "batch_size": 64,
    "max_epochs": 60,
    "patience": 10,
    "early_stopping": "val_loss, patience 10; the best epoch's weights are kept",
}


def train(output_dir: Path, *, seed: int = 0, epochs: int | None = None, verbose: int = 1) -> dict:
    """Train `cnn_digits` in the run folder `output_dir` (resumable) and write the preset there."""
    model, result = train_on_digits(
        PRESET.name, build_cnn, CONFIG, RECIPE, output_dir, seed=seed, epochs=epochs,
        verbose=verbose, extra_metrics=lambda m: {"learned_p": learned_p(m)},
    )  # fmt: skip
    card = digits_card(
        PRESET.name,
        PRESET.summary,
        result["metrics"],
        seed=seed,
        epochs=result["epochs"],
        recipe=RECIPE,
        architecture="two stages of conv-BN-ReLU x2 + LpPooling2D (learned p), "
        "GlobalLpPooling2D, dropout, softmax head",
        calculus_layers={
            "LpPooling2D": "both 2x2 pooling steps, p learned (>= 1, from 2): pooling is "
            "((1/|R|) sum |x|^p)^(1/p) over the window, between average and max pooling",
            "GlobalLpPooling2D": "the global pooling before the head, p learned",
        },
    )
    write_preset(output_dir, model, CONFIG, card)
    return card
