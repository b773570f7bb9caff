"""`zoo serve`'s REST API against TF Serving's documented requests, answers and errors."""

from __future__ import annotations

import base64
import json
import socket
from concurrent.futures import ThreadPoolExecutor

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_serving_support import half_plus_two, http, rest_server, two_in_two_out

from zoo.serving import ModelManager, export, write_models_config
from zoo.serving.errors import ServingError
from zoo.serving.json_tensor import json_to_array

MAX_BODY = 64 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    export(half_plus_two(), root / "half_plus_two")  # version 1: y = 0.5 x + 2
    export(half_plus_two(0.5, 3.0), root / "half_plus_two")  # version 2: y = 0.5 x + 3
    export(two_in_two_out(), root / "multi", signatures={"total_only": ["total"]})
    config = write_models_config(
        root,
        version_policy={"half_plus_two": {"all": True}},
        version_labels={"half_plus_two": {"stable": 1, "canary": 2}},
    )
    manager = ModelManager.from_config_file(config, poll_wait_seconds=0)
    with rest_server(manager, threads=8, max_body_bytes=MAX_BODY) as rest:
        yield rest.url


def test_half_plus_two_row_format_is_tf_servings_example(server):
    status, body = http(
        f"{server}/v1/models/half_plus_two/versions/1:predict",
        '{"instances": [[1.0], [2.0], [5.0]]}',
    )
    assert (status, body) == (200, {"predictions": [[2.5], [3.0], [4.5]]})


def test_latest_version_answers_by_default_and_labels_pick_versions(server):
    x = '{"instances": [[1.0]]}'
    assert http(f"{server}/v1/models/half_plus_two:predict", x)[1] == {"predictions": [[3.5]]}
    assert http(f"{server}/v1/models/half_plus_two/labels/stable:predict", x)[1] == {
        "predictions": [[2.5]]
    }
    assert http(f"{server}/v1/models/half_plus_two/labels/canary:predict", x)[1] == {
        "predictions": [[3.5]]
    }
    assert http(f"{server}/V1/MODELS/half_plus_two/versions/1:PREDICT", x)[0] == 200


def test_columnar_format(server):
    status, body = http(
        f"{server}/v1/models/half_plus_two/versions/1:predict", '{"inputs": [[1.0], [2.0]]}'
    )
    assert (status, body) == (200, {"outputs": [[2.5], [3.0]]})
    status, body = http(
        f"{server}/v1/models/half_plus_two/versions/1:predict", '{"inputs": {"x": [[5.0]]}}'
    )
    assert (status, body) == (200, {"outputs": [[4.5]]})


def test_nan_and_infinity_in_and_out(server):
    status, text = _raw(
        f"{server}/v1/models/half_plus_two/versions/1:predict",
        b'{"instances": [[NaN], [Infinity], [-Infinity], [0.1]]}',
    )
    assert status == 200
    # Literals as TF Serving writes them; float32 values printed at float32 precision.
    assert text == '{"predictions": [[NaN], [Infinity], [-Infinity], [2.05]]}'


def test_multi_input_multi_output_row_and_columnar(server):
    a = [[1.0, 2.0, 3.0], [0.5, 0.0, -1.0]]
    b = [[10.0, 20.0], [1.0, 1.0]]
    rows = [{"a": a[i], "b": b[i]} for i in range(2)]
    status, body = http(f"{server}/v1/models/multi:predict", json.dumps({"instances": rows}))
    assert status == 200
    expected_total = (np.sum(a, axis=1) + np.sum(b, axis=1))[:, None]
    for i, prediction in enumerate(body["predictions"]):
        assert set(prediction) == {"total", "double"}
        np.testing.assert_allclose(prediction["total"], expected_total[i])
        np.testing.assert_allclose(prediction["double"], 2 * np.array(a[i]))
    status, body = http(
        f"{server}/v1/models/multi:predict", json.dumps({"inputs": {"a": a, "b": b}})
    )
    assert status == 200
    np.testing.assert_allclose(body["outputs"]["total"], expected_total)
    np.testing.assert_allclose(body["outputs"]["double"], 2 * np.array(a))
    status, body = http(
        f"{server}/v1/models/multi:predict",
        json.dumps({"signature_name": "total_only", "inputs": {"a": a, "b": b}}),
    )
    assert status == 200
    np.testing.assert_allclose(body["outputs"], expected_total)  # one output: bare value


