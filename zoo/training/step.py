"""The GradientTape step of the Trainer: what one replica does with its part of a batch.

`TapeStep` is mixed into `Trainer`; `train_step`, `test_step` and `predict_step` are the small
methods a user overrides for custom training. They run inside `strategy.run`, once per replica.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from zoo.training.data import unpack_batch


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


class TapeStep:
    """Loss, gradients (all-reduced, clipped), update and metrics for one batch on one replica.

    Expects from its host class: `model`, `optimizer`, `loss_fn`, `loss_weights`, `metrics`,
    `_metric_outputs`, `strategy`, `clip_norm` and `_gradient_evaluations`.
    """

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
