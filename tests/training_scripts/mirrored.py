"""Train the same tiny problem on one device and under MirroredStrategy over 2 logical CPUs.

python mirrored.py  ->  prints one JSON line with both runs' losses, metrics and weights.

Logical devices must be configured before TensorFlow initialises its devices, which is why
this runs in its own process.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf

cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from zoo.training import Trainer  # noqa: E402


def build(weights=None):
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)]
    )
    if weights is not None:
        model.set_weights(weights)
    return model


def run(strategy, weights, x, y, sample_weight):
    scope = strategy.scope() if strategy is not None else tf.distribute.get_strategy().scope()
    with scope:
        model = build(weights)
    trainer = Trainer(
        model=model,
        optimizer=keras.optimizers.SGD(0.1),
        loss="mse",
        metrics=["mae"],
        strategy=strategy,
        clip_norm=0.5,  # active: checks that clipping sees the all-replica gradient
    )
    history = trainer.fit((x, y, sample_weight), epochs=3, batch_size=16, shuffle=False, verbose=0)
    evaluation = trainer.evaluate((x, y), batch_size=16)
    prediction = trainer.predict(x, batch_size=16)
    return {
        "history": history.history,
        "evaluation": evaluation,
        "prediction": prediction.ravel().tolist(),
        "weights": [w.ravel().tolist() for w in model.get_weights()],
    }


def main() -> int:
    tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(70, 4)).astype("float32")  # 4 batches of 16 and one of 6 (3 + 3)
    y = (np.tanh(x @ rng.normal(size=(4, 1))) + 0.1).astype("float32")
    sample_weight = rng.uniform(0.5, 1.5, size=70).astype("float32")
    weights = build().get_weights()
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    result = {
        "replicas": strategy.num_replicas_in_sync,
        "single": run(None, weights, x, y, sample_weight),
        "mirrored": run(strategy, weights, x, y, sample_weight),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
