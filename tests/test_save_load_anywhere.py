"""Anything the zoo writes loads again: `import zoo` + `keras.saving.load_model` in a new process.

Models from `zoo.load`, `zoo.build` and `zoo.training.replace_head` are saved to `.keras` here and
loaded in fresh interpreters that import zoo and Keras in every order a user might (zoo first,
Keras first, TensorFlow first, a zoo sub-package first), then predict the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import zoo
from zoo.training import replace_head

MODELS = zoo.list_models()
IMPORT_ORDERS = {
    "zoo, then keras": "import zoo\nimport keras",
    "keras, then zoo": "import keras\nimport zoo",
    "tensorflow, then zoo": "import tensorflow\nimport zoo\nimport keras",
    "zoo, then tensorflow": "import zoo\nimport tensorflow as tf\nimport keras",
    "a zoo sub-package first": "import zoo.layers\nimport keras",
}
CHILD = """
{imports}
import json, sys
import numpy as np
x = np.load(sys.argv[2])
model = keras.saving.load_model(sys.argv[1])
out = model.predict(x, verbose=0)
out = out if isinstance(out, dict) else {{"output": out}}
print(json.dumps({{k: np.asarray(v).astype("float64").tolist() for k, v in out.items()}}))
"""


def _inputs(model: keras.Model, seed: int) -> np.ndarray:
    """Raw-unit-like inputs: pixel values 0..16, or a series around the training data's level."""
    (tensor,) = model.inputs
    rng = np.random.default_rng(seed)
    shape = tuple(24 if size is None else size for size in tensor.shape[1:])  # a free length
    return rng.uniform(0.0, 16.0, (3, *shape)).astype("float32")


def _assert_same(loaded, model, x):
    expected = model.predict(x, verbose=0)
    expected = expected if isinstance(expected, dict) else {"output": expected}
    assert set(loaded) == set(expected)
    for key, value in expected.items():
        value = np.asarray(value).astype("float64")
        # the same graph and weights, another process: float32 ulps of the output's scale
        scale = max(1.0, float(np.max(np.abs(value))))
        np.testing.assert_allclose(loaded[key], value, rtol=0, atol=1e-5 * scale)


MANY_CHILD = """
import zoo
import keras
import json, sys
import numpy as np
answers = {}
for name in sys.argv[1:]:
    model = keras.saving.load_model(name + ".keras")
    out = model.predict(np.load(name + ".npy"), verbose=0)
    out = out if isinstance(out, dict) else {"output": out}
    answers[name] = {k: np.asarray(v).astype("float64").tolist() for k, v in out.items()}
print(json.dumps(answers))
"""


def _all_load_in_one_new_process(tmp_path, cases) -> None:
    """Save each {name: (model, x)} to `name.keras` and `name.npy`, load them all in one fresh
    interpreter (MANY_CHILD) and check that each predicts there what it predicts here."""
    for name, (model, x) in cases.items():
        model.save(tmp_path / f"{name}.keras")
        np.save(tmp_path / f"{name}.npy", x)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-c", MANY_CHILD, *cases],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answers = json.loads(done.stdout.splitlines()[-1])
    assert set(answers) == set(cases)
    for name, (model, x) in cases.items():
        _assert_same({k: np.asarray(v) for k, v in answers[name].items()}, model, x)


def test_every_pretrained_model_loads_in_a_new_process(tmp_path):
    """All presets saved here, loaded by one fresh interpreter (one start-up for all of them)."""
    cases = {}
    for name in MODELS:
        model = zoo.load(name)
        cases[name] = (model, _inputs(model, 0))
    _all_load_in_one_new_process(tmp_path, cases)


def test_every_import_order_finds_the_custom_objects(tmp_path):
    """One fresh interpreter per import order, all started at once (they wait on their imports
    side by side); each must load the model and predict what it predicts here."""
    model = zoo.load("forecaster_sunspots")
    model.save(tmp_path / "m.keras")
    x = _inputs(model, 1) * 10
    np.save(tmp_path / "x.npy", x)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    children = {
        order: subprocess.Popen(
            [sys.executable, "-c", CHILD.format(imports=imports), "m.keras", "x.npy"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for order, imports in IMPORT_ORDERS.items()
    }
    for order, child in children.items():
        out, err = child.communicate(timeout=600)
        assert child.returncode == 0, f"import order {order!r}: {err[-3000:]}"
        loaded = {k: np.asarray(v) for k, v in json.loads(out.splitlines()[-1]).items()}
        _assert_same(loaded, model, x)


def test_built_and_new_head_models_load_in_a_new_process(tmp_path):
    keras.utils.set_random_seed(0)
    built = zoo.build("cnn_digits", num_classes=3)
    odd_even = replace_head(
        zoo.load("cnn_digits"),
        keep_up_to="features",
        head=keras.layers.Dense(2, activation="softmax"),
    )
    x = _inputs(built, 2)
    _all_load_in_one_new_process(tmp_path, {"built": (built, x), "odd_even": (odd_even, x)})


def test_a_family_model_rebuilds_from_its_config():
    for name in MODELS:
        model = zoo.load(name)
        config = model.get_config()
        rebuilt = type(model).from_config(config)
        assert rebuilt.get_config() == config
        assert [w.shape for w in rebuilt.weights] == [w.shape for w in model.weights]


@pytest.mark.parametrize("name", MODELS)
def test_compile_and_fit_on_one_named_output_with_a_metric(name):
    """Keras-native fine-tuning: a loss and a metric on one output, targets for that one only."""
    model = zoo.load(name)
    x = _inputs(model, 3)
    outputs = model.predict(x, verbose=0)
    key = next(k for k, v in outputs.items() if np.issubdtype(np.asarray(v).dtype, np.floating))
    if key == "probabilities":
        loss, metric, target = "sparse_categorical_crossentropy", "accuracy", np.array([1, 2, 3])
    else:
        loss, metric = "mse", "mae"
        target = np.asarray(outputs[key]) + 0.1
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss={key: loss}, metrics={key: [metric]})
    history = model.fit(x, {key: target}, epochs=2, batch_size=3, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    logged = history.history[f"{key}_{metric}"]
    assert len(logged) == 2 and np.all(np.isfinite(logged))


def test_a_metric_on_an_output_without_targets_is_a_clear_error():
    model = zoo.load("cnn_digits")
    x = _inputs(model, 4)
    model.compile(
        optimizer="adam",
        loss={"probabilities": "sparse_categorical_crossentropy"},
        metrics={"class_id": ["accuracy"]},
    )
    with pytest.raises(ValueError, match="metric was compiled for output 'class_id'"):
        model.fit(x, {"probabilities": np.array([0, 1, 2])}, epochs=1, verbose=0)
