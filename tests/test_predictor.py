"""`zoo.predictor`: the compiled inference path answers what the model answers."""

import keras
import numpy as np
import pytest

import zoo


def test_predictor_equals_the_model_for_any_batch_and_chunking():
    model = zoo.load("cnn_digits")
    x = np.random.default_rng(0).uniform(0, 16, (7, 8, 8, 1)).astype("float32")
    expected = {k: keras.ops.convert_to_numpy(v) for k, v in model(x, training=False).items()}
    fast = zoo.predictor(model)
    assert zoo.predictor(model) is fast  # one compiled function per model
    chunked = zoo.predictor(model, batch_size=3)  # 3 + 3 + 1 rows
    for got in (fast(x), chunked(x)):
        # probabilities in [0, 1]: another batch shape may sum in another order (float32 ulps)
        np.testing.assert_allclose(got["probabilities"], expected["probabilities"], atol=1e-5)
        np.testing.assert_array_equal(got["class_id"], expected["class_id"])
    single = fast(x[:1])
    assert single["probabilities"].shape == (1, 10)


def test_predictor_rejects_the_wrong_shape():
    fast = zoo.predictor(zoo.load("forecaster_sunspots"))
    with pytest.raises(ValueError, match=r"`x` must have shape \(batch, 22, 1\).*\(2, 23, 1\)"):
        fast(np.zeros((2, 23, 1)))


def test_predictor_takes_any_size_on_a_free_axis():
    # A model whose time axis is free ((None, None) input, as the universal forecaster's):
    # every length runs through the one compiled function; only the rank is checked.
    inputs = keras.Input((None,))
    model = keras.Model(inputs, keras.ops.cumsum(inputs, axis=1))
    fast = zoo.predictor(model)
    for length in (3, 17):
        x = np.random.default_rng(length).normal(size=(2, length)).astype("float32")
        np.testing.assert_allclose(fast(x), np.cumsum(x, axis=1), rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match=r"\(batch, None\) \(None: any size\)"):
        fast(np.zeros((2, 3, 1)))
