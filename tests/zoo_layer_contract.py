"""Our own contract check for a custom Keras layer (keras.src is private, so not imported).

`check_layer_contract` asserts, for one layer and one input batch:
  * the output shape equals `compute_output_shape`;
  * `get_config` -> `from_config` rebuilds an equal config (same weights, same outputs);
  * the layer works in a Sequential and in a functional model;
  * a `.keras` round trip gives identical outputs;
  * `model.export()` loaded the way TF Serving loads it (TF1 session, tag `serve`, signature tensors
    by name) gives the same outputs.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from zoo.serving.session_runner import SessionSignatureRunner


def _as_list(shape):
    return [None if d is None else int(d) for d in shape]


def check_layer_contract(
    make_layer,
    x: np.ndarray,
    tmp_path: Path,
    *,
    atol: float = 1e-6,
    rtol: float = 1e-6,
) -> np.ndarray:
    """Run the contract on a fresh layer from `make_layer()` and input batch `x`; return outputs."""
    x = np.asarray(x, dtype="float32")

    # Functional model.
    layer = make_layer()
    inputs = keras.Input(shape=x.shape[1:], name="x")
    model = keras.Model(inputs, layer(inputs))
    y = keras.ops.convert_to_numpy(model(x))
    assert np.all(np.isfinite(y)), "layer output has non-finite values"

    # compute_output_shape, against the actual output.
    declared = _as_list(layer.compute_output_shape((None, *x.shape[1:])))
    assert len(declared) == y.ndim and all(
        d is None or d == s for d, s in zip(declared[1:], y.shape[1:], strict=True)
    ), f"compute_output_shape gave {declared}, the layer returned {y.shape}"

    # Config round trip: same config, and the same outputs once weights are copied.
    config = layer.get_config()
    clone = layer.__class__.from_config(config)
    assert clone.get_config() == config
    clone_model = keras.Sequential([keras.Input(shape=x.shape[1:]), clone])
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(clone_model(x)), y, atol=atol, rtol=rtol)

    # .keras round trip.
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(reloaded(x)), y, atol=atol, rtol=rtol)

    # SavedModel, loaded as TF Serving loads it.
    export_dir = tmp_path / "export"
    model.export(str(export_dir), verbose=False)
    with SessionSignatureRunner(export_dir) as runner:
        (input_name,) = runner.input_names("serving_default")
        outputs = runner.run({input_name: x})
    (served,) = outputs.values()
    np.testing.assert_allclose(served, y, atol=atol, rtol=rtol)
    return y
