"""`zoo serve --port`: the official tensorflow-serving-api gRPC client against our server."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)
from test_serving_support import half_plus_two, two_in_two_out

from zoo.serving import GrpcServer, ModelManager, export, write_models_config


@pytest.fixture(scope="module")
def channel(tmp_path_factory):
    root = tmp_path_factory.mktemp("grpc_models")
    export(half_plus_two(), root / "half_plus_two", warmup=False)
    export(half_plus_two(0.5, 3.0), root / "half_plus_two", warmup=False)
    export(two_in_two_out(), root / "multi", warmup=False)
    config = write_models_config(
        root,
        version_policy={"half_plus_two": {"all": True}},
        version_labels={"half_plus_two": {"stable": 1}},
    )
    manager = ModelManager.from_config_file(config, poll_wait_seconds=0)
    manager.start()
    server = GrpcServer(manager, port=0).start()
    try:
        with grpc.insecure_channel(server.target) as open_channel:
            yield open_channel
    finally:
        server.shutdown()
        manager.stop()


def _predict_request(name, inputs, version=None, label=None, signature=""):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    if label is not None:
        request.model_spec.version_label = label
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    return request


def test_predict_half_plus_two_with_version_and_label(channel):
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    x = np.array([[1.0], [2.0], [5.0]], "float32")
    response = stub.Predict(_predict_request("half_plus_two", {"x": x}, version=1), timeout=30)
    np.testing.assert_allclose(tf.make_ndarray(response.outputs["output"]), 0.5 * x + 2)
    assert response.model_spec.version.value == 1
    response = stub.Predict(_predict_request("half_plus_two", {"x": x}), timeout=30)
    np.testing.assert_allclose(tf.make_ndarray(response.outputs["output"]), 0.5 * x + 3)
    response = stub.Predict(_predict_request("half_plus_two", {"x": x}, label="stable"), timeout=30)
    assert response.model_spec.version.value == 1


def test_predict_multi_io_and_output_filter(channel):
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    a = np.array([[1.0, 2.0, 3.0]], "float32")
    b = np.array([[4.0, 5.0]], "float32")
    request = _predict_request("multi", {"a": a, "b": b})
    request.output_filter.append("total")
    response = stub.Predict(request, timeout=30)
    assert list(response.outputs) == ["total"]
    np.testing.assert_allclose(tf.make_ndarray(response.outputs["total"]), [[15.0]])


def test_metadata_and_status(channel):
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = "multi"
    request.metadata_field.append("signature_def")
    response = stub.GetModelMetadata(request, timeout=30)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signatures)
    assert sorted(signatures.signature_def["serving_default"].inputs) == ["a", "b"]

    models = model_service_pb2_grpc.ModelServiceStub(channel)
    status_request = get_model_status_pb2.GetModelStatusRequest()
    status_request.model_spec.name = "half_plus_two"
    status = models.GetModelStatus(status_request, timeout=30)
    available = get_model_status_pb2.ModelVersionStatus.State.Value("AVAILABLE")
    assert sorted((s.version, s.state) for s in status.model_version_status) == [
        (1, available),
        (2, available),
    ]


@pytest.mark.parametrize(
    ("request_args", "code", "message"),
    [
        (
            {"name": "nope", "inputs": {"x": np.ones((1, 1), "float32")}},
            "NOT_FOUND",
            "Latest(nope)",
        ),
        (
            {"name": "half_plus_two", "inputs": {"x": np.ones((1, 1), "float32")}, "label": "b"},
            "INVALID_ARGUMENT",
            "Unrecognized servable version label: b",
        ),
        (
            {"name": "half_plus_two", "inputs": {"x": np.ones((1, 1), "float64")}},
            "INVALID_ARGUMENT",
            "to be float32 but float64 is provided",
        ),
        (
            {"name": "multi", "inputs": {"a": np.ones((1, 3), "float32")}},
            "INVALID_ARGUMENT",
            "Missing but required: {b}",
        ),
        (
            {
                "name": "half_plus_two",
                "inputs": {"x": np.ones((1, 1), "float32")},
                "signature": "s",
            },
            "FAILED_PRECONDITION",
            'Serving signature key "s" not found.',
        ),
    ],
)
def test_errors_carry_tf_serving_status_codes(channel, request_args, code, message):
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    with pytest.raises(grpc.RpcError) as caught:
        stub.Predict(_predict_request(**request_args), timeout=30)
    assert caught.value.code() == getattr(grpc.StatusCode, code)
    assert message in caught.value.details()