def test_status(server):
    status, body = http(f"{server}/v1/models/half_plus_two")
    assert status == 200
    assert body == {
        "model_version_status": [
            {
                "version": v,
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
            for v in ("2", "1")
        ]
    }
    status, body = http(f"{server}/v1/models/half_plus_two/versions/1")
    assert status == 200 and [s["version"] for s in body["model_version_status"]] == ["1"]
    status, body = http(f"{server}/v1/models/half_plus_two/labels/stable")
    assert status == 200 and [s["version"] for s in body["model_version_status"]] == ["1"]


def test_metadata_layout(server):
    status, body = http(f"{server}/v1/models/multi/metadata")
    assert status == 200
    assert body["model_spec"] == {"name": "multi", "signature_name": "", "version": "1"}
    signatures = body["metadata"]["signature_def"]["signature_def"]
    default = signatures["serving_default"]
    assert default["method_name"] == "tensorflow/serving/predict"
    assert sorted(default["inputs"]) == ["a", "b"]
    assert sorted(default["outputs"]) == ["double", "total"]
    a = default["inputs"]["a"]
    assert a["dtype"] == "DT_FLOAT"
    assert a["tensor_shape"] == {
        "dim": [{"size": "-1", "name": ""}, {"size": "3", "name": ""}],
        "unknown_rank": False,
    }
    assert sorted(signatures["total_only"]["outputs"]) == ["total"]


HPT = "/v1/models/half_plus_two:predict"
MULTI = "/v1/models/multi:predict"
ONE = '{"instances": [[1.0]]}'
ERRORS = [
    ("/v1/models/nope:predict", ONE, 404, "Servable not found for request: Latest(nope)"),
    (
        "/v1/models/half_plus_two/versions/9:predict",
        ONE,
        404,
        "Servable not found for request: Specific(half_plus_two, 9)",
    ),
    (
        "/v1/models/half_plus_two/labels/beta:predict",
        ONE,
        400,
        "Unrecognized servable version label: beta",
    ),
    ("/v1/models/nope", None, 404, "Could not find any versions of model nope"),
    (
        "/v1/models/half_plus_two/versions/9",
        None,
        404,
        "Could not find version 9 of model half_plus_two",
    ),
    (HPT, '{"instances": [[1.0],', 400, "JSON Parse error"),
    (HPT, "", 400, "JSON Parse error: The document is empty"),
    (HPT, "[1, 2]", 400, "Is not object"),
    (
        HPT,
        '{"instances": [["a"]]}',
        400,
        'JSON Value: "a" Type: String is not of expected type: float',
    ),
    (HPT, '{"instances": [[true]]}', 400, "Type: True is not of expected type: float"),
    (
        HPT,
        '{"instances": [[1.0], [2.0, 3.0]]}',
        400,
        "element: 1 of 'instances' list. Error: INVALID_ARGUMENT: Expecting tensor size: 1",
    ),
    (
        HPT,
        '{"inputs": [[1.0], [2.0, 3.0]]}',
        400,
        "Encountered list at unexpected size: 2 at level: 1 expected size: 1",
    ),
    (
        HPT,
        '{"instances": [[1.0]], "inputs": [[1.0]]}',
        400,
        "expecting only one of 'inputs' or 'instances' keys",
    ),
    (
        HPT,
        '{"signature_name": "nope", "instances": [[1.0]]}',
        400,
        'Serving signature name: "nope" not found in signature def',
    ),
    (
        HPT,
        '{"signature_name": 3, "instances": [[1.0]]}',
        400,
        "'signature_name' key must be a string value.",
    ),
    (HPT, '{"foo": 1}', 400, "Missing 'inputs' or 'instances' key"),
    (HPT, '{"instances": []}', 400, "No values in 'instances' array"),
    (HPT, '{"instances": [[1.0, 2.0]]}', 400, "Matrix size-incompatible: In[0]: [1,2]"),
    (MULTI, ONE, 400, "instances is a plain list, but expecting list of objects"),
    (MULTI, '{"instances": [{"a": [1, 2, 3]}]}', 400, "keys must be equal to: a,b"),
    (MULTI, '{"inputs": {"a": [[1, 2, 3]]}}', 400, "Missing named input: b in 'inputs' object."),
    ("/v1/models/half_plus_two/versions/1/labels/x:predict", "{}", 400, "Malformed request"),
    ("/v1/nothing/here", "{}", 400, "Malformed request: POST /v1/nothing/here"),
    # TF Serving's REST handler only owns `(?i)/v1/.*`; other paths find no handler.
    ("/v2/models/half_plus_two:predict", "{}", 404, "No handler for POST"),
]


@pytest.mark.parametrize(("path", "body", "code", "message"), ERRORS)
def test_errors_have_tf_servings_shape_and_code_and_server_keeps_serving(
    server, path, body, code, message
):
    status, answer = http(server + path, body)
    assert status == code
    assert list(answer) == ["error"] and message in answer["error"]
    good = http(f"{server}/v1/models/half_plus_two/versions/1:predict", '{"instances": [[1.0]]}')
    assert good == (200, {"predictions": [[2.5]]})


def test_routes_match_case_insensitively_as_tf_serving_does(server):
    answer = http(f"{server}/V1/MODELS/half_plus_two/VERSIONS/1:PREDICT", '{"instances": [[1.0]]}')
    assert answer == (200, {"predictions": [[2.5]]})


def test_oversized_body_is_refused_with_json_error(server):
    body = json.dumps({"instances": [[1.0]] * (MAX_BODY // 4)})
    status, answer = http(f"{server}/v1/models/half_plus_two:predict", body)
    assert status == 413 and "larger than the limit" in answer["error"]
    assert http(f"{server}/v1/models/half_plus_two:predict", '{"instances": [[1.0]]}')[0] == 200


def test_garbage_bytes_and_half_closed_connection_do_not_hurt(server):
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/models/half_plus_two:predict HTTP/1.1\r\nContent-Length: 100\r\n\r\n{"
        )
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"\x00\xff garbage\r\n\r\n")
        sock.recv(1024)
    assert http(f"{server}/v1/models/half_plus_two:predict", '{"instances": [[1.0]]}')[0] == 200


def test_concurrent_requests_all_get_their_own_answer(server):
    def one(i):
        x = float(i)
        return http(
            f"{server}/v1/models/half_plus_two/versions/1:predict", json.dumps({"instances": [[x]]})
        )

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(64)))
    assert all(s == 200 for s, _ in results)
    np.testing.assert_allclose(
        [b["predictions"][0][0] for _, b in results], 0.5 * np.arange(64) + 2
    )


def test_json_tensor_b64_strings_and_int_rules():
    raw = b"\x00\x01binary"
    array = json_to_array([{"b64": base64.b64encode(raw).decode()}, "text"], tf.string)
    assert array.tolist() == [raw, b"text"]
    np.testing.assert_array_equal(json_to_array([[1, 2]], tf.int64), [[1, 2]])
    with pytest.raises(ServingError, match="Type: Number is not of expected type: int32"):
        json_to_array([1.5], tf.int32)
    with pytest.raises(ServingError, match="not formatted correctly for base64"):
        json_to_array([{"b64": 1}], tf.string)


def _raw(url: str, body: bytes) -> tuple[int, str]:
    import urllib.request

    request = urllib.request.Request(url, data=body, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read().decode()


def test_an_input_of_the_wrong_rank_is_refused_before_the_model_runs(tmp_path):
    """An 8x8 image sent without its channel axis reached oneDNN's convolution, which aborted
    the whole server (every model down, no answer). The rank is checked against the signature
    first: a 400 that says the shape expected, and the server answers the next request."""
    x = keras.Input(shape=(8, 8, 1), name="image")
    pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(2, 3)(x))
    export(keras.Model(x, {"y": pooled}), tmp_path / "conv")
    manager = ModelManager.from_config_file(write_models_config(tmp_path), poll_wait_seconds=0)
    with rest_server(manager) as rest:
        url = f"{rest.url}/v1/models/conv:predict"
        for body in ('{"instances": [[1, 2, 3]]}', json.dumps({"instances": [[[0.0] * 8] * 8]})):
            status, answer = http(url, body)
            assert status == 400, answer
            assert (
                'Input "image" of signature "serving_default" must have 4 dimensions'
                in (answer["error"])
            )
        status, answer = http(url, json.dumps({"instances": [[[[1.0]] * 8] * 8]}))
        assert status == 200 and np.shape(answer["predictions"]) == (1, 2)
