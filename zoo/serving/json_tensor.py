"""TF Serving's REST JSON <-> tensors, with its rules and its error messages.

Request side (`instances` row form, `inputs` columnar form): a tensor's shape is read from the first
element at each nesting level and every list must match it; leaf values must be of the signature
input's type (a float input takes JSON numbers, an int input takes JSON integers, a string input
takes strings or `{"b64": "..."}`); floats that do not fit without loss are refused. NaN, Infinity
and -Infinity literals are accepted. Response side: float32 values are written with the shortest
decimal that round-trips in float32 (as TF Serving does), NaN/Infinity as literals, string outputs
whose name ends in `_bytes` as `{"b64": ...}`.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping

import numpy as np
import tensorflow as tf

from zoo.serving.errors import ServingError, invalid

_FLOAT32_MAX = float(np.finfo(np.float32).max)
_FLOAT32_MAX_INT = (1 << 24) - 1
_FLOAT64_MAX_INT = (1 << 53) - 1
_INT32 = (-(1 << 31), (1 << 31) - 1)
_INT64 = (-(1 << 63), (1 << 63) - 1)


def _value_str(value) -> str:
    return json.dumps(value, allow_nan=True)


def _json_type(value) -> str:
    if value is None:
        return "Null"
    if value is True:
        return "True"
    if value is False:
        return "False"
    if isinstance(value, dict):
        return "Object"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, str):
        return "String"
    return "Number"


# TensorFlow's DataTypeString names, which TF Serving's messages use.
_DTYPE_NAMES = {"float32": "float", "float64": "double", "float16": "half"}


def dtype_string(dtype: tf.DType) -> str:
    return _DTYPE_NAMES.get(dtype.name, dtype.name)


def _type_error(value, dtype: tf.DType) -> ServingError:
    return invalid(
        f"JSON Value: {_value_str(value)} Type: {_json_type(value)} is not of expected type: "
        f"{dtype_string(dtype)}"
    )


def _is_b64(value) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("b64"), str)


def _leaf(value, dtype: tf.DType):
    """Check one JSON leaf against `dtype`; return the Python value to store."""
    if isinstance(value, dict):
        if dtype != tf.string:
            raise _type_error(value, dtype)
        if not _is_b64(value):
            raise invalid(
                f"JSON Value: {_value_str(value)} not formatted correctly for base64 data"
            )
        try:
            return base64.b64decode(value["b64"], validate=True)
        except (binascii.Error, ValueError) as error:
            raise invalid("Unable to base64 decode") from error
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if dtype in (tf.float32, tf.float64, tf.float16, tf.bfloat16):
        if not is_number:
            raise _type_error(value, dtype)
        limit_int, limit = (
            (_FLOAT64_MAX_INT, math.inf)
            if dtype == tf.float64
            else (_FLOAT32_MAX_INT, _FLOAT32_MAX)
        )
        lossy = (isinstance(value, int) and abs(value) > limit_int) or (
            isinstance(value, float) and math.isfinite(value) and abs(value) > limit
        )
        if lossy:
            name = "double" if dtype == tf.float64 else "float"
            raise invalid(
                f"Cannot convert JSON value: {_value_str(value)} to {name} without loss of "
                "precision."
            )
        return value
    if dtype.is_integer:
        low, high = _INT64 if dtype in (tf.int64, tf.uint64) else _INT32
        if dtype.is_unsigned and dtype in (tf.uint32, tf.uint64):
            low = 0
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise _type_error(value, dtype)
        return value
    if dtype == tf.bool:
        if not isinstance(value, bool):
            raise _type_error(value, dtype)
        return value
    if dtype == tf.string:
        if not isinstance(value, str):
            raise _type_error(value, dtype)
        return value.encode("utf-8")
    raise ServingError(
        "UNIMPLEMENTED",
        f"Conversion of JSON Value: {_value_str(value)} to type: {dtype_string(dtype)}",
    )


def _dense_shape(value) -> list[int]:
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def _fill(value, level: int, shape: list[int], dtype: tf.DType, out: list) -> None:
    rank = len(shape)
    if not isinstance(value, list):
        if level != rank:
            raise invalid(
                f"JSON Value: {_value_str(value)} found at incorrect level: {level + 1} in the "
                f"JSON DOM. Expected at level: {rank}"
            )
        out.append(_leaf(value, dtype))
        return
    if level >= rank:
        raise invalid(f"Encountered list at unexpected level: {level} expected < {rank}")
    if len(value) != shape[level]:
        raise invalid(
            f"Encountered list at unexpected size: {len(value)} at level: {level} expected size: "
            f"{shape[level]}"
        )
    if level == rank - 1 and not any(isinstance(v, (list, dict)) for v in value):
        out.extend(_leaf(v, dtype) for v in value)
        return
    for item in value:
        _fill(item, level + 1, shape, dtype, out)


def json_to_array(value, dtype: tf.DType) -> np.ndarray:
    """One JSON value (scalar or nested lists) -> an array of `dtype`, TF Serving's rules."""
    shape = _dense_shape(value)
    flat: list = []
    _fill(value, 0, shape, dtype, flat)
    if dtype == tf.string:
        array = np.empty(len(flat), dtype=object)
        array[:] = flat
        return array.reshape(shape)
    return np.asarray(flat, dtype=dtype.as_numpy_dtype).reshape(shape)


