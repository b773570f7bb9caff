"""Image classification: a small CNN whose pooling is Lp pooling with a learned p.

Preset `cnn_digits`: scikit-learn's bundled 8x8 digits, raw pixel values 0..16 in, class
probabilities out. Every pooling step is an `LpPooling2D` / `GlobalLpPooling2D` whose exponent p is
learned (kept >= 1, starting at 2): the network chooses, per pooling layer, where between average
(p = 1) and max (p -> inf) pooling it wants to be, instead of us fixing that choice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from zoo.data import digits as digits_data
from zoo.layers import GlobalLpPooling2D, LpPooling2D
from zoo.models._common import check_finite, environment, round_floats, seed_everything
from zoo.models.preset import Preset

NAME = "cnn_digits"
INPUT_NAME = "image"
HEAD_NAME = "head"
FEATURES_NAME = "features"


@keras.saving.register_keras_serializable(package="zoo")
class ClassId(keras.layers.Layer):
    """The index of the largest probability, as int32: (batch, classes) -> (batch,)."""

    def call(self, probabilities):
        return tf.argmax(probabilities, axis=-1, output_type=tf.int32)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1])


def _head(features, num_classes: int) -> dict[str, Any]:
    logits = keras.layers.Dense(num_classes, name=HEAD_NAME)(features)
    probabilities = keras.layers.Softmax(name="probabilities")(logits)
    return {"probabilities": probabilities, "class_id": ClassId(name="class_id")(probabilities)}


def build_cnn(
    *,
    num_classes: int = 10,
    image_size: int = 8,
    filters: tuple[int, ...] | list[int] = (32, 64),
    p: float = 2.0,
    trainable_p: bool = True,
    dropout: float = 0.25,
    pixel_max: float = 16.0,
) -> keras.Model:
    """A CNN for (batch, image_size, image_size, 1) images in raw pixel units 0..`pixel_max`.

    Each stage is two 3x3 convolutions (batch-normalised, ReLU) and an `LpPooling2D` of size 2;
    a `GlobalLpPooling2D` gives the features, then dropout and a dense softmax head.

    Args:
        num_classes: number of classes of the head (an int >= 2).
        image_size: side of the square input images.
        filters: convolution width of each stage (one 2x2 Lp pooling per stage).
        p: the starting exponent of every Lp pooling (a number >= 1).
        trainable_p: learn p (kept >= 1) instead of fixing it.
        dropout: dropout rate before the head.
        pixel_max: the largest raw pixel value; inputs are divided by it inside the model.

    Returns:
        A functional model with input "image" and dict output {"probabilities": (batch,
        num_classes) float32, "class_id": (batch,) int32}.
    """
    if int(num_classes) < 2:
        raise ValueError(f"`num_classes` must be an int >= 2. Received: num_classes={num_classes}")
    if image_size < 2 ** len(filters):
        raise ValueError(
            f"`image_size` must be at least 2**len(filters)={2 ** len(filters)} so every stage "
            f"can pool. Received: image_size={image_size}"
        )
    inputs = keras.Input(shape=(image_size, image_size, 1), name=INPUT_NAME)
    x = keras.layers.Rescaling(1.0 / pixel_max, name="pixel_scale")(inputs)
    for stage, width in enumerate(filters):
        for conv in range(2):
            x = keras.layers.Conv2D(
                width, 3, padding="same", use_bias=False, name=f"conv{stage}_{conv}"
            )(x)
            x = keras.layers.BatchNormalization(name=f"bn{stage}_{conv}")(x)
            x = keras.layers.ReLU(name=f"relu{stage}_{conv}")(x)
        x = LpPooling2D(pool_size=2, p=p, trainable_p=trainable_p, name=f"lp_pool{stage}")(x)
    x = GlobalLpPooling2D(p=p, trainable_p=trainable_p, name="global_lp_pool")(x)
    features = keras.layers.Dropout(dropout, name=FEATURES_NAME)(x)
    return keras.Model(inputs, _head(features, int(num_classes)), name=NAME)


def replace_head(model: keras.Model, num_classes: int) -> keras.Model:
    """The same backbone (shared layers and weights) with a new, untrained `num_classes` head."""
    features = model.get_layer(FEATURES_NAME).output
    return keras.Model(model.inputs, _head(features, int(num_classes)), name=model.name)


def as_images(images: np.ndarray, image_size: int = 8) -> np.ndarray:
    """(n, s, s, 1) float32 from (s, s), (n, s, s), (n, s*s) or (n, s, s, 1); clear errors else."""
    images = check_finite("images", images)
    received = images.shape
    side = image_size
    if images.shape == (side, side):
        images = images[None]
    if images.ndim == 2 and images.shape[1] == side * side:
        images = images.reshape(-1, side, side)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[1:] != (side, side, 1):
        raise ValueError(
            f"`images` must have shape (n, {side}, {side}, 1), (n, {side}, {side}) or "
            f"(n, {side * side}). Received shape {received}."
        )
    return images


def _labels(labels: np.ndarray, num_classes: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.all(np.isfinite(labels.astype("float64"))):
        raise ValueError(
            f"`labels` must be a 1-D array of class ids. Received shape {labels.shape}"
        )
    if np.any(labels != np.round(labels)) or labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"`labels` must be integers in [0, {num_classes - 1}]. Received values from "
            f"{labels.min()} to {labels.max()}."
        )
    return labels.astype("int32")


def compile_for_training(model: keras.Model, learning_rate: float = 1e-3) -> keras.Model:
    """Compile `model` for `fit` on (images, labels): cross-entropy on "probabilities"."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        # No compiled metrics: Keras 3 asks for a target for every output once metrics are set,
        # and "class_id" (an argmax) has none. Accuracy is measured by `evaluate` instead.
        loss={"probabilities": keras.losses.SparseCategoricalCrossentropy()},
    )
    return model


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


