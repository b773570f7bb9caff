"""Hot reload, failed loads, config reload, and the `zoo export` / `zoo serve` commands."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc
from test_serving_support import half_plus_two, http

from zoo.cli import main
from zoo.serving import ModelManager, RestServer, export, write_models_config
from zoo.serving.child_server import ChildServer
from zoo.serving.model_config import ModelEntry

REPO = Path(__file__).resolve().parents[1]
ONE = '{"instances": [[1.0]]}'


def _wait_for(condition, timeout: float = 60.0, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("condition not reached in time")


def _versions(url: str, model: str) -> dict[str, str]:
    status, body = http(f"{url}/v1/models/{model}")
    if status != 200:
        return {}
    return {s["version"]: s["state"] for s in body["model_version_status"]}


@pytest.fixture
def polling_server(tmp_path):
    base = tmp_path / "hpt"
    export(half_plus_two(), base)
    manager = ModelManager([ModelEntry("hpt", str(base))], poll_wait_seconds=0.1)
    manager.start()
    server = RestServer(manager, port=0, threads=4).start()
    try:
        yield base, server.url
    finally:
        server.shutdown()
        manager.stop()


def test_new_version_is_picked_up_and_old_one_unloaded(polling_server):
    base, url = polling_server
    assert http(f"{url}/v1/models/hpt:predict", ONE)[1] == {"predictions": [[2.5]]}
    export(half_plus_two(0.5, 3.0), base)
    _wait_for(lambda: _versions(url, "hpt") == {"2": "AVAILABLE", "1": "END"})
    assert http(f"{url}/v1/models/hpt:predict", ONE)[1] == {"predictions": [[3.5]]}
    assert http(f"{url}/v1/models/hpt/versions/1:predict", ONE)[0] == 404


def test_failed_load_keeps_previous_version_serving(polling_server):
    base, url = polling_server
    broken = base / "2"
    broken.mkdir()
    (broken / "saved_model.pb").write_bytes(b"not a protobuf")
    states = _wait_for(lambda: (v := _versions(url, "hpt")).get("2") == "END" and v)
    assert states["1"] == "AVAILABLE"
    status, body = http(f"{url}/v1/models/hpt/versions/2")
    assert status == 200
    error = body["model_version_status"][0]["status"]
    assert error["error_code"] != "OK" and "Failed to load hpt version 2" in error["error_message"]
    assert http(f"{url}/v1/models/hpt:predict", ONE)[1] == {"predictions": [[2.5]]}


def test_hidden_directories_of_exports_in_progress_are_ignored(polling_server):
    base, url = polling_server
    in_progress = base / ".tmp-export-abc"
    in_progress.mkdir()
    (in_progress / "saved_model.pb").write_bytes(b"half written")
    # The poller is alive: a version published after the hidden folder appeared gets loaded; by
    # then the poller has listed the hidden folder too, and it never became a version (nor a
    # failed one).
    export(half_plus_two(0.5, 3.0), base)
    assert _wait_for(lambda: _versions(url, "hpt") == {"2": "AVAILABLE", "1": "END"})
    assert http(f"{url}/v1/models/hpt:predict", ONE)[1] == {"predictions": [[3.5]]}
    assert in_progress.exists()  # a live export's folder is never swept by the poller


def test_config_file_changes_are_applied(tmp_path):
    export(half_plus_two(), tmp_path / "hpt")
    export(half_plus_two(0.5, 3.0), tmp_path / "hpt")
    config = write_models_config(tmp_path, version_policy={"latest": 1})
    manager = ModelManager.from_config_file(
        config, poll_wait_seconds=0, config_poll_wait_seconds=0.1
    )
    manager.start()
    try:
        assert manager.available_versions("hpt") == [2]
        time.sleep(0.01)  # a distinct mtime for the rewritten file
        write_models_config(
            tmp_path, version_policy={"all": True}, version_labels={"hpt": {"stable": 1}}
        )
        _wait_for(lambda: manager.available_versions("hpt") == [1, 2])
        with manager.servable("hpt", label="stable") as servable:
            assert servable.version == 1
    finally:
        manager.stop()


def test_zoo_export_command_with_keras_file(tmp_path, capsys):
    model = half_plus_two()
    model.save(tmp_path / "hpt.keras")
    base = tmp_path / "saved_models"
    assert (
        main(["export", str(tmp_path / "hpt.keras"), "--base-path", str(base), "--write-config"])
        == 0
    )
    assert (base / "hpt" / "1" / "saved_model.pb").is_file()
    assert 'base_path: "/models/hpt"' in (base / "models.config").read_text()
    assert (
        main(["export", str(tmp_path / "hpt.keras"), "--base-path", str(base), "--version", "1"])
        == 1
    )
    assert "already exists" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "missing.keras"), "--base-path", str(base)]) == 1


def test_zoo_serve_command_end_to_end(tmp_path):
    model = half_plus_two()
    x = np.array([[1.0], [2.0], [5.0]], "float32")
    expected = keras.ops.convert_to_numpy(model(x))
    export(model, tmp_path / "saved_models" / "half_plus_two")
    config = write_models_config(tmp_path / "saved_models")  # base_path /models/half_plus_two
    with ChildServer([f"--model_config_file={config}", "--port=0"], cwd=REPO) as server:
        assert server.ready["models"] == {"half_plus_two": [1]}
        assert server.rest_api.startswith("http://127.0.0.1:")
        status, body = http(
            f"{server.rest_api}/v1/models/half_plus_two:predict",
            '{"instances": [[1.0], [2.0], [5.0]]}',
        )
        assert status == 200
        np.testing.assert_allclose(body["predictions"], expected)
        with grpc.insecure_channel(server.grpc) as channel:
            request = predict_pb2.PredictRequest()
            request.model_spec.name = "half_plus_two"
            request.inputs["x"].CopyFrom(tf.make_tensor_proto(x))
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            response = stub.Predict(request, timeout=30)
        np.testing.assert_allclose(tf.make_ndarray(response.outputs["output"]), expected)
    # SIGTERM shuts it down cleanly (-9: killed after 30 s; the log times each shutdown step).
    assert server.returncode == 0, server.final_log[-3000:]
    assert "zoo serve stopped cleanly" in server.final_log


def test_child_server_that_cannot_start_reports_the_servers_own_message():
    with pytest.raises(RuntimeError, match=r"exited with code 1 (?s:.*)config_file are empty"):
        with ChildServer([], start_timeout=120):
            pass
