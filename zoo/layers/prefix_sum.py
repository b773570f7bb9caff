"""Running sums along time as triangular matrix products on blocks (the portable fast path).

For v of shape (batch, n, channels) and a weight d of the newest sample,

    s_i = Σ_{k<i} v_k + d·v_i        (d = 1: the inclusive sum, d = 0: the exclusive one)

is computed in blocks of B = 64 steps: inside each block one product with the B×B matrix
L = (strictly lower triangle of ones) + d·I, batched over (batch, blocks) as one BatchMatMul with
channels as the columns, plus the exclusive running sum of the block totals (n / B values per row)
broadcast over each block. Without XLA this is about twice as fast on a CPU as `tf.cumsum` along
the middle axis (measured on (256, 1024, 8) float32: 8 ms against 20 ms on one thread), and the
rounding error grows with B + n/B rather than with n.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

BLOCK = 64


def _matrix(size: int, diagonal: float, dtype) -> tf.Tensor:
    lower = np.tril(np.ones((size, size)), -1) + diagonal * np.eye(size)
    return tf.constant(lower, dtype=dtype)


def prefix_sum(v: tf.Tensor, diagonal: float, scale=None, start=None) -> tf.Tensor:
    """start + scale · (Σ_{k<i} v_k + diagonal·v_i) along axis 1 of (batch, n, channels).

    `scale` (a scalar tensor, None for 1) multiplies the small B×B matrix and the block totals, and
    `start` (broadcastable to (batch, 1, channels), None for 0) joins the block offsets, so neither
    costs a pass over the data. Short series (n ≤ B, static) take one n×n product; a length unknown
    when tracing is padded to whole blocks at run time.
    """
    n = v.shape[1]
    dtype = v.dtype
    if n is not None and n <= BLOCK:
        lower = _matrix(max(n, 1), diagonal, dtype)
        out = tf.linalg.matmul(lower if scale is None else scale * lower, v)
        return out if start is None else out + start
    length = tf.shape(v)[1] if n is None else n
    blocks = (length + BLOCK - 1) // BLOCK
    ragged = n is None or n % BLOCK
    padded = tf.pad(v, [[0, 0], [0, blocks * BLOCK - length], [0, 0]]) if ragged else v
    channels = tf.shape(v)[2]
    shaped = tf.reshape(padded, [-1, blocks, BLOCK, channels])
    lower = _matrix(BLOCK, diagonal, dtype)
    last = shaped[:, :, -1, :]
    if scale is not None:
        lower = scale * lower
        last = scale * last
    inner = tf.linalg.matmul(lower, shaped)
    # A block total from its last row (Σ_{k<B-1} v_k + d·v_{B-1}) and the missing (1-d)·v_{B-1}.
    totals = inner[:, :, -1, :] + (1.0 - diagonal) * last
    offsets = tf.cumsum(totals, axis=1, exclusive=True)
    if start is not None:
        offsets = offsets + start
    out = tf.reshape(inner + offsets[:, :, tf.newaxis, :], [-1, blocks * BLOCK, channels])
    return out[:, :length] if ragged else out
