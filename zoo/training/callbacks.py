"""zoo's callbacks: Keras callbacks whose counters survive a resume of the Trainer.

`Callback` is a `keras.callbacks.Callback` that also exposes `get_state`/`set_state`, which the
Trainer stores in each checkpoint, so a resumed run stops or lowers its learning rate at the same
epoch an uninterrupted one would. They act through `self.model` (its `stop_training`, weights and
`optimizer`), so they work in `model.fit` as well; in the Trainer, `model.optimizer` is the
Trainer's optimizer, and ReduceLROnPlateau lowers every group of a GroupedOptimizer. Keras' own
EarlyStopping and ReduceLROnPlateau work in the Trainer too, but start afresh on every `fit`.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np

from zoo.training.optimizers import get_learning_rate, scale_learning_rate


class Callback(keras.callbacks.Callback):
    """Base class: override any Keras hook. In `Trainer.fit`, `self.trainer` is the Trainer.

    In `Trainer.fit`, `self.model` is the Trainer's model and `self.params` holds `epochs`,
    `steps` (batches per epoch) and `verbose`, as in `model.fit`.
    """

    trainer: Any = None

    def get_state(self) -> dict[str, Any]:
        """JSON-serialisable state saved in each checkpoint."""
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore what `get_state` returned."""


_MODES = ("auto", "min", "max")


class _Monitor(Callback):
    """Shared part: watch one logged value and count epochs without improvement."""

    def __init__(self, monitor: str, mode: str, min_delta: float, patience: int) -> None:
        super().__init__()
        if mode not in _MODES:
            raise ValueError(f"Unknown mode {mode!r}. Choose one of: {', '.join(_MODES)}")
        if not isinstance(patience, int) or patience < 0:
            raise ValueError(f"`patience` must be an integer >= 0. Received: patience={patience!r}")
        self.monitor = monitor
        if mode == "auto":
            higher_is_better = ("acc", "auc", "precision", "recall")
            mode = "max" if any(k in monitor for k in higher_is_better) else "min"
        self.mode = mode
        self.min_delta = abs(float(min_delta))
        self.patience = patience
        self.best = math.inf if mode == "min" else -math.inf
        self.wait = 0

    def _current(self, logs: dict[str, float] | None) -> float | None:
        if not logs or self.monitor not in logs:
            return None
        return float(logs[self.monitor])

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def get_state(self) -> dict[str, Any]:
        return {"best": self.best, "wait": self.wait}

    def set_state(self, state: dict[str, Any]) -> None:
        self.best = float(state.get("best", self.best))
        self.wait = int(state.get("wait", 0))


class EarlyStopping(_Monitor):
    """Stop training when `monitor` has not improved for `patience` epochs.

    Args:
        monitor: a key of the epoch logs, e.g. `"val_loss"`.
        min_delta: smallest change that counts as an improvement.
        patience: epochs without improvement before stopping.
        mode: `"min"`, `"max"` or `"auto"` (max for accuracy-like names).
        restore_best_weights: at the end, put back the weights of the best epoch seen in this
            process (they are kept in memory, not in checkpoints).
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        *,
        min_delta: float = 0.0,
        patience: int = 0,
        mode: str = "auto",
        restore_best_weights: bool = False,
    ) -> None:
        super().__init__(monitor, mode, min_delta, patience)
        self.restore_best_weights = restore_best_weights
        self.stopped_epoch: int | None = None
        self._best_weights: list[np.ndarray] | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        value = self._current(logs)
        if value is None:
            return
        if self._improved(value):
            self.best = value
            self.wait = 0
            if self.restore_best_weights:
                self._best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        if self.restore_best_weights and self._best_weights is not None:
            self.model.set_weights(self._best_weights)


class ReduceLROnPlateau(_Monitor):
    """Multiply the learning rate by `factor` when `monitor` stalls for `patience` epochs.

    Args:
        monitor: a key of the epoch logs, e.g. `"val_loss"`.
        factor: multiplier in (0, 1).
        patience: epochs without improvement before reducing.
        min_delta: smallest change that counts as an improvement.
        cooldown: epochs to wait after a reduction before counting again.
        min_lr: lower bound of the learning rate.
        mode: `"min"`, `"max"` or `"auto"`.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        *,
        factor: float = 0.1,
        patience: int = 10,
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
        mode: str = "auto",
    ) -> None:
        if not 0.0 < factor < 1.0:
            raise ValueError(f"`factor` must be in (0, 1). Received: factor={factor!r}")
        super().__init__(monitor, mode, min_delta, patience)
        self.factor = factor
        self.cooldown = cooldown
        self.min_lr = min_lr
        self.cooldown_left = 0

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        value = self._current(logs)
        if value is None:
            return
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.wait = 0
        if self._improved(value):
            self.best = value
            self.wait = 0
            return
        if self.cooldown_left > 0:
            return
        self.wait += 1
        if self.wait >= self.patience:
            optimizer = self.model.optimizer
            if get_learning_rate(optimizer) > self.min_lr:
                scale_learning_rate(optimizer, self.factor, self.min_lr)
            self.cooldown_left = self.cooldown
            self.wait = 0

    def get_state(self) -> dict[str, Any]:
        return {**super().get_state(), "cooldown_left": self.cooldown_left}

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self.cooldown_left = int(state.get("cooldown_left", 0))


class LambdaCallback(Callback):
    """A callback from plain functions, e.g. `LambdaCallback(on_train_batch_end=f)`."""

    def __init__(self, **hooks: Any) -> None:
        super().__init__()
        for name, fn in hooks.items():
            if not hasattr(Callback, name) or not name.startswith("on_"):
                raise ValueError(f"Unknown hook {name!r}. Choose among the `on_*` methods.")
            setattr(self, name, fn)
