"""Import TensorFlow without its start-up log lines on stderr (unless the user asks for them).

TensorFlow 2.21 prints absl INFO lines (oneDNN, CUDA stubs) while it is imported, before
`TF_CPP_MIN_LOG_LEVEL` is read, and a CUDA error when it first looks for devices, so the only way
to keep a command's stderr clean is to point file descriptor 2 elsewhere for the duration of the
import and the first device query; later C++ log lines are held back by TF_CPP_MIN_LOG_LEVEL=3
(unless set). Set `ZOO_TF_LOGS=1` to see them all.
"""

from __future__ import annotations

import os
import sys


def import_tensorflow_quietly() -> None:
    """Import tensorflow and keras (registering zoo's custom objects) with stderr muted, and
    keep TensorFlow's C++ log lines of every level off stderr afterwards (its ERROR lines here
    are notes about its kernels, e.g. "oneDNN supports DT_INT32 only on platforms with AVX-512"
    at the first training step; an op that fails raises in Python all the same)."""
    if os.environ.get("ZOO_TF_LOGS") != "1":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules or os.environ.get("ZOO_TF_LOGS") == "1":
        import keras

        _python_logs_quiet()
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as sink:
            os.dup2(sink.fileno(), 2)
            try:
                import keras  # noqa: F401
                import tensorflow

                # The first device query initialises the platforms (and logs a CUDA error on a
                # machine without a GPU): do it here, muted, instead of at the first op.
                tensorflow.config.list_physical_devices()
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
    finally:
        os.close(saved)
    _python_logs_quiet()


def _python_logs_quiet() -> None:
    """TensorFlow's Python logger shows errors only (a command's own warnings say what matters;
    "triggered tf.function retracing" after a fine-tune's evaluations of several lengths does
    not), unless `ZOO_TF_LOGS=1`."""
    if os.environ.get("ZOO_TF_LOGS") != "1":
        import tensorflow

        tensorflow.get_logger().setLevel("ERROR")
