"""The period-matched discord score of a whole series, computed in the graph.

For a series x of n points (NaN = missing or left padding) and a subsequence length m (one per
series, a tensor: the estimated period, `period.estimate_period`), the subsequences
s_i = x[i·r : i·r + m], r = max(⌈m / 8⌉, ⌈n / MAX_SUBSEQUENCES⌉) apart (so at most
`MAX_SUBSEQUENCES` of them and one S × S matmul), those holding a missing point left out, are
z-normalised and each gets the distance to its nearest non-overlapping neighbour (|i − j|·r >= m):

    ρ_ij = ẑ_i · ẑ_j / m,        d_i = min_{j: |i−j|·r >= m} sqrt(max(1 − ρ_ij, 0))

(d_i = ‖ẑ_i − ẑ_j‖ / sqrt(2m), 0 for a repeat, 1 for an unrelated shape: the matrix profile of the
classic discord detector, scaled). With k = `neighbours` > 1, d_i is instead the distance to the
k-th nearest repeat, each found one's own neighbourhood (|j − j'|·r < m) left out before the next
is sought (so the k repeats are k different places of the series): two or three odd instances
alike one another (two abnormal beats of one kind, two instances of another class) are each
other's nearest repeat, and only a k above their number sees them as unlike the rest (the
"twin freak" of discord search). Each d_i is divided by the median of d over the series' valid
subsequences (floored at `MEDIAN_FLOOR`, so the tiny deviations of an almost exactly
repeating series do not read as large), and a point takes the mean of these ratios over the
subsequences that cover it (the mean, not the max, keeps a spike's discord on the spike rather
than on its m neighbours; chosen on the validation set, where it also ranked better). So it reads
"how many times more unlike the rest of the series than a typical part of it": 1 for a typical
point; a flat subsequence (std below 1e-3 of the series') has ẑ = 0; where it is undefined (a
subsequence holding a missing point, a series shorter than 2m + 1) it is the neutral 1.

The same search gives every point t its match: at offset o = t − i·r in a covering subsequence
i, the point j(i)·r + o of that subsequence's nearest repeat j(i) (`matched_values`: any point
values, such as the network's logits, read there; the mean over the covering subsequences).

Validation only (not in the shipped detector): with `subsequences` "centred" or "raw" the
subsequences are not z-normalised but only centred on their own mean (shape and amplitude) or on
the series' mean (shape, amplitude and level), both over the series' std σ, and

    d_i = min_{j: |i−j|·r >= m} ‖a_i − a_j‖ / sqrt(m)

(the root-mean-square difference in units of σ). The ninth benchmark run tried the mean of the
z-normalised and the raw log discords (`validation.py`), and it is not shipped.

Shapes: x (batch, n), m (batch,) int → (batch, n) float32.
Reference: Yeh et al., "Matrix Profile I", ICDM 2016; Keogh et al. 2005 (discords).
"""

from __future__ import annotations

import tensorflow as tf

from zoo.models.universal_anomaly.layers import masked_median

MAX_SUBSEQUENCES = 2048
MEDIAN_FLOOR = 0.1  # chosen on the validation set: the threshold's F1 there, ROC-AUC unchanged
COVER = 9  # subsequences covering a point: at most m / r + 1 <= 9
SUBSEQUENCES = ("z", "centred", "raw")  # how subsequences are compared (module docstring)


