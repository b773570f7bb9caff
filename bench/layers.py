"""Layer benchmarks: each layer beside its peer in the same process (see `pairing.py`).

    python bench/layers.py [--runs 3] [--rounds 5]

Rows:
  * LpPooling2D, p = 1, 2, 3, 2.5 and a learned p (from 2.5), pool 2 on (32, 64, 64, 16) float32,
    forward and forward+backward (the output, and the gradient with respect to the input and p
    for an upstream gradient passed in as an argument, as in training), against
    keras.layers.AveragePooling2D doing the same, each in `tf.function`; and the same again with
    both sides compiled by XLA (`tf.function(jit_compile=True)`, as `model.compile(jit_compile=
    True)` trains a Keras model, Keras' default where every layer supports XLA; LpPooling's
    disjoint windows then take the blocked reductions of `zoo.layers.lp_blocks`);
  * a floor for the fwd+bwd rows: one elementwise pass over the input (tf.sign(x)) against
    AveragePooling2D fwd+bwd; and one for a learned p's forward: the power exp(p·log|x|) alone
    (summed, no pooling) against AveragePooling2D fwd, with and without XLA;
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
    """One training step's work: the output, and the gradient with respect to the input (and p)
    for an upstream gradient that is an input of the function, as in training; with a constant
    upstream gradient TensorFlow would fold AveragePooling2D's backward to a constant.

    The output is returned beside the gradients, as a training step uses it (the next layer
    reads it): a function that returned the gradients alone would let Grappler prune the
    forward of every layer whose gradient does not read its output. AveragePooling2D's gradient
    reads neither x nor y, so its "fwd+bwd" was its backward alone (3.8 ms against 5.4 ms with
    the forward, measured), while LpPooling's gradient reads y (p != 1) and kept its forward."""
    upstream = tf.constant(
        np.random.default_rng(1).normal(size=layer.compute_output_shape(x.shape)), "float32"
    )

    @tf.function(jit_compile=jit_compile)
    def step(g):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
        return [y, *tape.gradient(y, [x, *layer.trainable_weights], output_gradients=g)]

    return lambda: [t.numpy() for t in step(upstream)]


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
    rows.append(_power_floor(x, peers["fwd"], runs, rounds, jit_compile))
    if jit_compile:
        return rows
    sign = tf.function(lambda: tf.sign(x))
    pair = paired(lambda: sign().numpy(), peers["fwd+bwd"], runs=runs, rounds=rounds)
    rows.append(("floor: tf.sign(x), one pass", "AveragePooling2D fwd+bwd", pair, "(reference)"))
    return rows


def _power_floor(x, peer, runs: int, rounds: int, jit_compile: bool):
    """The floor of a learned p's forward: |x|^p = exp(p·log|x|) over the input, summed to a
    scalar (no pooling, nothing written but the power), against AveragePooling2D's forward. A
    learned p's forward is this power and a pooling of it, so it cannot run faster than this
    row's ratio plus about one average pooling with these kernels."""
    p = tf.Variable(2.5)
    power = tf.function(
        lambda: tf.reduce_sum(tf.exp(p * tf.math.log(tf.abs(x)))), jit_compile=jit_compile
    )
    pair = paired(lambda: power().numpy(), peer, runs=runs, rounds=rounds)
    suffix = ", XLA" if jit_compile else ""
    return (
        f"floor: exp(p·log(abs(x))) summed{suffix}",
        f"AveragePooling2D fwd{suffix}",
        pair,
        "(ref.)",
    )


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
