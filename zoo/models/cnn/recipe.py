"""Training and fine-tuning of the CNN family, through `zoo.training.Trainer`.

`train` reproduces `cnn_digits`: the fit part of the digits train split plus its eight one-pixel
shifts, Adam, cross-entropy on "probabilities", early stopping on the validation loss with the
best epoch's weights kept on disk (so a killed and resumed run ends where an uninterrupted one
does), checkpoints and TensorBoard logs in the run folder.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from zoo.data import digits as digits_data
from zoo.models.cnn.evaluate import accuracy, evaluate
from zoo.models.cnn.model import (
    HEAD_NAME,
    as_images,
    as_labels,
    build_cnn,
    image_side,
    learned_p,
    with_classes,
)
from zoo.models.cnn.presets import PRESETS
from zoo.models.common.checks import environment, round_floats, seed_everything
from zoo.models.common.preset_files import write_preset
from zoo.models.common.runs import (
    KeepBestWeights,
    RunFolder,
    open_run,
    trainer_folders,
    training_card,
)
from zoo.training import EarlyStopping, Trainer

PRESET = PRESETS[0]
NAME = PRESET.name
SUMMARY = PRESET.summary
CONFIG = dict(PRESET.config)
RECIPE = {
    "validation_fraction": 0.15,
    "augmentation": "the fit part plus its 8 one-pixel shifts (zero fill), 9x",
    "optimizer": "Adam",
    "learning_rate": 2e-3,
    "batch_size": 64,
    "max_epochs": 60,
    "early_stopping": "val_loss, patience 10; the best epoch's weights are kept",
}
LOSS = {"probabilities": "sparse_categorical_crossentropy"}
METRICS = {"probabilities": ["accuracy"]}


def shifted_copies(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The images and their 8 one-pixel shifts (zero fill): a deterministic 9x augmentation."""
    copies = []
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            shifted = np.roll(images, (dy, dx), axis=(1, 2))
            if dy:
                shifted[:, 0 if dy > 0 else -1] = 0
            if dx:
                shifted[:, :, 0 if dx > 0 else -1] = 0
            copies.append(shifted)
    return np.concatenate(copies), np.tile(labels, 9)


def train(output_dir: Path, *, seed: int = 0, epochs: int | None = None, verbose: int = 1) -> dict:
    """Train `cnn_digits` in the run folder `output_dir` (resumable) and write the preset there."""
    epochs = RECIPE["max_epochs"] if epochs is None else int(epochs)
    run = RunFolder(output_dir, {"preset": NAME, "seed": seed, "epochs": epochs})
    seed_everything(seed)
    split = digits_data.load_digits_split()
    x_fit, y_fit, x_val, y_val = digits_data.validation_split(
        split.x_train, split.y_train, RECIPE["validation_fraction"], seed
    )
    x_aug, y_aug = shifted_copies(x_fit, y_fit)
    model = build_cnn(**CONFIG)
    keeper = KeepBestWeights(model, run.best_weights("fit"))
    trainer = Trainer(
        model=model,
        optimizer=keras.optimizers.Adam(RECIPE["learning_rate"]),
        loss=LOSS,
        metrics=METRICS,
        seed=seed,
        **trainer_folders(run, "fit"),
    )
    history = trainer.fit(
        (x_aug, {"probabilities": y_aug}),
        validation=(x_val, {"probabilities": y_val}),
        epochs=epochs,
        batch_size=RECIPE["batch_size"],
        callbacks=[EarlyStopping(monitor="val_loss", patience=10), keeper],
        resume=True,
        verbose=verbose,
    )
    best_epoch = keeper.restore()
    metrics = evaluate(model)
    metrics["validation_accuracy"] = accuracy(model, x_val, y_val)
    metrics["learned_p"] = learned_p(model)
    metrics["epochs_run"] = len(history.history.get("loss", []))
    metrics["best_epoch"] = None if best_epoch is None else best_epoch + 1
    card = make_card(metrics, seed, epochs)
    write_preset(output_dir, model, dict(CONFIG), card)
    return card


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
    """Fine-tune on a user's `(images, labels)` through the Trainer.

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


def make_card(metrics: dict, seed: int, epochs: int) -> dict:
    metrics = round_floats(metrics)
    baselines = metrics.pop("baselines")
    return {
        "name": NAME,
        "task": "image-classification",
        "summary": SUMMARY,
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
        "training": training_card(NAME, seed, epochs, RECIPE["max_epochs"], RECIPE),
        "metrics": metrics,
        "baselines": baselines,
        "baselines_how": "fitted by zoo.models.cnn.evaluate.baselines on the same train part, "
        "scored on the same test part (LogisticRegression(max_iter=5000), SVC(kernel='rbf'))",
        "calculus_layers": {
            "LpPooling2D": "both 2x2 pooling steps, p learned (>= 1, from 2): pooling is "
            "((1/|R|) sum |x|^p)^(1/p) over the window, between average and max pooling",
            "GlobalLpPooling2D": "the global pooling before the head, p learned",
        },
        "environment": environment(),
    }
