"""Layer benchmarks: medians of repeated runs and ratios against a reference in the same run.

    python bench/layers.py [--rounds 9]

Rows (issue 2, item 9):
  * LpPooling2D (p = 1, 2, 3) vs keras.layers.AveragePooling2D on (32, 64, 64, 16), forward;
  * IntegralLayer (trapezoid) vs a bare tf.cumsum on (256, 1024, 8), forward;
  * ODEBlock forward+backward, MLP field 32→64→32 tanh, batch 256, t ∈ [0, 1], tol 1e-5:
    dopri5 in tf.function, dopri5 under XLA, rk4 with 10 steps; the reference is rk4 in tf.function.

Each row and its reference take turns within every round; the ratio is the median of the
per-round ratios, which a shared machine's changing load disturbs far less than the times.
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


def _time_ms(fn, calls: int) -> float:
    """Mean wall time of `fn()` over `calls` back-to-back calls, in milliseconds."""
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) * 1e3 / calls


def paired(
    fn, reference, rounds: int, calls: int = 3, warmup: int = 2
) -> tuple[float, float, float]:
    """(median ms of `fn`, median ms of `reference`, median of the per-round ratios).

    The two take turns within each round (which goes first alternates), so a load that comes and
    goes on a shared machine hits both alike and cancels out of the ratio.
    """
    for _ in range(warmup):
        fn()
        reference()
    ours, theirs, ratios = [], [], []
    for round_index in range(rounds):
        if round_index % 2 == 0:
            a = _time_ms(fn, calls)
            b = _time_ms(reference, calls)
        else:
            b = _time_ms(reference, calls)
            a = _time_ms(fn, calls)
        ours.append(a)
        theirs.append(b)
        ratios.append(a / b)
    return statistics.median(ours), statistics.median(theirs), statistics.median(ratios)


def _run(fn):
    """Call a tf.function and block until its result is materialised."""

    def call():
        out = fn()
        tf.nest.map_structure(lambda t: t.numpy(), out)

    return call


Row = tuple[str, float, str, float, float]


def bench_lp_pooling(rounds: int) -> list[Row]:
    x = tf.constant(np.random.default_rng(0).normal(size=(32, 64, 64, 16)).astype("float32"))
    reference = keras.layers.AveragePooling2D(pool_size=2)
    ref_fn = _run(tf.function(lambda: reference(x)))
    rows = []
    for p in (1.0, 2.0, 3.0):
        layer = LpPooling2D(p=p, pool_size=2)
        fn = _run(tf.function(lambda layer=layer: layer(x)))
        ms, ref_ms, ratio = paired(fn, ref_fn, rounds)
        rows.append((f"LpPooling2D p={p:g}", ms, "AveragePooling2D", ref_ms, ratio))
    return rows


def bench_integral(rounds: int) -> list[Row]:
    x = tf.constant(np.random.default_rng(0).normal(size=(256, 1024, 8)).astype("float32"))
    layer = IntegralLayer()
    ref_fn = _run(tf.function(lambda: tf.cumsum(x, axis=1)))
    ms, ref_ms, ratio = paired(_run(tf.function(lambda: layer(x))), ref_fn, rounds)
    return [("IntegralLayer trapezoid", ms, "tf.cumsum", ref_ms, ratio)]


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


def bench_ode(rounds: int) -> list[Row]:
    h0 = tf.constant(np.random.default_rng(0).normal(size=(256, 32)).astype("float32"))
    field = _mlp_field()
    rk4 = ODEBlock(field, solver="rk4", num_steps=10)
    dopri = ODEBlock(field, solver="dopri5", rtol=1e-5, atol=1e-5)
    reference = _run(_forward_backward(rk4, h0, jit_compile=False))
    cases = [
        ("ODEBlock dopri5 fwd+bwd (tf.function)", _forward_backward(dopri, h0, jit_compile=False)),
        ("ODEBlock dopri5 fwd+bwd (XLA)", _forward_backward(dopri, h0, jit_compile=True)),
        ("ODEBlock rk4 10 steps fwd+bwd (XLA)", _forward_backward(rk4, h0, jit_compile=True)),
    ]
    rows = []
    for name, fn in cases:
        ms, ref_ms, ratio = paired(_run(fn), reference, rounds)
        rows.append((name, ms, "rk4 10 steps (tf.function)", ref_ms, ratio))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="alternating rounds per row")
    args = parser.parse_args()
    rows = bench_lp_pooling(args.rounds) + bench_integral(args.rounds) + bench_ode(args.rounds)
    print(f"| case | median ms | reference | reference ms | ratio (median of {args.rounds}) |")
    print("|---|---:|---|---:|---:|")
    for name, ms, ref_name, ref_ms, ratio in rows:
        print(f"| {name} | {ms:.2f} | {ref_name} | {ref_ms:.2f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
