"""TensorFlow's C++ SavedModel loader (the one TF Serving links) through the wheel's C API.

Every export is loaded with `TF_LoadSessionFromSavedModel` (tag `serve`) and run by tensor name
with `TF_SessionRun`; its warm-up records are replayed; the answers are compared with Keras.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from test_serving_support import half_plus_two, ode_model

from zoo.serving import c_loader, export, read_warmup_records
from zoo.serving.c_loader import CApiError, CSavedModel, library, tensorflow_library_path
from zoo.serving.warmup import request_arrays

# float32 graph vs eager: the same ops in another order. A few dozen ops deep (the ODE solver: ~10
# accepted steps x 6 stages), each rounding by eps32 ~ 1.2e-7, on values of order 1: ~1e-5; the
# adaptive solver may also accept a step at another size within its tolerance 1e-6. x10 margin.
# Measured: identical outputs (oneDNN on and off).
ODE_RTOL, ODE_ATOL = 1e-4, 1e-4
C_LOADER_FILE = c_loader.__file__


def _keras(model, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    args = next(iter(inputs.values())) if len(inputs) == 1 else list(inputs.values())
    out = model(args, training=False)
    out = out if isinstance(out, dict) else {"output": out}
    return {k: keras.ops.convert_to_numpy(v) for k, v in out.items()}


def test_the_c_api_comes_from_the_tensorflow_wheel():
    path = tensorflow_library_path()
    assert path.name == "libtensorflow_cc.so.2" and path.parent.name == "tensorflow"
    lib = library()
    for symbol in ("TF_LoadSessionFromSavedModel", "TF_SessionRun", "TF_GraphOperationByName"):
        assert getattr(lib, symbol) is not None


def test_half_plus_two_runs_by_tensor_name(tmp_path):
    path = export(half_plus_two(), tmp_path / "hpt", warmup=False)
    with CSavedModel(path) as loaded:
        assert loaded.signature_names == ["serving_default"]
        assert loaded.signature_defs["serving_default"].inputs["x"].name.endswith(":0")
        out = loaded.run({"x": np.array([[1.0], [2.0], [5.0]])})  # float64 cast to float32
    assert out["output"].dtype == np.float32
    np.testing.assert_array_equal(out["output"], [[2.5], [3.0], [4.5]])  # exact in float32


def test_string_tensors_cross_the_c_boundary(tmp_path):
    import tensorflow as tf

    class Twice(keras.layers.Layer):
        def call(self, s):
            return tf.strings.join([s, s])

    text = keras.Input(shape=(), dtype="string", name="text")
    path = export(keras.Model(text, Twice()(text)), tmp_path / "s", warmup=False)
    values = np.array([b"ab", "é".encode() * 40, b""], dtype=object)  # inline and heap TF_TStrings
    with CSavedModel(path) as loaded:
        for _ in range(3):  # repeated runs: no use-after-free of the fed strings
            out = loaded.run({"text": values})["output"]
            assert out.tolist() == [v + v for v in values]


def test_errors_carry_tensorflows_code(tmp_path):
    path = export(half_plus_two(), tmp_path / "hpt", warmup=False)
    with pytest.raises(CApiError) as missing_tag:
        CSavedModel(path, tags=("train",))
    assert missing_tag.value.code == "NOT_FOUND" and "train" in missing_tag.value.message
    with pytest.raises(CApiError):
        CSavedModel(tmp_path / "nowhere")
    with CSavedModel(path) as loaded:
        with pytest.raises(CApiError) as bad_shape:
            loaded.run({"x": np.ones((2, 3), "float32")})
        assert bad_shape.value.code == "INVALID_ARGUMENT"
        with pytest.raises(ValueError, match="`inputs` must have exactly the keys"):
            loaded.run({"y": np.ones((1, 1), "float32")})


def test_ode_block_model_warmup_replays_like_keras(tmp_path):
    model = ode_model()
    rng = np.random.default_rng(3)
    warm = [rng.standard_normal((n, 3)).astype("float32") for n in (1, 5)]
    path = export(model, tmp_path / "ode", warmup_inputs=warm)
    records = read_warmup_records(path)
    assert len(records) == 2
    with CSavedModel(path) as loaded:
        for record, sent in zip(records, warm, strict=True):
            signature, inputs = request_arrays(record)
            np.testing.assert_array_equal(inputs["features"], sent)  # the caller's inputs
            served = loaded.run(inputs, signature)
            expected = _keras(model, inputs)
            np.testing.assert_allclose(
                served["output"], expected["output"], rtol=ODE_RTOL, atol=ODE_ATOL
            )


def test_a_fresh_process_with_only_the_loader_module_runs_the_export(tmp_path):
    model = ode_model()
    path = export(model, tmp_path / "ode", warmup=False)
    x = np.random.default_rng(4).standard_normal((4, 3)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    script = textwrap.dedent(
        f"""
        import importlib.util, sys, numpy as np
        # The loader module alone, by its path: no `zoo` package, no model code.
        spec = importlib.util.spec_from_file_location("c_loader", {str(C_LOADER_FILE)!r})
        c_loader = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(c_loader)
        with c_loader.CSavedModel({str(path)!r}) as loaded:
            out = loaded.run({{"features": np.load({str(tmp_path / "x.npy")!r})}})
        np.save({str(tmp_path / "out.npy")!r}, out["output"])
        assert "zoo" not in sys.modules, "the C loader must not need the zoo package"
        """
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    subprocess.run([sys.executable, "-c", script], check=True, timeout=180, env=env)
    np.testing.assert_allclose(
        np.load(tmp_path / "out.npy"),
        _keras(model, {"features": x})["output"],
        rtol=ODE_RTOL,
        atol=ODE_ATOL,
    )
