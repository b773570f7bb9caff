"""`Trainer`: a GradientTape training loop for any Keras model.

The step (`train_step`, `test_step`, `predict_step`) is small and overridable, and runs once per
replica inside `strategy.run`; the outer loop (epochs, validation, checkpoints, summaries,
callbacks, progress) lives in `zoo.training.loop` and knows nothing of the step's inside.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from zoo.training.checkpointing import CheckpointKeeper
from zoo.training.data import EpochData, unpack_batch
from zoo.training.optimizers import GroupedOptimizer, resolve_loss, resolve_optimizer
from zoo.training.options import CheckpointOptions, SummaryOptions

_ACCURACY = {
    "sparse_categorical_crossentropy": keras.metrics.SparseCategoricalAccuracy,
    "categorical_crossentropy": keras.metrics.CategoricalAccuracy,
    "binary_crossentropy": keras.metrics.BinaryAccuracy,
}


# What the train step reports to the outer loop, in this order.
_TRAIN_OUTPUTS = ("loss", "count", "grad_norm")


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the message names the epoch and step."""


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


def _to_float32(structure: Any) -> Any:
    """Cast floating outputs to float32: under mixed_float16 the loss is computed in float32."""

    def cast(t):
        return tf.cast(t, tf.float32) if t.dtype.is_floating and t.dtype != tf.float32 else t

    return tf.nest.map_structure(cast, structure)


def _per_sample(values: Any, sample_weight: Any) -> Any:
    """Loss values weighted and averaged over every axis but the batch axis: shape (batch,)."""
    values = tf.cast(values, tf.float32)
    if sample_weight is not None:
        weight = tf.cast(sample_weight, tf.float32)
        if weight.shape.rank == values.shape.rank:
            values = values * weight
        else:
            values = tf.reshape(values, [tf.shape(values)[0], -1])
            values = values * tf.reshape(weight, [-1, 1])
    if values.shape.rank and values.shape.rank > 1:
        values = tf.reduce_mean(values, axis=list(range(1, values.shape.rank)))
    return values


