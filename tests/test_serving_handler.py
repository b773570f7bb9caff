"""TF Serving's REST handler cases (`http_rest_api_handler_test.cc`), ported: routing, model and
version errors, predict errors, each with the status code and message substring its test pins."""

from __future__ import annotations

import json

import pytest
from test_serving_support import half_plus_two
from werkzeug.test import Client

from zoo.serving import ModelManager, export
from zoo.serving.model_config import ModelEntry
from zoo.serving.rest import RestApp

MODEL = "mnist"  # kTestModelName; our model behind it is half_plus_two (one float input)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    base = tmp_path_factory.mktemp("models") / MODEL
    export(half_plus_two(), base, version=123)
    manager = ModelManager(
        [ModelEntry(MODEL, str(base), labels={"stable": 123})], poll_wait_seconds=0
    )
    manager.start()
    try:
        yield Client(RestApp(manager))
    finally:
        manager.stop()


def _call(client, method, path, body=""):
    response = client.open(path, method=method, data=body)
    text = response.get_data(as_text=True)
    return response.status_code, (json.loads(text) if text else {})


UINT64_MAX = str((1 << 64) - 1)
MALFORMED = [
    ("GET", "/v1/foo", "Malformed request"),
    ("POST", "/v1/foo", "Malformed request"),
    ("GET", "/v1/models", "Missing model name"),
    ("GET", "/v1/models/debug/model_name", "Malformed request"),
    ("POST", "/v1/models", "Malformed request"),
    ("GET", "/v1/models/foo:predict", "Malformed request"),
    ("GET", "/v1/models/foo/version/50:predict", "Malformed request"),
    ("POST", "/v1/models/foo/version/50:regress", "Malformed request"),
    ("POST", "/v1/models/foo/versions/HELLO:regress", "Malformed request"),
    ("POST", f"/v1/models/foo/versions/{UINT64_MAX}:regress", "Failed to convert version"),
    ("POST", "/v1/models/foo/metadata", "Malformed request"),
    ("POST", "/v1/models/foo/label/some_label:regress", "Malformed request"),
    ("POST", "/v1/models/foo/versions/50/labels/some_label:regress", "Malformed request"),
    ("POST", "/v1/models/foo/versions/some_label:regress", "Malformed request"),
]


@pytest.mark.parametrize(("method", "path", "message"), MALFORMED)
def test_unsupported_api_calls(client, method, path, message):
    status, body = _call(client, method, path)
    assert status == 400 and message in body["error"]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/models/foo:predict",
        "/v1/models/foo/versions/50:predict",
        f"/v1/models/{MODEL}99:predict",
    ],
)
def test_predict_model_name_version_errors_are_not_found(client, path):
    assert _call(client, "POST", path, '{ "instances": [1] }')[0] == 404


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (f"/v1/models/{MODEL}:predict", "", "JSON Parse error: The document is empty"),
        (f"/v1/models/{MODEL}:predict", "instances = [1, 2]", "JSON Parse error: Invalid value"),
        (
            f"/v1/models/{MODEL}:predict",
            '{ "instances": ["x", "y"] }',
            "not of expected type: float",
        ),
        (
            f"/v1/models/{MODEL}/labels/nonexistent:predict",
            '{ "instances": ["x", "y"] }',
            "Unrecognized servable version label",
        ),
        (
            f"/v1/models/{MODEL}:predict",
            '{ "signature_name": 100 }',
            "'signature_name' key must be a string value.",
        ),
        ("/v1/models/foo:predict", "instances = [1, 2]", "JSON Parse error: Invalid value"),
    ],
)
def test_predict_request_errors(client, path, body, message):
    status, answer = _call(client, "POST", path, body)
    assert status == 400 and message in answer["error"]


def test_predict_status_and_metadata(client):
    for path in (
        f"/v1/models/{MODEL}",
        f"/v1/models/{MODEL}/versions/123",
        f"/v1/models/{MODEL}/labels/stable",
    ):
        status, body = _call(client, "GET", path)
        assert status == 200
        assert body["model_version_status"][0]["version"] == "123"
        assert body["model_version_status"][0]["state"] == "AVAILABLE"
    status, body = _call(
        client, "POST", f"/v1/models/{MODEL}/versions/123:predict", '{"instances": [[1.0]]}'
    )
    assert (status, body) == (200, {"predictions": [[2.5]]})
    status, body = _call(client, "GET", f"/v1/models/{MODEL}/metadata")
    assert status == 200 and body["model_spec"] == {
        "name": MODEL,
        "signature_name": "",
        "version": "123",
    }
    assert "serving_default" in body["metadata"]["signature_def"]["signature_def"]


def test_cors_preflight_needs_an_origin(client):
    status, body = _call(client, "OPTIONS", f"/v1/models/{MODEL}:predict")
    assert status == 400 and body == {}
    response = client.open(
        f"/v1/models/{MODEL}:predict", method="OPTIONS", headers={"Origin": "http://a.b"}
    )
    assert response.status_code == 200 and response.get_data() == b""
