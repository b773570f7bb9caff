"""Every registered zoo model with shipped weights exports and answers like its Keras self.

A preset added to the registry is tested here the day its weights land.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from zoo import registry
from zoo.serving import SessionSignatureRunner, export, find_unservable_ops


def _has_weights(name: str) -> bool:
    return (registry.preset_dir(name) / registry.WEIGHTS_FILE).exists()


@pytest.mark.parametrize("name", registry.list_models())
def test_zoo_model_exports_with_named_signatures_and_serves_like_keras(name, tmp_path):
    if not _has_weights(name):
        pytest.skip(f"{name} has no pretrained weights yet")
    model = registry.load(name)
    signatures = dict(registry.get_preset(name).signatures)
    path = export(model, tmp_path / name, signatures=signatures)
    assert find_unservable_ops(path) == []
    rng = np.random.default_rng(0)
    inputs = {
        # A free (None) time axis gets 40 steps.
        spec.name: rng.standard_normal((3, *[d or 40 for d in spec.shape[1:]])).astype(spec.dtype)
        for spec in model.inputs
    }
    keras_in = next(iter(inputs.values())) if len(inputs) == 1 else list(inputs.values())
    expected = model(keras_in, training=False)
    expected = expected if isinstance(expected, dict) else {"output": expected}
    with SessionSignatureRunner(path) as runner:
        assert runner.signature_names == sorted({"serving_default", *signatures})
        assert not any(k.startswith("output_") for k in runner.output_names())
        served = runner.run(dict(zip(runner.input_names(), inputs.values(), strict=True)))
        for key, value in expected.items():
            np.testing.assert_allclose(
                served[key], keras.ops.convert_to_numpy(value), rtol=1e-4, atol=1e-5
            )
        for signature, keys in signatures.items():
            assert runner.output_names(signature) == sorted(keys)
