"""Compiled, replicated execution of the Trainer's steps.

`CompiledSteps` is mixed into `Trainer`: it wraps each step in `strategy.run` inside
`tf.function`s (XLA when asked), fetches batches inside the graph as `model.fit` does, and runs
`steps_per_execution` train steps per call in a `tf.while_loop`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf

# What the train step reports to the outer loop, in this order.
_TRAIN_OUTPUTS = ("loss", "count", "grad_norm")


class CompiledSteps:
    """Expects from its host class: `strategy`, `_distribute`, `jit_compile`,
    `steps_per_execution`, `_functions` and the `*_step` methods."""

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

    def _train_steps(
        self, dataset: Any, steps: int | None, before_call: Callable[[int], None] | None = None
    ) -> Any:
        """Yield `(outputs, at_call_end)` per train step, outputs as Python floats.

        Runs `steps_per_execution` steps per call while at least that many remain (and the
        count is known), single steps otherwise. `at_call_end` is True when the variables
        reflect this step, i.e. when a checkpoint may be written. `before_call(n)` runs before
        each call of `n` steps (the callbacks' batch-begin hooks).
        """
        function = self._function("train")
        block = self._functions.get("train_block")
        iterator = iter(self._distributed(dataset))
        done = 0
        while steps is None or done < steps:
            if block is not None and steps is not None and steps - done >= self.steps_per_execution:
                size = self.steps_per_execution
                if before_call is not None:
                    before_call(size)
                arrays = {k: v.numpy() for k, v in block(iterator).items()}
                for j in range(size):
                    yield {k: float(v[j]) for k, v in arrays.items()}, j == size - 1
                done += size
                continue
            if before_call is not None:
                before_call(1)
            try:
                values = function(iterator).numpy()
            except (StopIteration, tf.errors.OutOfRangeError):
                return
            done += 1
            yield dict(zip(_TRAIN_OUTPUTS, values.tolist(), strict=True)), True

    def _run_steps(
        self,
        kind: str,
        dataset: Any,
        steps: int | None,
        before_step: Callable[[int], None] | None = None,
    ) -> Any:
        """Yield the reduced outputs of `kind`'s step, one batch of `dataset` at a time.

        With `steps` known the function is called exactly that often; otherwise until the
        iterator runs dry. `before_step(i)` runs before batch `i` (from 0).
        """
        function = self._function(kind)
        iterator = iter(self._distributed(dataset))
        done = 0
        while steps is None or done < steps:
            if before_step is not None:
                before_step(done)
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
