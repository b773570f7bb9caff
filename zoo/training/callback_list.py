"""Dispatch of the fit loop's hooks to any `keras.callbacks.Callback`.

`CallbackList` gives every callback the model (`set_model`) and the run's parameters
(`set_params`: `epochs`, `steps`, `verbose`), as `model.fit` does, and calls each hook only on the
callbacks that override it: a run whose callbacks ignore batches pays nothing per batch. Hooks run
in the caller's thread, in the order of the list, all with the same `logs` dict (so a value one
callback adds, e.g. ReduceLROnPlateau's `learning_rate`, is seen by the ones after it).
`optimizer_on_model` puts the Trainer's optimizer where Keras' callbacks look for it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import keras

from zoo.training.callbacks import Callback

# Each hook and the older names Keras' base class forwards it to (`on_train_batch_end` calls
# `on_batch_end` unless overridden), so overriding either counts.
HOOKS: dict[str, tuple[str, ...]] = {
    "on_train_begin": (),
    "on_train_end": (),
    "on_epoch_begin": (),
    "on_epoch_end": (),
    "on_train_batch_begin": ("on_batch_begin",),
    "on_train_batch_end": ("on_batch_end",),
    "on_test_begin": (),
    "on_test_end": (),
    "on_test_batch_begin": (),
    "on_test_batch_end": (),
    "on_predict_begin": (),
    "on_predict_end": (),
    "on_predict_batch_begin": (),
    "on_predict_batch_end": (),
}


def _overrides(callback: keras.callbacks.Callback, names: Sequence[str]) -> bool:
    """True when `callback` (its class or the instance, as LambdaCallback does) defines a hook."""
    for name in names:
        if name in vars(callback):
            return True
        if getattr(type(callback), name) is not getattr(keras.callbacks.Callback, name):
            return True
    return False


@contextlib.contextmanager
def optimizer_on_model(model: Any, optimizer: Any) -> Iterator[None]:
    """`model.optimizer` is `optimizer` inside the block (Keras' callbacks look for it there:
    ReduceLROnPlateau, TensorBoard, BackupAndRestore), and what it was before afterwards.

    Set past Keras' attribute tracking, so the model's checkpoint entries and a saved `.keras`
    file of an uncompiled model stay the same with or without it.
    """
    missing = object()
    previous = vars(model).get("optimizer", missing)
    object.__setattr__(model, "optimizer", optimizer)
    try:
        yield
    finally:
        if previous is missing:
            object.__delattr__(model, "optimizer")
        else:
            object.__setattr__(model, "optimizer", previous)


class CallbackList:
    """The callbacks of one `fit`, `evaluate` or `predict` call.

    Args:
        callbacks: `keras.callbacks.Callback` instances (zoo's callbacks are some).
        trainer: the Trainer; zoo's callbacks also get it as `callback.trainer`.
        **params: given to every callback through `set_params` (Keras' `epochs`, `steps`,
            `verbose`).
    """

    def __init__(self, callbacks: Sequence[Any], *, trainer: Any, **params: Any) -> None:
        for callback in callbacks:
            if not isinstance(callback, keras.callbacks.Callback):
                raise TypeError(
                    "Each of `callbacks` must be a keras.callbacks.Callback (zoo.training's "
                    f"callbacks are). Received: {type(callback).__name__}"
                )
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            if isinstance(callback, Callback):
                callback.trainer = trainer
            callback.set_model(trainer.model)
            callback.set_params(dict(params))
        self._hooks = {
            hook: [
                getattr(callback, hook)
                for callback in self.callbacks
                if _overrides(callback, (hook, *aliases))
            ]
            for hook, aliases in HOOKS.items()
        }

    def wants(self, hook: str) -> bool:
        """Whether any callback overrides `hook` (so its logs are worth computing)."""
        return bool(self._hooks[hook])

    def call(self, hook: str, *args: Any) -> None:
        """Call `hook(*args)` on each callback that overrides it, in list order."""
        for method in self._hooks[hook]:
            method(*args)

    def batch_begin(self, hook: str) -> Callable[[int], None] | None:
        """A function calling `hook(batch, None)`, or None when no callback overrides it (the
        loops then skip the call altogether)."""
        if not self.wants(hook):
            return None
        return lambda batch: self.call(hook, batch, None)

    def get_states(self) -> list[dict[str, Any]]:
        """Each callback's checkpointed state (`{}` for callbacks without `get_state`)."""
        return [
            callback.get_state() if hasattr(callback, "get_state") else {}
            for callback in self.callbacks
        ]

    def set_states(self, states: Sequence[dict[str, Any]]) -> None:
        for callback, state in zip(self.callbacks, states, strict=False):
            if hasattr(callback, "set_state"):
                callback.set_state(state)
