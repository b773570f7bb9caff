"""Every registered zoo model exports, loads in TensorFlow's C++ loader and answers like Keras.

The export's own warm-up records are replayed through `TF_SessionRun` (the C API of the wheel's
TensorFlow library, as TF Serving replays them) and compared with the Keras model on the same
inputs. A preset added to the registry is tested here the day its weights land.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from zoo import registry
from zoo.serving import export, find_unservable_ops, read_warmup_records
from zoo.serving.c_loader import CSavedModel
from zoo.serving.warmup import request_arrays

# float32, graph (C++ session) vs eager Keras: the same kernels, fused or ordered differently. The
# deepest preset chains ~100 LSTM steps (a few matmuls and activations each, rounding by eps32 ~
# 1.2e-7 relative) on values up to ~800 (anomaly scores): ~1e-5 relative at worst. Measured, with
# oneDNN on and off: at most 4% of this tolerance (forecaster_co2); atol covers values near zero.
RTOL, ATOL = 1e-4, 1e-5


def _has_weights(name: str) -> bool:
    return (registry.preset_dir(name) / registry.WEIGHTS_FILE).exists()


def _assert_like_keras(served: dict, expected: dict, keys) -> None:
    for key in keys:
        want = keras.ops.convert_to_numpy(expected[key])
        if want.dtype.kind == "f":
            np.testing.assert_allclose(served[key], want, rtol=RTOL, atol=ATOL, err_msg=key)
        else:
            np.testing.assert_array_equal(served[key], want, err_msg=key)


@pytest.mark.parametrize("name", registry.list_models())
def test_zoo_model_loads_in_the_cpp_loader_and_replays_warmup_like_keras(name, tmp_path):
    if not _has_weights(name):
        pytest.skip(f"{name} has no pretrained weights yet")
    model = registry.load(name)
    signatures = dict(registry.get_preset(name).signatures)
    path = export(model, tmp_path / name, signatures=signatures)
    assert find_unservable_ops(path) == []
    records = read_warmup_records(path)
    assert {request_arrays(r)[0] for r in records} == {"serving_default", *signatures}
    with CSavedModel(path, tags=("serve",)) as loaded:
        assert loaded.signature_names == sorted({"serving_default", *signatures})
        assert not any(k.startswith("output_") for k in loaded.output_names())
        for signature, keys in signatures.items():
            assert loaded.output_names(signature) == sorted(keys)
        for record in records:
            signature, inputs = request_arrays(record)
            assert record.predict_log.request.model_spec.name == name
            served = loaded.run(inputs, signature)
            args = next(iter(inputs.values())) if len(inputs) == 1 else list(inputs.values())
            expected = model(args, training=False)
            expected = expected if isinstance(expected, dict) else {"output": expected}
            _assert_like_keras(served, expected, loaded.output_names(signature))
