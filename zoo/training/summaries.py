"""TensorBoard scalar (and optional histogram) summaries of a training run.

Two writers, `<log_dir>/train` and `<log_dir>/validation`, so TensorBoard overlays the curves:
epoch logs named `val_*` go to the validation writer without the prefix, everything else
(loss, metrics, learning rate, gradient norm) to the train writer. The x axis is the epoch.
"""

from __future__ import annotations

import os
from typing import Any

import tensorflow as tf

from zoo.training.options import SummaryOptions


class SummaryLogger:
    """Write epoch logs to TensorBoard event files under `log_dir`.

    Args:
        log_dir: the run's TensorBoard directory.
        options: a `SummaryOptions` (histograms on or off).
    """

    def __init__(self, log_dir: str, options: SummaryOptions | None = None) -> None:
        self.log_dir = os.fspath(log_dir)
        self.options = options or SummaryOptions()
        self._train = tf.summary.create_file_writer(os.path.join(self.log_dir, "train"))
        self._validation = tf.summary.create_file_writer(os.path.join(self.log_dir, "validation"))

    def write_epoch(self, epoch: int, logs: dict[str, float], model: Any = None) -> None:
        """Write the epoch's scalars (step = epoch number, from 1) and maybe histograms."""
        step = epoch + 1
        with self._train.as_default(step=step):
            for name, value in logs.items():
                if not name.startswith("val_"):
                    tf.summary.scalar(name, value)
            if self.options.histograms and model is not None:
                for variable in model.trainable_variables:
                    tf.summary.histogram(variable.path, variable)
        with self._validation.as_default(step=step):
            for name, value in logs.items():
                if name.startswith("val_"):
                    tf.summary.scalar(name[len("val_") :], value)
        self.flush()

    def flush(self) -> None:
        self._train.flush()
        self._validation.flush()

    def close(self) -> None:
        self._train.close()
        self._validation.close()
