"""Training of the ODE-Net family through `zoo.training.Trainer` (the digits recipe of the image
classifiers; fine-tuning is theirs too)."""

from __future__ import annotations

from pathlib import Path

from zoo.models.common.classifier_training import (
    DIGITS_RECIPE,
    digits_card,
    fine_tune,
    train_on_digits,
)
from zoo.models.common.preset_files import write_preset
from zoo.models.odenet.evaluate import solver_cost
from zoo.models.odenet.model import build_odenet
from zoo.models.odenet.presets import PRESETS

__all__ = ["CONFIG", "RECIPE", "fine_tune", "train"]

PRESET = PRESETS[0]
CONFIG = dict(PRESET.config)
RECIPE = {
    **DIGITS_RECIPE,
    "learning_rate": 3e-3,
    "schedule": "cosine",
    "batch_size": 128,
    "max_epochs": 30,
    "patience": 30,
    "early_stopping": "none (patience 30); the best validation epoch's weights are kept",
    "seed_selection": "seeds 0 and 1 were trained; the shipped one is the seed with the higher "
    "validation accuracy (seed 1: 0.9907; seed 0: 0.9815, test accuracy 0.9861); the test part "
    "played no part in the choice",
}


def train(output_dir: Path, *, seed: int = 0, epochs: int | None = None, verbose: int = 1) -> dict:
    """Train `odenet_digits` in the run folder `output_dir` (resumable); write the preset there."""
    model, result = train_on_digits(
        PRESET.name, build_odenet, CONFIG, RECIPE, output_dir, seed=seed, epochs=epochs,
        verbose=verbose, extra_metrics=solver_cost,
    )  # fmt: skip
    metrics = result["metrics"]
    metrics["parameters"] = int(model.count_params())
    card = digits_card(
        PRESET.name,
        PRESET.summary,
        metrics,
        seed=seed,
        epochs=result["epochs"],
        recipe=RECIPE,
        architecture="conv stem (BN, ReLU), LpPooling2D, an ODEBlock over 4x4 feature maps whose "
        "field is Conv3x3-tanh-Conv3x3 (dopri5, tolerance 1e-3, adjoint gradients), "
        "GlobalLpPooling2D, dropout, softmax head",
        calculus_layers={
            "ODEBlock": "h(1) = h(0) + integral_0^1 f(h(t)) dt with a convolutional field, solved "
            "by dopri5 (error-controlled steps: the block's depth adapts to the input)",
            "LpPooling2D": "2x2 pooling after the stem, p learned",
            "GlobalLpPooling2D": "the global pooling before the head, p learned",
        },
    )
    write_preset(output_dir, model, CONFIG, card)
    return card
