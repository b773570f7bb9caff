"""Layer benchmarks: medians of repeated runs and ratios against a reference in the same run.

    python bench/layers.py [--repeats 7] [--markdown]

Rows (issue 2, item 9):
  * LpPooling2D (p = 1, 2, 3) vs keras.layers.AveragePooling2D on (32, 64, 64, 16), forward;
  * IntegralLayer (trapezoid) vs a bare tf.cumsum on (256, 1024, 8), forward;
  * ODEBlock forward+backward, MLP field 32→64→32 tanh, batch 256, t ∈ [0, 1], tol 1e-5:
    dopri5 in tf.function, dopri5 under XLA, rk4 with 10 steps; the reference is rk4 in tf.function.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf

from zoo.layers import IntegralLayer, LpPooling2D, ODEBlock


def median_ms(fn, repeats: int, warmup: int = 2) -> float:
    """Median wall time of `fn()` in milliseconds, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def _run(fn):
    """Call a tf.function and block until its result is materialised."""

    def call():
        out = fn()
        tf.nest.map_structure(lambda t: t.numpy(), out)

    return call


def bench_lp_pooling(repeats: int) -> list[tuple[str, float, str, float]]:
    x = tf.constant(np.random.default_rng(0).normal(size=(32, 64, 64, 16)).astype("float32"))
    reference = keras.layers.AveragePooling2D(pool_size=2)
    ref_fn = tf.function(lambda: reference(x))
    ref_ms = median_ms(_run(ref_fn), repeats)
    rows = []
    for p in (1.0, 2.0, 3.0):
        layer = LpPooling2D(p=p, pool_size=2)
        fn = tf.function(lambda layer=layer: layer(x))
        ms = median_ms(_run(fn), repeats)
        rows.append((f"LpPooling2D p={p:g}", ms, "AveragePooling2D", ref_ms))
    return rows


def bench_integral(repeats: int) -> list[tuple[str, float, str, float]]:
    x = tf.constant(np.random.default_rng(0).normal(size=(256, 1024, 8)).astype("float32"))
    layer = IntegralLayer()
    ref_ms = median_ms(_run(tf.function(lambda: tf.cumsum(x, axis=1))), repeats)
    ours_ms = median_ms(_run(tf.function(lambda: layer(x))), repeats)
    return [("IntegralLayer trapezoid", ours_ms, "tf.cumsum", ref_ms)]


def _mlp_field() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input(shape=(32,)),
            keras.layers.Dense(64, activation="tanh"),
            keras.layers.Dense(32),
        ]
    )


def _forward_backward(block: ODEBlock, h0: tf.Tensor, jit_compile: bool):
    block(h0)  # build

    @tf.function(jit_compile=jit_compile)
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(block(h0)))
        return tape.gradient(loss, block.trainable_variables)

    return step


def bench_ode(repeats: int) -> list[tuple[str, float, str, float]]:
    h0 = tf.constant(np.random.default_rng(0).normal(size=(256, 32)).astype("float32"))
    field = _mlp_field()
    rk4 = ODEBlock(field, solver="rk4", num_steps=10)
    ref_ms = median_ms(_run(_forward_backward(rk4, h0, jit_compile=False)), repeats)
    rows = [("ODEBlock rk4 10 steps fwd+bwd", ref_ms, "rk4 10 steps", ref_ms)]
    dopri = ODEBlock(field, solver="dopri5", rtol=1e-5, atol=1e-5)
    ms = median_ms(_run(_forward_backward(dopri, h0, jit_compile=False)), repeats)
    rows.append(("ODEBlock dopri5 fwd+bwd (tf.function)", ms, "rk4 10 steps", ref_ms))
    ms = median_ms(_run(_forward_backward(dopri, h0, jit_compile=True)), repeats)
    rows.append(("ODEBlock dopri5 fwd+bwd (XLA)", ms, "rk4 10 steps", ref_ms))
    ms = median_ms(_run(_forward_backward(rk4, h0, jit_compile=True)), repeats)
    rows.append(("ODEBlock rk4 10 steps fwd+bwd (XLA)", ms, "rk4 10 steps", ref_ms))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per row (median)")
    args = parser.parse_args()
    rows = bench_lp_pooling(args.repeats) + bench_integral(args.repeats) + bench_ode(args.repeats)
    print(f"| case | median ms | reference | reference ms | ratio |  (median of {args.repeats})")
    print("|---|---:|---|---:|---:|")
    for name, ms, ref_name, ref_ms in rows:
        print(f"| {name} | {ms:.2f} | {ref_name} | {ref_ms:.2f} | {ms / ref_ms:.2f}x |")


if __name__ == "__main__":
    main()
