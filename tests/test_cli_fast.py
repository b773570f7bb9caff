"""`zoo list` and `zoo info` read the cards without loading TensorFlow or Keras, and print no
TensorFlow log lines; `import zoo` itself imports neither."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import zoo


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )


def _imported_modules(importtime_stderr: str) -> set[str]:
    names = set()
    for line in importtime_stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


@pytest.mark.parametrize("command", [["list"], ["list", "--json"], ["info", "cnn_digits"]])
def test_list_and_info_import_neither_tensorflow_nor_keras(command):
    done = _run("-X", "importtime", "-m", "zoo", *command)
    assert done.returncode == 0, done.stderr[-2000:]
    modules = _imported_modules(done.stderr)
    assert "zoo.registry" in modules  # the measurement sees zoo's own imports
    heavy = {m for m in modules if m.split(".")[0] in ("tensorflow", "keras", "tf_keras")}
    assert not heavy, sorted(heavy)[:5]


def test_import_zoo_imports_neither():
    done = _run(
        "-c",
        "import sys, zoo; print(sorted(m for m in ('keras', 'tensorflow') if m in sys.modules))",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_info_answers_the_card_on_stdout_and_nothing_on_stderr():
    done = _run("-m", "zoo", "info", "forecaster_co2")
    assert done.returncode == 0
    assert json.loads(done.stdout) == zoo.info("forecaster_co2")
    assert done.stderr == ""


def test_a_command_that_loads_a_model_prints_no_tensorflow_log_lines(tmp_path):
    done = _run("-m", "zoo", "plot", "cnn_digits", "--output", str(tmp_path / "cm.png"))
    assert done.returncode == 0, done.stderr
    assert "I0000" not in done.stderr and "oneDNN" not in done.stderr


def test_fine_tune_prints_no_tensorflow_log_lines_and_warnings_in_one_line(tmp_path):
    """A training step logs "oneDNN supports DT_INT32 only on platforms with AVX-512" (a C++
    ERROR line) on a machine without AVX-512; a warning of zoo's comes as one line."""
    import numpy as np
    import pandas as pd

    hours = pd.date_range("2020-01-01", periods=600, freq="h")
    values = np.sin(np.arange(600) * 2 * np.pi / 24) + np.random.default_rng(0).normal(0, 0.2, 600)
    pd.DataFrame({"t": hours, "v": values}).to_csv(tmp_path / "normal.csv", index=False)
    done = _run(
        "-m", "zoo", "fine-tune", "anomaly_universal", "--csv", str(tmp_path / "normal.csv"),
        "--column", "v", "--time-column", "t", "--epochs", "1",
        "--output", str(tmp_path / "tuned.keras"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    # stdout is not a terminal: one plain line per epoch, no redrawn bar of terminal codes
    assert "\x1b[" not in done.stdout and "\b" not in done.stdout
    assert "Epoch 1/1\n" in done.stdout and " - loss: " in done.stdout
    # 120 held-out points of a clean daily cycle set a threshold below the preset's own at the
    # default 0.1 %, which is kept: the one warning, on one line
    (line,) = done.stderr.splitlines()
    assert line.startswith("warning: The held-out normal points set a threshold of ")
    assert "kept 0.81" in line and line.endswith("from the held-out scores alone.")


@pytest.mark.parametrize("command", ["backtest", "export"])
def test_backtest_and_export_print_no_tensorflow_log_lines(tmp_path, command):
    """They loaded TensorFlow without muting its start-up lines (about 10 of them, and the
    SavedModel loader's afterwards)."""
    import numpy as np
    import pandas as pd

    months = pd.date_range("2010-01-01", periods=60, freq="MS")
    values = 10 + np.sin(np.arange(60) * 2 * np.pi / 12)
    pd.DataFrame({"ds": months, "y": values}).to_csv(tmp_path / "m.csv", index=False)
    argv = {
        "backtest": ["--csv", str(tmp_path / "m.csv"), "--column", "y", "--time-column", "ds",
                     "--horizon", "3", "--output", str(tmp_path / "b.csv")],
        "export": ["--period", "12", "--base-path", str(tmp_path / "sm")],
    }[command]  # fmt: skip
    done = _run("-m", "zoo", command, "forecaster_universal", *argv)
    assert done.returncode == 0, done.stderr[-2000:]
    # origins 48..57 (the last 12 of 60, room for 3 steps) × 3 steps
    expected = {"backtest": [f"Wrote 30 forecasts to {tmp_path / 'b.csv'}"], "export": []}
    assert done.stderr.splitlines() == expected[command]
