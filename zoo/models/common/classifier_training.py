"""Training and fine-tuning of the image classifier families, through `zoo.training.Trainer`.

`train_on_digits` is the recipe of a digits preset: the fit part of the digits train split plus
its eight one-pixel shifts, Adam, cross-entropy on "probabilities", early stopping on the
validation loss with the best epoch's weights kept on disk (so a killed and resumed run ends where
an uninterrupted one does), checkpoints and TensorBoard logs in the run folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np

from zoo.data import digits as digits_data
from zoo.models.common.checks import environment, round_floats, seed_everything
from zoo.models.common.classifier import HEAD_NAME, image_side, with_classes
from zoo.models.common.digits_protocol import accuracy, evaluate
from zoo.models.common.images import as_images, as_labels, shifted_copies
from zoo.models.common.runs import (
    KeepBestWeights,
    RunFolder,
    open_run,
    trainer_folders,
    training_card,
)
from zoo.training import EarlyStopping, Trainer

LOSS = {"probabilities": "sparse_categorical_crossentropy"}
# What every digits recipe shares; a family's recipe adds its optimiser settings and length.
DIGITS_RECIPE = {
    "validation_fraction": 0.15,
    "augmentation": "the fit part plus its 8 one-pixel shifts (zero fill), 9x",
    "optimizer": "Adam",
}
METRICS = {"probabilities": ["accuracy"]}


def train_on_digits(
    name: str,
    build: Callable[..., keras.Model],
    config: dict[str, Any],
    recipe: dict[str, Any],
    output_dir: Path,
    *,
    seed: int,
    epochs: int | None,
    verbose: int,
    extra_metrics: Callable[[keras.Model], dict] | None = None,
) -> tuple[keras.Model, dict]:
    """Train preset `name` (builder `build(**config)`) on the digits in the run folder
    `output_dir`; write the preset files there; return the model and its card's metrics."""
    epochs = recipe["max_epochs"] if epochs is None else int(epochs)
    run = RunFolder(output_dir, {"preset": name, "seed": seed, "epochs": epochs})
    seed_everything(seed)
    split = digits_data.load_digits_split()
    x_fit, y_fit, x_val, y_val = digits_data.validation_split(
        split.x_train, split.y_train, recipe["validation_fraction"], seed
    )
    x_aug, y_aug = shifted_copies(x_fit, y_fit)
    model = build(**config)
    keeper = KeepBestWeights(model, run.best_weights("fit"))
    learning_rate = recipe["learning_rate"]
    if recipe.get("schedule") == "cosine":
        # cosine decay to zero over the run (a function of the optimizer's step: resumable)
        steps = epochs * -(-len(x_aug) // recipe["batch_size"])
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
    trainer = Trainer(
        model=model,
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=LOSS,
        metrics=METRICS,
        seed=seed,
        **trainer_folders(run, "fit"),
    )
    history = trainer.fit(
        (x_aug, {"probabilities": y_aug}),
        validation=(x_val, {"probabilities": y_val}),
        epochs=epochs,
        batch_size=recipe["batch_size"],
        callbacks=[EarlyStopping(monitor="val_loss", patience=recipe["patience"]), keeper],
        resume=True,
        verbose=verbose,
    )
    best_epoch = keeper.restore()
    metrics = evaluate(model)
    metrics["validation_accuracy"] = accuracy(model, x_val, y_val)
    metrics["epochs_run"] = len(history.history.get("loss", []))
    metrics["best_epoch"] = None if best_epoch is None else best_epoch + 1
    if extra_metrics is not None:
        metrics.update(extra_metrics(model))
    return model, {"metrics": metrics, "epochs": epochs}


def digits_card(name: str, summary: str, metrics: dict, *, seed: int, epochs: int,
                recipe: dict, calculus_layers: dict, architecture: str) -> dict:  # fmt: skip
    """The model card of a digits preset."""
    metrics = round_floats(metrics)
    baselines = metrics.pop("baselines")
    return {
        "name": name,
        "task": "image-classification",
        "summary": summary,
        "data": {
            "name": "digits (8x8 handwritten digits, 1797 images, 10 classes)",
            "source": digits_data.SOURCE,
            "version": f"scikit-learn {environment()['scikit-learn']}",
            "licence": digits_data.LICENCE,
        },
        "split": {
            "protocol": digits_data.SPLIT,
            "train": 1437,
            "test": 360,
            "validation": "15% of the train part (stratified, random_state=seed), early stopping "
            "only; the test part is never seen in training",
        },
        "input": {"image": "(batch, 8, 8, 1) float32, raw pixel values 0..16"},
        "outputs": {
            "probabilities": "(batch, 10) float32",
            "class_id": "(batch,) int32, argmax of the probabilities",
        },
        "training": training_card(name, seed, epochs, recipe["max_epochs"], recipe),
        "architecture": architecture,
        "metrics": metrics,
        "baselines": baselines,
        "baselines_how": "fitted by zoo.models.common.digits_protocol.baselines on the same train "
        "part, scored on the same test part (LogisticRegression(max_iter=5000), "
        "SVC(kernel='rbf'))",
        "calculus_layers": calculus_layers,
        "environment": environment(),
    }


def fine_tune(
    model: keras.Model,
    data: tuple[np.ndarray, np.ndarray],
    *,
    epochs: int = 10,
    learning_rate: float = 1e-3,
    num_classes: int | None = None,
    freeze_backbone: bool = False,
    batch_size: int = 32,
    seed: int = 0,
    run_dir: Path | None = None,
    verbose: int = 0,
) -> keras.Model:
    """Fine-tune an image classifier on a user's `(images, labels)` through the Trainer.

    `num_classes` other than the model's gives a fresh head on the same backbone;
    `freeze_backbone` trains the head only; `run_dir` keeps checkpoints and TensorBoard logs there
    (and resumes from them when the same call is made again).
    """
    if not isinstance(data, tuple | list) or len(data) != 2:
        raise ValueError(
            "`data` must be a pair (images, labels) for an image classifier. "
            f"Received: {type(data).__name__}"
        )
    current = int(model.get_layer(HEAD_NAME).units)
    if num_classes is not None and int(num_classes) != current:
        model = with_classes(model, int(num_classes))
        current = int(num_classes)
    images = as_images(data[0], image_side(model))
    labels = as_labels(data[1], current)
    if len(images) != len(labels):
        raise ValueError(
            f"`data` must hold as many labels as images. Received {len(images)} images and "
            f"{len(labels)} labels."
        )
    for layer in model.layers:
        layer.trainable = (not freeze_backbone) or layer.name == HEAD_NAME
    arguments = {"fine_tune": model.name, "epochs": epochs, "learning_rate": learning_rate}
    arguments.update(num_classes=current, freeze_backbone=freeze_backbone, seed=seed)
    run = open_run(run_dir, {**arguments, "examples": len(labels)})
    trainer = Trainer(
        model=model,
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=LOSS,
        metrics=METRICS,
        seed=seed,
        **trainer_folders(run, "fine_tune"),
    )
    trainer.fit(
        (images, {"probabilities": labels}),
        epochs=epochs,
        batch_size=batch_size,
        resume=run is not None,
        verbose=verbose,
    )
    for layer in model.layers:
        layer.trainable = True
    return model
