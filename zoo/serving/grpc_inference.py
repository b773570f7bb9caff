"""TF Serving's gRPC `Classify`, `Regress` and `MultiInference` on tf.Example inputs.

A request's `input` is a `tensorflow.serving.Input`: `example_list` (Examples) or
`example_list_with_context` (each Example merged with the shared context, context first, as TF
Serving's input parsing does). The Examples are serialised and fed, as one string tensor of shape
(batch,), to a signature whose method is `tensorflow/serving/classify` (outputs `classes` and/or
`scores`, (batch, k)) or `tensorflow/serving/regress` (output `outputs`, (batch,) or (batch, 1)).

`MultiInference` runs several such tasks on one input: every task names the same model, no
signature twice, each a classify or regress method with the same input tensor (TF Serving's
checks and messages). Each task's signature is run on its own (TF Serving fetches all of them in
one session run: the answers are the same for a model without state).
"""

from __future__ import annotations

from tensorflow.core.example import example_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    inference_pb2,
    regression_pb2,
)

from zoo.serving.classify import (
    CLASSIFY_METHOD,
    REGRESS_METHOD,
    classification_arrays,
    regression_values,
    run_examples,
    signature_for,
)
from zoo.serving.errors import ServingError, invalid


def serialized_examples(input_proto) -> list[bytes]:
    """The serialised Examples of a `tensorflow.serving.Input`."""
    kind = input_proto.WhichOneof("kind")
    if kind == "example_list":
        return [e.SerializeToString() for e in input_proto.example_list.examples]
    if kind == "example_list_with_context":
        context = input_proto.example_list_with_context.context
        merged = []
        for example in input_proto.example_list_with_context.examples:
            one = example_pb2.Example()
            one.CopyFrom(context)
            one.MergeFrom(example)
            merged.append(one.SerializeToString())
        return merged
    raise invalid("Input is empty.")


def _examples(input_proto) -> list[bytes]:
    serialised = serialized_examples(input_proto)
    if not serialised:
        raise invalid("Input is empty.")
    return serialised


def version_of(spec) -> tuple[int | None, str | None]:
    """(version, label) that a `ModelSpec` asks for (None: not given)."""
    version = spec.version.value if spec.HasField("version") else None
    label = spec.version_label if spec.WhichOneof("version_choice") == "version_label" else None
    return version, label


def fill_classification(outputs: dict, batch: int, result) -> None:
    """`outputs` of a classify signature into a `ClassificationResult`."""
    labels, scores = classification_arrays(outputs, batch)
    for i in range(batch):
        row = result.classifications.add()
        for j in range(labels.shape[1]):
            entry = row.classes.add()
            raw = labels[i, j]
            entry.label = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
            if scores is not None:
                entry.score = float(scores[i, j])


def fill_regression(outputs: dict, batch: int, result) -> None:
    """`outputs` of a regress signature into a `RegressionResult`."""
    for value in regression_values(outputs, batch).tolist():
        result.regressions.add().value = value


def _model_spec_out(spec_in, spec_out, signature: str, version: int) -> None:
    spec_out.name = spec_in.name
    spec_out.version.value = version
    spec_out.signature_name = signature


def classify(manager, request, timeout_ms: int = 0):
    """A `ClassificationResponse` for a `ClassificationRequest`."""
    return _one(manager, request, CLASSIFY_METHOD, timeout_ms)


def regress(manager, request, timeout_ms: int = 0):
    """A `RegressionResponse` for a `RegressionRequest`."""
    return _one(manager, request, REGRESS_METHOD, timeout_ms)


def _one(manager, request, method: str, timeout_ms: int):
    serialised = _examples(request.input)
    signature = request.model_spec.signature_name or "serving_default"
    version, label = version_of(request.model_spec)
    with manager.servable(request.model_spec.name, version, label) as servable:
        outputs = run_examples(servable, method, serialised, signature, timeout_ms)
        served = servable.version
    if method == CLASSIFY_METHOD:
        response = classification_pb2.ClassificationResponse()
        fill_classification(outputs, len(serialised), response.result)
    else:
        response = regression_pb2.RegressionResponse()
        fill_regression(outputs, len(serialised), response.result)
    _model_spec_out(request.model_spec, response.model_spec, signature, served)
    return response


def multi_inference(manager, request, timeout_ms: int = 0):
    """A `MultiInferenceResponse` for a `MultiInferenceRequest`."""
    if not request.tasks:
        raise invalid("Tasks field is empty.")
    model_name, signatures = "", []
    for task in request.tasks:
        if not task.model_spec.name:
            raise invalid("Found ModelSpec with an empty model name.")
        if model_name and task.model_spec.name != model_name:
            raise invalid(
                "All ModelSpecs in a MultiInferenceRequest must access the same model name."
            )
        model_name = task.model_spec.name
        signature = task.model_spec.signature_name or "serving_default"
        if signature in signatures:
            raise invalid(f"Duplicate evaluation of signature: {signature}")
        signatures.append(signature)
        if task.method_name not in (CLASSIFY_METHOD, REGRESS_METHOD):
            raise ServingError(
                "UNIMPLEMENTED", f"Unsupported signature method_name: {task.method_name}"
            )
    serialised = _examples(request.input)
    version, label = version_of(request.tasks[0].model_spec)
    response = inference_pb2.MultiInferenceResponse()
    with manager.servable(model_name, version, label) as servable:
        inputs = set()
        for task, signature in zip(request.tasks, signatures, strict=True):
            if signature not in servable.runner.signature_defs:
                raise invalid(f"Requested signature not found in model graph: {signature}")
            inputs.add(signature_for(servable, signature, task.method_name)[1])
        if len(inputs) > 1:
            raise invalid("Input tensor must be the same for all Signatures.")
        for task, signature in zip(request.tasks, signatures, strict=True):
            outputs = run_examples(servable, task.method_name, serialised, signature, timeout_ms)
            result = response.results.add()
            _model_spec_out(task.model_spec, result.model_spec, signature, servable.version)
            if task.method_name == CLASSIFY_METHOD:
                fill_classification(outputs, len(serialised), result.classification_result)
            else:
                fill_regression(outputs, len(serialised), result.regression_result)
    return response
