"""The fast Lp-pooling op: y = (c · mean_R |x|^p)^{1/p} per region, its gradient in closed form.

c is 1 (normalised form) or |R| (sum form); `regions` (see `lp_base.Regions`) supplies the mean
over each region, its adjoint `spread` (the gradient of the mean: average-pooling's gradient for
windows, a broadcast division for the global layers), |R| and the window max.

Forward, with as few passes over the input as the power allows:

    t = |x|^p:   p = 1: |x|;  p = 2: x²;  p = 2 + q, q ≤ 16 a multiple of 1/2: r = x·|x|^q by
                 multiplication and at most one sqrt, then t = r·x (r is the gradient's factor);
                 any other p (and a learned p): exp(p·log|x|)
    S = c · mean_R(t),   y = S^{1/p} = exp(log(S)/p)  (0 where S = 0)

Backward (autodiff would add a pass per elementwise op; this is two passes and one spread, or,
where the regions offer `spread_times` (disjoint windows), one broadcast product):

    ∂y/∂x_i = y^{1-p} |x_i|^{p-1} sign(x_i) · c/|R|  =  spread(g · y/S · c) · t_i/x_i
    ∂y/∂p   = y · (c · mean_R(t·log|x|) / (p·S) − log(S)/p²)

(t_i/x_i = |x_i|^{p-1} sign(x_i), 0 at x_i = 0, so an all-zero region has a zero gradient.)
For a learned p both come from u = spread(g · y/S · c) · t: ∂/∂x = u/x and the p-gradient
(Σ_i u_i·p·log|x_i| − Σ_R g·y·log S)/p², one more product and a sum over the input.

For p other than 1 and 2 the terms may overflow (large p, |x| > 1) or underflow (values far below
1) in the region means. The check runs on the pooled logs only (a quarter of the data for 2×2
windows): their max and min; only when some S is beyond 2^±100 are the regions looked at, with
the window max telling an underflow from an all-zero region (which is exact: y = 0). Where a
region is in danger the whole call takes `fallback` instead (each region scaled by its own max,
in `lp_base`), and its gradient is taken by autodiff of that fallback. When the regions can put
each y back on its own inputs (disjoint windows under XLA, `Regions.broadcast`), the gradient is
instead computed from y alone, safe whatever its size, with no branch (`_branch_free_grad`):
XLA runs a `tf.cond` between two gradients far slower than either.
"""

from __future__ import annotations

import math

import tensorflow as tf

_LOG_LIMIT = 100 * math.log(2.0)  # |log S| beyond this: S near overflow or underflow


def int_pow(r, n: int):
    """r^n for an int n >= 1 by repeated squaring (at most 2·log2(n) multiplications)."""
    result, base = None, r
    while n:
        if n & 1:
            result = base if result is None else result * base
        n >>= 1
        if n:
            base = base * base
    return result


