"""TensorFlow Serving's gRPC API over a `ModelManager`, on the official serving-api stubs.

Services: `PredictionService.Predict`, `Classify`, `Regress`, `MultiInference` (tf.Example
inputs, grpc_inference.py), `GetModelMetadata` and `ModelService.GetModelStatus`
(`HandleReloadConfigRequest` answers UNIMPLEMENTED: the config file is polled instead). A client
written for `tensorflow_model_server --port=8500` works unchanged.
"""

from __future__ import annotations

from concurrent import futures

import grpc
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import error_codes_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from zoo.serving.errors import ServingError, as_serving_error
from zoo.serving.grpc_inference import classify, multi_inference, regress, version_of
from zoo.serving.manager import ModelManager


def _abort(context: grpc.ServicerContext, error: Exception):
    error = as_serving_error(error)
    code = getattr(grpc.StatusCode, error.code, grpc.StatusCode.UNKNOWN)
    context.abort(code, error.message)


_spec_version = version_of


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, manager: ModelManager) -> None:
        self.manager = manager

    def Predict(self, request, context):
        try:
            version, label = _spec_version(request.model_spec)
            with self.manager.servable(request.model_spec.name, version, label) as servable:
                signature = request.model_spec.signature_name or "serving_default"
                if signature not in servable.input_dtypes or signature.startswith("__"):
                    raise ServingError(
                        "FAILED_PRECONDITION", f'Serving signature key "{signature}" not found.'
                    )
                expected = servable.input_dtypes[signature]
                sent = set(request.inputs)
                if sent != set(expected):
                    raise ServingError(
                        "INVALID_ARGUMENT",
                        f"input size does not match signature: {len(sent)}!={len(expected)} "
                        f"len({{{','.join(sorted(sent))}}}) != "
                        f"len({{{','.join(sorted(expected))}}}). "
                        f"Sent extra: {{{','.join(sorted(sent - set(expected)))}}}. "
                        f"Missing but required: {{{','.join(sorted(set(expected) - sent))}}}.",
                    )
                arrays = {}
                for name, proto in request.inputs.items():
                    if proto.dtype != expected[name].as_datatype_enum:
                        raise ServingError(
                            "INVALID_ARGUMENT",
                            f"Expects arg {name} to be {expected[name].name} but "
                            f"{tf.as_dtype(proto.dtype).name} is provided",
                        )
                    arrays[name] = tf.make_ndarray(proto)
                outputs = servable.run(arrays, signature)
                wanted = list(request.output_filter) or list(outputs)
                unknown = set(wanted) - set(outputs)
                if unknown:
                    raise ServingError(
                        "INVALID_ARGUMENT",
                        f"output tensor alias not found in signature: {sorted(unknown)[0]}",
                    )
                response = predict_pb2.PredictResponse()
                response.model_spec.name = request.model_spec.name
                response.model_spec.version.value = servable.version
                response.model_spec.signature_name = signature
                for name in wanted:
                    response.outputs[name].CopyFrom(tf.make_tensor_proto(np.asarray(outputs[name])))
                return response
        except Exception as error:
            _abort(context, error)

    def GetModelMetadata(self, request, context):
        try:
            fields = list(request.metadata_field)
            if fields != ["signature_def"]:
                raise ServingError(
                    "INVALID_ARGUMENT",
                    "Metadata field signature_def must be requested"
                    if not fields
                    else f"Metadata field {fields[0]} is not supported",
                )
            version, label = _spec_version(request.model_spec)
            with self.manager.servable(request.model_spec.name, version, label) as servable:
                signature_map = get_model_metadata_pb2.SignatureDefMap()
                for key, sdef in servable.runner.signature_defs.items():
                    signature_map.signature_def[key].CopyFrom(sdef)
                response = get_model_metadata_pb2.GetModelMetadataResponse()
                response.model_spec.name = request.model_spec.name
                response.model_spec.version.value = servable.version
                response.metadata["signature_def"].Pack(signature_map)
                return response
        except Exception as error:
            _abort(context, error)

    def _answer(self, function, request, context):
        try:
            return function(self.manager, request)
        except Exception as error:
            _abort(context, error)

    def Classify(self, request, context):
        return self._answer(classify, request, context)

    def Regress(self, request, context):
        return self._answer(regress, request, context)

    def MultiInference(self, request, context):
        return self._answer(multi_inference, request, context)


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, manager: ModelManager) -> None:
        self.manager = manager

    def GetModelStatus(self, request, context):
        try:
            version, label = _spec_version(request.model_spec)
            response = get_model_status_pb2.GetModelStatusResponse()
            for v, record in self.manager.status(request.model_spec.name, version, label):
                status = response.model_version_status.add()
                status.version = v
                status.state = get_model_status_pb2.ModelVersionStatus.State.Value(record.state)
                status.status.error_code = error_codes_pb2.Code.Value(record.error_code)
                status.status.error_message = record.error_message
            return response
        except Exception as error:
            _abort(context, error)

    def HandleReloadConfigRequest(self, request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "edit models.config instead: it is polled")


class GrpcServer:
    """The gRPC services on host:port (0 picks a free port; see `port`)."""

    def __init__(
        self,
        manager: ModelManager,
        *,
        host: str = "127.0.0.1",
        port: int = 8500,
        threads: int = 8,
        max_message_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        options = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ]
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=threads), options=options)
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            PredictionService(manager), self._server
        )
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(
            ModelService(manager), self._server
        )
        self.host = host
        bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.port = self._server.add_insecure_port(bind)
        if self.port == 0:
            raise OSError(f"Could not bind gRPC to {host}:{port}")

    @property
    def target(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def start(self) -> GrpcServer:
        self._server.start()
        return self

    def shutdown(self) -> None:
        self._server.stop(grace=2).wait(timeout=10)

    def __enter__(self) -> GrpcServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.shutdown()
