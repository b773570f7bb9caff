"""TF Serving's REST JSON <-> tensors, with its rules and its error messages.

Request side (`instances` row form, `inputs` columnar form), as `json_tensor.cc` does it: a
tensor's shape is read from the first element at each nesting level and every list must match it;
leaf values must be of the signature input's type. A float or double input takes any JSON number
(integers of any size, values beyond the float range become +-inf, below it 0, as TF Serving 2.5.1+
does); an integer input takes JSON integers in its range; a string input takes strings or
`{"b64": "..."}`; NaN, Inf(inity) and their negatives are numbers. Values go straight into typed
numpy arrays (one C-level pass when the leaves are clean; the per-leaf walk that names the bad
value only runs when they are not).

Response side: floats as TF Serving's `WriteDecimal` prints them (`%.6g`, `%.9g` when six digits
do not round-trip, `.0` added to whole numbers: `9e+06`, `999999.0`, `3e-05`), NaN/Infinity as
literals, string outputs whose name ends in `_bytes` as `{"b64": ...}`.
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
from zoo.serving.json_parse import debug_string, json_type, parse_json

_INT32 = (-(1 << 31), (1 << 31) - 1)
_INT64 = (-(1 << 63), (1 << 63) - 1)
_UINT32 = (0, (1 << 32) - 1)
_UINT64 = (0, (1 << 64) - 1)
# numpy holds at most 64 dimensions; TF Serving's own limit (254) is never reached by a real model.
MAX_RANK = 64
_FLOATS = (tf.float32, tf.float64, tf.float16, tf.bfloat16)


def _value_str(value) -> str:
    return debug_string(value)


_json_type = json_type


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


def _int_range(dtype: tf.DType) -> tuple[int, int]:
    if dtype == tf.int64:
        return _INT64
    if dtype == tf.uint64:
        return _UINT64
    if dtype == tf.uint32:
        return _UINT32
    return _INT32  # int32, int16, int8, uint8: RapidJSON's IsInt()


def _to_float(value: int) -> float:
    """A JSON integer as RapidJSON reads it into a double: too large ones become +-inf."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


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
    if dtype in _FLOATS:
        if not is_number:
            raise _type_error(value, dtype)
        return _to_float(value) if isinstance(value, int) else value
    if dtype.is_integer:
        low, high = _int_range(dtype)
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


def _fast_array(value, dtype: tf.DType, shape: list[int]) -> np.ndarray | None:
    """`value` as an array in one C-level pass, or None when a leaf needs the careful walk."""
    if dtype == tf.string or not shape:
        return None
    try:
        leaves = np.array(value, dtype=object)
    except ValueError:
        return None
    if list(leaves.shape) != shape:
        return None  # ragged, or objects/lists where numbers belong
    kinds = set(map(type, leaves.flat))
    if dtype in _FLOATS:
        if not kinds <= {float, int}:
            return None
        try:
            with np.errstate(over="ignore"):  # beyond the float range: inf, as TF Serving
                return leaves.astype(np.float64).astype(dtype.as_numpy_dtype)
        except OverflowError:
            return None  # an integer beyond the double range: the walk makes it inf
    if dtype.is_integer:
        if kinds != {int}:
            return None
        low, high = _int_range(dtype)
        try:
            wide = leaves.astype(np.int64 if dtype != tf.uint64 else np.uint64)
        except OverflowError:
            return None
        if wide.size and (wide.min() < low or wide.max() > high):
            return None
        return wide.astype(dtype.as_numpy_dtype)
    if dtype == tf.bool and kinds == {bool}:
        return leaves.astype(bool)
    return None


def json_to_array(value, dtype: tf.DType) -> np.ndarray:
    """One JSON value (scalar or nested lists) -> an array of `dtype`, TF Serving's rules."""
    shape = _dense_shape(value)
    if len(shape) > MAX_RANK:
        raise invalid(
            f"JSON Value nested {len(shape)} lists deep: a tensor has at most {MAX_RANK} dimensions"
        )
    fast = _fast_array(value, dtype, shape)
    if fast is not None:
        return fast
    flat: list = []
    _fill(value, 0, shape, dtype, flat)
    if dtype == tf.string:
        array = np.empty(len(flat), dtype=object)
        array[:] = flat
        return array.reshape(shape)
    with np.errstate(over="ignore"):  # beyond the float range: inf, as a C cast gives
        return (
            np.asarray(flat, dtype=np.float64 if dtype in _FLOATS else None)
            .astype(dtype.as_numpy_dtype)
            .reshape(shape)
        )


def _shape_str(shape) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def parse_predict_request(body: bytes) -> dict:
    """Parse a request body (RapidJSON's rules and errors); return the top-level object."""
    document = parse_json(body)
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
        if not isinstance(document["instances"], list):
            raise invalid(
                f"JSON Value: {_value_str(document)} Expecting 'instances' to be an list/array"
            )
        if not document["instances"]:
            raise invalid(f"JSON Value: {_value_str(document)} No values in 'instances' array")
        return "row", _from_instances(document["instances"], input_dtypes)
    if has_inputs:
        return "columnar", _from_inputs(document["inputs"], input_dtypes)
    raise invalid("Missing 'inputs' or 'instances' key")


def _from_instances(instances, input_dtypes: Mapping[str, tf.DType]) -> dict[str, np.ndarray]:
    names = sorted(input_dtypes)

    def is_object(v):
        return isinstance(v, dict) and not _is_b64(v)

    objects = is_object(instances[0])
    if not objects and len(names) > 1:
        raise invalid(
            "instances is a plain list, but expecting list of objects as multiple input tensors "
            "required as per tensorinfo_map"
        )
    fast = _instances_at_once(instances, input_dtypes, names, objects)
    if fast is not None:
        return fast
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
                    f"{_value_str(element)} keys must be equal to: {','.join(names)}"
                )
        else:
            if is_object(element):
                raise invalid(f"Expecting value/list but got object at item {index} of input list")
            name = names[0]
            _add_instance(index, name, element, input_dtypes[name], columns, shapes, keyed=False)
    return {n: _stack(columns[n], input_dtypes[n]) for n in names}