def _cheap_power(x, a, q: float):
    """|x|^q by multiplication and at most one sqrt, for q = 0 .. 16 in steps of 1/2, else None.

    An even integer q needs no |x| (x² instead); `a` is a function giving |x| (made once)."""
    if q == 0:
        return None
    if q.is_integer() and q <= 16:
        n = int(q)
        return int_pow(tf.square(x), n // 2) if n % 2 == 0 else int_pow(a(), n)
    if (q - 0.5).is_integer() and q <= 16:
        root = tf.sqrt(a())
        return root if q == 0.5 else int_pow(a(), int(q - 0.5)) * root
    return None


def _fixed_terms(x, p: float):
    """t = |x|^p for a fixed p, and a function giving t/x = |x|^{p-1} sign(x) for the gradient.

    For p = 2 + q with |x|^q cheap (q a multiple of 1/2): r = x·|x|^q is the gradient's factor
    and t = r·x, so the backward pass needs no division.
    """
    if p == 1.0:
        return tf.abs(x), lambda t: tf.sign(x)
    if p == 2.0:
        return tf.square(x), lambda t: x
    made = []

    def a():
        if not made:
            made.append(tf.abs(x))
        return made[0]

    power = _cheap_power(x, a, p - 2.0) if p > 2.0 else None
    if power is not None:
        r = x * power
        return r * x, lambda t: r
    if p == 1.5:
        t = a() * tf.sqrt(a())
    else:
        t = tf.exp(p * tf.math.log(a()))  # -inf·p = -inf at x = 0: t = 0
    return t, lambda t: tf.math.divide_no_nan(t, x)


def _unsafe(log_total, regions, abs_x):
    """True when a region's power mean is beyond 2^±100 (overflow near, or underflow while the
    region is not all zero). Two reads of the pooled logs (a max and a min, nothing written); |x|
    (`abs_x()`, made only then) and the window max only if one of them is beyond the limit."""
    far = tf.logical_or(
        tf.reduce_max(log_total) > _LOG_LIMIT, tf.reduce_min(log_total) < -_LOG_LIMIT
    )

    def check():
        low = tf.logical_and(log_total < -_LOG_LIMIT, regions.max(abs_x()) > 0)
        return tf.logical_or(tf.reduce_any(log_total > _LOG_LIMIT), tf.reduce_any(low))

    return tf.cond(far, check, lambda: tf.constant(False))


def _root(total, p):
    """total^{1/p} and log(total) (-inf where total = 0, giving y = 0); log is None for p = 1, 2."""
    if isinstance(p, float) and p == 1.0:
        return total, None
    if isinstance(p, float) and p == 2.0:
        return tf.sqrt(total), None
    log_total = tf.math.log(total)
    return tf.exp(log_total * (1.0 / p)), log_total


def _weight(g, y, total, p):
    """g · ∂y/∂S = g · y / S (y^{1-p} of the gradient), 0 where S = 0."""
    if isinstance(p, float) and p == 1.0:
        return g
    if isinstance(p, float) and p == 2.0:
        return tf.math.divide_no_nan(g, y)
    return tf.math.divide_no_nan(g * y, total)


def power_mean(x, p, regions, normalize: bool, fallback):
    """y per region (module docstring); `p` a Python float (fixed) or a scalar tensor (learned).

    `fallback(x, p)` computes the same y stably (scaled by each region's max); it runs instead of
    the fast path when the fast path would overflow or underflow.
    """
    learned = not isinstance(p, float)
    checked = learned or p not in (1.0, 2.0)
    count = None if normalize else regions.count()

    def forward(x, p_tensor=None):
        if learned:
            # p·log|x| (-inf at x = 0, as p >= 1): a log and a product, cheaper than one xlogy;
            # |x| has the log as its only reader, so the log may overwrite it in place.
            log_terms = p_tensor * tf.math.log(tf.abs(x))
            t = tf.exp(log_terms)
            ratio = None
        else:
            t, ratio = _fixed_terms(x, p)
        power = p_tensor if learned else p
        mean = regions.mean(t)
        total = mean if normalize else mean * count
        y, log_total = _root(total, power)
        unsafe = None
        if checked:
            unsafe = _unsafe(log_total, regions, lambda: tf.abs(x))
            y = tf.cond(unsafe, lambda: fallback(x, power), lambda: y)

        def spread(weight):
            return regions.spread(weight if normalize else weight * count)

        def spread_times(weight, factor):
            return regions.spread_product(weight if normalize else weight * count, factor)

        def fast_grad(g):
            if learned:
                return _learned_grad(g, y, total, log_total, t, log_terms, x, power, spread_times)
            return (spread_times(_weight(g, y, total, power), ratio(t)),)

        def fallback_grad(g):
            sources = [x, p_tensor] if learned else [x]
            with tf.GradientTape() as tape:
                tape.watch(sources)
                y_stable = fallback(x, p_tensor if learned else p)
            return tuple(tape.gradient(y_stable, sources, output_gradients=g))

        def grad(g):
            if checked and regions.broadcast is not None:
                return _branch_free_grad(g, y, x, power, spread, regions.broadcast, learned)
            fast = fast_grad(g)
            if not checked:
                return fast
            # The fast gradient outside the cond (so it fuses with its neighbours under XLA);
            # the cond only swaps in the fallback's in the rare unsafe case.
            return tf.cond(unsafe, lambda: fallback_grad(g), lambda: fast)

        return y, grad

    if learned:
        return tf.custom_gradient(lambda x, p_tensor: _unpack(forward(x, p_tensor)))(x, p)
    return tf.custom_gradient(lambda x: _unpack(forward(x)))(x)


def _branch_free_grad(g, y, x, p, spread, broadcast, learned: bool):
    """d/dx (and d/dp for a learned p) from the output y alone, safe whatever its size: with
    r_i = |x_i| / y (<= |R|^{1/p}, as y is at least each term's share, so nothing overflows),

        ∂y/∂x_i = sign(x_i) · r_i^{p-1} · c/|R|,
        ∂y/∂p   = (y/p) · (c/|R|) Σ_{i∈R} r_i^p · log r_i

    (the second from ∂log y/∂p = (c/|R|) Σ r^p log|x| / p − log y / p and (c/|R|) Σ r^p = 1,
    which removes the cancellation of two large logs). y may come from the fast path or the
    scaled fallback alike: no branch, which XLA runs far faster than the `tf.cond` between the
    two gradients. Disjoint windows only (`broadcast` puts each region's y on its own inputs).
    r is 0 where x = 0 (and in an all-zero region), where both gradients get nothing."""
    r = tf.math.divide_no_nan(tf.abs(x), broadcast(y))
    if not learned:  # a fixed p (never 1 or 2 here): r^{p-1} by multiplication where p allows
        power = _cheap_power(r, lambda: r, p - 1.0)
        if power is None:
            power = tf.exp((p - 1.0) * tf.math.log(r))
        return (spread(g) * tf.sign(x) * power,)
    log_r = tf.math.log(r)  # -inf at r = 0
    power = tf.exp(tf.math.multiply_no_nan(log_r, p - 1.0))  # r^{p-1}; 1 at p = 1
    grad_x = spread(g) * tf.sign(x) * power
    # spread(g·y)·r^p = grad_x·x on disjoint windows (spread(g·y) = spread(g)·y there): the
    # p-gradient reads the x-gradient instead of a second r^{p-1}.
    terms = tf.math.multiply_no_nan(log_r, grad_x * x)  # 0 where r = 0
    return grad_x, tf.reduce_sum(terms) / p


def _learned_grad(g, y, total, log_total, t, log_terms, x, p, spread_times):
    """d/dx and d/dp of a learned p's fast path for upstream g (module docstring);
    `spread_times(w, f)` is the region adjoint of c·mean applied to w, times f.

    With u_i = spread_R(g·y/S · c) · t_i (one product over the input): ∂/∂x_i = u_i / x_i, and
    Σ_R g·∂y/∂p = (Σ_i u_i · p·log|x_i| − Σ_R g·y·log S) / p², so d/dp needs one more product
    and a sum over the input, nothing pooled; u = 0 where t = 0 (x = 0), y = 0 where S = 0, so the
    -inf logs there are multiplied by zero (multiply_no_nan gives 0).
    """
    gy = g * y
    weight = tf.math.divide_no_nan(gy, total)
    u = spread_times(weight, t)
    grad_x = tf.math.divide_no_nan(u, x)
    terms = tf.reduce_sum(tf.math.multiply_no_nan(log_terms, u))
    pooled = tf.reduce_sum(tf.math.multiply_no_nan(log_total, gy))
    return grad_x, (terms - pooled) / (p * p)


def _unpack(pair):
    """custom_gradient wants grad to return a tensor for one input and a sequence for several."""
    y, grad = pair

    def unpacked(g):
        grads = grad(g)
        return grads[0] if len(grads) == 1 else list(grads)

    return y, unpacked
