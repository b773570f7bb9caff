"""Tests that need their own process: a real SIGKILL mid-epoch, and two logical CPU devices."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = Path(__file__).resolve().parent / "training_scripts"


def _env():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return env


def _train(checkpoint_dir, out, *extra):
    command = [sys.executable, str(SCRIPTS / "kill_resume.py")]
    command += ["--checkpoint-dir", str(checkpoint_dir), "--out", str(out), *extra]
    return subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=240)


def _weights(path):
    with np.load(path) as archive:
        return [archive[f"arr_{i}"] for i in range(4)], archive["loss"]


# CI covers a real SIGKILL and resume end to end in tests/test_train_resume.py (`zoo train`).
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted_run(tmp_path):
    # Checkpoints every 5 steps, 12 steps per epoch: kill once step 17 (epoch 2, step 5) is done,
    # while the process keeps training (a short sleep per step leaves time to deliver the kill).
    victim_dir = tmp_path / "victim"
    command = [sys.executable, str(SCRIPTS / "kill_resume.py"), "--checkpoint-dir"]
    command += [str(victim_dir), "--out", str(tmp_path / "never.npz"), "--sleep", "0.1"]
    victim = subprocess.Popen(command, env=_env(), stdout=subprocess.PIPE, text=True)
    try:
        for line in victim.stdout:
            if line.strip() == "step 17":
                os.kill(victim.pid, signal.SIGKILL)
                break
    finally:
        victim.wait(timeout=60)
        victim.stdout.close()
    assert victim.returncode == -signal.SIGKILL
    assert not (tmp_path / "never.npz").exists()
    latest = tf.train.latest_checkpoint(str(victim_dir))
    saved_step = int(latest.rsplit("-", 1)[1])
    assert saved_step % 12 != 0, "the newest checkpoint should be a mid-epoch one"

    # The resumed run, then (same process, seeds reset) an uninterrupted reference run.
    reference_args = ["--reference-dir", str(tmp_path / "reference")]
    reference_args += ["--reference-out", str(tmp_path / "reference.npz")]
    resumed = _train(victim_dir, tmp_path / "resumed.npz", "--resume", *reference_args)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    resumed_part = resumed.stdout.split("done")[0]
    lines = resumed_part.splitlines()
    steps_run = [int(line.split()[1]) for line in lines if line.startswith("step ")]
    assert steps_run[0] == saved_step + 1 and steps_run[-1] == 48

    expected, expected_loss = _weights(tmp_path / "reference.npz")
    got, got_loss = _weights(tmp_path / "resumed.npz")
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)
    np.testing.assert_allclose(got_loss, expected_loss, atol=1e-6, rtol=0)


@pytest.mark.timeout(300)
def test_mirrored_strategy_on_two_logical_cpus_equals_single_device():
    completed = subprocess.run(
        [sys.executable, str(SCRIPTS / "mirrored.py")],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    single, mirrored = result["single"], result["mirrored"]
    for name in ("loss", "mae", "grad_norm", "learning_rate"):
        np.testing.assert_allclose(mirrored["history"][name], single["history"][name], rtol=1e-5)
    for a, b in zip(mirrored["weights"], single["weights"], strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(mirrored["prediction"], single["prediction"], atol=1e-5)
    assert len(mirrored["prediction"]) == 70
    for name in ("loss", "mae"):
        np.testing.assert_allclose(
            mirrored["evaluation"][name], single["evaluation"][name], rtol=1e-5
        )
