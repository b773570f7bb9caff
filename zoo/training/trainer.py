"""`Trainer`: a GradientTape training loop for any Keras model.

The step (`train_step`, `test_step`, `predict_step`) is small and overridable, and runs once per
replica inside `strategy.run`; the outer loop (epochs, validation, checkpoints, summaries,
callbacks, progress) lives in `zoo.training.loop` and knows nothing of the step's inside.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from zoo.training.callback_list import CallbackList, optimizer_on_model
from zoo.training.checkpointing import CheckpointKeeper, worker_role
from zoo.training.compiled import CompiledSteps
from zoo.training.data import EpochData, unpack_batch
from zoo.training.errors import NonFiniteLossError  # noqa: F401 (its old home, kept importable)
from zoo.training.loop import FitLoop
from zoo.training.optimizers import GroupedOptimizer, resolve_loss, resolve_optimizer
from zoo.training.options import CheckpointOptions, SummaryOptions
from zoo.training.seeds import global_seed_state, layer_seed_states
from zoo.training.step import TapeStep

_ACCURACY = {
    "sparse_categorical_crossentropy": keras.metrics.SparseCategoricalAccuracy,
    "categorical_crossentropy": keras.metrics.CategoricalAccuracy,
    "binary_crossentropy": keras.metrics.BinaryAccuracy,
}


def _resolve_metric(metric: Any, loss: Any) -> keras.metrics.Metric:
    if isinstance(metric, keras.metrics.Metric):
        return metric
    if isinstance(metric, str) and metric in ("accuracy", "acc"):
        name = loss.lower() if isinstance(loss, str) else getattr(loss, "name", "")
        return _ACCURACY.get(name, keras.metrics.Accuracy)(name=metric)
    if isinstance(metric, str):
        try:
            resolved = keras.metrics.get(metric)
        except ValueError as err:
            raise ValueError(
                f"Unknown metric {metric!r}: not a Keras metric name. Received: metrics=[..., "
                f"{metric!r}, ...]"
            ) from err
        if isinstance(resolved, keras.metrics.Metric):
            # Keep the user's spelling as the log key ("mae", not "mean_absolute_error").
            return type(resolved).from_config(dict(resolved.get_config(), name=metric))
        return keras.metrics.MeanMetricWrapper(resolved, name=metric)
    if callable(metric):
        return keras.metrics.MeanMetricWrapper(metric, name=getattr(metric, "__name__", "metric"))
    raise TypeError(
        f"Each of `metrics` must be a name, a keras.metrics.Metric or a callable. "
        f"Received: {type(metric).__name__}"
    )


class Trainer(TapeStep, CompiledSteps):
    """Train, evaluate and predict with a Keras model through a custom GradientTape loop.

    Args:
        model: a Keras model (built, or built on the first batch). Under a strategy, create it
            inside `strategy.scope()`.
        optimizer: a name (`sgd`, `heun`, `adam`, ...), a Keras optimizer or a GroupedOptimizer.
            Under the `mixed_float16` policy it is wrapped in `LossScaleOptimizer`.
        loss: a name, a `keras.losses.Loss` or a callable `(y_true, y_pred) -> per-sample loss`;
            for a model with named outputs, a dict {output name: loss} (outputs left out are
            not trained against), with `y` a dict of the same keys.
        metrics: names, Keras metrics or callables; or {output name: [metrics]}.
        loss_weights: {output name: weight} for a dict `loss` (default 1 each).
        strategy: a `tf.distribute.Strategy`; None runs on the default device.
        jit_compile: compile the steps with XLA.
        clip_norm: clip the (global, all-replica) gradient to this global norm.
        checkpoint_dir: where checkpoints go (None: no checkpoints).
        log_dir: where TensorBoard summaries go (None: none).
        seed: seeds Python, NumPy and TensorFlow (`keras.utils.set_random_seed`) and the shuffle
            of numpy input. None draws a shuffle seed at `fit` and stores it in checkpoints.
        checkpoint_options: a `CheckpointOptions` (mid-epoch saves, how many to keep).
        summary_options: a `SummaryOptions` (histograms).
        steps_per_execution: training steps run inside one `tf.function` call (a
            `tf.while_loop`), which saves Python overhead per step. Losses are still checked
            per step; callbacks' batch hooks run after the call (once per step in it) and
            mid-epoch checkpoints wait for the call's end.

    Example:
        trainer = Trainer(model=model, optimizer="adam", loss="mse", metrics=["mae"],
                          checkpoint_dir="ckpt", log_dir="logs", seed=0)
        history = trainer.fit((x, y), validation=(x_val, y_val), epochs=10, batch_size=64)
    """

    def __init__(
        self,
        *,
        model: keras.Model,
        optimizer: Any = "adam",
        loss: Any,
        metrics: Sequence[Any] | dict[str, Sequence[Any]] = (),
        loss_weights: dict[str, float] | None = None,
        strategy: tf.distribute.Strategy | None = None,
        jit_compile: bool = False,
        clip_norm: float | None = None,
        checkpoint_dir: str | os.PathLike | None = None,
        log_dir: str | os.PathLike | None = None,
        seed: int | None = None,
        checkpoint_options: CheckpointOptions | None = None,
        summary_options: SummaryOptions | None = None,
        steps_per_execution: int = 1,
    ) -> None:
        if not isinstance(model, keras.layers.Layer):
            raise TypeError(f"`model` must be a Keras model. Received: {type(model).__name__}")
        if clip_norm is not None and not (isinstance(clip_norm, int | float) and clip_norm > 0):
            raise ValueError(
                f"`clip_norm` must be a positive number or None. Received: clip_norm={clip_norm!r}"
            )
        if not isinstance(steps_per_execution, int) or steps_per_execution < 1:
            raise ValueError(
                "`steps_per_execution` must be a positive integer. "
                f"Received: steps_per_execution={steps_per_execution!r}"
            )
        if seed is not None:
            if not isinstance(seed, int) or seed < 0:
                raise ValueError(f"`seed` must be an integer >= 0. Received: seed={seed!r}")
            keras.utils.set_random_seed(seed)
        self.model = model
        self.strategy = strategy or tf.distribute.get_strategy()
        self._distribute = strategy is not None
        self.jit_compile = bool(jit_compile)
        self.clip_norm = clip_norm
        self.steps_per_execution = steps_per_execution
        self.seed = seed
        self.checkpoint_dir = os.fspath(checkpoint_dir) if checkpoint_dir is not None else None
        self.log_dir = os.fspath(log_dir) if log_dir is not None else None
        self.checkpoint_options = checkpoint_options or CheckpointOptions()
        self.summary_options = summary_options or SummaryOptions()
        if isinstance(loss, dict):
            self.loss_fn: Any = {key: resolve_loss(value) for key, value in loss.items()}
        else:
            self.loss_fn = resolve_loss(loss)
        self.loss_weights = dict(loss_weights or {})
        if loss_weights and not isinstance(loss, dict):
            raise ValueError(
                "`loss_weights` needs a dict `loss` (one loss per named output). "
                f"Received: loss={loss!r}"
            )
        with self.strategy.scope():
            optimizer = resolve_optimizer(optimizer)
            policy = keras.mixed_precision.global_policy().name
            if policy == "mixed_float16" and isinstance(optimizer, keras.optimizers.Optimizer):
                if not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
                    optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            self.optimizer = optimizer
            # `metrics` is a list for the whole output, or {output name: list} for named
            # outputs (logged as "<output>_<metric>").
            self.metrics = []
            self._metric_outputs: list[str | None] = []
            groups = metrics.items() if isinstance(metrics, dict) else [(None, metrics)]
            for key, group in groups:
                group_loss = loss.get(key, "") if isinstance(loss, dict) else loss
                for item in group:
                    metric = _resolve_metric(item, group_loss)
                    if key is not None:
                        metric = type(metric).from_config(
                            dict(metric.get_config(), name=f"{key}_{metric.name}")
                        )
                    self.metrics.append(metric)
                    self._metric_outputs.append(key)
        self._gradient_evaluations = getattr(self.optimizer, "gradient_evaluations", 1)
        if self._gradient_evaluations == 2 and self.strategy.num_replicas_in_sync > 1:
            raise ValueError(
                "`optimizer` 'heun' takes a trial step on the variables, which is supported on "
                f"one replica only. Received: a strategy with "
                f"{self.strategy.num_replicas_in_sync} replicas"
            )
        self.stop_training = False
        # Training steps done so far, counting those before a resume (set by the fit loop).
        self.global_step = 0
        self._built = False
        self._functions: dict[str, Any] = {}
        self._keeper: CheckpointKeeper | None = None

    def build(self, data: EpochData | None = None) -> None:
        """Build model (on a first batch if needed), optimizer and checkpoint keeper once."""
        if self._built:
            return
        with self.strategy.scope():
            if not self.model.built or not self.model.variables:
                if data is None:
                    raise ValueError(
                        "The model is not built yet: call it on a batch (or give it an Input) "
                        "before `restore()`, or call `fit` first."
                    )
                x, _, _ = unpack_batch(next(iter(data.epoch_dataset(0).take(1))))
                self.model(x, training=False)
            self.optimizer.build(list(self.model.trainable_variables))
        if self.checkpoint_dir is not None:
            metric_holder = tf.Module()
            metric_holder.values = [v for m in self.metrics for v in m.variables]
            optimizers = tf.Module()
            optimizers.values = (
                list(self.optimizer.optimizers)
                if isinstance(self.optimizer, GroupedOptimizer)
                else [self.optimizer]
            )
            # Random state (Dropout masks, unseeded keras.random calls): resumed runs draw the
            # numbers an uninterrupted run would. The global generator is left out under a
            # strategy, where a variable created outside the model's scope is not replicated.
            seeds = tf.Module()
            seeds.layers = layer_seed_states(self.model)
            global_state = None if self._distribute else global_seed_state()
            seeds.globals = [] if global_state is None else [global_state]
            # Only a run with random state has a `seeds` entry (the keeper warns when resuming
            # such a run from a checkpoint without one).
            random_state = {"seeds": seeds} if seeds.layers or seeds.globals else {}
            is_chief, tag = worker_role(self.strategy)
            scratch = None
            if not is_chief:
                scratch = os.path.join(tempfile.gettempdir(), f"zoo-checkpoints-{tag}")
            self._keeper = CheckpointKeeper(
                self.checkpoint_dir,
                write_directory=scratch,
                max_to_keep=self.checkpoint_options.max_to_keep,
                model=self.model,
                optimizer=optimizers,
                metrics=metric_holder,
                **random_state,
            )
        self._built = True

    # ------------------------------------------------------------------ building, public loops

    def restore(self, checkpoint: str | os.PathLike | None = None) -> str | None:
        """Load a checkpoint of `checkpoint_dir` into model, optimizer, metrics and random state.

        Args:
            checkpoint: a checkpoint's path (e.g. `"ckpt/ckpt-40"`); None takes the newest one
                the folder's state file lists.

        Returns its path, or None when the folder holds no checkpoint. A damaged or foreign
        checkpoint raises `CheckpointError` (naming the file; nothing is changed), as in
        `fit(..., resume=True)`.
        """
        if self.checkpoint_dir is None:
            raise ValueError("`restore()` needs the Trainer's `checkpoint_dir`. Received: None")
        self.build()
        restored = self._keeper.restore(None if checkpoint is None else os.fspath(checkpoint))
        if restored is None:
            return None
        self.global_step = int(restored[1].get("global_step", 0))
        return restored[0]

    def fit(
        self,
        train: Any,
        validation: Any = None,
        *,
        epochs: int = 1,
        batch_size: int = 32,
        shuffle: bool = True,
        steps_per_epoch: int | None = None,
        validation_batch_size: int | None = None,
        callbacks: Sequence[Any] = (),
        resume: bool | str | os.PathLike = False,
        verbose: int = 1,
    ) -> Any:
        """Train for `epochs` epochs; returns a `History` (`history.history[name]` per epoch).

        Args:
            train: a `tf.data.Dataset` of `(x, y[, sample_weight])` batches, or numpy arrays
                `(x, y[, sample_weight])` that the Trainer batches and (if `shuffle`) shuffles
                with an order that depends only on (seed, epoch).
            validation: same forms; evaluated at the end of each epoch (`val_*` logs).
            epochs: the epoch to stop at (counting epochs done before a resume).
            batch_size: batch size for numpy input.
            shuffle: shuffle numpy input each epoch.
            steps_per_epoch: cap on batches per epoch.
            validation_batch_size: batch size for numpy validation input (default `batch_size`).
            callbacks: any `keras.callbacks.Callback` (CSVLogger, EarlyStopping, TensorBoard,
                BackupAndRestore, LambdaCallback, your own subclass) or zoo's callbacks, whose
                state also rides in each checkpoint. They are called as in `model.fit`; see
                `zoo.training.loop`.
            resume: True continues from the newest checkpoint in `checkpoint_dir`, at the
                batch after the last one it saw; a checkpoint's path continues from that one.
                A damaged checkpoint folder raises `CheckpointError` naming the file (nothing
                is deleted or overwritten). Exact for numpy input (its order is a
                function of seed and epoch) and for datasets whose order is the same on every
                pass; a dataset that reshuffles each pass resumes at the right count of
                batches but not at the same ones.
            verbose: 1 shows a progress bar per epoch, 2 one line per epoch (as Keras' fit:
                for a log file), 0 is quiet.
        """
        return FitLoop(
            self,
            train,
            validation,
            epochs=epochs,
            batch_size=batch_size,
            shuffle=shuffle,
            steps_per_epoch=steps_per_epoch,
            validation_batch_size=validation_batch_size or batch_size,
            callbacks=callbacks,
            resume=resume,
            verbose=verbose,
        ).run()

    def evaluate(
        self,
        data: Any,
        *,
        batch_size: int = 32,
        steps: int | None = None,
        callbacks: Sequence[Any] = (),
    ) -> dict:
        """Mean loss (weighted by batch size) and metric results over `data`.

        `callbacks` (Keras callbacks) get `on_test_begin`, `on_test_batch_begin/end` and
        `on_test_end`, as in `model.evaluate`.
        """
        epoch_data = EpochData(data, batch_size=batch_size, steps_per_epoch=steps, name="data")
        self.build(epoch_data)
        hooks = CallbackList(callbacks, trainer=self, steps=epoch_data.steps_per_epoch, verbose=0)
        with optimizer_on_model(self.model, self.optimizer):
            return self._evaluate(epoch_data, hooks)

    def _metric_logs(self, loss: float) -> dict[str, float]:
        """`{"loss": loss, <metric name>: result, ...}`: the logs of a batch or an epoch."""
        logs = {"loss": loss}
        logs.update({m.name: float(m.result()) for m in self.metrics})
        return logs

    def _evaluate(
        self, epoch_data: EpochData, callbacks: CallbackList | None = None
    ) -> dict[str, float]:
        callbacks = callbacks or CallbackList((), trainer=self)
        for metric in self.metrics:
            metric.reset_state()
        callbacks.call("on_test_begin", None)
        batch_logs = callbacks.wants("on_test_batch_end")
        before_step = callbacks.batch_begin("on_test_batch_begin")
        total, count = 0.0, 0.0
        steps = epoch_data.steps_per_epoch
        batches = self._run_steps("test", epoch_data.epoch_dataset(0), steps, before_step)
        for index, outputs in enumerate(batches):
            batch_count = float(outputs["count"])
            total += float(outputs["loss"]) * batch_count
            count += batch_count
            if batch_logs:
                callbacks.call("on_test_batch_end", index, self._metric_logs(total / count))
        if count == 0:
            raise ValueError(f"`{epoch_data.name}` is empty: it yielded no batch.")
        logs = self._metric_logs(total / count)
        callbacks.call("on_test_end", logs)
        return logs

    def predict(
        self,
        data: Any,
        *,
        batch_size: int = 32,
        steps: int | None = None,
        callbacks: Sequence[Any] = (),
    ) -> Any:
        """The model's outputs over `data`, concatenated along the batch axis (numpy).

        `callbacks` get `on_predict_begin`, `on_predict_batch_begin/end` (logs
        `{"outputs": batch outputs}`) and `on_predict_end`, as in `model.predict`.
        """
        if not isinstance(data, tf.data.Dataset | tuple):
            data = (data,)
        epoch_data = EpochData(data, batch_size=batch_size, steps_per_epoch=steps, name="data")
        self.build(epoch_data)
        steps = epoch_data.steps_per_epoch
        hooks = CallbackList(callbacks, trainer=self, steps=steps, verbose=0)
        with optimizer_on_model(self.model, self.optimizer):
            hooks.call("on_predict_begin", None)
            before_step = hooks.batch_begin("on_predict_batch_begin")
            chunks = []
            batches = self._run_steps("predict", epoch_data.epoch_dataset(0), steps, before_step)
            for index, outputs in enumerate(batches):
                chunks.append(tf.nest.map_structure(np.asarray, outputs))
                hooks.call("on_predict_batch_end", index, {"outputs": chunks[-1]})
            hooks.call("on_predict_end", None)
        return tf.nest.map_structure(lambda *parts: np.concatenate(parts, axis=0), *chunks)
