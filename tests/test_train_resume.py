"""`zoo train` goes through the Trainer: a run killed with SIGKILL and started again ends with the
weights of a run that was never interrupted (Dropout included: cnn_digits has Dropout)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest


def _train(output_dir, *extra) -> list[str]:
    return [
        sys.executable, "-m", "zoo", "train", "cnn_digits", "--epochs", "2",
        "--output-dir", str(output_dir), "--quiet", *extra,
    ]  # fmt: skip


def _weights(path) -> dict[str, np.ndarray]:
    arrays = {}
    with h5py.File(path, "r") as handle:
        handle.visititems(
            lambda name, item: (
                arrays.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset) else None
            )
        )
    return arrays


@pytest.mark.timeout(900)
def test_killed_and_rerun_gives_the_uninterrupted_weights(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "ZOO_PROGRESS": "0"}
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    done = subprocess.run(_train(whole), capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]

    child = subprocess.Popen(_train(killed), env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)  # fmt: skip
    state = killed / "checkpoints" / "fit" / "checkpoint"
    deadline = time.monotonic() + 600
    while not state.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert state.exists(), "the first epoch's checkpoint never appeared"
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    assert not (killed / "model.weights.h5").exists()  # it died before the end

    done = subprocess.run(_train(killed), capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    expected, resumed = _weights(whole / "model.weights.h5"), _weights(killed / "model.weights.h5")
    assert expected.keys() == resumed.keys() and expected
    for name, value in expected.items():
        np.testing.assert_allclose(resumed[name], value, rtol=0, atol=1e-6, err_msg=name)
    card = json.loads((killed / "card.json").read_text())
    assert card["training"]["command"] == "zoo train cnn_digits --epochs 2"
    assert any((killed / "logs" / "fit").rglob("events.out.tfevents.*"))


def test_another_run_in_the_same_folder_is_refused(tmp_path):
    from zoo.models.common.runs import RunFolder

    RunFolder(tmp_path, {"preset": "cnn_digits", "seed": 0, "epochs": 2})
    RunFolder(tmp_path, {"preset": "cnn_digits", "seed": 0, "epochs": 2})  # the same run: fine
    with pytest.raises(ValueError, match=r"holds a run with other arguments \(seed=0\)"):
        RunFolder(tmp_path, {"preset": "cnn_digits", "seed": 1, "epochs": 2})
