"""Disjoint pooling windows as reshaped blocks: region operations for LpPooling (most under XLA).

When the strides equal the pool size (kh, kw) and the padding is "valid", the windows tile the
input's first (out_rows·kh, out_cols·kw) positions. Viewed as blocks of shape
(batch, out_rows, kh, out_cols, kw, channels), each region's mean and max combine the kh·kw
slices [:, :, u, :, w, :] of the blocks, and the mean's adjoint is a broadcast back:

    mean(v)[b, i, j, c] = (1 / (kh·kw)) Σ_{u<kh, w<kw} v[b, i·kh + u, j·kw + w, c]
    spread(g)[b, i·kh + u, j·kw + w, c] = g[b, i, j, c] / (kh·kw)   (0 on the cropped edge)
    broadcast(v)[b, i·kh + u, j·kw + w, c] = v[b, i, j, c]           (each region's value on its
                                                                      inputs; the gradient's)
    spread_times(g, f) = spread(g) · f                               (one broadcast product)

XLA fuses these with the elementwise powers around them into one pass over the input (the power,
the sum and the root together), while a stand-alone graph runs them as separate, slower kernels
than average pooling's (measured: a 2×2 reshape-sum of x² took 15 ms where average pooling took
2.6 ms). So `LpPooling` takes this form only while XLA compiles the call
(`xla_context.in_xla_context`): under `tf.function(jit_compile=True)` or a Keras model
compiled with `jit_compile=True` (Keras' default where every layer supports XLA); an exported
SavedModel keeps the portable kernels.
Under XLA, sums of slices are an elementwise loop, which beats XLA's own average pooling (p = 1
forward 0.54×, p = 2 0.94× an XLA AveragePooling2D, against 1.0× and 1.2× with a reduce over
axes 2 and 4), and a root exp(log(S)/p) after them stays fast, where XLA runs that root after a
reduce over the block axes in one slow loop (p = 3 forward 9.8× an XLA average pooling, so p
other than 1, 2 and ∞ took the pooling op until this form came). In one alternating A/B
against the pooling op for p = 3, 2.5 and a learned p: forward 2.29–2.62× against 3.04×, 2.75×
against 3.17×, 6.1× against 6.5–6.8×, forward+backward 1.9–2.0× against 2.2×. Every p's
gradient here is the branch-free one of `lp_power_mean` (`broadcast`, `spread`) or, for p = 1
and 2, `spread_times`. Without XLA the layer takes only `spread_times` from here: its
gradient's spread(g)·f as one broadcasting product of the blocked f, which the stand-alone
graph runs faster than average pooling's gradient alone.

Shapes: x (batch, rows, cols, channels) → regions (batch, rows // kh, cols // kw, channels).
"""

from __future__ import annotations

import tensorflow as tf

from zoo.layers.lp_base import Regions


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

    def window_reduce(v, combine):
        # The blocks combined over kh and kw slice by slice: one elementwise loop under XLA
        # (module docstring).
        b = blocks(v)
        rows_combined = b[:, :, 0]
        for u in range(1, kh):
            rows_combined = combine(rows_combined, b[:, :, u])
        combined = rows_combined[:, :, :, 0]
        for w in range(1, kw):
            combined = combine(combined, rows_combined[:, :, :, w])
        return combined

    return Regions(
        max=lambda a: window_reduce(a, tf.maximum),
        mean=lambda v: window_reduce(v, tf.add) / tf.constant(size, v.dtype),
        spread=lambda g: broadcast(g / tf.constant(size, g.dtype)),
        count=lambda: tf.constant(float(size), x.dtype),
        power_sum=power_sum,
        broadcast=broadcast,
        spread_times=spread_times,
    )
