"""Optimizer and loss resolution by name, and an optimizer that routes variable groups.

`GroupedOptimizer` lets a backbone train with a lower learning rate than its head: each group
of variables has its own Keras optimizer (and so its own slots and learning rate).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import tensorflow as tf

from zoo.training.gradient_flow import Heun

OPTIMIZERS: dict[str, Callable[[], keras.optimizers.Optimizer]] = {
    "sgd": keras.optimizers.SGD,
    "heun": Heun,
    "adam": keras.optimizers.Adam,
    "adamw": keras.optimizers.AdamW,
    "rmsprop": keras.optimizers.RMSprop,
    "adagrad": keras.optimizers.Adagrad,
    "nadam": keras.optimizers.Nadam,
}

LOSSES: dict[str, Callable[..., keras.losses.Loss]] = {
    "mse": keras.losses.MeanSquaredError,
    "mean_squared_error": keras.losses.MeanSquaredError,
    "mae": keras.losses.MeanAbsoluteError,
    "mean_absolute_error": keras.losses.MeanAbsoluteError,
    "huber": keras.losses.Huber,
    "log_cosh": keras.losses.LogCosh,
    "binary_crossentropy": keras.losses.BinaryCrossentropy,
    "categorical_crossentropy": keras.losses.CategoricalCrossentropy,
    "sparse_categorical_crossentropy": keras.losses.SparseCategoricalCrossentropy,
}


class GroupedOptimizer(tf.Module):
    """Several Keras optimizers, each updating its own group of variables.

    Args:
        groups: `(variables, optimizer)` pairs; a variable belongs to the first group that
            lists it. Variables listed in no group get the last group's optimizer.

    Example:
        opt = GroupedOptimizer([(backbone.trainable_variables, SGD(1e-4)),
                                (head.trainable_variables, SGD(1e-2))])
    """

    def __init__(self, groups: Sequence[tuple[Sequence[Any], keras.optimizers.Optimizer]]) -> None:
        super().__init__(name="grouped_optimizer")
        if not groups:
            raise ValueError("`groups` must hold at least one (variables, optimizer) pair.")
        self.optimizers = [opt for _, opt in groups]
        self._owner: dict[int, int] = {}
        for index, (variables, _) in enumerate(groups):
            for variable in variables:
                self._owner.setdefault(id(variable), index)

    def _split(self, grads_and_vars):
        parts: list[list] = [[] for _ in self.optimizers]
        for grad, var in grads_and_vars:
            parts[self._owner.get(id(var), len(self.optimizers) - 1)].append((grad, var))
        return parts

    def build(self, variables: Sequence[Any]) -> None:
        parts = self._split((None, v) for v in variables)
        for optimizer, part in zip(self.optimizers, parts, strict=True):
            optimizer.build([v for _, v in part])

    def apply_gradients(self, grads_and_vars) -> None:
        for optimizer, part in zip(self.optimizers, self._split(grads_and_vars), strict=True):
            if part:
                optimizer.apply_gradients(part)

    def scale_loss(self, loss):
        return loss

    @property
    def iterations(self):
        return self.optimizers[-1].iterations

    @property
    def learning_rate(self):
        """The last group's (the head's) learning rate."""
        return self.optimizers[-1].learning_rate


def resolve_optimizer(optimizer: Any) -> Any:
    """An optimizer instance from a name, a Keras optimizer or a GroupedOptimizer."""
    if isinstance(optimizer, str):
        key = optimizer.lower()
        if key not in OPTIMIZERS:
            raise ValueError(
                f"Unknown optimizer {optimizer!r}. Choose one of: {', '.join(OPTIMIZERS)}; "
                "or pass a keras.optimizers.Optimizer instance."
            )
        return OPTIMIZERS[key]()
    if isinstance(optimizer, keras.optimizers.Optimizer | GroupedOptimizer):
        return optimizer
    raise TypeError(
        "`optimizer` must be a name or a keras.optimizers.Optimizer. "
        f"Received: {type(optimizer).__name__}"
    )


def resolve_loss(loss: Any) -> Callable[..., Any]:
    """A loss returning one value per sample (no reduction): the Trainer reduces it itself."""
    if isinstance(loss, str):
        key = loss.lower()
        if key not in LOSSES:
            raise ValueError(
                f"Unknown loss {loss!r}. Choose one of: {', '.join(LOSSES)}; "
                "or pass a keras.losses.Loss or a callable (y_true, y_pred) -> per-sample loss."
            )
        return LOSSES[key](reduction=None)
    if isinstance(loss, keras.losses.Loss):
        # Rebuild without reduction: the Trainer divides by the global batch size itself.
        config = dict(loss.get_config(), reduction=None)
        return type(loss).from_config(config)
    if callable(loss):
        return loss
    raise TypeError(
        f"`loss` must be a name, a keras.losses.Loss or a callable. Received: {type(loss).__name__}"
    )


def all_optimizers(optimizer: Any) -> list[keras.optimizers.Optimizer]:
    """The Keras optimizers inside `optimizer` (one, or one per group)."""
    if isinstance(optimizer, GroupedOptimizer):
        return list(optimizer.optimizers)
    return [optimizer]


def get_learning_rate(optimizer: Any) -> float:
    """The current learning rate (the head's, for a GroupedOptimizer) as a float."""
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def scale_learning_rate(optimizer: Any, factor: float, min_lr: float = 0.0) -> None:
    """Multiply every group's learning rate by `factor`, floored at `min_lr`."""
    for opt in all_optimizers(optimizer):
        if isinstance(opt, keras.optimizers.LossScaleOptimizer):
            opt = opt.inner_optimizer
        current = float(keras.ops.convert_to_numpy(opt.learning_rate))
        opt.learning_rate = max(current * factor, min_lr)
