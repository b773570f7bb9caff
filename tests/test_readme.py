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
    import zoo

    assert lines[0] == str(zoo.list_models())
    assert lines[1] == str(round(zoo.info("forecaster_co2")["metrics"]["mase"], 3))
    assert lines[2] == "(1, 52) (1, 52, 3)"
    assert lines[4] == "[321]"  # the zero-shot detector flags the one low reading, only it
    assert (tmp_path / "runs" / "saved_models" / "cnn_digits" / "1" / "saved_model.pb").exists()
    assert list((tmp_path / "runs" / "checkpoints").glob("*.index"))


def test_the_two_setup_commands_are_make_targets_and_ci_runs_the_test_one():
    setup = re.search(r"## Set-up.*?```bash\n(.*?)```", README, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in setup.strip().splitlines()]
    assert commands == ["make quickstart", "make test"]
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^quickstart: ", makefile, re.M) and re.search(r"^test: ", makefile, re.M)
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_serving_section_requests_get_answers_from_zoo_serve_on_saved_models():
    from test_serving_support import http

    from zoo.serving.child_server import ChildServer

    requests = re.findall(r"curl -d '(.*?)' \\\n\s+(http://\S+)", README)
    assert len(requests) == 2
    config = REPO / "saved_models" / "models.config"
    flags = [f"--model_config_file={config}", "--file_system_poll_wait_seconds=0"]
    answers = {}
    with ChildServer(flags) as server:
        for body, url in requests:
            path = url.split(":8501", 1)[1]
            status, answers[path.split("/")[3].split(":")[0]] = http(server.rest_api + path, body)
            assert status == 200
        metadata_path = re.search(r"curl (http://127\.0\.0\.1:8501(\S+/metadata))", README).group(2)
        status, metadata = http(server.rest_api + metadata_path)
        assert status == 200
    (digit,) = answers["cnn_digits"]["predictions"]
    assert digit["class_id"] == 0 and max(digit["probabilities"]) > 0.99  # the README's "-> ..."
    (path,) = answers["forecaster_sunspots"]["predictions"]
    assert len(path) == 11 and all(-50 < value < 300 for value in path)
    signatures = metadata["metadata"]["signature_def"]["signature_def"]
    assert {"serving_default", "forecast", "quantiles"} <= set(signatures)