class Trainer:
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

    # ------------------------------------------------------------------ the step (per replica)

    def compute_loss(self, y: Any, y_pred: Any, sample_weight: Any = None) -> tuple[Any, Any]:
        """This replica's share of the batch loss, and its number of samples.

        The share is sum(per-sample loss × weight) / global batch size: the optimizer *sums*
        gradients over replicas, so dividing by the global (not the local) batch size makes the
        summed gradient that of the global batch mean, equal to the single-device gradient.
        """
        y_pred = _to_float32(y_pred)
        if isinstance(self.loss_fn, dict):
            # One loss per named output, weighted and summed per sample (as Keras' compile).
            values = tf.add_n(
                [
                    self.loss_weights.get(key, 1.0)
                    * _per_sample(fn(y[key], y_pred[key]), sample_weight)
                    for key, fn in self.loss_fn.items()
                ]
            )
        else:
            values = _per_sample(self.loss_fn(y, y_pred), sample_weight)
        local_count = tf.cast(tf.shape(values)[0], tf.float32)
        global_count = self._all_reduce_sum(local_count)
        loss = tf.reduce_sum(values) / tf.maximum(global_count, 1.0)
        if self.model.losses:
            # Regularisation terms are global: each replica adds 1/R of them, so the sum is one.
            loss += tf.add_n([tf.cast(v, tf.float32) for v in self.model.losses]) / float(
                self.strategy.num_replicas_in_sync
            )
        return loss, local_count

    def _all_reduce_sum(self, value: Any) -> Any:
        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return value
        return context.all_reduce(tf.distribute.ReduceOp.SUM, value)

    def _gradients(self, x: Any, y: Any, sample_weight: Any, variables: list) -> tuple:
        """Loss share, prediction, sample count and the *global* gradient (all replicas)."""
        with tf.GradientTape() as tape:
            y_pred = self.model(x, training=True)
            loss, count = self.compute_loss(y, y_pred, sample_weight)
            scaled = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, variables)
        grads = [
            tf.zeros_like(v) if g is None else tf.convert_to_tensor(g)
            for g, v in zip(grads, variables, strict=True)
        ]
        if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
            grads = [g / tf.cast(self.optimizer.dynamic_scale, g.dtype) for g in grads]
        grads = self._all_reduce_sum(grads)
        return loss, y_pred, count, grads

    def _clip(self, grads: list) -> tuple[list, Any]:
        norm = tf.linalg.global_norm(grads)
        if self.clip_norm is not None:
            grads, _ = tf.clip_by_global_norm(grads, self.clip_norm, use_norm=norm)
        return grads, norm

    def _apply(self, grads: list, variables: list) -> None:
        replicas = self.strategy.num_replicas_in_sync
        if replicas > 1:
            # The grads are already summed over replicas; Keras' optimizer sums them again.
            grads = [g / float(replicas) for g in grads]
        if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
            # LossScaleOptimizer unscales (and checks finiteness) itself: hand it scaled grads.
            grads = [g * tf.cast(self.optimizer.dynamic_scale, g.dtype) for g in grads]
        self.optimizer.apply_gradients(list(zip(grads, variables, strict=True)))

    def train_step(self, batch: Any) -> dict[str, Any]:
        """One update on one replica's part of a batch. Override for custom training."""
        x, y, sample_weight = unpack_batch(batch)
        variables = list(self.model.trainable_variables)
        loss, y_pred, count, grads = self._gradients(x, y, sample_weight, variables)
        grads, grad_norm = self._clip(grads)
        if self._gradient_evaluations == 2:
            # Heun: trial Euler step, gradient there, back to θ, then step along the average.
            step_size = tf.cast(self.optimizer.learning_rate, tf.float32)
            saved = [tf.identity(v) for v in variables]
            for variable, grad in zip(variables, grads, strict=True):
                variable.assign_sub(tf.cast(step_size, variable.dtype) * grad)
            _, _, _, trial_grads = self._gradients(x, y, sample_weight, variables)
            trial_grads, _ = self._clip(trial_grads)
            for variable, value in zip(variables, saved, strict=True):
                variable.assign(value)
            grads = [(a + b) / 2.0 for a, b in zip(grads, trial_grads, strict=True)]
        self._apply(grads, variables)
        self._update_metrics(y, y_pred, sample_weight)
        return {"loss": loss, "count": count, "grad_norm": grad_norm}

    def test_step(self, batch: Any) -> dict[str, Any]:
        """Loss and metric updates on one replica's part of a batch, no update."""
        x, y, sample_weight = unpack_batch(batch)
        y_pred = self.model(x, training=False)
        loss, count = self.compute_loss(y, y_pred, sample_weight)
        self._update_metrics(y, y_pred, sample_weight)
        return {"loss": loss, "count": count}

    def _update_metrics(self, y: Any, y_pred: Any, sample_weight: Any) -> None:
        y_pred = _to_float32(y_pred)
        for metric, key in zip(self.metrics, self._metric_outputs, strict=True):
            if key is None:
                metric.update_state(y, y_pred, sample_weight=sample_weight)
            else:
                metric.update_state(y[key], y_pred[key], sample_weight=sample_weight)

    def predict_step(self, batch: Any) -> Any:
        """The model's output on one replica's part of a batch."""
        x, _, _ = unpack_batch(batch)
        return self.model(x, training=False)

    # ------------------------------------------------------------------ compiled, replicated

    def _function(self, kind: str) -> Any:
        """The tf.function that takes the next batch of an iterator and runs `kind`'s step on
        every replica, reducing the results.

        The batch is fetched inside the graph (as `model.fit` does), which saves a Python-side
        `next` and a tensor hand-over per step; the function is traced once per iterator type,
        whose batch axis is unknown, so a partial last batch or a new epoch does not retrace.
        """
        if kind in self._functions:
            return self._functions[kind]
        step = {"train": self.train_step, "test": self.test_step, "predict": self.predict_step}[
            kind
        ]
        strategy = self.strategy
        replicas = strategy.num_replicas_in_sync
        if self.jit_compile and replicas > 1:
            # XLA compiles each replica's step; the cross-replica reduction stays outside.
            step = tf.function(step, jit_compile=True, reduce_retracing=True, autograph=False)

        def one_step(batch):
            if not self._distribute:
                # No strategy given: call the step directly, with nothing to reduce.
                return step(batch)
            outputs = strategy.run(step, args=(batch,))
            if kind == "predict":
                if replicas > 1:
                    return tf.nest.map_structure(lambda t: strategy.gather(t, axis=0), outputs)
                return outputs
            reduced = {
                "loss": strategy.reduce(tf.distribute.ReduceOp.SUM, outputs["loss"], axis=None),
                "count": strategy.reduce(tf.distribute.ReduceOp.SUM, outputs["count"], axis=None),
            }
            if "grad_norm" in outputs:
                # Every replica computed the norm of the same all-reduced gradient.
                reduced["grad_norm"] = strategy.experimental_local_results(outputs["grad_norm"])[0]
            return reduced

        one_step = tf.function(
            one_step,
            jit_compile=self.jit_compile and replicas == 1,
            reduce_retracing=True,
            autograph=False,
        )

        def next_step(iterator):
            outputs = one_step(next(iterator))
            if kind == "train":
                # One small vector: a single device-to-host copy per step for the loop's checks.
                return tf.stack([tf.cast(outputs[k], tf.float32) for k in _TRAIN_OUTPUTS])
            return outputs

        function = tf.function(next_step, reduce_retracing=True, autograph=False)
        if kind == "train" and self.steps_per_execution > 1:
            self._functions["train_block"] = self._block_function(one_step)
        self._functions[kind] = function
        return function

    def _block_function(self, one_step: Any) -> Any:
        """A tf.function running `steps_per_execution` train steps in a `tf.while_loop`,
        returning each step's loss, sample count and gradient norm stacked."""
        size = self.steps_per_execution

        def block(iterator):
            def body(i, losses, counts, norms):
                outputs = one_step(next(iterator))
                return (
                    i + 1,
                    losses.write(i, tf.cast(outputs["loss"], tf.float32)),
                    counts.write(i, tf.cast(outputs["count"], tf.float32)),
                    norms.write(i, tf.cast(outputs["grad_norm"], tf.float32)),
                )

            arrays = [tf.TensorArray(tf.float32, size=size) for _ in range(3)]
            _, losses, counts, norms = tf.while_loop(
                lambda i, *_: i < size, body, [tf.constant(0), *arrays]
            )
            return {"loss": losses.stack(), "count": counts.stack(), "grad_norm": norms.stack()}

        return tf.function(block, reduce_retracing=True, autograph=False)

    def _train_steps(self, dataset: Any, steps: int | None) -> Any:
        """Yield `(outputs, at_call_end)` per train step, outputs as Python floats.

        Runs `steps_per_execution` steps per call while at least that many remain (and the
        count is known), single steps otherwise. `at_call_end` is True when the variables
        reflect this step, i.e. when a checkpoint may be written.
        """
        function = self._function("train")
        block = self._functions.get("train_block")
        iterator = iter(self._distributed(dataset))
        done = 0
        while steps is None or done < steps:
            if block is not None and steps is not None and steps - done >= self.steps_per_execution:
                arrays = {k: v.numpy() for k, v in block(iterator).items()}
                size = self.steps_per_execution
                for j in range(size):
                    yield {k: float(v[j]) for k, v in arrays.items()}, j == size - 1
                done += size
                continue
            try:
                values = function(iterator).numpy()
            except (StopIteration, tf.errors.OutOfRangeError):
                return
            done += 1
            yield dict(zip(_TRAIN_OUTPUTS, values.tolist(), strict=True)), True

    def _run_steps(self, kind: str, dataset: Any, steps: int | None) -> Any:
        """Yield the reduced outputs of `kind`'s step, one batch of `dataset` at a time.

        With `steps` known the function is called exactly that often; otherwise until the
        iterator runs dry.
        """
        function = self._function(kind)
        iterator = iter(self._distributed(dataset))
        done = 0
        while steps is None or done < steps:
            try:
                outputs = function(iterator)
            except (StopIteration, tf.errors.OutOfRangeError):
                return
            done += 1
            yield outputs

    def _distributed(self, dataset: tf.data.Dataset) -> Any:
        if self._distribute:
            return self.strategy.experimental_distribute_dataset(dataset)
        return dataset

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
            self._keeper = CheckpointKeeper(
                self.checkpoint_dir,
                max_to_keep=self.checkpoint_options.max_to_keep,
                model=self.model,
                optimizer=optimizers,
                metrics=metric_holder,
            )
        self._built = True

    # ------------------------------------------------------------------ public loops

    def restore(self) -> str | None:
        """Load the newest readable checkpoint of `checkpoint_dir` into model and optimizer.

        Returns its path, or None when there is none. Unreadable checkpoints are skipped with a
        warning, as in `fit(..., resume=True)`.
        """
        if self.checkpoint_dir is None:
            raise ValueError("`restore()` needs the Trainer's `checkpoint_dir`. Received: None")
        self.build()
        restored = self._keeper.restore_latest()
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
        resume: bool = False,
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
            callbacks: `zoo.training.callbacks.Callback` instances.
            resume: continue from the newest readable checkpoint in `checkpoint_dir`.
            verbose: 1 shows a progress bar per epoch, 0 is quiet.
        """
        from zoo.training.loop import FitLoop

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

    def evaluate(self, data: Any, *, batch_size: int = 32, steps: int | None = None) -> dict:
        """Mean loss (weighted by batch size) and metric results over `data`."""
        epoch_data = EpochData(data, batch_size=batch_size, steps_per_epoch=steps, name="data")
        self.build(epoch_data)
        return self._evaluate(epoch_data)

    def _evaluate(self, epoch_data: EpochData) -> dict[str, float]:
        for metric in self.metrics:
            metric.reset_state()
        total, count = 0.0, 0.0
        steps = epoch_data.steps_per_epoch
        for outputs in self._run_steps("test", epoch_data.epoch_dataset(0), steps):
            batch_count = float(outputs["count"])
            total += float(outputs["loss"]) * batch_count
            count += batch_count
        if count == 0:
            raise ValueError(f"`{epoch_data.name}` is empty: it yielded no batch.")
        logs = {"loss": total / count}
        logs.update({m.name: float(m.result()) for m in self.metrics})
        return logs

    def predict(self, data: Any, *, batch_size: int = 32, steps: int | None = None) -> Any:
        """The model's outputs over `data`, concatenated along the batch axis (numpy)."""
        if not isinstance(data, tf.data.Dataset | tuple):
            data = (data,)
        epoch_data = EpochData(data, batch_size=batch_size, steps_per_epoch=steps, name="data")
        self.build(epoch_data)
        steps = epoch_data.steps_per_epoch
        chunks = [
            tf.nest.map_structure(np.asarray, outputs)
            for outputs in self._run_steps("predict", epoch_data.epoch_dataset(0), steps)
        ]
        return tf.nest.map_structure(lambda *parts: np.concatenate(parts, axis=0), *chunks)
