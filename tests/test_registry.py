"""Every registered model, looped over the registry: a new preset is tested the day it is added.

For each name in `zoo.registry.list_models()`: the shipped preset loads with a matching sha256 and
a complete card, survives a `.keras` round trip, exports to a SavedModel that a TF1 session (as TF
Serving's C++ server does) runs with equal outputs under stable signature names, and fine-tunes
with plain `model.fit`. Tampered or truncated weights give a clear error and no model.
"""

import hashlib
import shutil

import keras
import numpy as np
import pytest

import zoo
import zoo.registry as registry
from zoo.serving import export
from zoo.serving.session_runner import SessionSignatureRunner

MODELS = registry.list_models()
REQUIRED_CARD_FIELDS = (
    "name",
    "task",
    "data",
    "split",
    "training",
    "metrics",
    "baselines",
    "calculus_layers",
    "weights_sha256",
)
MAX_WEIGHTS_BYTES = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def loaded():
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = registry.load(name)
        return cache[name]

    return get


def _sample_inputs(model: keras.Model, batch: int = 4) -> dict[str, np.ndarray]:
    """Positive raw-unit-like values for every model input (images 0..16, series ~ their level)."""
    rng = np.random.default_rng(0)
    return {
        tensor.name.split(":")[0]: rng.uniform(0.0, 16.0, (batch, *tensor.shape[1:])).astype(
            "float32"
        )
        for tensor in model.inputs
    }


def _call(model, inputs):
    (only,) = inputs.values() if len(inputs) == 1 else (inputs,)
    return {k: keras.ops.convert_to_numpy(v) for k, v in model(only, training=False).items()}


def test_the_four_presets_of_the_issue_are_registered():
    issue = {"anomaly_ucr135", "cnn_digits", "forecaster_co2", "forecaster_sunspots"}
    assert issue <= set(MODELS)
    assert MODELS == sorted(MODELS)
    assert zoo.list_models() == MODELS


def test_the_public_face_resolves_every_name_it_lists():
    import zoo.models.anomaly
    import zoo.models.backtest
    import zoo.serving

    assert zoo.backtest is zoo.models.backtest.backtest
    assert zoo.infer_threshold is zoo.models.anomaly.infer_threshold
    assert zoo.export is zoo.serving.export
    assert zoo.load is registry.load
    for name in zoo.__all__:
        assert getattr(zoo, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        zoo.nope  # noqa: B018


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"Unknown model 'resnet50'. Choose one of: .*cnn_digits"):
        zoo.load("resnet50")