def predict(model: keras.Model, data: np.ndarray) -> dict[str, np.ndarray]:
    """Class probabilities and ids for raw images (pixel values 0..16)."""
    side = int(model.inputs[0].shape[1])
    outputs = model.predict(as_images(data, side), verbose=0)
    return {k: np.asarray(v) for k, v in outputs.items()}


def accuracy(model: keras.Model, images: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(predict(model, images)["class_id"] == labels))


def evaluate(model: keras.Model, *, with_baselines: bool = True) -> dict:
    """Test accuracy on the fixed digits split, next to the baselines fitted on the same split."""
    split = digits_data.load_digits_split()
    class_ids = predict(model, split.x_test)["class_id"]
    result: dict[str, Any] = {
        "test_accuracy": float(np.mean(class_ids == split.y_test)),
        "test_errors": int(np.sum(class_ids != split.y_test)),
        "test_size": len(split.y_test),
    }
    if with_baselines:
        result["baselines"] = {
            f"{k}_test_accuracy": v for k, v in digits_data.baselines(split).items()
        }
    return result


def learned_p(model: keras.Model) -> dict[str, float]:
    """The exponent each Lp pooling layer has learned."""
    return {
        layer.name: float(layer.current_p)
        for layer in model.layers
        if isinstance(layer, LpPooling2D | GlobalLpPooling2D)
    }


TRAIN_RECIPE = {
    "validation_fraction": 0.15,
    "augmentation": "the fit part plus its 8 one-pixel shifts (zero fill), 9x, fixed order",
    "optimizer": "Adam",
    "learning_rate": 2e-3,
    "batch_size": 64,
    "max_epochs": 60,
    "early_stopping": "val_loss, patience 10, best weights restored",
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
    verbose: int = 0,
) -> keras.Model:
    """Fine-tune on a user's `(images, labels)`; `num_classes` other than the model's replaces the
    head (the backbone is kept); `freeze_backbone` trains the head only."""
    if not isinstance(data, tuple | list) or len(data) != 2:
        raise ValueError(
            "`data` must be a pair (images, labels) for an image classifier. "
            f"Received: {type(data).__name__}"
        )
    current = int(model.get_layer(HEAD_NAME).units)
    if num_classes is not None and int(num_classes) != current:
        model = replace_head(model, int(num_classes))
        current = int(num_classes)
    images = as_images(data[0], int(model.inputs[0].shape[1]))
    labels = _labels(data[1], current)
    if len(images) != len(labels):
        raise ValueError(
            f"`data` must hold as many labels as images. Received {len(images)} images and "
            f"{len(labels)} labels."
        )
    for layer in model.layers:
        layer.trainable = (not freeze_backbone) or layer.name == HEAD_NAME
    compile_for_training(model, learning_rate)
    model.fit(
        images, {"probabilities": labels}, epochs=epochs, batch_size=batch_size, verbose=verbose
    )
    return model


