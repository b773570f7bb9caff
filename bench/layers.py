"""Layer benchmarks: each layer beside its peer in the same process (see `pairing.py`).

    python bench/layers.py [--runs 3] [--rounds 5]

Rows:
  * LpPooling2D, p = 1, 2, 3, 2.5 and a learned p (from 2.5), pool 2 on (32, 64, 64, 16) float32,
    forward and forward+backward (gradient with respect to the input and p for an upstream
    gradient passed in as an argument, as in training), against keras.layers.AveragePooling2D
    doing the same, each in `tf.function`; and the same again with both sides compiled by XLA
    (`tf.function(jit_compile=True)`, as `model.compile(jit_compile=True)` trains a Keras model,
    Keras' default where every layer supports XLA; LpPooling's disjoint windows then take the
    blocked reductions of `zoo.layers.lp_blocks`);
  * a floor for the fwd+bwd rows: one elementwise pass over the input (tf.sign(x)) against
    AveragePooling2D fwd+bwd;
  * IntegralLayer trapezoid on (256, 1024, 8) float32 in `tf.function` (default, and with
    `jit_compile=True`) against scipy.integrate.cumulative_trapezoid on the same float32 array.

ODEBlock against torchdiffeq is in `bench/ode.py`. One thread for TensorFlow (and scipy's numpy
runs single-threaded here).
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras
import numpy as np
import tensorflow as tf
from pairing import one_thread, paired, parse_args, table
from scipy.integrate import cumulative_trapezoid

from zoo.layers import IntegralLayer, LpPooling2D


def _forward(layer, x, jit_compile=False):
    fn = tf.function(lambda: layer(x), jit_compile=jit_compile)
    return lambda: fn().numpy()


def _forward_backward(layer, x, jit_compile=False):
    """One training step's work: forward, then the gradient with respect to the input (and p)
    for an upstream gradient that is an input of the function, as in training; with a constant
    upstream gradient TensorFlow would fold AveragePooling2D's backward to a constant."""
    upstream = tf.constant(
        np.random.default_rng(1).normal(size=layer.compute_output_shape(x.shape)), "float32"
    )

    @tf.function(jit_compile=jit_compile)
    def step(g):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
        return tape.gradient(y, [x, *layer.trainable_weights], output_gradients=g)

    return lambda: [g.numpy() for g in step(upstream)]


def lp_rows(runs: int, rounds: int, jit_compile: bool = False):
    x = tf.constant(np.random.default_rng(0).normal(size=(32, 64, 64, 16)).astype("float32"))
    average = keras.layers.AveragePooling2D(pool_size=2)
    peers = {
        "fwd": _forward(average, x, jit_compile),
        "fwd+bwd": _forward_backward(average, x, jit_compile),
    }
    suffix = ", XLA" if jit_compile else ""
    rows = []
    for p, learned in ((1.0, False), (2.0, False), (3.0, False), (2.5, False), (2.5, True)):
        goal = "≤ 1.5x" if p in (1.0, 2.0) else "≤ 3x"
        name = "learned p" if learned else f"p={p:g}"
        layer = LpPooling2D(pool_size=2, p=p, trainable_p=learned)
        layer(x)
        for kind, make in (("fwd", _forward), ("fwd+bwd", _forward_backward)):
            pair = paired(make(layer, x, jit_compile), peers[kind], runs=runs, rounds=rounds)
            rows.append(
                (
                    f"LpPooling2D {name} {kind}{suffix}",
                    f"AveragePooling2D {kind}{suffix}",
                    pair,
                    goal,
                )
            )
    if jit_compile:
        return rows
    sign = tf.function(lambda: tf.sign(x))
    pair = paired(lambda: sign().numpy(), peers["fwd+bwd"], runs=runs, rounds=rounds)
    rows.append(("floor: tf.sign(x), one pass", "AveragePooling2D fwd+bwd", pair, "(reference)"))
    return rows


def integral_rows(runs: int, rounds: int):
    data = np.random.default_rng(0).normal(size=(256, 1024, 8)).astype("float32")
    x = tf.constant(data)
    rows = []
    for jit in (False, True):
        layer = IntegralLayer(jit_compile=jit)
        pair = paired(
            _forward(layer, x),
            lambda: cumulative_trapezoid(data, axis=1, initial=0),
            runs=runs,
            rounds=rounds,
        )
        suffix = ", jit_compile" if jit else ""
        rows.append(
            (f"IntegralLayer trapezoid{suffix}", "scipy cumulative_trapezoid", pair, "≤ 1x")
        )
    return rows


def main() -> None:
    args = parse_args(__doc__, rounds=5)
    one_thread()
    rows = lp_rows(args.runs, args.rounds) + lp_rows(args.runs, args.rounds, jit_compile=True)
    rows += integral_rows(args.runs, args.rounds)
    print(table(rows, args.runs, args.rounds))


if __name__ == "__main__":
    main()
