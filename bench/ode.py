"""ODEBlock against torchdiffeq's `odeint`, side by side in one process.

    python bench/ode.py [--runs 3] [--rounds 7]

Rows:
  * ODEBlock dopri5 forward+backward, MLP field 32→64→32 tanh, batch 256, t ∈ [0, 1],
    rtol = atol = 1e-5, in `tf.function` (the layer as it is by default, with
    `gradient="backprop"` — backpropagation through the steps, torchdiffeq's own way — and with
    its own `jit_compile=True`) and under an outer `tf.function(jit_compile=True)`, against
    torchdiffeq's `odeint` (dopri5, same weights, same tolerances, backward by autograd);
  * forward evaluations of the field for t ∈ [0, 1] and [0, 32], ours against torchdiffeq's, with
    each one's largest error against a tight reference solve (rtol = atol = 1e-10, float64).

Needs the `bench` extra (torch CPU and torchdiffeq). One thread each (see `pairing.one_thread`).
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras
import numpy as np
import tensorflow as tf
import torch
from pairing import one_thread, paired, parse_args, table
from torchdiffeq import odeint as torch_odeint

from zoo.layers import ODEBlock, odeint

BATCH, DIM, HIDDEN, TOL = 256, 32, 64, 1e-5


def _fields(seed: int = 0):
    """The same MLP in Keras and in torch (torch's weights copied from Keras')."""
    keras.utils.set_random_seed(seed)
    field = keras.Sequential(
        [
            keras.Input(shape=(DIM,)),
            keras.layers.Dense(HIDDEN, activation="tanh"),
            keras.layers.Dense(DIM),
        ]
    )
    net = torch.nn.Sequential(
        torch.nn.Linear(DIM, HIDDEN), torch.nn.Tanh(), torch.nn.Linear(HIDDEN, DIM)
    )
    w1, b1, w2, b2 = field.get_weights()
    with torch.no_grad():
        net[0].weight.copy_(torch.from_numpy(w1.T.copy()))
        net[0].bias.copy_(torch.from_numpy(b1))
        net[2].weight.copy_(torch.from_numpy(w2.T.copy()))
        net[2].bias.copy_(torch.from_numpy(b2))
    return field, net


class _Counted(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net
        self.calls = 0

    def forward(self, t, h):
        self.calls += 1
        return self.net(h)


def _ours_step(block: ODEBlock, h0: tf.Tensor, jit_compile: bool):
    @tf.function(jit_compile=jit_compile)
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(block(h0)))
        return tape.gradient(loss, block.trainable_variables)

    def call():
        for g in step():
            g.numpy()

    return call


def _torch_step(net, h0: torch.Tensor, t1: float = 1.0):
    t = torch.tensor([0.0, t1])

    def call():
        net.zero_grad(set_to_none=True)
        y = torch_odeint(lambda t, h: net(h), h0, t, rtol=TOL, atol=TOL, method="dopri5")[-1]
        (y**2).sum().backward()

    return call


def timing_rows(runs: int, rounds: int):
    h0 = np.random.default_rng(0).normal(size=(BATCH, DIM)).astype("float32")
    field, net = _fields()
    peer = _torch_step(net, torch.from_numpy(h0))
    rows = []
    for name, inner, outer, gradient, goal in (
        (
            "ODEBlock dopri5 fwd+bwd, tf.function",
            False,
            False,
            None,
            "≤ 0.5x (default, portable graph)",
        ),
        (
            'ODEBlock(gradient="backprop") dopri5 fwd+bwd, tf.function',
            False,
            False,
            "backprop",
            "≤ 0.5x (portable graph, torchdiffeq's gradient)",
        ),
        ("ODEBlock(jit_compile=True) dopri5 fwd+bwd, tf.function", True, False, None, "≤ 0.5x"),
        ("ODEBlock dopri5 fwd+bwd, tf.function(jit_compile=True)", False, True, None, "≤ 0.5x"),
    ):
        block = ODEBlock(
            field, solver="dopri5", rtol=TOL, atol=TOL, jit_compile=inner, gradient=gradient
        )
        block(h0)
        pair = paired(_ours_step(block, tf.constant(h0), outer), peer, runs=runs, rounds=rounds)
        rows.append((name, "torchdiffeq odeint", pair, goal))
    return rows


def _max_error(y, reference):
    return float(np.max(np.abs(np.asarray(y, dtype="float64") - reference)))


def evaluation_rows():
    """(t1, ours nfe, ours error, torchdiffeq nfe, torchdiffeq error) per interval."""
    h0 = np.random.default_rng(0).normal(size=(BATCH, DIM)).astype("float32")
    field, net = _fields()
    weights = [tf.constant(w, tf.float64) for w in field.get_weights()]

    def f64(t, h, params):
        w1, b1, w2, b2 = params
        return tf.matmul(tf.tanh(tf.matmul(h, w1) + b1), w2) + b2

    out = []
    for t1 in (1.0, 32.0):
        reference = odeint(
            f64, tf.constant(h0, tf.float64), [0.0, t1], rtol=1e-10, atol=1e-10, params=weights
        )[-1].numpy()
        block = ODEBlock(field, t1=t1, solver="dopri5", rtol=TOL, atol=TOL)
        ours = block(h0)
        counted = _Counted(net)
        with torch.no_grad():
            theirs = torch_odeint(
                counted, torch.from_numpy(h0), torch.tensor([0.0, t1]), rtol=TOL, atol=TOL
            )[-1]
        out.append(
            (
                t1,
                block.nfe_forward,
                _max_error(ours, reference),
                counted.calls,
                _max_error(theirs.numpy(), reference),
            )
        )
    return out


def main() -> None:
    args = parse_args(__doc__, rounds=7)
    one_thread()
    print(table(timing_rows(args.runs, args.rounds), args.runs, args.rounds))
    print()
    print("| t ∈ | ODEBlock nfe | max error | torchdiffeq nfe | max error | goal |")
    print("|---|---:|---:|---:|---:|---|")
    for t1, nfe, err, peer_nfe, peer_err in evaluation_rows():
        print(f"| [0, {t1:g}] | {nfe} | {err:.1e} | {peer_nfe} | {peer_err:.1e} | nfe ≤ peer's |")


if __name__ == "__main__":
    main()