def _shape_str(shape) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def parse_predict_request(body: bytes) -> dict:
    """Parse a predict body; TF Serving's JSON errors. Returns the decoded object."""
    if not body:
        raise invalid("JSON Parse error: The document is empty")
    try:
        text = body.decode("utf-8")
        document = json.loads(text)
    except UnicodeDecodeError as error:
        raise invalid(
            f"JSON Parse error: Invalid encoding in string. at offset: {error.start}"
        ) from error
    except json.JSONDecodeError as error:
        raise invalid(f"JSON Parse error: {error.msg} at offset: {error.pos}") from error
    if not isinstance(document, dict):
        raise invalid(f"JSON Value: {_value_str(document)} Is not object")
    signature = document.get("signature_name", "")
    if not isinstance(signature, str):
        raise invalid(
            f"JSON Value: {_value_str(document)} not formatted correctly. 'signature_name' key "
            "must be a string value."
        )
    return document


def request_to_arrays(
    document: Mapping, input_dtypes: Mapping[str, tf.DType]
) -> tuple[str, dict[str, np.ndarray]]:
    """("row" | "columnar", input name -> array) from a parsed predict body."""
    if not input_dtypes:
        raise invalid(
            "Failed to get input map for signature: "
            + (document.get("signature_name") or "DEFAULT")
        )
    has_instances, has_inputs = "instances" in document, "inputs" in document
    if has_instances and has_inputs:
        raise invalid(
            f"JSON Value: {_value_str(document)} Not formatted correctly expecting only one of "
            "'inputs' or 'instances' keys to exist "
        )
    if has_instances:
        return "row", _from_instances(document["instances"], input_dtypes)
    if has_inputs:
        return "columnar", _from_inputs(document["inputs"], input_dtypes)
    raise invalid("Missing 'inputs' or 'instances' key")


def _from_instances(instances, input_dtypes: Mapping[str, tf.DType]) -> dict[str, np.ndarray]:
    if not isinstance(instances, list):
        raise invalid(
            f"JSON Value: {_value_str(instances)} Excepting 'instances' to be an list/array"
        )
    if not instances:
        raise invalid("JSON Value: [] No values in 'instances' array")
    names = sorted(input_dtypes)

    def is_object(v):
        return isinstance(v, dict) and not _is_b64(v)

    objects = is_object(instances[0])
    if not objects and len(names) > 1:
        raise invalid(
            "instances is a plain list, but expecting list of objects as multiple input tensors "
            "required as per tensorinfo_map"
        )
    columns: dict[str, list] = {n: [] for n in names}
    shapes: dict[str, list[int]] = {}
    for index, element in enumerate(instances):
        if objects:
            if not is_object(element):
                raise invalid(f"Expecting object but got list at item {index} of input list")
            for key, value in element.items():
                if key not in input_dtypes:
                    raise invalid(
                        f"Failed to process element: {index} key: {key} of 'instances' list. "
                        f"Error: INVALID_ARGUMENT: JSON object: does not have named input: {key}"
                    )
                _add_instance(index, key, value, input_dtypes[key], columns, shapes, keyed=True)
            if set(element) != set(names):
                raise invalid(
                    f"Failed to process element: {index} of 'instances' list. JSON object: "
                    f"{_value_str(element)} must only have keys: {','.join(names)}"
                )
        else:
            if is_object(element):
                raise invalid(f"Expecting value/list but got object at item {index} of input list")
            name = names[0]
            _add_instance(index, name, element, input_dtypes[name], columns, shapes, keyed=False)
    return {n: _stack(columns[n], input_dtypes[n]) for n in names}


