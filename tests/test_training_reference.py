"""Trainer against independent references: least squares, model.fit, exact gradient flow."""

import keras
import numpy as np
import pytest
import scipy.linalg

from zoo.training import Heun, Trainer


def _linear_data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    y = (x @ np.array([[1.5], [-2.0], [0.5]]) + 0.3 + 0.1 * rng.normal(size=(n, 1))).astype(
        "float32"
    )
    return x, y


def test_reaches_closed_form_least_squares():
    x, y = _linear_data()
    design = np.hstack([x, np.ones((len(x), 1))]).astype("float64")
    solution, *_ = np.linalg.lstsq(design, y.astype("float64"), rcond=None)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    trainer = Trainer(model=model, optimizer=keras.optimizers.SGD(0.3), loss="mse", seed=0)
    trainer.fit((x, y), epochs=40, batch_size=len(x), verbose=0)
    kernel, bias = model.get_weights()
    np.testing.assert_allclose(kernel[:, 0], solution[:3, 0], atol=1e-4)
    np.testing.assert_allclose(bias, solution[3], atol=1e-4)


def _mlp(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)]
    )


@pytest.mark.parametrize(("weighted", "steps_per_execution"), [(False, 1), (True, 1), (True, 4)])
def test_same_losses_and_weights_as_model_fit(weighted, steps_per_execution):
    x, y = _linear_data(n=100)
    weights = np.linspace(0.5, 1.5, len(x)).astype("float32")
    data = (x, y, weights) if weighted else (x, y)
    reference = _mlp(3)
    ours = _mlp(3)
    ours.set_weights(reference.get_weights())
    reference.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    fitted = reference.fit(
        x,
        y,
        sample_weight=weights if weighted else None,
        batch_size=16,  # 100 = 6 × 16 + 4: the last batch is partial
        epochs=3,
        shuffle=False,
        verbose=0,
    )
    trainer = Trainer(
        model=ours,
        optimizer=keras.optimizers.SGD(0.05),
        loss="mse",
        steps_per_execution=steps_per_execution,  # 4: one call of 4 steps, then 3 single steps
    )
    history = trainer.fit(data, epochs=3, batch_size=16, shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["loss"], fitted.history["loss"], rtol=1e-5)
    for a, b in zip(ours.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_evaluate_and_predict_match_numpy():
    x, y = _linear_data(n=50)
    model = _mlp(1)
    trainer = Trainer(model=model, loss="mse", metrics=["mae"])
    logs = trainer.evaluate((x, y), batch_size=16)
    prediction = trainer.predict(x, batch_size=16)
    kernel0, bias0, kernel1, bias1 = model.get_weights()
    expected = np.tanh(x @ kernel0 + bias0) @ kernel1 + bias1
    np.testing.assert_allclose(prediction, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logs["loss"], np.mean((expected - y) ** 2), rtol=1e-5)
    np.testing.assert_allclose(logs["mae"], np.mean(np.abs(expected - y)), rtol=1e-5)


def test_clip_norm_clips_the_exact_gradient():
    x, y = _linear_data(n=64)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, use_bias=False)])
    w0 = model.get_weights()[0].astype("float64")
    gradient = 2.0 / len(x) * x.T.astype("float64") @ (x @ w0 - y)  # d/dw mean((xw - y)^2)
    norm = np.linalg.norm(gradient)
    clip, lr = 0.1 * norm, 0.5
    trainer = Trainer(model=model, optimizer=keras.optimizers.SGD(lr), loss="mse", clip_norm=clip)
    history = trainer.fit((x, y), epochs=1, batch_size=len(x), shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["grad_norm"][0], norm, rtol=1e-5)
    expected = w0 - lr * gradient * (clip / norm)
    np.testing.assert_allclose(model.get_weights()[0], expected, rtol=1e-5, atol=1e-6)


def _flow_error(optimizer_cls, step, steps, x, a_matrix, w0):
    """Run `steps` full-batch steps on L(w) = mean((xw)^2); error against e^{-At} w0."""
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(1, use_bias=False)])
    model.set_weights([w0.astype("float32")])
    trainer = Trainer(model=model, optimizer=optimizer_cls(learning_rate=step), loss="mse")
    zeros = np.zeros((len(x), 1), "float32")
    trainer.fit((x, zeros), epochs=steps, batch_size=len(x), shuffle=False, verbose=0)
    exact = scipy.linalg.expm(-a_matrix * step * steps) @ w0
    return model.get_weights()[0].astype("float64"), np.linalg.norm(model.get_weights()[0] - exact)


def test_heun_follows_the_gradient_flow_better_than_euler():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(64, 3)).astype("float32")
    a_matrix = 2.0 * x.T.astype("float64") @ x.astype("float64") / len(x)  # ∇L(w) = A w
    w0 = np.array([[1.0], [-1.0], [0.5]])
    step, steps = 0.1, 10  # integrate to t = 1
    identity = np.eye(3)
    euler_w, euler = _flow_error(keras.optimizers.SGD, step, steps, x, a_matrix, w0)
    heun_w, heun = _flow_error(Heun, step, steps, x, a_matrix, w0)
    # Each method's own closed form on a linear ODE: (I - hA)^k and (I - hA + h²A²/2)^k.
    euler_closed = np.linalg.matrix_power(identity - step * a_matrix, steps) @ w0
    heun_amp = identity - step * a_matrix + 0.5 * (step * a_matrix) @ (step * a_matrix)
    heun_closed = np.linalg.matrix_power(heun_amp, steps) @ w0
    np.testing.assert_allclose(euler_w, euler_closed, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(heun_w, heun_closed, rtol=1e-4, atol=1e-6)
    assert heun < euler / 5
    # Orders: halving h halves Euler's error (O(h)) and quarters Heun's (O(h²)).
    _, euler_half = _flow_error(keras.optimizers.SGD, step / 2, 2 * steps, x, a_matrix, w0)
    _, heun_half = _flow_error(Heun, step / 2, 2 * steps, x, a_matrix, w0)
    assert 1.7 < euler / euler_half < 2.3
    assert 3.4 < heun / heun_half < 4.6


def test_named_outputs_with_a_loss_each_match_model_fit():
    x, y = _linear_data(n=48)
    y_b = np.hstack([np.sin(y), np.cos(y)]).astype("float32")

    def build():
        keras.utils.set_random_seed(2)
        inputs = keras.Input((3,))
        hidden = keras.layers.Dense(6, activation="tanh")(inputs)
        outputs = {"a": keras.layers.Dense(1)(hidden), "b": keras.layers.Dense(2)(hidden)}
        return keras.Model(inputs, outputs)

    losses, loss_weights = {"a": "mse", "b": "mae"}, {"a": 1.0, "b": 0.5}
    reference = build()
    reference.compile(
        optimizer=keras.optimizers.SGD(0.05),
        loss=losses,
        loss_weights=loss_weights,
        metrics={"a": ["mae"]},
    )
    fitted = reference.fit(x, {"a": y, "b": y_b}, batch_size=16, epochs=2, shuffle=False, verbose=0)
    ours = build()
    trainer = Trainer(
        model=ours,
        optimizer=keras.optimizers.SGD(0.05),
        loss=losses,
        loss_weights=loss_weights,
        metrics={"a": ["mae"]},
    )
    history = trainer.fit(
        (x, {"a": y, "b": y_b}), epochs=2, batch_size=16, shuffle=False, verbose=0
    )
    np.testing.assert_allclose(history.history["loss"], fitted.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(history.history["a_mae"], fitted.history["a_mae"], rtol=1e-5)
    for a, b in zip(ours.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
