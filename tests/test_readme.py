"""The README's Python example runs as written, and its set-up commands are the Makefile's."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()


def test_python_example_runs_and_prints_what_its_comments_say(tmp_path):
    (block,) = re.findall(r"```python\n(.*?)```", README, re.S)[:1]
    script = tmp_path / "example.py"
    script.write_text(block)
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "['anomaly_ucr135', 'cnn_digits', 'forecaster_co2', 'forecaster_sunspots']"
    assert lines[1] == "0.421"
    assert lines[2] == "(1, 52) (1, 52, 3)"
    assert (tmp_path / "runs" / "saved_models" / "cnn_digits" / "1" / "saved_model.pb").exists()
    assert list((tmp_path / "runs" / "checkpoints").glob("*.index"))


def test_the_two_setup_commands_are_make_targets_and_ci_runs_the_test_one():
    setup = re.search(r"## Set-up.*?```bash\n(.*?)```", README, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in setup.strip().splitlines()]
    assert commands == ["make quickstart", "make test"]
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^quickstart: ", makefile, re.M) and re.search(r"^test: ", makefile, re.M)
    assert "make test" in (REPO / ".ci" / "run").read_text()
