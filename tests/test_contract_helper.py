"""The contract helper itself catches a broken layer (so the layer tests built on it can fail)."""

import keras
import numpy as np
import pytest
from zoo_layer_contract import check_layer_contract


def test_contract_passes_for_a_stock_layer(tmp_path):
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    y = check_layer_contract(lambda: keras.layers.Dense(2, activation="tanh"), x, tmp_path)
    assert y.shape == (4, 2)


@keras.saving.register_keras_serializable(package="zoo_tests")
class _WrongOutputShape(keras.layers.Layer):
    def call(self, x):
        return keras.ops.concatenate([x, x], axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape


def test_contract_catches_a_wrong_output_shape(tmp_path):
    x = np.ones((2, 3), dtype="float32")
    with pytest.raises(AssertionError, match="compute_output_shape"):
        check_layer_contract(_WrongOutputShape, x, tmp_path)
