"""`in_xla_context`: whether the graph being traced is compiled by XLA.

Layers use it to pick a form that XLA runs well (LpPooling's blocked windows) or to refuse what
XLA cannot compile (ODEBlock's backpropagation through an adaptive loop of unknown length).
"""

from __future__ import annotations

import tensorflow as tf

try:  # TensorFlow's own test of the same question (not public API; absent, XLA is never seen)
    from tensorflow.python.ops.control_flow_util import GraphOrParentsInXlaContext
except ImportError:  # pragma: no cover - depends on the TensorFlow version
    GraphOrParentsInXlaContext = None


def in_xla_context() -> bool:
    """True while the graph being traced (or one it is traced inside) is compiled by XLA; False
    in eager mode, in a plain `tf.function`, and if this TensorFlow lacks the check (callers then
    behave as outside XLA)."""
    if tf.executing_eagerly() or GraphOrParentsInXlaContext is None:
        return False
    return bool(GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph()))
