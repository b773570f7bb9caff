"""A small reader for protobuf text format, for TF Serving's config files whose protos the
`tensorflow-serving-api` wheel does not ship (MonitoringConfig, BatchingParameters).

`parse_text_proto('a: 1 b { value: 2 } c: "x"')` -> `{"a": [1], "b": [{"value": [2]}], "c": ["x"]}`:
every field maps to the list of its values (repeated fields keep their order); messages are dicts.
Comments (`#`) and `:` before a message are accepted, as in protobuf's own text format.
"""

from __future__ import annotations

import ast
import re

_TOKEN = re.compile(
    r'\s*(?:(#[^\n]*)|([A-Za-z_][A-Za-z0-9_.]*)|(-?[0-9][0-9a-fA-FxX.eE+-]*)|("(?:[^"\\]|\\.)*"'
    r"|'(?:[^'\\]|\\.)*')|([:{}<>\[\],;]))"
)


def _tokens(text: str, path: str):
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            if text[pos:].strip():
                raise ValueError(
                    f"{path}: cannot read text proto at offset {pos}: {text[pos : pos + 20]!r}"
                )
            return
        pos = match.end()
        if match.group(1):
            continue
        yield match.group(0).strip()


def _scalar(token: str):
    if token in ("true", "True"):
        return True
    if token in ("false", "False"):
        return False
    if token[0] in "\"'":
        return ast.literal_eval(token)
    try:
        return int(token, 0)
    except ValueError:
        try:
            return float(token)
        except ValueError:
            return token  # an enum name


def parse_text_proto(text: str, path: str = "<text>") -> dict:
    """Fields of a text-format message as nested dicts of lists (see the module docstring)."""
    tokens = list(_tokens(text, path))
    stack: list[dict] = [{}]
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token in ("}", ">"):
            if len(stack) == 1:
                raise ValueError(f"{path}: unbalanced '{token}'")
            stack.pop()
            i += 1
            continue
        if token in (",", ";"):
            i += 1
            continue
        if not re.match(r"[A-Za-z_]", token):
            raise ValueError(f"{path}: expected a field name, found {token!r}")
        name = token
        i += 1
        if i < len(tokens) and tokens[i] == ":":
            i += 1
        if i >= len(tokens):
            raise ValueError(f"{path}: field {name} has no value")
        if tokens[i] in ("{", "<"):
            child: dict = {}
            stack[-1].setdefault(name, []).append(child)
            stack.append(child)
            i += 1
        else:
            stack[-1].setdefault(name, []).append(_scalar(tokens[i]))
            i += 1
    if len(stack) != 1:
        raise ValueError(f"{path}: a message is not closed with '}}'")
    return stack[0]