def subsequence_stride(m: tf.Tensor, n: tf.Tensor) -> tf.Tensor:
    """r = max(⌈m / 8⌉, ⌈n / MAX_SUBSEQUENCES⌉, 1) (int32 scalars)."""
    return tf.maximum(tf.maximum((m + 7) // 8, (n + MAX_SUBSEQUENCES - 1) // MAX_SUBSEQUENCES), 1)


def nearest_distances(
    x: tf.Tensor, m: tf.Tensor, neighbours: int = 1, subsequences: str = "z"
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """One series x (n,) → (d (S,) k-th nearest-neighbour distances (0 where undefined), valid
    (S,) bool, r): the subsequence profile of the module docstring, k = `neighbours`, the
    subsequences compared as `subsequences` says (one of `SUBSEQUENCES`)."""
    d, valid, r, _ = nearest_repeats(x, m, neighbours, subsequences)
    return d, valid, r


def _distances(frames, centred, std, mean, spread, m, subsequences: str):
    """(S, S) distances between the subsequences `frames` (module docstring)."""
    size = tf.cast(m, frames.dtype)
    if subsequences == "z":
        flat = std < 1e-3 * spread + 1e-30
        z = tf.where(flat, tf.zeros_like(centred), centred / tf.maximum(std, 1e-30))
        rho = tf.matmul(z, z, transpose_b=True) / size
        return tf.sqrt(tf.maximum(1.0 - rho, 0.0))
    a = (centred if subsequences == "centred" else frames - mean) / tf.maximum(spread, 1e-30)
    squares = tf.reduce_sum(tf.square(a), axis=-1)
    gram = tf.matmul(a, a, transpose_b=True)
    return tf.sqrt(tf.maximum(squares[:, None] + squares[None, :] - 2.0 * gram, 0.0) / size)


def nearest_repeats(x: tf.Tensor, m: tf.Tensor, neighbours: int = 1, subsequences: str = "z"):
    """`nearest_distances` and, as a fourth value, each subsequence's nearest repeat j(i) (S,)
    int32 (i itself where undefined): always the first, whatever k. A subsequence with fewer than
    k separate repeats takes its farthest one's distance."""
    if subsequences not in SUBSEQUENCES:
        raise ValueError(
            f"`subsequences` must be one of {SUBSEQUENCES}. Received: subsequences={subsequences!r}"
        )
    n = tf.shape(x)[0]
    r = subsequence_stride(m, n)
    observed = tf.math.is_finite(x)
    filled = tf.where(observed, x, 0.0)
    frames = tf.signal.frame(filled, m, r)  # (S, m)
    valid = tf.reduce_all(tf.signal.frame(observed, m, r), axis=-1)
    centred = frames - tf.reduce_mean(frames, axis=-1, keepdims=True)
    std = tf.sqrt(tf.reduce_mean(tf.square(centred), axis=-1, keepdims=True))
    weight = tf.cast(observed, x.dtype)
    count = tf.maximum(tf.reduce_sum(weight), 1.0)
    mean = tf.reduce_sum(filled) / count
    spread = tf.sqrt(tf.reduce_sum(weight * tf.square(filled - mean)) / count)
    distance = _distances(frames, centred, std, mean, spread, m, subsequences)
    starts = tf.range(tf.shape(frames)[0]) * r
    allowed = (tf.abs(starts[:, None] - starts[None, :]) >= m) & valid[None, :] & valid[:, None]
    masked = tf.where(allowed, distance, float("inf"))
    nearest = tf.reduce_min(masked, axis=-1)
    defined = tf.math.is_finite(nearest)
    index = tf.where(defined, tf.argmin(masked, axis=-1, output_type="int32"), starts // r)
    kth, found = nearest, index
    for _ in range(neighbours - 1):
        # Leave out the neighbourhood of the repeat just found, then take the next nearest.
        masked = tf.where(tf.abs(starts[None, :] - (found * r)[:, None]) < m, float("inf"), masked)
        found = tf.argmin(masked, axis=-1, output_type="int32")
        following = tf.reduce_min(masked, axis=-1)
        kth = tf.where(tf.math.is_finite(following), following, kth)
    return tf.where(defined, kth, 0.0), valid & defined, r, index


def _covering(t: tf.Tensor, k: int, m, r, last) -> tuple[tf.Tensor, tf.Tensor]:
    """For points t, the k-th subsequence back from each point's own, i = ⌊t/r⌋ − k clipped to
    0..last, and whether it covers the point (i·r <= t < i·r + m, i in 0..last)."""
    i = t // r - k
    covers = (i >= 0) & (i <= last) & (i * r + m > t)
    return tf.clip_by_value(i, 0, last), covers


def to_points(values: tf.Tensor, m: tf.Tensor, r: tf.Tensor, n: tf.Tensor) -> tf.Tensor:
    """(S,) subsequence values → (n,): each point the mean over the subsequences i covering it
    (i·r <= t < i·r + m); points after the last subsequence take its value."""
    t = tf.range(n)
    last = tf.shape(values)[0] - 1
    total = tf.gather(values, tf.minimum(t // r, last))
    count = tf.ones_like(total)
    for k in range(1, COVER):
        i, covers = _covering(t, k, m, r, last)
        total = tf.where(covers, total + tf.gather(values, i), total)
        count = tf.where(covers, count + 1.0, count)
    return total / count


def matched_values(values: tf.Tensor, index: tf.Tensor, valid: tf.Tensor, m, r) -> tf.Tensor:
    """(n,) or (n, c) point values → the same values read at each point's match in its nearest
    repeat: point t, at offset o = t − i·r in a covering subsequence i, matches j(i)·r + o; it
    takes the mean over its valid covering subsequences (its own value where none is valid).

    So a point whose value is the same at its match (a normal beat the network scores like every
    other beat) reads as its own value, and a point unlike its match (a spike in one period) reads
    as the typical value of its place in the period."""
    n = tf.shape(values)[0]
    t = tf.range(n)
    last = tf.shape(index)[0] - 1
    total = tf.zeros_like(values)
    count = tf.zeros_like(values)
    for k in range(COVER):
        i, covers = _covering(t, k, m, r, last)
        use = covers & tf.gather(valid, i)
        if values.shape.rank == 2:  # one flag per point, for every channel
            use = use[:, None]
        match = tf.clip_by_value(tf.gather(index, i) * r + t - i * r, 0, n - 1)
        total = tf.where(use, total + tf.gather(values, match), total)
        count = tf.where(use, count + 1.0, count)
    return tf.where(count > 0, total / tf.maximum(count, 1.0), values)


def _relative(d: tf.Tensor, valid: tf.Tensor, m, r, n) -> tf.Tensor:
    """(S,) nearest distances → (n,) point discords over their median (module docstring)."""
    count = tf.reduce_sum(tf.cast(valid, "int32"))[None]
    median = tf.maximum(masked_median(d[None], valid[None], count)[0, 0], MEDIAN_FLOOR)
    return to_points(tf.where(valid, d / median, 1.0), m, r, n)


def _has_repeats(x: tf.Tensor, m: tf.Tensor) -> tf.Tensor:
    """True when x holds enough observed points for two non-overlapping subsequences."""
    return tf.reduce_sum(tf.cast(tf.math.is_finite(x), "int32")) >= 2 * m + 1


def relative_discord(
    x: tf.Tensor, m: tf.Tensor, neighbours: int = 1, subsequences: str = "z"
) -> tf.Tensor:
    """One series x (n,), length m (int32 scalar) → (n,) point discords over their median, each
    from the distance to the k-th nearest repeat (k = `neighbours`; `subsequences`: how they are
    compared, module docstring)."""
    n = tf.shape(x)[0]

    def profile():
        d, valid, r = nearest_distances(x, m, neighbours, subsequences)
        return _relative(d, valid, m, r, n)

    # A series too short for two non-overlapping subsequences has no discord: neutral 1.
    return tf.cond(_has_repeats(x, m), profile, lambda: tf.ones_like(x))


def discord_and_match(x: tf.Tensor, m: tf.Tensor, values: tf.Tensor, neighbours: int = 1):
    """One series x (n,), length m, point values (n,) or (n, c) → ((n,) relative discords from
    the k-th nearest repeat (k = `neighbours`), `matched_values` of `values` at the nearest), from
    one nearest-repeat search. A series too short for two non-overlapping subsequences has neither:
    discord the neutral 1, and each point's own value."""
    n = tf.shape(x)[0]

    def profile():
        d, valid, r, index = nearest_repeats(x, m, neighbours)
        return _relative(d, valid, m, r, n), matched_values(values, index, valid, m, r)

    return tf.cond(_has_repeats(x, m), profile, lambda: (tf.ones_like(x), values))


def row_repeatability(x: tf.Tensor, m: tf.Tensor) -> tf.Tensor:
    """One series x (n,), length m → 1 − median_i d_i over its valid subsequences, in [0, 1]:
    1 when every m-point part has an exact repeat, near 0 when none resembles another (0 for a
    series too short for two non-overlapping subsequences)."""

    def measured():
        d, valid, _ = nearest_distances(x, m)
        count = tf.reduce_sum(tf.cast(valid, "int32"))[None]
        median = masked_median(d[None], valid[None], count)[0, 0]
        return tf.where(count[0] > 0, tf.clip_by_value(1.0 - median, 0.0, 1.0), 0.0)

    return tf.cond(_has_repeats(x, m), measured, lambda: tf.constant(0.0))


def series_repeatability(x: tf.Tensor, m: tf.Tensor) -> tf.Tensor:
    """(batch, n) raw series, (batch,) lengths → (batch,) repeatability (`row_repeatability`)."""
    x = tf.cast(x, "float32")
    return tf.map_fn(
        lambda row: row_repeatability(row[0], row[1]),
        (x, tf.cast(m, "int32")),
        fn_output_signature=tf.TensorSpec([], "float32"),
    )


def series_discord(
    x: tf.Tensor, m: tf.Tensor, neighbours: int = 1, subsequences: str = "z"
) -> tf.Tensor:
    """(batch, n) raw series, (batch,) lengths → (batch, n) relative discords, row by row (from
    the k-th nearest repeat, k = `neighbours`; `subsequences` as in `nearest_distances`)."""
    x = tf.cast(x, "float32")
    return tf.map_fn(
        lambda row: relative_discord(row[0], row[1], neighbours, subsequences),
        (x, tf.cast(m, "int32")),
        fn_output_signature=tf.TensorSpec([None], "float32"),
    )


def series_discord_and_match(x: tf.Tensor, m: tf.Tensor, values: tf.Tensor, neighbours: int = 1):
    """(batch, n) raw series, (batch,) lengths, (batch, n) or (batch, n, c) values → ((batch, n)
    relative discords, matched values of the shape of `values`), row by row
    (`discord_and_match`; one nearest-repeat search for all c channels)."""
    x = tf.cast(x, "float32")
    values = tf.cast(values, "float32")
    matched = tf.TensorSpec([None] * (values.shape.rank - 1), "float32")
    return tf.map_fn(
        lambda row: discord_and_match(row[0], row[1], row[2], neighbours),
        (x, tf.cast(m, "int32"), values),
        fn_output_signature=(tf.TensorSpec([None], "float32"), matched),
    )