@pytest.mark.parametrize("name", MODELS)
def test_card_is_complete_and_matches_the_weights(name):
    folder = registry.preset_dir(name)
    assert (folder / registry.CARD_FILE).exists(), f"{name} ships no card: run `zoo train {name}`"
    card = zoo.info(name)
    missing = [field for field in REQUIRED_CARD_FIELDS if field not in card]
    assert not missing, f"card of {name} lacks {missing}"
    assert card["name"] == name
    assert card["task"] == registry.get_preset(name).task
    assert card["summary"]  # the card's own, or the registry's one-liner
    assert card["training"]["command"] == f"zoo train {name}"
    assert "seed" in card["training"]
    assert card["metrics"] and card["baselines"]
    weights = folder / registry.WEIGHTS_FILE
    assert card["weights_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert weights.stat().st_size <= MAX_WEIGHTS_BYTES


@pytest.mark.parametrize("name", MODELS)
def test_outputs_are_a_dict_and_inputs_are_named(name, loaded):
    model = loaded(name)
    assert isinstance(model.output, dict)
    assert all(tensor.name for tensor in model.inputs)
    preset = registry.get_preset(name)
    for signature, keys in preset.signatures.items():
        assert set(keys) <= set(model.output), f"signature {signature} names unknown outputs"
    # build() gives the same architecture, untrained
    fresh = zoo.build(name)
    assert [w.shape for w in fresh.weights] == [w.shape for w in model.weights]


@pytest.mark.parametrize("name", MODELS)
def test_keras_round_trip(name, loaded, tmp_path):
    model = loaded(name)
    inputs = _sample_inputs(model)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    expected, actual = _call(model, inputs), _call(reloaded, inputs)
    assert set(actual) == set(expected)
    for key in expected:
        np.testing.assert_allclose(actual[key], expected[key], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", MODELS)
def test_export_runs_in_a_tf1_session_with_equal_outputs(name, loaded, tmp_path):
    model = loaded(name)
    preset = registry.get_preset(name)
    inputs = _sample_inputs(model)
    expected = _call(model, inputs)
    version_dir = export(model, tmp_path / name, version=1, signatures=preset.signatures)
    with SessionSignatureRunner(version_dir) as runner:
        assert set(runner.signature_names) == {"serving_default", *preset.signatures}
        assert runner.input_names() == sorted(inputs)
        served = runner.run(inputs)
        assert set(served) == set(expected)
        for key in expected:
            np.testing.assert_allclose(served[key], expected[key], rtol=1e-4, atol=1e-5)
        for signature, keys in preset.signatures.items():
            assert runner.output_names(signature) == sorted(keys)
            answer = runner.run(inputs, signature=signature)
            for key in keys:
                np.testing.assert_allclose(answer[key], expected[key], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_model_fit_fine_tunes_every_float_output(name):
    model = zoo.load(name)
    inputs = _sample_inputs(model, batch=8)
    outputs = _call(model, inputs)
    trainable = [k for k, v in outputs.items() if np.issubdtype(v.dtype, np.floating)]
    assert trainable, f"{name} has no float output to train"
    rng = np.random.default_rng(1)
    targets = {k: outputs[k] + rng.normal(0, 0.1, outputs[k].shape) for k in trainable}
    before = [w.copy() for w in model.get_weights()]
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss={k: "mse" for k in trainable})
    (x,) = inputs.values()
    history = model.fit(x, targets, epochs=2, batch_size=4, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    changed = [not np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True)]
    assert any(changed)


@pytest.mark.parametrize("name", MODELS)
def test_trainer_fine_tunes_every_model(name):
    from zoo.training import Trainer

    model = zoo.load(name)
    inputs = _sample_inputs(model, batch=8)
    outputs = _call(model, inputs)
    key = next(k for k, v in outputs.items() if np.issubdtype(v.dtype, np.floating))
    target = (outputs[key] + np.random.default_rng(2).normal(0, 0.1, outputs[key].shape)).astype(
        "float32"
    )
    before = [keras.ops.convert_to_numpy(w).copy() for w in model.trainable_weights]
    trainer = Trainer(
        model=model,
        optimizer=keras.optimizers.Adam(1e-3),
        # the model's output is a dict: the loss picks the output it trains
        loss=lambda y, predicted: keras.ops.square(predicted[key] - y),
        seed=0,
    )
    (x,) = inputs.values()
    history = trainer.fit((x, target), epochs=2, batch_size=4, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    after = model.trainable_weights
    assert any(
        not np.array_equal(a, keras.ops.convert_to_numpy(b))
        for a, b in zip(before, after, strict=True)
    )


@pytest.fixture
def preset_copy(tmp_path, monkeypatch):
    """A private copy of the pretrained folders, so tampering never touches the package."""
    root = tmp_path / "pretrained"
    shutil.copytree(registry.PRETRAINED_DIR, root)
    monkeypatch.setattr(registry, "PRETRAINED_DIR", root)
    return root


@pytest.mark.parametrize("name", MODELS)
def test_tampered_weights_are_refused(name, preset_copy):
    weights = preset_copy / name / registry.WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    result = None
    with pytest.raises(ValueError, match=rf"'{name}' fail their checksum"):
        result = registry.load(name)
    assert result is None


@pytest.mark.parametrize("name", MODELS)
def test_truncated_or_missing_weights_are_refused(name, preset_copy):
    weights = preset_copy / name / registry.WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ValueError, match="checksum"):
        registry.load(name)
    weights.unlink()
    with pytest.raises(FileNotFoundError, match=r"weights of .* are missing"):
        registry.load(name)