def _add_instance(index, name, value, dtype, columns, shapes, *, keyed) -> None:
    where = f"{index} key: {name}" if keyed else f"{index}"
    try:
        array = json_to_array(value, dtype)
        if name in shapes and shapes[name] != list(array.shape):
            previous = shapes[name]
            if int(np.prod(previous)) != array.size:
                raise invalid(
                    f"Expecting tensor size: {int(np.prod(previous))} but got: {array.size}"
                )
            raise invalid(
                f"Expecting shape {_shape_str(previous)} but got: {_shape_str(array.shape)}"
            )
    except ServingError as error:
        raise invalid(
            f"Failed to process element: {where} of 'instances' list. Error: "
            f"{error.code}: {error.message}"
        ) from None
    shapes[name] = list(array.shape)
    columns[name].append(array)


def _stack(arrays: list[np.ndarray], dtype: tf.DType) -> np.ndarray:
    if dtype == tf.string:
        out = np.empty((len(arrays), *arrays[0].shape), dtype=object)
        for i, a in enumerate(arrays):
            out[i] = a
        return out
    return np.stack(arrays)


def _from_inputs(inputs, input_dtypes: Mapping[str, tf.DType]) -> dict[str, np.ndarray]:
    names = sorted(input_dtypes)
    if not isinstance(inputs, dict) or _is_b64(inputs):
        if len(names) > 1:
            raise invalid(
                "inputs is a plain value/list, but expecting an object as multiple input tensors "
                "required as per tensorinfo_map"
            )
        return {names[0]: json_to_array(inputs, input_dtypes[names[0]])}
    arrays = {}
    for name in names:
        if name not in inputs:
            raise invalid(f"Missing named input: {name} in 'inputs' object.")
        arrays[name] = json_to_array(inputs[name], input_dtypes[name])
    return arrays


# ----------------------------------------------------------------------------- responses


def _to_json_values(name: str, array: np.ndarray):
    array = np.asarray(array)
    if array.dtype == np.float32 or array.dtype == np.float16:
        # Shortest float32 decimal (what TF Serving prints), carried as a float64 that prints it.
        return array.astype(np.float32).astype(str).astype(np.float64).tolist()
    if array.dtype.kind in "fiub":
        return array.tolist()
    if array.dtype.kind in "OSU":

        def encode(v):
            raw = v if isinstance(v, bytes) else str(v).encode("utf-8")
            if name.endswith("_bytes"):
                return {"b64": base64.b64encode(raw).decode("ascii")}
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                return {"b64": base64.b64encode(raw).decode("ascii")}

        return (
            np.vectorize(encode, otypes=[object])(array).tolist()
            if array.ndim
            else encode(array.item())
        )
    raise ServingError("UNIMPLEMENTED", f"Output tensor {name} has unsupported dtype {array.dtype}")


def outputs_to_json(outputs: Mapping[str, np.ndarray], form: str) -> dict:
    """The response object for `form` "row" (`predictions`) or "columnar" (`outputs`)."""
    names = sorted(outputs)
    if form == "columnar":
        if len(names) == 1:
            return {"outputs": _to_json_values(names[0], outputs[names[0]])}
        return {"outputs": {n: _to_json_values(n, outputs[n]) for n in names}}
    batch = None
    for n in names:
        array = np.asarray(outputs[n])
        if array.ndim == 0:
            raise invalid(f"Tensor name: {n} has no shape information ")
        if batch is None:
            batch = array.shape[0]
        elif array.shape[0] != batch:
            raise invalid(
                f"Tensor name: {n} has inconsistent batch size: {array.shape[0]} expecting: {batch}"
            )
    values = {n: _to_json_values(n, outputs[n]) for n in names}
    if len(names) == 1:
        return {"predictions": values[names[0]]}
    return {"predictions": [{n: values[n][i] for n in names} for i in range(batch or 0)]}


def dumps(obj) -> str:
    """JSON text with NaN/Infinity/-Infinity literals, as TF Serving writes them."""
    return json.dumps(obj, allow_nan=True)
