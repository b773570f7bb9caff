"""TF Serving's own JSON cases (`tensorflow_serving/util/json_tensor_test.cc`), ported.

Each test replays one of its requests through `zoo serve`'s parser and checks what its test
checks: the tensors it builds (dtype, shape, values) or the substring its error must contain.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from zoo.serving.errors import ServingError
from zoo.serving.json_parse import debug_string
from zoo.serving.json_tensor import outputs_to_json, parse_predict_request, request_to_arrays


def fill(body: str | bytes, infomap: dict[str, tf.DType]) -> tuple[str, dict[str, np.ndarray]]:
    """FillPredictRequestFromJson: (format, tensors)."""
    raw = body.encode() if isinstance(body, str) else body
    return request_to_arrays(parse_predict_request(raw), infomap)


def error_of(body: str | bytes, infomap: dict[str, tf.DType]) -> ServingError:
    with pytest.raises(ServingError) as caught:
        fill(body, infomap)
    assert caught.value.code == "INVALID_ARGUMENT" and caught.value.http_status == 400
    return caught.value


def test_deeply_nested_well_formed():
    body = '{"instances":[1], "nested":' + "[" * 500_000 + "]" * 500_000 + "}"
    form, tensors = fill(body, {"default": tf.int32})
    assert form == "row" and list(tensors) == ["default"]
    np.testing.assert_array_equal(tensors["default"], np.array([1], np.int32))


def test_deeply_nested_malformed():
    body = '{"signature_name":' + "[" * 500_000 + "]" * 500_000 + "}"
    assert "key must be a string value" in error_of(body, {"default": tf.int32}).message


def test_deep_tensor_is_a_clean_400():
    body = '{"instances": ' + "[" * 5_000 + "1" + "]" * 5_000 + "}"
    assert "at most 64 dimensions" in error_of(body, {"default": tf.float32}).message


def test_mixed_input_for_float_and_double_tensors():
    values = [1, 2.0, 3, 4, 5.003, 0.007, 0.0]
    _, tensors = fill('{"instances": [1, 2.0, 3, 4, 5.003, 0.007, 0.0]}', {"default": tf.float32})
    assert tensors["default"].dtype == np.float32
    np.testing.assert_array_equal(tensors["default"], np.array(values, np.float32))
    _, tensors = fill('{"instances": [1.0, 2, 3, 4, 0.662, 0, 0.0]}', {"default": tf.float64})
    np.testing.assert_array_equal(tensors["default"], [1.0, 2, 3, 4, 0.662, 0, 0.0])


def test_float_tensor_with_precision_loss():
    for body in ('{"instances": [1435774380]}', '{"instances": [1435774380.0]}'):
        _, tensors = fill(body, {"default": tf.float32})
        np.testing.assert_array_equal(tensors["default"], np.array([1435774380], np.float32))


def test_float_tensor_beyond_max_is_inf_and_below_min_is_zero():
    # absl::Substitute prints numeric_limits<double>::max() / min() with six digits.
    for text, want in (("1.79769e+308", np.inf), ("-1.79769e+308", -np.inf)):
        _, tensors = fill(f'{{ "instances": [{text}] }}', {"default": tf.float32})
        np.testing.assert_array_equal(tensors["default"], np.array([want], np.float32))
    for text in ("2.22507e-308", "-2.22507e-308"):
        _, tensors = fill(f'{{ "instances": [{text}] }}', {"default": tf.float32})
        assert tensors["default"][0] == 0.0
    # Integers beyond int64 and beyond the double range go to float inputs too.
    _, tensors = fill(
        '{"instances": [123456789012345678901234567890, ' + "9" * 400 + "]}", {"x": tf.float32}
    )
    np.testing.assert_array_equal(tensors["x"], np.array([1.2345679e29, np.inf], np.float32))


def test_base64_scalars_and_lists():
    body = '{"instances": [ { "b64" : "aGVsbG8=" }, { "b64": "d29ybGQ=" } ]}'
    _, tensors = fill(body, {"default": tf.string})
    assert tensors["default"].shape == (2,) and tensors["default"].tolist() == [b"hello", b"world"]
    _, tensors = fill('{"inputs": {"b64": "aGVsbG8="}}', {"default": tf.string})
    assert tensors["default"].shape == () and tensors["default"].item() == b"hello"


def test_single_unnamed_tensor_errors():
    infomap = {"default": tf.int32}
    cases = [
        ("", "document is empty"),
        ('{"signature_name": 5, "instances": [[1,2],[3,4],[5,6,7]]}', "must be a string value"),
        (
            '{"instances": [[1,2],[3,4],[5,6,7]], "inputs": [[1,2],[3,4],[5,6,7]]}',
            "Not formatted correctly",
        ),
        ('{"instances": [[1,2],[3,4],[5,6,7]]}', "Expecting tensor size"),
        ('{"instances": [[1,2],[3,4],[[5,6]]]}', "Expecting shape"),
        ('{"instances": [1, [1]]}', "Expecting shape"),
        ('{"instances": [[1,2],["a", "b"]]}', "not of expected type"),
    ]
    for body, message in cases:
        assert message in error_of(body, infomap).message, body


def test_multiple_named_tensor_errors():
    infomap = {"int_tensor": tf.int32, "str_tensor": tf.string}
    cases = [
        (
            '{"instances": [{"int_tensor": [[1,2],[3,4],[5,6]], "str_tensor": ["foo", "bar"]},'
            '{"int_tensor": [[[7,8],[9,0],[1,2]]], "str_tensor": ["baz", "bat"]}]}',
            "Expecting shape",
        ),
        (
            '{"instances": [{"int_tensor": [[1,2],[3,4],[5,6],[7,8]], "str_tensor": ["foo"]},'
            '{"int_tensor": [[7,8],[9,0],[1,2]], "str_tensor": ["baz"]}]}',
            "Expecting tensor size",
        ),
        (
            '{"instances": [{"int_tensor": [[1,2],[3,4],[5,6]], "str_tensor": ["foo", "bar"]},'
            '[1, 20, 30], {"int_tensor": [[[7,8],[9,0],[1,2]]], "str_tensor": ["baz", "bat"]}]}',
            "Expecting object but got list",
        ),
    ]
    for body, message in cases:
        assert message in error_of(body, infomap).message, body
    body = '{"instances": [["baz", "bar"], {"str_tensor": ["baz", "bat"]}]}'
    assert (
        "Expecting value/list but got object" in error_of(body, {"str_tensor": tf.string}).message
    )


def test_parse_errors_are_rapidjsons():
    infomap = {"x": tf.float32}
    cases = [
        (b'{"instances": [1,]}', "JSON Parse error: Invalid value. at offset: 17"),
        (b'{"instances" [1]}', "Missing a colon after a name of object member. at offset: 13"),
        (b'{"instances": [1 2]}', "Missing a comma or ']' after an array element. at offset: 17"),
        (b'{"instances": [1.]}', "Miss fraction part in number. at offset: 17"),
        (b'{"instances": ["\xff"]}', "Invalid encoding in string. at offset: 16"),
    ]
    for body, message in cases:
        assert message in error_of(body, infomap).message, body
    # kParseStopWhenDoneFlag: what follows the document is ignored; Inf is a number.
    _, tensors = fill(b'{"instances": [Inf, -Infinity, NaN]} trailing', infomap)
    np.testing.assert_array_equal(tensors["x"], np.array([np.inf, -np.inf, np.nan], np.float32))


def test_debug_strings_are_rapidjsons_pretty_writer_cut_at_256_bytes():
    assert debug_string({"foo": 1}) == '{\n    "foo": 1\n}'
    assert debug_string({"a": [1, 2.5]}) == '{\n    "a": [1, 2.5]\n}'
    long = debug_string({"instances": list(range(1000))})
    assert 256 <= len(long) < 256 + 8 and long.startswith('{\n    "instances": [0, 1, 2')


def test_from_json_single_tensor_row_and_columnar():
    tensor = np.array([[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 0], [1, 2]]], np.int32)
    expected = "[[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 0], [1, 2]]]"
    assert outputs_to_json({"int_tensor": tensor}, "row") == '{"predictions": ' + expected + "}"
    assert outputs_to_json({"int_tensor": tensor}, "columnar") == '{"outputs": ' + expected + "}"


def test_from_json_bytes_tensor_is_b64():
    tensor = np.array([[b"hello", b"world"], [b"tf", b"serving"]], dtype=object)
    assert outputs_to_json({"str_tensor_bytes": tensor}, "row") == (
        '{"predictions": [[{"b64": "aGVsbG8="}, {"b64": "d29ybGQ="}], '
        '[{"b64": "dGY="}, {"b64": "c2VydmluZw=="}]]}'
    )


def test_from_json_float_tensor_six_digit_precision_and_non_finite():
    tensor = np.array([[9000000, 999999, 0.5], [0.0003, 0.00003, 555557.5]], np.float32)
    assert outputs_to_json({"float_tensor": tensor}, "row") == (
        '{"predictions": [[9e+06, 999999.0, 0.5], [0.0003, 3e-05, 555557.5]]}'
    )
    tensor = np.array([[np.nan, np.inf], [3, -np.inf]], np.float32)
    assert outputs_to_json({"float_tensor": tensor}, "row") == (
        '{"predictions": [[NaN, Infinity], [3.0, -Infinity]]}'
    )
    # Six digits that do not round-trip in float32 get max_digits10 (9) digits.
    assert outputs_to_json({"f": np.array([0.1234567], np.float32)}, "columnar") == (
        '{"outputs": [0.123456702]}'
    )


def test_from_json_errors_and_zero_batches():
    with pytest.raises(ServingError, match="empty tensor map"):
        outputs_to_json({}, "row")
    with pytest.raises(ServingError, match="tensor type: complex64"):
        outputs_to_json({"tensor": np.array([1.0, 2.0], np.complex64)}, "row")
    with pytest.raises(ServingError, match="no shape information"):
        outputs_to_json({"tensor": np.array(1, np.int32)}, "row")
    with pytest.raises(ServingError, match="inconsistent batch size"):
        outputs_to_json({"a": np.zeros((2, 1)), "b": np.zeros((3, 1))}, "row")
    assert outputs_to_json({"a": np.zeros((0, 2), np.float32)}, "row") == '{"predictions": []}'
    two = {"a": np.zeros((0, 2), np.float32), "b": np.zeros((0,), np.int32)}
    assert outputs_to_json(two, "row") == '{"predictions": []}'
