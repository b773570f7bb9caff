"""Train a tiny model with Dropout and mid-epoch checkpoints; the kill-and-resume test runs this.

python kill_resume.py --checkpoint-dir DIR --out WEIGHTS.npz [--resume] [--sleep SECONDS]
                      [--reference-dir DIR --reference-out WEIGHTS.npz]

Prints `step N` (global step) after every step, flushed, so the test knows when to SIGKILL.
With `--reference-*`, it then also trains an uninterrupted run from scratch in the same process
(seeds reset, fresh model), which saves the test one TensorFlow start-up.
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf

from zoo.training import CheckpointOptions, LambdaCallback, Trainer

SEED = 7
EPOCHS = 4
BATCH = 8  # 96 samples: 12 steps per epoch, 48 in all


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint-dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--reference-dir")
    parser.add_argument("--reference-out")
    args = parser.parse_args()
    tf.config.experimental.enable_op_determinism()
    train(args.checkpoint_dir, args.out, resume=args.resume, sleep=args.sleep)
    if args.reference_out:
        train(args.reference_dir, args.reference_out, resume=False, sleep=0.0)
    return 0


def train(checkpoint_dir: str, out: str, *, resume: bool, sleep: float) -> None:
    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 4)).astype("float32")
    y = np.sin(x @ rng.normal(size=(4, 2))).astype("float32")
    # Dropout: the resumed run must draw the masks the uninterrupted run draws (its seed
    # generator's state rides in the checkpoint).
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(16, activation="tanh"),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(2),
        ]
    )

    def report(step, logs):
        print(f"step {trainer.global_step}", flush=True)
        if sleep:
            time.sleep(sleep)

    trainer = Trainer(
        model=model,
        optimizer=keras.optimizers.Adam(0.01),
        loss="mse",
        metrics=["mae"],
        checkpoint_dir=checkpoint_dir,
        checkpoint_options=CheckpointOptions(every_n_steps=5, max_to_keep=3),
        seed=SEED,
    )
    history = trainer.fit(
        (x, y),
        epochs=EPOCHS,
        batch_size=BATCH,
        callbacks=[LambdaCallback(on_train_batch_end=report)],
        resume=resume,
        verbose=0,
    )
    np.savez(out, *model.get_weights(), loss=np.array(history.history["loss"]))
    print("done", flush=True)


if __name__ == "__main__":
    sys.exit(main())
