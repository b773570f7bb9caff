"""Scan an exported SavedModel for ops that the stock TensorFlow Serving binary cannot run.

The C++ server has TensorFlow's core kernels and nothing else: a `tf.py_function` needs a Python
interpreter, an XLA-compiled function needs the XLA JIT (not in the stock CPU image), and an op from
a custom `.so` is simply unknown to it. Every node of the graph and of every function in its library
is checked, so a forbidden op hidden inside a nested `tf.function` is found too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

# Op name -> why the stock server rejects it.
FORBIDDEN_OPS: dict[str, str] = {
    "PyFunc": "tf.py_function/tf.numpy_function need a Python interpreter",
    "PyFuncStateless": "tf.py_function/tf.numpy_function need a Python interpreter",
    "EagerPyFunc": "tf.py_function needs a Python interpreter",
    "XlaLaunch": "XLA-compiled functions need the XLA JIT",
    "_XlaCompile": "XLA-compiled functions need the XLA JIT",
    "_XlaRun": "XLA-compiled functions need the XLA JIT",
    "XlaCallModule": "XLA/StableHLO modules need the XLA JIT",
}

# Attribute that `tf.function(jit_compile=True)` leaves on the function or on its call node.
_XLA_ATTR = "_XlaMustCompile"


class UnservableGraphError(ValueError):
    """The SavedModel contains ops that TensorFlow Serving's stock binary cannot run."""


def _core_op_names() -> frozenset[str]:
    # `tf.raw_ops` lists the ops compiled into TensorFlow itself; ops from a library loaded with
    # `tf.load_op_library` are registered at run time but never appear there.
    return frozenset(name for name in dir(tf.raw_ops) if not name.startswith("__"))


def _nodes(saved_model: saved_model_pb2.SavedModel) -> Iterator[tuple[str, object]]:
    """(where, NodeDef) for every node of every meta graph and of every library function."""
    for meta_graph in saved_model.meta_graphs:
        for node in meta_graph.graph_def.node:
            yield "graph", node
        for function in meta_graph.graph_def.library.function:
            for node in function.node_def:
                yield f"function {function.signature.name}", node


def find_unservable_ops(export_dir: str | Path) -> list[str]:
    """Problems that would stop the stock server from running `export_dir`; [] when clean."""
    path = Path(export_dir) / "saved_model.pb"
    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString(path.read_bytes())
    core_ops = _core_op_names()
    problems: list[str] = []
    function_names: set[str] = set()
    for meta_graph in saved_model.meta_graphs:
        for function in meta_graph.graph_def.library.function:
            function_names.add(function.signature.name)
            if _XLA_ATTR in function.attr and function.attr[_XLA_ATTR].b:
                problems.append(
                    f"function {function.signature.name} is XLA-compiled (jit_compile=True)"
                )
    for where, node in _nodes(saved_model):
        op = node.op
        if op in FORBIDDEN_OPS:
            problems.append(f"op {op} (node '{node.name}' in {where}): {FORBIDDEN_OPS[op]}")
        elif op not in core_ops and op not in function_names:
            problems.append(
                f"op {op} (node '{node.name}' in {where}) is not a core TensorFlow op "
                "(a custom .so op the stock server does not have)"
            )
        elif _XLA_ATTR in node.attr and node.attr[_XLA_ATTR].b:
            problems.append(f"node '{node.name}' in {where} calls an XLA-compiled function")
    return sorted(set(problems))


def check_servable(export_dir: str | Path) -> None:
    """Raise `UnservableGraphError` listing every op that the stock server cannot run."""
    problems = find_unservable_ops(export_dir)
    if problems:
        raise UnservableGraphError(
            f"The SavedModel at {export_dir} cannot be served by the stock TensorFlow Serving "
            "binary: " + "; ".join(problems) + ". Remove tf.py_function/numpy_function, "
            "jit_compile=True and custom ops from the exported functions."
        )
