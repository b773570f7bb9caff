"""JSON text -> Python values without recursion, with RapidJSON's rules and error messages.

TF Serving parses request bodies with RapidJSON's iterative parser (`kParseIterativeFlag`): any
nesting depth is fine (its own test parses 500,000 levels), `NaN`, `Inf`, `Infinity` and their
negatives are numbers (`kParseNanAndInfFlag`), and whatever follows the first complete value is
ignored (`kParseStopWhenDoneFlag`). Errors read `JSON Parse error: <RapidJSON's message> at offset:
<byte offset>`.

Two paths give the same values:
  * shallow documents (the usual predict body: a few levels of lists) go to CPython's C decoder,
    which recurses but is fast;
  * deep ones, and any the C decoder rejects (to get RapidJSON's message and offset), go to the
    loop below, whose stack is a Python list: memory grows with the body, never the C stack.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np

from zoo.serving.errors import invalid

# Nesting the C decoder handles far below its recursion limit (~1000 frames).
_FAST_PATH_MAX_DEPTH = 200
_CHUNK = 1 << 20

_WS = re.compile(rb"[ \t\n\r]*")
_NUMBER = re.compile(rb"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_LITERALS = (
    (b"true", True),
    (b"false", False),
    (b"null", None),
    (b"NaN", math.nan),
    (b"-NaN", math.nan),
    (b"Infinity", math.inf),
    (b"-Infinity", -math.inf),
    (b"Inf", math.inf),
    (b"-Inf", -math.inf),
)
_STRING_BODY = re.compile(rb'(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*')


def _integer(token: str | bytes):
    """A JSON integer; one too long for Python's int parsing is a double, as RapidJSON reads
    every integer beyond uint64 (and beyond the double range it is inf)."""
    return int(token) if len(token) <= 4000 else float(token)


_decoder = json.JSONDecoder(parse_int=_integer)


def _error(message: str, offset: int):
    return invalid(f"JSON Parse error: {message} at offset: {offset}")


def parse_json(body: bytes):
    """The first JSON value of `body` (bytes); RapidJSON's errors as `ServingError` (400)."""
    if not body or not body.strip(b" \t\n\r"):
        raise invalid("JSON Parse error: The document is empty")
    # The bracket count bounds the depth and costs far less than the scan (a usual body has a
    # few dozen brackets).
    brackets = body.count(b"[") + body.count(b"{")
    if brackets <= _FAST_PATH_MAX_DEPTH or max_depth(body) <= _FAST_PATH_MAX_DEPTH:
        try:
            text = body.decode("utf-8")
            start = len(text) - len(text.lstrip(" \t\n\r"))
            return _decoder.raw_decode(text, start)[0]
        except (ValueError, RecursionError):
            pass  # re-parse below for RapidJSON's message, or for Inf/-NaN literals
    return _parse_iteratively(body)


def max_depth(body: bytes) -> int:
    """Deepest bracket nesting of `body` (brackets inside strings counted too: an upper bound),
    in vectorised chunks of 1 MiB, so the scan costs a few bytes per body byte at most."""
    data = np.frombuffer(body, dtype=np.uint8)
    deepest = level = 0
    for start in range(0, len(data), _CHUNK):
        chunk = data[start : start + _CHUNK]
        step = (chunk == 91).astype(np.int32)  # [
        step += chunk == 123  # {
        step -= chunk == 93  # ]
        step -= chunk == 125  # }
        levels = np.cumsum(step, dtype=np.int32)
        if len(levels):
            deepest = max(deepest, level + int(levels.max()))
            level += int(levels[-1])
    return deepest


def _scalar(body: bytes, pos: int):
    """(value, end) of the number, literal or string at `pos`."""
    char = body[pos : pos + 1]
    if char == b'"':
        match = _STRING_BODY.match(body, pos + 1)
        end = match.end()
        if body[end : end + 1] != b'"':
            if end >= len(body):
                raise _error("Missing a closing quotation mark in string.", end)
            if body[end : end + 1] == b"\\":
                if body[end + 1 : end + 2] == b"u":
                    raise _error("Incorrect hex digit after \\u escape in string.", end + 2)
                raise _error("Invalid escape character in string.", end + 1)
            raise _error("Invalid encoding in string.", end)
        raw = body[pos + 1 : end]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise _error("Invalid encoding in string.", pos + 1 + error.start) from None
        if "\\" in text:
            text = json.loads('"' + text + '"')
        return text, end + 1
    for literal, value in _LITERALS:
        end = pos + len(literal)
        if body.startswith(literal, pos) and not body[end : end + 1].isalnum():
            return value, end
    match = _NUMBER.match(body, pos)
    if not match:
        raise _error("Invalid value.", pos)
    end = match.end()
    follower = body[end : end + 1]
    if follower == b"." and match.group(1) is None and match.group(2) is None:
        raise _error("Miss fraction part in number.", end + 1)
    if follower in (b"e", b"E") and match.group(2) is None:
        sign = 1 if body[end + 1 : end + 2] in (b"+", b"-") else 0
        raise _error("Miss exponent in number.", end + 1 + sign)
    if match.group(1) is None and match.group(2) is None:
        return _integer(match.group()), end
    return float(match.group()), end


