""":classify and :regress: TF Serving's tf.Example JSON requests and its result JSON.

Request (`json_tensor.cc` `FillClassifyRegressRequestFromJson`):

    {"signature_name": "...", "context": {feature: values}, "examples": [{feature: values}, ...]}

A feature's values become one `tf.train.Feature`: JSON integers and booleans an int64 list, JSON
decimals a float list, strings and `{"b64": ...}` a bytes list; mixing kinds in one feature is an
error. Each example (merged with the context, as TF Serving's input parsing does) is serialised and
fed, as one string tensor of shape (batch,), to a signature whose method is
`tensorflow/serving/classify` (outputs `classes` and/or `scores`, each (batch, k)) or
`tensorflow/serving/regress` (output `outputs`, (batch,) or (batch, 1)).

Answer: `{"results": [[["label", score], ...], ...]}` for classify, `{"results": [v, ...]}` for
regress (numbers written as predict writes them).
"""

from __future__ import annotations

import base64
import binascii
import json

import numpy as np
import tensorflow as tf

from zoo.serving.errors import ServingError, as_serving_error, invalid
from zoo.serving.json_parse import debug_string, json_type
from zoo.serving.json_tensor import float_text_list, float_texts, parse_predict_request

CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"
_KIND_NAMES = {"bytes_list": "bytes", "float_list": "float", "int64_list": "int64"}
_INT64_MAX = (1 << 63) - 1


def _add_value(feature: tf.train.Feature, name: str, value) -> None:
    """One JSON value into `feature` (RapidJSON's `AddValueToFeature`)."""
    if isinstance(value, bool) or (isinstance(value, int) and not isinstance(value, bool)):
        kind, stored = "int64_list", int(value)
        if stored > _INT64_MAX:
            raise invalid(f"Feature: {name} has uint64_t element. Only int64_t is supported.")
    elif isinstance(value, float):
        kind, stored = "float_list", value
    elif isinstance(value, str):
        kind, stored = "bytes_list", value.encode("utf-8")
    elif isinstance(value, dict) and list(value) == ["b64"] and isinstance(value["b64"], str):
        kind = "bytes_list"
        try:
            stored = base64.b64decode(value["b64"], validate=True)
        except (binascii.Error, ValueError):
            raise invalid("Unable to base64 decode") from None
    else:
        raise invalid(f"Feature: {name} has element with unexpected JSON type: {json_type(value)}")
    current = feature.WhichOneof("kind")
    if current is not None and current != kind:
        raise invalid(
            f"Unexpected element type in feature: {name} expecting type: {_KIND_NAMES[current]}"
        )
    getattr(feature, kind).value.append(stored)


def example_from_json(value) -> tf.train.Example:
    """A JSON object of features -> `tf.train.Example` (`MakeExampleFromJsonObject`)."""
    if not isinstance(value, dict):
        raise invalid(f"Example must be JSON object but got JSON {json_type(value)}")
    example = tf.train.Example()
    for name, content in value.items():
        feature = example.features.feature[name]
        for item in content if isinstance(content, list) else [content]:
            _add_value(feature, name, item)
    return example


def examples_from_request(document: dict, verb: str) -> list[bytes]:
    """Serialised Examples (each merged with the request's `context`) of a classify/regress body."""
    context = example_from_json(document["context"]) if "context" in document else None
    if "examples" not in document:
        raise invalid(
            f"JSON Value: {debug_string(document)} When method is {verb}, key 'examples' is "
            "expected and was not found"
        )
    examples = document["examples"]
    if not isinstance(examples, list):
        raise invalid(
            f"JSON Value: {debug_string(document)} Expecting 'examples' value to be an list/array"
        )
    if not examples:
        raise invalid(f"JSON Value: {debug_string(document)} 'examples' value is an empty array")
    serialised = []
    for item in examples:
        example = example_from_json(item)
        if context is not None:
            merged = tf.train.Example()
            merged.CopyFrom(context)
            merged.MergeFrom(example)
            example = merged
        serialised.append(example.SerializeToString())
    return serialised


def signature_for(servable, name: str, method: str):
    signature_def = servable.runner.signature_defs.get(name)
    if signature_def is None or name.startswith("__"):
        raise invalid(f'Serving signature name: "{name}" not found in signature def')
    if signature_def.method_name != method:
        kind = "classification" if method == CLASSIFY_METHOD else "regression"
        raise invalid(
            f"Expected {kind} signature method_name to be {method}. Was: "
            f"{signature_def.method_name}"
        )
    if len(signature_def.inputs) != 1:
        raise invalid("Expected one input Tensor.")
    (input_name,) = signature_def.inputs
    return signature_def, input_name


def run_examples(servable, method: str, serialised: list[bytes], signature: str, timeout_ms=0):
    """Run `signature` (whose method must be `method`) of a loaded version on serialised Examples;
    return its outputs."""
    _, input_name = signature_for(servable, signature, method)
    batch = np.empty(len(serialised), dtype=object)
    batch[:] = serialised
    try:
        return servable.run({input_name: batch}, signature, timeout_ms=timeout_ms)
    except Exception as error:
        raise as_serving_error(error) from None


def regression_values(outputs: dict, batch: int) -> np.ndarray:
    """The (batch,) float32 values of a regression signature's outputs."""
    if "outputs" not in outputs:
        raise invalid("No output Tensor with name 'outputs' in the regression signature.")
    return np.asarray(outputs["outputs"], np.float32).reshape(batch, -1)[:, 0]


def classification_arrays(outputs: dict, batch: int) -> tuple[np.ndarray, np.ndarray | None]:
    """(labels (batch, k) of bytes or b"", scores (batch, k) float32 or None) of a
    classification signature's outputs."""
    classes = outputs.get("classes")
    scores = outputs.get("scores")
    if classes is None and scores is None:
        raise invalid("Expected classification signature outputs 'classes' and/or 'scores'.")
    width = (classes if classes is not None else scores).reshape(batch, -1).shape[1]
    labels = (
        np.asarray(classes, dtype=object).reshape(batch, width)
        if classes is not None
        else np.full((batch, width), b"", dtype=object)
    )
    if scores is not None:
        scores = np.asarray(scores, np.float32).reshape(batch, width)
    return labels, scores


def classify_or_regress(manager, verb, body, name, version, label, timeout_ms=0) -> str:
    """Answer a `:classify` or `:regress` request body; return the result JSON text."""
    document = parse_predict_request(body)
    signature = document.get("signature_name") or "serving_default"
    serialised = examples_from_request(document, verb)
    method = CLASSIFY_METHOD if verb == "classify" else REGRESS_METHOD
    with manager.servable(name, version, label) as servable:
        outputs = run_examples(servable, method, serialised, signature, timeout_ms)
    if verb == "regress":
        values = regression_values(outputs, len(serialised))
        return '{"results": [' + ", ".join(float_text_list(values)) + "]}"
    return _classification_json(outputs, len(serialised))


def _classification_json(outputs: dict, batch: int) -> str:
    labels, scores = classification_arrays(outputs, batch)
    width = labels.shape[1]
    values = float_texts(scores) if scores is not None else np.full((batch, width), "0.0")
    rows = []
    for i in range(batch):
        pairs = []
        for j in range(width):
            raw = labels[i, j]
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
            pairs.append(f"[{json.dumps(text, ensure_ascii=False)}, {values[i, j]}]")
        rows.append("[" + ", ".join(pairs) + "]")
    if not rows:
        raise ServingError("INVALID_ARGUMENT", "empty ClassificationResults")
    return '{"results": [' + ", ".join(rows) + "]}"
