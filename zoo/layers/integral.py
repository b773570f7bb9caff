"""`IntegralLayer`: the running integral of a sequence along its time axis."""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from zoo.layers import quadrature

KERNELS = (None, "learned", "exponential")
# As scipy's cumulative_trapezoid: no running integral of zero samples (each method would fail
# differently, or silently give a wrong shape).
_NO_STEPS = "`inputs` must hold at least one time step (the integral starts at the first)."


def _choice(name: str, value, valid) -> None:
    if value not in valid:
        choices = ", ".join(repr(v) for v in valid)
        raise ValueError(f"Unknown {name} {value!r}. Choose one of: {choices}.")


@keras.saving.register_keras_serializable(package="zoo")
class IntegralLayer(keras.layers.Layer):
    """Running integral along time: y(t) = ∫₀ᵗ x(τ) dτ, one output per input step, y(t₀) = 0.

    With samples x_0 .. x_{n-1} at times t_0 < ... < t_{n-1} (t_k = k·dx unless the call is
    given stamps `t`), y_i is the sum of the integrals over the intervals [t_k, t_{k+1}], k < i,
    each taken by `method`:

    - "trapezoid" (default): (t_{k+1} - t_k)(x_k + x_{k+1}) / 2, i.e.
      `scipy.integrate.cumulative_trapezoid(x, t, axis=1, initial=0)`;
    - "rectangle": the left Riemann sum (t_{k+1} - t_k) x_k (x held at its left value);
    - "simpson": the integral of the parabola through three neighbouring samples, exactly as
      `scipy.integrate.cumulative_simpson(x, x=t, axis=1, initial=0)` (uniform or irregular grids).

    `kernel` turns the plain integral into a weighted one:

    - `kernel="learned"`: y(t) = ∫₀ᵗ k(t - τ) x(τ) dτ with k piecewise constant in the lag, one
      trainable tap per step back and per channel: y_i = Σ_{j<kernel_size} k_j I_{i-1-j}, where
      I_k is the rule's integral over [t_k, t_{k+1}] (a causal depthwise convolution). The taps
      start at 1, so at initialisation y_i is exactly the plain integral from t_0 while
      i ≤ kernel_size, and beyond that the integral over the last `kernel_size` intervals only,
      ∫_{t_{i-kernel_size}}^{t_i} x dτ. With irregular stamps a tap weights a number of steps back,
      not a span of time.
    - `kernel="exponential"`: the leaky integrator h(t) = ∫₀ᵗ e^{-λ(t-τ)} x(τ) dτ with a trainable
      rate λ_c ≥ 0 per channel (kept ≥ 0 by a NonNeg constraint). Each step is the closed form
      h_{k+1} = e^{-λΔ} h_k + ∫ over the step of e^{-λ(t_{k+1}-τ)} x(τ) dτ, exact for x linear
      between samples ("trapezoid") or held at its left value ("rectangle"), on any step widths Δ;
      λ = 0 gives back the plain rule. ("simpson" is not offered with this kernel.)

    Masking: with a Keras mask (for example from `keras.layers.Masking`), masked steps contribute
    nothing. The integral is taken over the unmasked samples only, at their own time stamps (a gap
    left by masked steps is bridged by the rule between its two unmasked neighbours), and the output
    is held constant across masked steps (0 before the first unmasked sample). The mask is passed
    on unchanged. Stamps at masked steps are ignored.

    Under a mixed-precision policy the sums are accumulated in float32 and the output has the
    compute dtype (float16 running sums lose three digits within a few hundred steps).

    NaN or infinity in `x` is not rejected: as in a cumulative sum (and scipy's
    cumulative_trapezoid), it reaches every later output of its own channel and nothing else (the
    fast path's matrix products would spread it everywhere, so a call whose last sums are not
    finite is redone by `tf.cumsum`); mask such steps instead. NaN or non-increasing stamps in `t`
    raise an error.

    Args:
        method: "trapezoid", "rectangle" or "simpson".
        dx: the constant spacing of the samples when the call gives no `t`; a number > 0.
        kernel: None (the plain integral), "learned" or "exponential".
        kernel_size: number of taps of the learned kernel (an int ≥ 1); required with
            `kernel="learned"` and only used there.
        initial_rate: the value λ starts from with `kernel="exponential"`; a number ≥ 0.
        jit_compile: compute the uniform-grid trapezoid and rectangle rules (no `t`, no mask, no
            kernel) as one XLA computation over a blocked running sum. The default path is as
            fast on a CPU (blocked triangular matrix products, see the README's benchmarks), and
            a SavedModel without XLA runs in the stock TensorFlow Serving binary: off by default.
        **kwargs: base `keras.layers.Layer` arguments (name, dtype, ...).

    Call arguments:
        inputs: (batch, time, channels).
        t: optional time stamps, shape (time,) shared by the batch or (batch, time) per sample,
            strictly increasing along time. When given, `dx` is not used. Steps are taken in the
            stamps' own dtype, so float64 stamps such as Unix times keep their resolution.
        mask: optional boolean (batch, time), usually supplied by Keras.

    Input shape:
        3D tensor (batch, time, channels).

    Output shape:
        3D tensor (batch, time, channels), same as the input.

    Example:
        >>> x = np.sin(np.linspace(0, np.pi, 101))[None, :, None]
        >>> y = IntegralLayer(dx=np.pi / 100)(x)          # ≈ 1 - cos(t)
        >>> stamps = np.sort(np.random.rand(101))
        >>> y = IntegralLayer(method="simpson")(x, t=stamps)

    Reference:
        K. V. Cartwright, "Simpson's rule cumulative integration with MS Excel and
        irregularly-spaced data", J. Math. Sci. Math. Educ. 12(2), 2017 (the Simpson rule).
    """

    def __init__(
        self,
        method: str = "trapezoid",
        dx: float = 1.0,
        kernel: str | None = None,
        kernel_size: int | None = None,
        initial_rate: float = 0.1,
        jit_compile: bool = False,
        **kwargs,
    ):
        # Keras would cast every floating call argument to the compute dtype, `t` included; the
        # layer casts `inputs` itself and keeps the stamps' own precision for their differences.
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        _choice("method", method, tuple(quadrature.RULES))
        _choice("kernel", kernel, KERNELS)
        if isinstance(dx, bool) or not isinstance(dx, int | float) or not dx > 0:
            raise ValueError(f"`dx` must be a finite number > 0. Received: dx={dx!r}")
        if not math.isfinite(dx):
            raise ValueError(f"`dx` must be a finite number > 0. Received: dx={dx!r}")
        if kernel == "learned":
            if kernel_size is None:
                raise ValueError(
                    "`kernel_size` is required with kernel='learned'. Received: kernel_size=None"
                )
            if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size < 1:
                raise ValueError(
                    f"`kernel_size` must be an int >= 1. Received: kernel_size={kernel_size!r}"
                )
        elif kernel_size is not None:
            raise ValueError(
                "`kernel_size` is only used with kernel='learned'. "
                f"Received: kernel_size={kernel_size!r} with kernel={kernel!r}"
            )
        if kernel == "exponential" and method == "simpson":
            raise ValueError(
                "`method` 'simpson' has no exact step with kernel='exponential'. "
                "Choose one of: 'trapezoid', 'rectangle'."
            )
        if (
            isinstance(initial_rate, bool)
            or not isinstance(initial_rate, int | float)
            or not (initial_rate >= 0 and math.isfinite(initial_rate))
        ):
            raise ValueError(
                "`initial_rate` must be a finite number >= 0. "
                f"Received: initial_rate={initial_rate!r}"
            )
        self.method = method
        self.dx = float(dx)
        self.kernel = kernel
        self.kernel_size = kernel_size
        self.initial_rate = float(initial_rate)
        if not isinstance(jit_compile, bool):
            raise ValueError(
                f"`jit_compile` must be True or False. Received: jit_compile={jit_compile!r}"
            )
        self.jit_compile = jit_compile
        self.supports_masking = True

    def _check_rank(self, shape) -> None:
        if len(shape) != 3:
            raise ValueError(
                "`inputs` must be a 3D tensor (batch, time, channels). "
                f"Received: inputs.shape={tuple(shape)}"
            )
        if shape[1] == 0:
            raise ValueError(_NO_STEPS + f" Received: inputs.shape={tuple(shape)}")

    def build(self, input_shape):
        self._check_rank(input_shape)
        channels = input_shape[-1]
        if self.kernel is not None and channels is None:
            raise ValueError(
                f"kernel={self.kernel!r} needs the channel count of `inputs` to be known. "
                f"Received: inputs.shape={tuple(input_shape)}"
            )
        if self.kernel == "learned":
            self.taps = self.add_weight(
                name="taps", shape=(self.kernel_size, channels), initializer="ones"
            )
        elif self.kernel == "exponential":
            self.rate = self.add_weight(
                name="rate",
                shape=(channels,),
                initializer=keras.initializers.Constant(self.initial_rate),
                constraint=keras.constraints.NonNeg(),
            )

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        return tuple(input_shape)

    def compute_mask(self, inputs, mask=None):
        return mask

    def _steps(self, t, x):
        """Step widths (1 or batch, time - 1, 1) from stamps `t`, checked for shape and order."""
        t = tf.convert_to_tensor(t)
        if not t.dtype.is_floating or t.dtype.size < 4:
            t = tf.cast(t, x.dtype)
        if t.shape.rank not in (1, 2):
            raise ValueError(
                "`t` must have shape (time,) or (batch, time). "
                f"Received: t.shape={tuple(t.shape)} for inputs.shape={tuple(x.shape)}"
            )
        length = x.shape[1]
        if length is not None and t.shape[-1] is not None and t.shape[-1] != length:
            raise ValueError(
                f"`t` must have one stamp per time step ({length}). Received: t.shape="
                f"{tuple(t.shape)} for inputs.shape={tuple(x.shape)}"
            )
        batch = x.shape[0]
        if t.shape.rank == 2 and None not in (batch, t.shape[0]) and t.shape[0] != batch:
            raise ValueError(
                f"`t` of shape (batch, time) must have the batch size of `inputs` ({batch}). "
                f"Received: t.shape={tuple(t.shape)} for inputs.shape={tuple(x.shape)}"
            )
        checks = [
            tf.debugging.assert_equal(
                tf.shape(t)[-1],
                tf.shape(x)[1],
                message="`t` must have one stamp per time step of `inputs`.",
            )
        ]
        if t.shape.rank == 2:
            checks.append(
                tf.debugging.assert_equal(
                    tf.shape(t)[0],
                    tf.shape(x)[0],
                    message="`t` of shape (batch, time) must have the batch size of `inputs`.",
                )
            )
        with tf.control_dependencies(checks):
            t = tf.identity(t)
        t = tf.reshape(t, [-1, tf.shape(t)[-1]])
        # Differences in the stamps' own precision (float64 Unix times keep their resolution).
        steps = tf.cast(t[:, 1:] - t[:, :-1], x.dtype)
        return t, steps

    def _assert_increasing(self, steps, t, valid=None):
        ok = steps > 0
        if valid is not None:
            ok = tf.logical_or(ok, tf.logical_not(valid))
        check = tf.debugging.Assert(
            tf.reduce_all(ok),
            [
                "`t` must be strictly increasing along time (every step > 0, no NaN). Received: t=",
                t,
            ],
            summarize=20,
        )
        with tf.control_dependencies([check]):
            return tf.identity(steps)

    def call(self, inputs, t=None, mask=None):
        x = tf.convert_to_tensor(inputs)
        self._check_rank(x.shape)
        if x.shape[1] is None:  # traced with an unknown length: check the running one
            check = tf.debugging.assert_positive(tf.shape(x)[1], message=_NO_STEPS)
            with tf.control_dependencies([check]):
                x = tf.identity(x)
        out_dtype = tf.as_dtype(self.compute_dtype)
        # Running sums of half-precision values drift fast: accumulate in float32 at least.
        work_dtype = tf.float32 if out_dtype.size < 4 else out_dtype
        x = tf.cast(x, work_dtype)
        if mask is not None:
            y = self._call_masked(x, t, tf.cast(mask, tf.bool))
        else:
            y = self._call_dense(x, t)
        return tf.cast(y, out_dtype)

    def _call_dense(self, x, t):
        if t is None:
            h = tf.constant(self.dx, dtype=x.dtype)
            if self.kernel is None and self.method in ("trapezoid", "rectangle"):
                # The fast path: one blocked running sum in closed form (one fused XLA
                # computation over a blocked running sum with jit_compile=True).
                rule = quadrature.UNIFORM_RULES[self.method]
                return rule.compiled(x, h) if self.jit_compile else rule.plain(x, h)
        else:
            stamps, h = self._steps(t, x)
            h = self._assert_increasing(h[:, :, tf.newaxis], stamps)
        return self._integrate(x, h)

    def _integrate(self, x, h, count=None, valid=None):
        """The rule, then the kernel; `valid` (batch, time - 1, 1) marks intervals that count."""
        if self.kernel == "exponential":
            rate = tf.nn.relu(tf.cast(self.rate, x.dtype))
            decay, a, b = quadrature.exponential_weights(rate, h, self.method)
            drive = a * x[:, :-1] + b * x[:, 1:]
            return quadrature.linear_recurrence(decay, drive)
        increments = quadrature.RULES[self.method](x, h, count)
        if valid is not None:
            increments = tf.where(valid, increments, tf.zeros_like(increments))
        if self.kernel == "learned":
            return quadrature.causal_kernel(increments, tf.cast(self.taps, x.dtype))
        return quadrature.cumulative(increments)

    def _call_masked(self, x, t, mask):
        """Integrate the unmasked samples of each row, compacted to its front, then spread back."""
        source, count, back = quadrature.compaction(mask)
        x_c = tf.gather(x, source, batch_dims=1)
        count = count[:, tf.newaxis, tf.newaxis]
        valid = tf.range(tf.shape(x)[1] - 1)[tf.newaxis, :, tf.newaxis] < count - 1
        if t is None:
            stamps = tf.cast(source, x.dtype) * self.dx
            h = (stamps[:, 1:] - stamps[:, :-1])[:, :, tf.newaxis]
        else:
            shown, _ = self._steps(t, x)
            full = tf.broadcast_to(shown, tf.shape(x)[:2])
            stamps = tf.gather(full, source, batch_dims=1)
            h = tf.cast(stamps[:, 1:] - stamps[:, :-1], x.dtype)[:, :, tf.newaxis]
            h = self._assert_increasing(h, shown, valid)
        # Intervals past a row's last unmasked sample get width 1: finite, and never read.
        h = tf.where(valid, h, tf.ones_like(h))
        y_c = self._integrate(x_c, h, count, valid)
        return tf.gather(y_c, back, batch_dims=1)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "method": self.method,
                "dx": self.dx,
                "kernel": self.kernel,
                "kernel_size": self.kernel_size,
                "initial_rate": self.initial_rate,
                "jit_compile": self.jit_compile,
            }
        )
        return config