def _parse_iteratively(body: bytes):
    """A loop over tokens with an explicit stack of open containers (no recursion)."""
    stack: list = []  # open lists and dicts
    keys: list = []  # pending key of each open dict (None for lists)
    pos = _WS.match(body, 0).end()
    while True:
        if pos >= len(body):
            if not stack:
                raise _error("The document is empty.", pos)
            raise _error(
                "Missing a comma or ']' after an array element."
                if isinstance(stack[-1], list)
                else "Missing a comma or '}' after an object member.",
                pos,
            )
        char = body[pos : pos + 1]
        if char == b"[" or char == b"{":
            container = [] if char == b"[" else {}
            stack.append(container)
            keys.append(None)
            pos = _WS.match(body, pos + 1).end()
            closer = b"]" if char == b"[" else b"}"
            if body[pos : pos + 1] == closer:
                pos += 1
                value = stack.pop()
                keys.pop()
            elif char == b"{":
                pos = _read_key(body, pos, keys)
                continue
            else:
                continue
        else:
            value, pos = _scalar(body, pos)
        # A value is complete: attach it to its parent, then consume ',' or closers.
        while True:
            if not stack:
                return value
            parent = stack[-1]
            if isinstance(parent, list):
                parent.append(value)
            else:
                parent[keys[-1]] = value
            pos = _WS.match(body, pos).end()
            char = body[pos : pos + 1]
            closer = b"]" if isinstance(parent, list) else b"}"
            if char == b",":
                pos = _WS.match(body, pos + 1).end()
                if isinstance(parent, dict):
                    pos = _read_key(body, pos, keys)
                break
            if char == closer:
                pos += 1
                value = stack.pop()
                keys.pop()
                continue
            raise _error(
                "Missing a comma or ']' after an array element."
                if closer == b"]"
                else "Missing a comma or '}' after an object member.",
                pos,
            )


def _read_key(body: bytes, pos: int, keys: list) -> int:
    """Read `"name" :` at `pos` into `keys[-1]`; return the position of the member's value."""
    if body[pos : pos + 1] != b'"':
        raise _error("Missing a name for object member.", pos)
    key, pos = _scalar(body, pos)
    pos = _WS.match(body, pos).end()
    if body[pos : pos + 1] != b":":
        raise _error("Missing a colon after a name of object member.", pos)
    keys[-1] = key
    return _WS.match(body, pos + 1).end()


# ----------------------------------------------------------------------------- debug strings

DEBUG_STRING_LIMIT = 256  # TF Serving's kMaxJsonDebugStringBytes


def _number_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    text = repr(float(value))
    return text.replace("e+", "e").replace("e-0", "e-")


def debug_string(value, limit: int = DEBUG_STRING_LIMIT) -> str:
    """`value` as TF Serving prints it in errors (RapidJSON's PrettyWriter, 4-space indent, arrays
    on one line), cut at the first event that starts past `limit` characters. No recursion."""
    out: list[str] = []
    size = 0
    levels: list[list] = []  # [is_array, value_count]
    # Work items: ("value", v) | ("end_array",) | ("end_object",) | ("key", k)
    work: list[tuple] = [("value", value)]

    def emit(text: str) -> None:
        nonlocal size
        out.append(text)
        size += len(text)

    def prefix() -> None:
        if not levels:
            return
        level = levels[-1]
        if level[0]:
            if level[1] > 0:
                emit(", ")
        else:
            if level[1] > 0:
                emit(",\n" if level[1] % 2 == 0 else ": ")
            else:
                emit("\n")
            if level[1] % 2 == 0:
                emit(" " * 4 * len(levels))
        level[1] += 1

    while work and size < limit:
        item = work.pop()
        kind = item[0]
        if kind in ("end_array", "end_object"):
            empty = levels.pop()[1] == 0
            if kind == "end_object" and not empty:
                emit("\n" + " " * 4 * len(levels))
            emit("]" if kind == "end_array" else "}")
            continue
        prefix()
        v = item[1]
        if kind == "key" or isinstance(v, str):
            emit(json.dumps(v, ensure_ascii=False))
        elif isinstance(v, list):
            emit("[")
            levels.append([True, 0])
            work.append(("end_array",))
            work.extend(("value", x) for x in reversed(v))
        elif isinstance(v, dict):
            emit("{")
            levels.append([False, 0])
            work.append(("end_object",))
            for k, x in reversed(list(v.items())):
                work.append(("value", x))
                work.append(("key", k))
        elif v is None:
            emit("null")
        else:
            emit(_number_text(v))
    return "".join(out)


def json_type(value) -> str:
    """RapidJSON's type name of a parsed value, as TF Serving's messages print it."""
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
