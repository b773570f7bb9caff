"""Disjoint pooling windows as reshaped blocks: region operations for LpPooling (most under XLA).

When the strides equal the pool size (kh, kw) and the padding is "valid", the windows tile the
input's first (out_rows·kh, out_cols·kw) positions. Viewed as blocks of shape
(batch, out_rows, kh, out_cols, kw, channels), each region's mean, max and the mean's adjoint are
a reduction over axes 2 and 4 and a broadcast back:

    mean(v)[b, i, j, c] = (1 / (kh·kw)) Σ_{u<kh, w<kw} v[b, i·kh + u, j·kw + w, c]
    spread(g)[b, i·kh + u, j·kw + w, c] = g[b, i, j, c] / (kh·kw)   (0 on the cropped edge)
    broadcast(v)[b, i·kh + u, j·kw + w, c] = v[b, i, j, c]           (each region's value on its
                                                                      inputs; the gradient's)
    spread_times(g, f) = spread(g) · f                               (one broadcast product)

XLA fuses these with the elementwise powers around them into one pass over the input (the power,
the sum and the root together), while a stand-alone graph runs them as separate, slower kernels
than average pooling's (measured: a 2×2 reshape-sum of x² took 15 ms where average pooling took
2.6 ms, and 2.0 ms under XLA). So `LpPooling` takes this form only while XLA compiles the call
(`in_xla_context`): under `tf.function(jit_compile=True)` or a Keras model compiled with
`jit_compile=True` (Keras' default where every layer supports XLA); an exported SavedModel
keeps the portable pooling kernels. Without XLA the layer takes only `spread_times` from here:
its gradient's spread(g)·f as one broadcasting product of the blocked f, which the stand-alone
graph runs faster than average pooling's gradient alone. The reductions serve p = 1, 2 and ∞
only: a root exp(log(S)/p) after a block reduction is fused by XLA into one slow loop (p = 3
forward 8× an average pooling, 2.1× with the pooling op before the root); other p take
`broadcast` and `spread`, for the branch-free gradient of `lp_power_mean`.

Shapes: x (batch, rows, cols, channels) → regions (batch, rows // kh, cols // kw, channels).
"""

from __future__ import annotations

import tensorflow as tf

from zoo.layers.lp_base import Regions

try:  # TensorFlow's own test of the same question (not public API; absent, XLA is never seen)
    from tensorflow.python.ops.control_flow_util import GraphOrParentsInXlaContext
except ImportError:  # pragma: no cover - depends on the TensorFlow version
    GraphOrParentsInXlaContext = None


def in_xla_context() -> bool:
    """True while the graph being traced (or one it is traced inside) is compiled by XLA; False
    in eager mode, in a plain `tf.function`, and if this TensorFlow lacks the check (the layer
    then keeps its portable path under XLA too: slower, the same values)."""
    if tf.executing_eagerly() or GraphOrParentsInXlaContext is None:
        return False
    return bool(GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph()))


def block_regions(x: tf.Tensor, pool, power_sum) -> Regions:
    """The `Regions` of disjoint (kh, kw) windows of `x` (channels last, padding "valid"), as
    reductions of the blocked view (module docstring); `power_sum` is passed through."""
    kh, kw = pool
    shape = tf.shape(x)
    rows, cols = shape[1] // kh, shape[2] // kw
    size = kh * kw
    # Sizes known to be multiples of the pool (the usual case) need no crop and no padding back.
    static = x.shape[1:3]
    exact = None not in static and static[0] % kh == 0 and static[1] % kw == 0

    def blocks(v):
        cropped = v if exact else v[:, : rows * kh, : cols * kw, :]
        return tf.reshape(cropped, [shape[0], rows, kh, cols, kw, shape[3]])

    def broadcast(v):
        return unblock(
            tf.broadcast_to(v[:, :, None, :, None, :], [shape[0], rows, kh, cols, kw, shape[3]])
        )

    def spread_times(g, f):
        # One broadcast product over the blocked f: measured 2.4-2.6 ms against 3.5 ms for
        # average pooling's gradient then a product (a (32, 64, 64, 16) input, 2×2, no XLA).
        scaled = blocks(f) * (g / tf.constant(size, g.dtype))[:, :, None, :, None, :]
        return unblock(scaled)

    def unblock(v):
        flat = tf.reshape(v, [shape[0], rows * kh, cols * kw, shape[3]])
        if exact:
            return flat
        edge = [[0, 0], [0, shape[1] - rows * kh], [0, shape[2] - cols * kw], [0, 0]]
        return tf.pad(flat, edge)

    return Regions(
        max=lambda a: tf.reduce_max(blocks(a), axis=(2, 4)),
        mean=lambda v: tf.reduce_mean(blocks(v), axis=(2, 4)),
        spread=lambda g: broadcast(g / tf.constant(size, g.dtype)),
        count=lambda: tf.constant(float(size), x.dtype),
        power_sum=power_sum,
        broadcast=broadcast,
        spread_times=spread_times,
    )
