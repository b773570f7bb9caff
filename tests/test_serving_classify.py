""":classify and :regress with tf.Example JSON, against a SavedModel with classification and
regression signatures (built with TensorFlow's own signature_def helpers), and TF Serving's
JsonErrors cases for the request format."""

from __future__ import annotations

import grpc
import pytest
import tensorflow as tf
from tensorflow_serving.apis import (
    classification_pb2,
    inference_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)
from test_serving_support import half_plus_two, http, rest_server

from zoo.serving import GrpcServer, ModelManager, export
from zoo.serving.classify import example_from_json, examples_from_request
from zoo.serving.errors import ServingError
from zoo.serving.model_config import ModelEntry


def _classify_regress_model(path) -> None:
    """scores = [x, 1 - x] for classes ["a", "b"]; regression 2x + k (k from the context)."""
    with tf.Graph().as_default(), tf.compat.v1.Session() as session:
        serialized = tf.compat.v1.placeholder(tf.string, [None], name="tf_example")
        features = tf.io.parse_example(
            serialized,
            {
                "x": tf.io.FixedLenFeature([1], tf.float32),
                "k": tf.io.FixedLenFeature([1], tf.int64, default_value=[0]),
            },
        )
        x = features["x"][:, 0]
        scores = tf.stack([x, 1.0 - x], axis=1)
        classes = tf.tile(tf.constant([["a", "b"]]), [tf.shape(x)[0], 1])
        value = 2.0 * x + tf.cast(features["k"][:, 0], tf.float32)
        builder = tf.compat.v1.saved_model.Builder(str(path))
        signature_defs = {
            "serving_default": tf.compat.v1.saved_model.classification_signature_def(
                serialized, classes, scores
            ),
            "regress_x": tf.compat.v1.saved_model.regression_signature_def(serialized, value),
        }
        builder.add_meta_graph_and_variables(session, ["serve"], signature_def_map=signature_defs)
        builder.save()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(REST URL, gRPC channel) of one manager serving `cr` and `hpt`."""
    root = tmp_path_factory.mktemp("models")
    _classify_regress_model(root / "cr" / "1")
    export(half_plus_two(), root / "hpt")
    entries = [ModelEntry("cr", str(root / "cr")), ModelEntry("hpt", str(root / "hpt"))]
    manager = ModelManager(entries, poll_wait_seconds=0)
    with rest_server(manager, threads=4) as rest, GrpcServer(manager, port=0) as grpc_server:
        with grpc.insecure_channel(grpc_server.target) as channel:
            yield rest.url, channel


@pytest.fixture(scope="module")
def server(served):
    return served[0]


@pytest.fixture(scope="module")
def stub(served):
    return prediction_service_pb2_grpc.PredictionServiceStub(served[1])


def test_classify_answers_label_score_pairs(server):
    body = '{"examples": [{"x": 0.25}, {"x": [0.75]}]}'
    status, answer = http(f"{server}/v1/models/cr:classify", body)
    assert status == 200
    # 0.25 and 0.75 are exact in float32, so are 1 - x.
    assert answer == {"results": [[["a", 0.25], ["b", 0.75]], [["a", 0.75], ["b", 0.25]]]}


def test_regress_with_context_and_signature(server):
    body = (
        '{"signature_name": "regress_x", "context": {"k": 1}, "examples": [{"x": 0.5}, {"x": 2.0}]}'
    )
    status, answer = http(f"{server}/v1/models/cr/versions/1:regress", body)
    assert (status, answer) == (200, {"results": [2.0, 5.0]})


def test_wrong_signature_kind_and_bad_bodies_are_400(server):
    status, answer = http(f"{server}/v1/models/hpt:classify", '{"examples": [{"x": 1.0}]}')
    assert status == 400 and answer["error"] == (
        "Expected classification signature method_name to be tensorflow/serving/classify. "
        "Was: tensorflow/serving/predict"
    )
    status, answer = http(f"{server}/v1/models/cr:regress", '{"examples": [{"x": 1.0}]}')
    assert status == 400 and "Expected regression signature method_name" in answer["error"]
    status, answer = http(f"{server}/v1/models/cr:classify", '{"instances": [1]}')
    assert status == 400 and "key 'examples' is expected and was not found" in answer["error"]
    status, answer = http(f"{server}/v1/models/cr:classify", '{"examples": [{"x": "text"}]}')
    assert status == 400 and answer["error"]  # TensorFlow's parse_example error, as a 400


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"signature_name": 1, "examples": [{}]}', "'signature_name' key must be a string"),
        ('{"examples": [1]}', "Example must be JSON object"),
        ('{"examples": {}}', "list/array"),
        ('{"context": [], "examples": [{}]}', "Example must be JSON object"),
        ('{"examples": [{"names": [null]}]}', "names has element with unexpected JSON type: Null"),
        ('{"examples": [{"names": [1, 2.5]}]}', "feature: names expecting type: int64"),
        (
            '{"examples": [{"names": [{"a": 1}]}]}',
            "names has element with unexpected JSON type: Object",
        ),
        ('{"examples": [{"names": [[1]]}]}', "names has element with unexpected JSON type: Array"),
        ('{"examples": [{"names": 18446744073709551615}]}', "Only int64_t is supported"),
        ('{"examples": []}', "'examples' value is an empty array"),
    ],
)
def test_tf_servings_classify_regress_json_errors(body, message):
    from zoo.serving.json_tensor import parse_predict_request

    with pytest.raises(ServingError) as caught:
        examples_from_request(parse_predict_request(body.encode()), "classify")
    assert message in caught.value.message and caught.value.http_status == 400


def test_examples_take_tf_servings_feature_kinds():
    example = example_from_json(
        {"i": [1, 2], "b": True, "f": [0.5], "s": "text", "raw": {"b64": "aGVsbG8="}}
    )
    feature = example.features.feature
    assert list(feature["i"].int64_list.value) == [1, 2]
    assert list(feature["b"].int64_list.value) == [1]
    assert list(feature["f"].float_list.value) == [0.5]
    assert list(feature["s"].bytes_list.value) == [b"text"]
    assert list(feature["raw"].bytes_list.value) == [b"hello"]


def _examples(input_proto, xs, k=None):
    """Fill a `tensorflow.serving.Input` with Examples {x: [x]} (and a context {k: [k]})."""
    holder = input_proto.example_list if k is None else input_proto.example_list_with_context
    if k is not None:
        holder.context.features.feature["k"].int64_list.value.append(k)
    for x in xs:
        holder.examples.add().features.feature["x"].float_list.value.append(x)


def test_grpc_classify_and_regress_answer_as_rest_does(stub):
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = "cr"
    _examples(request.input, [0.25, 0.75])
    response = stub.Classify(request, timeout=30)
    got = [[(c.label, c.score) for c in row.classes] for row in response.result.classifications]
    # scores = [x, 1 - x]; 0.25 and 0.75 are exact in float32.
    assert got == [[("a", 0.25), ("b", 0.75)], [("a", 0.75), ("b", 0.25)]]
    assert response.model_spec.version.value == 1
    request = regression_pb2.RegressionRequest()
    request.model_spec.name = "cr"
    request.model_spec.signature_name = "regress_x"
    _examples(request.input, [0.5, 2.0], k=1)
    response = stub.Regress(request, timeout=30)
    assert [r.value for r in response.result.regressions] == [2.0, 5.0]  # 2x + k


def _task(request, method, signature, name="cr"):
    task = request.tasks.add()
    task.model_spec.name = name
    task.model_spec.signature_name = signature
    task.method_name = f"tensorflow/serving/{method}"


def test_grpc_multi_inference_runs_every_task_on_one_input(stub):
    request = inference_pb2.MultiInferenceRequest()
    _task(request, "classify", "serving_default")
    _task(request, "regress", "regress_x")
    _examples(request.input, [0.25, 0.5], k=2)
    response = stub.MultiInference(request, timeout=30)
    classes, values = response.results
    assert [
        [c.score for c in row.classes] for row in classes.classification_result.classifications
    ] == [
        [0.25, 0.75],
        [0.5, 0.5],
    ]
    assert [r.value for r in values.regression_result.regressions] == [2.5, 3.0]
    assert [r.model_spec.signature_name for r in response.results] == [
        "serving_default",
        "regress_x",
    ]
    assert values.model_spec.version.value == 1


@pytest.mark.parametrize(
    ("tasks", "code", "message"),
    [
        (
            [("regress", "regress_x", "cr"), ("regress", "regress_x", "cr")],
            grpc.StatusCode.INVALID_ARGUMENT,
            "Duplicate evaluation of signature: regress_x",
        ),
        (
            [("regress", "regress_x", "cr"), ("classify", "serving_default", "hpt")],
            grpc.StatusCode.INVALID_ARGUMENT,
            "must access the same model name",
        ),
        (
            [("predict", "serving_default", "hpt")],
            grpc.StatusCode.UNIMPLEMENTED,
            "Unsupported signature",
        ),
        (
            [("regress", "nope", "cr")],
            grpc.StatusCode.INVALID_ARGUMENT,
            "Requested signature not found in model graph: nope",
        ),
    ],
)
def test_grpc_multi_inference_errors_are_tf_servings(stub, tasks, code, message):
    request = inference_pb2.MultiInferenceRequest()
    for method, signature, name in tasks:
        _task(request, method, signature, name)
    _examples(request.input, [0.5])
    with pytest.raises(grpc.RpcError) as caught:
        stub.MultiInference(request, timeout=30)
    assert caught.value.code() == code and message in caught.value.details()