def _instances_at_once(instances, input_dtypes, names, objects) -> dict | None:
    """Every input as one array in one C-level pass when the instances are clean (same keys,
    same shapes, right types); None sends the request down the per-instance walk, which names
    the first bad element as TF Serving does."""
    if objects:
        wanted = set(names)
        if not all(isinstance(e, dict) and e.keys() == wanted for e in instances):
            return None
        columns = {n: [e[n] for e in instances] for n in names}
    else:
        columns = {names[0]: instances}
    arrays = {}
    for name, column in columns.items():
        shape = _dense_shape(column)
        if len(shape) > MAX_RANK:
            return None
        array = _fast_array(column, input_dtypes[name], shape)
        if array is None:
            return None
        arrays[name] = array
    return arrays


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


_LITERALS = {"nan": "NaN", "-nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def float_text_list(array: np.ndarray) -> list[str]:
    """TF Serving's `WriteDecimal` for every element (flat, row-major): `%.6g`, or max_digits10
    (9 for float32, 17 for float64) when six digits do not read back to the same value; `.0`
    appended to whole numbers without an exponent; NaN/Infinity literals."""
    flat = np.ascontiguousarray(array).reshape(-1)
    digits = ".17g" if flat.dtype == np.float64 else ".9g"
    values = flat.tolist()  # exact Python floats (float32 widens without rounding)
    texts = [f"{v:.6g}" for v in values]
    with np.errstate(over="ignore"):
        back = np.array(texts, dtype=np.float64).astype(flat.dtype)
    # NaN never equals itself: it is redone below, and its literal replaces the text anyway.
    for i in np.flatnonzero(back != flat).tolist():
        texts[i] = format(values[i], digits)
    for i, text in enumerate(texts):
        if text.lstrip("-").isdigit():
            texts[i] = text + ".0"
        elif text[-1] in "nf":
            texts[i] = _LITERALS[text]
    return texts


def float_texts(array: np.ndarray) -> np.ndarray:
    """`float_text_list` in the shape of `array` (an array of str objects)."""
    out = np.empty(array.shape, dtype=object)
    out.reshape(-1)[:] = float_text_list(array)
    return out


def _element_texts(name: str, array: np.ndarray) -> list[str]:
    """Each element of `array` as its JSON text (flat, row-major)."""
    if array.dtype.kind == "f":
        return float_text_list(array)
    if array.dtype.kind == "b":
        return ["true" if v else "false" for v in array.reshape(-1).tolist()]
    if array.dtype.kind in "iu":
        return [str(v) for v in array.reshape(-1).tolist()]
    if array.dtype.kind in "OSU":

        def encode(v):
            raw = v if isinstance(v, bytes) else str(v).encode("utf-8")
            if not name.endswith("_bytes"):
                try:
                    return json.dumps(raw.decode("utf-8"), ensure_ascii=False)
                except UnicodeDecodeError:
                    pass
            return '{"b64": "' + base64.b64encode(raw).decode("ascii") + '"}'

        return [encode(v) for v in array.reshape(-1)]
    raise invalid(f"Tensor {name} has unsupported tensor type: {array.dtype}")


def _nest(items: list[str], shape: tuple[int, ...], keep: int = 0) -> list[str]:
    """JSON list texts of the flat `items` of an array of `shape`, nested along all axes but the
    first `keep` (row-major)."""
    for axis in range(len(shape) - 1, keep - 1, -1):
        groups = int(np.prod(shape[:axis], dtype=np.int64))
        size = shape[axis]
        items = ["[" + ", ".join(items[g * size : (g + 1) * size]) + "]" for g in range(groups)]
    return items


def outputs_to_json(outputs: Mapping[str, np.ndarray], form: str) -> str:
    """The response text for `form` "row" (`predictions`) or "columnar" (`outputs`)."""
    if not outputs:
        raise invalid("Cannot convert empty tensor map to JSON")
    names = sorted(outputs)
    arrays = {n: np.asarray(outputs[n]) for n in names}
    texts = {n: _element_texts(n, arrays[n]) for n in names}
    if form == "columnar":
        if len(names) == 1:
            return '{"outputs": ' + _nest(texts[names[0]], arrays[names[0]].shape)[0] + "}"
        members = ", ".join(
            f"{json.dumps(n)}: {_nest(texts[n], arrays[n].shape)[0]}" for n in names
        )
        return '{"outputs": {' + members + "}}"
    batch = None
    for n in names:
        array = arrays[n]
        if array.ndim == 0:
            raise invalid(f"Tensor name: {n} has no shape information ")
        if batch is None:
            batch = array.shape[0]
        elif array.shape[0] != batch:
            raise invalid(
                f"Tensor name: {n} has inconsistent batch size: {array.shape[0]} expecting: {batch}"
            )
    if len(names) == 1:
        return '{"predictions": ' + _nest(texts[names[0]], arrays[names[0]].shape)[0] + "}"
    rows = {n: _nest(texts[n], arrays[n].shape, keep=1) for n in names}
    objects = [
        "{" + ", ".join(f"{json.dumps(n)}: {rows[n][i]}" for n in names) + "}"
        for i in range(batch or 0)
    ]
    return '{"predictions": [' + ", ".join(objects) + "]}"


def dumps(obj) -> str:
    """JSON text with NaN/Infinity/-Infinity literals, as TF Serving writes them."""
    return json.dumps(obj, allow_nan=True)
