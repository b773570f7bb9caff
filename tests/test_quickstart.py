"""The README's main job, `zoo quickstart`, runs end to end: load, fine-tune, export, serve.

It is run as a user runs it (a child process), so the served answer crosses a real socket from a
real `zoo serve` process.
"""

from __future__ import annotations

import subprocess
import sys

from zoo.serving import SessionSignatureRunner, read_warmup_records


def test_quickstart_fine_tunes_exports_and_gets_the_keras_answer_from_the_server(tmp_path):
    output = tmp_path / "quickstart"
    result = subprocess.run(
        [sys.executable, "-m", "zoo", "quickstart", "--output", str(output), "--epochs", "1"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "the served model answers as the Keras model does" in result.stdout
    assert "test accuracy after fine-tuning: 0.9" in result.stdout
    export_dir = output / "saved_models" / "cnn_digits" / "1"
    with SessionSignatureRunner(export_dir) as runner:
        assert runner.signature_names == ["class_id", "probabilities", "serving_default"]
    assert len(read_warmup_records(export_dir)) > 0
    assert list((output / "logs").rglob("events.out.tfevents.*"))


def test_quickstart_rejects_a_non_positive_epoch_count(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "zoo", "quickstart", "--output", str(tmp_path), "--epochs", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "`--epochs` must be >= 1" in result.stderr