def train(output_dir: Path | None = None, *, seed: int = 0, verbose: int = 1) -> dict:
    """Train `cnn_digits` from the bundled digits, write the preset folder, return its metrics."""
    from zoo.registry import save_pretrained

    seed_everything(seed)
    split = digits_data.load_digits_split()
    x_fit, y_fit, x_val, y_val = digits_data.validation_split(
        split.x_train, split.y_train, TRAIN_RECIPE["validation_fraction"], seed
    )
    x_aug, y_aug = shifted_copies(x_fit, y_fit)
    order = np.random.default_rng(seed).permutation(len(x_aug))
    model = compile_for_training(build_cnn(**CONFIG), TRAIN_RECIPE["learning_rate"])
    history = model.fit(
        x_aug[order],
        {"probabilities": y_aug[order]},
        validation_data=(x_val, {"probabilities": y_val}),
        epochs=TRAIN_RECIPE["max_epochs"],
        batch_size=TRAIN_RECIPE["batch_size"],
        shuffle=False,
        callbacks=[
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=10, restore_best_weights=True
            )
        ],
        verbose=verbose,
    )
    metrics = evaluate(model)
    metrics["validation_accuracy"] = accuracy(model, x_val, y_val)
    metrics["learned_p"] = learned_p(model)
    metrics["epochs_run"] = len(history.history["loss"])
    card = make_card(metrics, seed)
    save_pretrained(model, NAME, dict(CONFIG), card, directory=output_dir)
    return metrics


def make_card(metrics: dict, seed: int) -> dict:
    metrics = round_floats(metrics)
    baselines = metrics.pop("baselines")
    return {
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
        "input": {INPUT_NAME: "(batch, 8, 8, 1) float32, raw pixel values 0..16"},
        "outputs": {
            "probabilities": "(batch, 10) float32",
            "class_id": "(batch,) int32, argmax of the probabilities",
        },
        "training": {
            "command": f"zoo train {NAME}",
            "seed": seed,
            "loop": "keras Model.fit (deterministic: keras.utils.set_random_seed, fixed order)",
            "recipe": TRAIN_RECIPE,
        },
        "metrics": metrics,
        "baselines": baselines,
        "baselines_how": "fitted by zoo.data.digits.baselines on the same train part, scored on "
        "the same test part (LogisticRegression(max_iter=5000), SVC(kernel='rbf'))",
        "calculus_layers": {
            "LpPooling2D": "both 2x2 pooling steps, p learned (>= 1, from 2): pooling is "
            "((1/|R|) sum |x|^p)^(1/p) over the window, between average and max pooling",
            "GlobalLpPooling2D": "the global pooling before the head, p learned",
        },
        "environment": environment(),
    }


SUMMARY = "8x8 digit classifier, CNN with learned-p Lp pooling (sklearn digits)"

CONFIG = {
    "num_classes": 10,
    "image_size": 8,
    "filters": [32, 64],
    "p": 2.0,
    "trainable_p": True,
    "dropout": 0.25,
    "pixel_max": 16.0,
}


def plot(model: keras.Model, path: Path) -> Path:
    """The confusion matrix on the digits test split, as a PNG at `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    split = digits_data.load_digits_split()
    predicted = predict(model, split.x_test)["class_id"]
    matrix = np.zeros((10, 10), dtype=int)
    np.add.at(matrix, (split.y_test, predicted), 1)
    figure, axes = plt.subplots(figsize=(6, 5))
    image = axes.imshow(matrix, cmap="Blues")
    for (row, col), count in np.ndenumerate(matrix):
        if count:
            colour = "white" if count > matrix.max() / 2 else "black"
            axes.text(col, row, str(count), ha="center", va="center", color=colour, fontsize=8)
    axes.set_xticks(range(10))
    axes.set_yticks(range(10))
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    accuracy_ = float(np.mean(predicted == split.y_test))
    axes.set_title(f"{NAME}: test accuracy {accuracy_:.4f} ({len(split.y_test)} images)")
    figure.colorbar(image, ax=axes)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


PRESETS: list[Preset] = [
    Preset(
        name=NAME,
        task="image-classification",
        summary=SUMMARY,
        build=build_cnn,
        config=CONFIG,
        train=train,
        evaluate=evaluate,
        predict=predict,
        fine_tune=fine_tune,
        plot=plot,
        signatures={"probabilities": ["probabilities"], "class_id": ["class_id"]},
    )
]
