"""Small models and an HTTP client shared by the serving tests (no tests of its own)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from contextlib import contextmanager

import keras
import numpy as np


def half_plus_two(slope: float = 0.5, intercept: float = 2.0) -> keras.Model:
    """TF Serving's example model: y = 0.5 x + 2 (other slope/intercept for a second version)."""
    x = keras.Input(shape=(1,), name="x")
    dense = keras.layers.Dense(
        1,
        kernel_initializer=keras.initializers.Constant(slope),
        bias_initializer=keras.initializers.Constant(intercept),
    )
    return keras.Model(x, dense(x))


def two_in_two_out() -> keras.Model:
    """Inputs a (3,) and b (2,); outputs total = sum(a) + sum(b) (batch, 1) and double = 2a."""
    a = keras.Input(shape=(3,), name="a")
    b = keras.Input(shape=(2,), name="b")
    total = keras.ops.sum(a, axis=1, keepdims=True) + keras.ops.sum(b, axis=1, keepdims=True)
    return keras.Model([a, b], {"total": total, "double": a * 2.0})


def lstm_detector(seed: int = 0) -> keras.Model:
    """A zoo-like series model: (batch, 104, 1) -> {"forecast": (batch, 4), "score": (batch, 1)}."""
    keras.utils.set_random_seed(seed)
    series = keras.Input(shape=(104, 1), name="series")
    hidden = keras.layers.LSTM(8)(series)
    forecast = keras.layers.Dense(4, name="forecast_head")(hidden)
    score = keras.layers.Dense(1, activation="softplus", name="score_head")(hidden)
    return keras.Model(series, {"forecast": forecast, "score": score})


def ode_model(seed: int = 0) -> keras.Model:
    """x (batch, 3) -> Dense(4) -> ODEBlock (dopri5 over [0, 1], a tanh field) -> Dense(2)."""
    from zoo.layers import ODEBlock

    keras.utils.set_random_seed(seed)
    x = keras.Input(shape=(3,), name="features")
    h = keras.layers.Dense(4)(x)
    field = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, activation="tanh")])
    h = ODEBlock(field, solver="dopri5", rtol=1e-6, atol=1e-6)(h)
    return keras.Model(x, keras.layers.Dense(2)(h))


def http(url: str, body: bytes | str | None = None, timeout: float = 30.0) -> tuple[int, object]:
    """(status, decoded JSON body) for a GET (body None) or a POST; never raises on 4xx/5xx."""
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read().decode())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read().decode())


def predict_json(model: keras.Model, x) -> np.ndarray:
    return keras.ops.convert_to_numpy(model(x))


@contextmanager
def rest_server(manager, **options):
    """Start `manager` and a RestServer on a free loopback port; stop both afterwards."""
    from zoo.serving import RestServer

    manager.start()
    try:
        rest = RestServer(manager, port=0, **options).start()
    except BaseException:
        manager.stop()
        raise
    try:
        yield rest
    finally:
        rest.shutdown()
        manager.stop()
