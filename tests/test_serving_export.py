"""Export: layout, signatures, C++ loader, warm-up, atomicity, op scan, config."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import prediction_log_pb2
from tensorflow_serving.config import model_server_config_pb2
from test_serving_support import half_plus_two, lstm_detector

from zoo.serving import (
    UnservableGraphError,
    VersionExistsError,
    export,
    find_unservable_ops,
    read_models_config,
    write_models_config,
)
from zoo.serving.c_loader import CSavedModel

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def detector_export(tmp_path_factory):
    model = lstm_detector()
    base = tmp_path_factory.mktemp("saved") / "detector"
    rng = np.random.default_rng(1)
    warm = [rng.standard_normal((2, 104, 1)).astype("float32")]
    path = export(model, base, signatures={"score": ["score"]}, warmup_inputs=warm)
    return model, base, path


def test_layout_and_named_signatures(detector_export):
    _, base, path = detector_export
    assert path == base / "1"
    assert {"saved_model.pb", "variables", "assets", "assets.extra"} <= set(os.listdir(path))
    assert (path / "assets.extra" / "tf_serving_warmup_requests").is_file()
    assert [p.name for p in base.iterdir()] == ["1"]  # no temporary directory left behind
    with CSavedModel(path) as runner:
        assert runner.signature_names == ["score", "serving_default"]
        assert runner.input_names() == ["series"]
        assert runner.output_names() == ["forecast", "score"]
        assert runner.output_names("score") == ["score"]
        series = runner.signature_defs["serving_default"].inputs["series"]
        assert [d.size for d in series.tensor_shape.dim] == [-1, 104, 1]
        assert series.dtype == tf.float32.as_datatype_enum


def test_warmup_records_parse_and_replay(detector_export):
    model, _, path = detector_export
    raw = list(
        tf.data.TFRecordDataset(
            str(path / "assets.extra/tf_serving_warmup_requests")
        ).as_numpy_iterator()
    )
    assert 1 <= len(raw) <= 1000
    logs = [prediction_log_pb2.PredictionLog.FromString(r) for r in raw]
    assert {log.predict_log.request.model_spec.signature_name for log in logs} == {
        "serving_default",
        "score",
    }
    with CSavedModel(path) as runner:
        for log in logs:
            request = log.predict_log.request
            assert request.model_spec.name == "detector"
            x = tf.make_ndarray(request.inputs["series"])
            assert x.shape == (2, 104, 1)
            served = runner.run({"series": x}, request.model_spec.signature_name)
            expected = keras.ops.convert_to_numpy(model(x, training=False)["score"])
            # softplus scores <= ~1 after a 104-step LSTM: ~1e-6 from float32 reordering at worst
            # (measured: identical), 1e-5 leaves 10x.
            np.testing.assert_allclose(served["score"], expected, atol=1e-5)


def test_half_plus_two_single_output_is_named_output(tmp_path):
    path = export(half_plus_two(), tmp_path / "hpt", warmup=False)
    with CSavedModel(path) as runner:
        out = runner.run({"x": np.array([[1.0], [2.0], [5.0]], "float32")})
    assert list(out) == ["output"]
    np.testing.assert_allclose(out["output"], [[2.5], [3.0], [4.5]])
    assert not (path / "assets.extra").exists()


def test_versions_increment_and_overwrite_is_refused(tmp_path):
    base = tmp_path / "hpt"
    assert export(half_plus_two(), base, warmup=False).name == "1"
    assert export(half_plus_two(), base, warmup=False).name == "2"
    with pytest.raises(VersionExistsError, match="`version` 2 already exists"):
        export(half_plus_two(0.0, 9.0), base, version=2, warmup=False)
    with CSavedModel(base / "2") as runner:  # untouched by the refused export
        np.testing.assert_allclose(runner.run({"x": np.ones((1, 1), "float32")})["output"], 2.5)
    export(half_plus_two(0.0, 9.0), base, version=2, warmup=False, overwrite=True)
    with CSavedModel(base / "2") as runner:
        np.testing.assert_allclose(runner.run({"x": np.ones((1, 1), "float32")})["output"], 9.0)
    assert sorted(p.name for p in base.iterdir()) == ["1", "2"]


def test_bad_arguments_name_the_argument(tmp_path):
    with pytest.raises(ValueError, match="`version` must be a positive integer"):
        export(half_plus_two(), tmp_path / "m", version=0)
    with pytest.raises(ValueError, match=r"`signatures\['score'\]` must list output keys"):
        export(lstm_detector(), tmp_path / "m", signatures={"score": ["nope"]})
    with pytest.raises(ValueError, match="`warmup_inputs` must have the keys"):
        export(half_plus_two(), tmp_path / "m", warmup_inputs={"y": np.ones((1, 1))})
    assert not (tmp_path / "m").exists() or not any((tmp_path / "m").iterdir())


@keras.saving.register_keras_serializable(package="zoo_tests")
class PyFunctionLayer(keras.layers.Layer):
    def call(self, x):
        y = tf.py_function(lambda t: t * 2.0, [x], tf.float32)
        y.set_shape(x.shape)
        return y


def test_py_function_fails_the_export_and_leaves_nothing(tmp_path):
    base = tmp_path / "m"
    export(half_plus_two(), base, warmup=False)
    x = keras.Input(shape=(1,), name="x")
    bad = keras.Model(x, PyFunctionLayer()(x))
    with pytest.raises(UnservableGraphError, match="EagerPyFunc"):
        export(bad, base, warmup=False)
    assert [p.name for p in base.iterdir()] == ["1"]


def test_op_scan_finds_custom_and_xla_ops(tmp_path):
    path = export(half_plus_two(), tmp_path / "m", warmup=False)
    assert find_unservable_ops(path) == []
    proto = saved_model_pb2.SavedModel.FromString((path / "saved_model.pb").read_bytes())
    function = proto.meta_graphs[0].graph_def.library.function[0]
    function.node_def[0].op = "MyCustomSoOp"
    function.attr["_XlaMustCompile"].b = True
    (path / "saved_model.pb").write_bytes(proto.SerializeToString())
    problems = " ".join(find_unservable_ops(path))
    assert "MyCustomSoOp" in problems and "not a core TensorFlow op" in problems
    assert "XLA-compiled" in problems


def test_kill_during_export_leaves_no_numeric_directory(tmp_path):
    base = tmp_path / "m"
    export(half_plus_two(), base, warmup=False)
    # The child exports a second version and is SIGKILLed after the files are written but before
    # the rename that publishes them.
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(REPO / "tests")!r})
        import zoo.serving.exporter as ex
        from test_serving_support import half_plus_two
        def stall(root):
            print("WRITTEN", flush=True)
            time.sleep(120)
        ex._fsync_tree = stall
        ex.export(half_plus_two(), {str(base)!r})
        """
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env, cwd=REPO
    )
    try:
        line = child.stdout.readline()
        assert line.strip() == "WRITTEN"
        hidden = [p.name for p in base.iterdir() if not p.name.isdigit()]
        assert hidden, "the export should be in progress in a hidden directory"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert sorted(p.name for p in base.iterdir() if p.name.isdigit()) == ["1"]
    assert all(not p.name[0].isdigit() for p in base.iterdir() if p.name != "1")
    leftovers = [p for p in base.iterdir() if not p.name.isdigit()]
    day_old = time.time() - 2 * 24 * 3600
    for leftover in leftovers:
        os.utime(leftover, (day_old, day_old))
    assert export(half_plus_two(), base, warmup=False).name == "2"  # the next export still works
    assert sorted(p.name for p in base.iterdir()) == ["1", "2"]  # and swept the stale leftovers


