"""Training-loop benchmark: steps/s of `zoo.training.Trainer` against `model.fit`, one run.

    python bench/training.py [--epochs 8] [--steps 50] [--markdown]

The model is LSTM-forecaster-sized: input (48, 1) → LSTM(32) → Dense(12) (the zoo forecaster's
window, horizon and default units), MSE, Adam, batch 64, numpy input shuffled each epoch,
`steps` batches per epoch. Each configuration trains its own copy of the same initial weights;
an epoch's wall time is taken between epoch-begin and epoch-end hooks of one Keras callback,
the same for both loops. After one untimed epoch each (tracing, XLA compilation), the
configurations take turns, one epoch at a time in a rotating order, and the median epoch gives
steps/s. Ratios compare each Trainer row with `model.fit` compiled the same way (tf.function,
or XLA; 1 or 10 steps per call) in the same run.
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

from zoo.training import Trainer

WINDOW, HORIZON, UNITS, BATCH = 48, 12, 32, 64


def make_data(steps: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    n = steps * BATCH
    t = np.arange(n + WINDOW + HORIZON, dtype="float64")
    series = np.sin(2 * np.pi * t / 24.0) + 0.1 * rng.normal(size=t.shape)
    index = np.arange(n)[:, None]
    x = series[index + np.arange(WINDOW)][..., None].astype("float32")
    y = series[index + WINDOW + np.arange(HORIZON)].astype("float32")
    return x, y


def make_model(weights=None) -> keras.Model:
    model = keras.Sequential(
        [keras.Input((WINDOW, 1)), keras.layers.LSTM(UNITS), keras.layers.Dense(HORIZON)]
    )
    if weights is not None:
        model.set_weights(weights)
    return model


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch, between `on_epoch_begin` and `on_epoch_end`: the same Keras
    callback times both loops (the Trainer calls any Keras callback as model.fit does)."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        # Called after validation and before checkpoints/summaries (none here).
        self.times.append(time.perf_counter() - self._start)


def fit_runner(x, y, weights, jit_compile, steps_per_execution=1):
    """A function that trains one more epoch with model.fit and returns its wall time."""
    model = make_model(weights)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="mse",
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )
    timer = EpochTimer()

    def run() -> float:
        model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=True, verbose=0, callbacks=[timer])
        return timer.times[-1]

    return run


def trainer_runner(x, y, weights, jit_compile, steps_per_execution=1):
    """A function that trains one more epoch with the Trainer and returns its wall time."""
    model = make_model(weights)
    trainer = Trainer(
        model=model,
        optimizer=keras.optimizers.Adam(1e-3),
        loss="mse",
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )
    timer = EpochTimer()

    def run() -> float:
        trainer.fit((x, y), epochs=1, batch_size=BATCH, shuffle=True, verbose=0, callbacks=[timer])
        return timer.times[-1]

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=7, help="timed epochs (rounds) per row")
    parser.add_argument("--steps", type=int, default=50, help="batches of 64 per epoch")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    x, y = make_data(args.steps)
    weights = make_model().get_weights()
    e, s = args.epochs, args.steps
    runners = {
        "fit_graph": fit_runner(x, y, weights, jit_compile=False),
        "fit_xla": fit_runner(x, y, weights, jit_compile=True),
        "trainer_graph": trainer_runner(x, y, weights, jit_compile=False),
        "trainer_xla": trainer_runner(x, y, weights, jit_compile=True),
        "fit_xla_10": fit_runner(x, y, weights, jit_compile=True, steps_per_execution=10),
        "trainer_xla_10": trainer_runner(x, y, weights, jit_compile=True, steps_per_execution=10),
    }
    for run in runners.values():  # warm-up epoch: tracing and XLA compilation
        run()
    # Rounds interleave the loops (rotating the order) so load drifts on a shared machine
    # hit every row alike; each row's figure is the median over rounds.
    times: dict[str, list[float]] = {name: [] for name in runners}
    names = list(runners)
    for round_index in range(e):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(runners[name]())
    rate = {name: s / statistics.median(values) for name, values in times.items()}
    fit_graph, fit_xla = rate["fit_graph"], rate["fit_xla"]
    trainer_graph, trainer_xla = rate["trainer_graph"], rate["trainer_xla"]
    fit_xla_10, trainer_xla_10 = rate["fit_xla_10"], rate["trainer_xla_10"]
    rows = [
        ("model.fit, tf.function", fit_graph, "model.fit, tf.function", fit_graph),
        ("Trainer, tf.function", trainer_graph, "model.fit, tf.function", fit_graph),
        ("model.fit, XLA", fit_xla, "model.fit, XLA", fit_xla),
        ("Trainer, XLA", trainer_xla, "model.fit, XLA", fit_xla),
        ("Trainer, XLA", trainer_xla, "model.fit, tf.function", fit_graph),
        ("model.fit, XLA, 10 steps/call", fit_xla_10, "model.fit, XLA", fit_xla),
        (
            "Trainer, XLA, 10 steps/call",
            trainer_xla_10,
            "model.fit, XLA, 10 steps/call",
            fit_xla_10,
        ),
    ]
    title = (
        f"LSTM({UNITS}) on ({WINDOW}, 1) -> Dense({HORIZON}), batch {BATCH}, Adam, "
        f"{s} steps/epoch, median of {e} epochs; TF {tf.__version__}, Keras {keras.__version__}"
    )
    print(title)
    if args.markdown:
        print("| loop | steps/s | reference | reference steps/s | ratio |")
        print("|---|---:|---|---:|---:|")
        for name, value, ref_name, ref in rows:
            print(f"| {name} | {value:.1f} | {ref_name} | {ref:.1f} | {value / ref:.2f} |")
    else:
        for name, value, ref_name, ref in rows:
            print(
                f"{name:<30} {value:7.1f} steps/s vs {ref_name:<30} {ref:7.1f} {value / ref:5.2f}x"
            )


if __name__ == "__main__":
    main()