def test_models_config_is_tf_serving_text_format(tmp_path):
    export(half_plus_two(), tmp_path / "hpt", warmup=False)
    export(half_plus_two(), tmp_path / "hpt", warmup=False)
    export(half_plus_two(), tmp_path / "other", warmup=False)
    (tmp_path / "not_a_model").mkdir()
    path = write_models_config(
        tmp_path,
        version_policy={"hpt": {"specific": [1, 2]}, "other": {"latest": 2}},
        version_labels={"hpt": {"stable": 1, "canary": 2}},
    )
    config = text_format.Parse(path.read_text(), model_server_config_pb2.ModelServerConfig())
    models = {m.name: m for m in config.model_config_list.config}
    assert sorted(models) == ["hpt", "other"]
    assert models["hpt"].base_path == "/models/hpt"
    assert models["hpt"].model_platform == "tensorflow"
    assert list(models["hpt"].model_version_policy.specific.versions) == [1, 2]
    assert dict(models["hpt"].version_labels) == {"stable": 1, "canary": 2}
    assert models["other"].model_version_policy.latest.num_versions == 2
    entries = {e.name: e for e in read_models_config(path)}
    assert entries["hpt"].policy == ("specific", (1, 2))
    assert entries["other"].policy == ("latest", (2,))
    # Re-running (as `zoo export --write-config` does) keeps hand-set policies and labels.
    write_models_config(tmp_path)
    again = {e.name: e for e in read_models_config(path)}
    assert again["hpt"].policy == ("specific", (1, 2))
    assert dict(again["hpt"].labels) == {"stable": 1, "canary": 2}
    write_models_config(tmp_path, version_labels={"hpt": {}})
    assert read_models_config(path)[0].labels == {}
    with pytest.raises(ValueError, match="`version_policy` must be one of"):
        write_models_config(tmp_path, version_policy={"hpt": {"newest": 1}})
