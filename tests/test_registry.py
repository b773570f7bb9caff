"""Every registered model, looped over the registry: a new preset is tested the day it is added.

For each name in `zoo.registry.list_models()`: the shipped preset loads with every file matching
its SHA256SUMS and a complete card, survives a `.keras` round trip, exports to a SavedModel that a
TF1 session (as TF Serving's C++ server does) runs with equal outputs under stable signature names,
and fine-tunes with plain `model.fit` and with the Trainer. A tampered, truncated, missing or
unreadable preset file is an error that names the file.
"""

import hashlib
import json
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
        tensor.name.split(":")[0]: rng.uniform(0.0, 16.0, (batch, *_fixed(tensor.shape))).astype(
            "float32"
        )
        for tensor in model.inputs
    }


def _fixed(shape) -> tuple[int, ...]:
    """The input's shape without the batch axis, a free length (a series model's) set to 24."""
    return tuple(24 if size is None else size for size in shape[1:])


def _call(model, inputs):
    (only,) = inputs.values() if len(inputs) == 1 else (inputs,)
    return {k: keras.ops.convert_to_numpy(v) for k, v in model(only, training=False).items()}


def test_the_four_presets_of_the_issue_are_registered():
    issue = {"anomaly_ucr135", "cnn_digits", "forecaster_co2", "forecaster_sunspots"}
    assert issue <= set(MODELS)
    assert MODELS == sorted(MODELS)
    assert zoo.list_models() == MODELS


def test_the_public_face_resolves_every_name_it_lists():
    import zoo.models.anomaly.model
    import zoo.own_data
    import zoo.serving

    assert zoo.backtest is zoo.own_data.backtest
    assert zoo.fine_tune is zoo.own_data.fine_tune
    assert zoo.infer_threshold is zoo.models.anomaly.model.infer_threshold
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
    assert (folder / "card.json").exists(), f"{name} ships no card: run `zoo train {name}`"
    card = zoo.info(name)
    missing = [field for field in REQUIRED_CARD_FIELDS if field not in card]
    assert not missing, f"card of {name} lacks {missing}"
    assert card["name"] == name
    assert card["task"] == registry.get_preset(name).task
    assert card["summary"]  # the card's own, or the registry's one-liner
    seed = card["training"]["seed"]
    assert card["training"]["command"] == f"zoo train {name}" + (f" --seed {seed}" if seed else "")
    assert card["metrics"] and card["baselines"]
    weights = folder / "model.weights.h5"
    assert card["weights_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert weights.stat().st_size <= MAX_WEIGHTS_BYTES
    # SHA256SUMS (sha256sum's format) covers the config, the weights and the card
    sums = dict(
        reversed(line.split("  ", 1)) for line in (folder / "SHA256SUMS").read_text().splitlines()
    )
    assert set(sums) == {"config.json", "model.weights.h5", "card.json"}
    for file_name, digest in sums.items():
        assert hashlib.sha256((folder / file_name).read_bytes()).hexdigest() == digest


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
        # the same graph and weights on the same batch: float32 ulps of the output's scale
        scale = max(1.0, float(np.max(np.abs(expected[key].astype("float64")))))
        np.testing.assert_allclose(actual[key], expected[key], rtol=0, atol=1e-5 * scale)


# Every preset's export is loaded by the C++ loader and replayed against Keras in CI by
# tests/test_serving_zoo_models.py; this broader check (every signature on sampled inputs)
# exports each preset once more, so it runs with --runslow.
@pytest.mark.slow
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
        clear = _undecided_by_rounding(model, expected)
        for key in expected:
            _assert_served_equal(served[key], expected[key], clear)
        for signature, keys in preset.signatures.items():
            assert runner.output_names(signature) == sorted(keys)
            answer = runner.run(inputs, signature=signature)
            for key in keys:
                _assert_served_equal(answer[key], expected[key], clear)


def _undecided_by_rounding(model, expected) -> np.ndarray | None:
    """Rows whose flag no float rounding can flip: the score is not within 1e-4 of the threshold."""
    if "is_anomaly" not in expected:
        return None
    threshold = float(keras.ops.convert_to_numpy(model.get_layer("threshold").threshold))
    return np.abs(expected["score"] - threshold) > 1e-4 * max(1.0, abs(threshold))


def _assert_served_equal(served, expected, clear):
    """Another graph (a TF1 session; oneDNN on or off) sums in another order. Float outputs: up
    to ~1e-5 of their scale seen across machines, so 1e-4 of the scale (10x). Flags are compared
    where no rounding can decide them; class ids exactly."""
    if np.issubdtype(expected.dtype, np.floating):
        scale = max(1.0, float(np.max(np.abs(expected.astype("float64")))))
        np.testing.assert_allclose(served, expected, rtol=0, atol=1e-4 * scale)
    elif expected.dtype == bool and clear is not None:
        np.testing.assert_array_equal(served[clear], expected[clear])
    else:
        np.testing.assert_array_equal(served, expected)


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
@pytest.mark.parametrize("file_name", ["model.weights.h5", "config.json", "card.json"])
def test_a_changed_preset_file_is_refused_by_name(name, file_name, preset_copy):
    path = preset_copy / name / file_name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit: JSON stays JSON-looking, weights stay HDF5-sized
    path.write_bytes(bytes(data))
    with pytest.raises(registry.PresetFileError, match=rf"{file_name} fails its checksum"):
        registry.load(name)


def test_a_changed_config_never_changes_predictions_silently(preset_copy):
    path = preset_copy / "forecaster_co2" / "config.json"
    config = json.loads(path.read_text())
    config["band_scale"] *= 2
    path.write_text(json.dumps(config))
    with pytest.raises(registry.PresetFileError, match=r"config\.json fails its checksum"):
        registry.build("forecaster_co2")
    with pytest.raises(registry.PresetFileError, match=r"config\.json fails its checksum"):
        registry.load("forecaster_co2")


@pytest.mark.parametrize("name", MODELS)
def test_truncated_or_missing_files_are_refused_by_name(name, preset_copy):
    weights = preset_copy / name / "model.weights.h5"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(registry.PresetFileError, match=r"model\.weights\.h5 fails its checksum"):
        registry.load(name)
    weights.unlink()
    with pytest.raises(registry.PresetFileError, match=r"model\.weights\.h5 is missing"):
        registry.load(name)
    (preset_copy / name / "SHA256SUMS").unlink()
    with pytest.raises(registry.PresetFileError, match="has no SHA256SUMS"):
        registry.info(name)


def test_a_damaged_checksum_file_is_refused_by_line(preset_copy):
    (preset_copy / "cnn_digits" / "SHA256SUMS").write_text("not a checksum\n")
    with pytest.raises(registry.PresetFileError, match=r"SHA256SUMS line 1 must read"):
        registry.info("cnn_digits")


def test_a_retrained_folder_loads_in_place_of_the_shipped_preset(tmp_path, loaded):
    # `zoo train NAME --output-dir DIR` writes a preset folder; load(NAME, DIR) reads its own
    # config.json and weights, checked the same way, and leaves the shipped preset alone.
    name = "forecaster_co2"
    folder = tmp_path / "run"
    shutil.copytree(registry.preset_dir(name), folder)
    model = registry.load(name, folder)
    x = np.linspace(300.0, 310.0, model.get_config()["window"], dtype="float32")[None, :, None]
    expected = loaded(name).predict(x, verbose=0)["forecast"]
    np.testing.assert_array_equal(model.predict(x, verbose=0)["forecast"], expected)
    # The folder's config wins: a band scale doubled (checksums rewritten) doubles the band.
    config = json.loads((folder / "config.json").read_text())
    config["band_scale"] *= 2
    (folder / "config.json").write_text(json.dumps(config))
    lines = (folder / "SHA256SUMS").read_text().splitlines()
    digest = hashlib.sha256((folder / "config.json").read_bytes()).hexdigest()
    (folder / "SHA256SUMS").write_text(
        "\n".join(
            f"{digest}  config.json" if line.endswith("config.json") else line for line in lines
        )
        + "\n"
    )
    wider = registry.load(name, folder).predict(x, verbose=0)["quantiles"]
    shipped = loaded(name).predict(x, verbose=0)["quantiles"]
    np.testing.assert_allclose(
        wider[..., 2] - wider[..., 0], 2 * (shipped[..., 2] - shipped[..., 0]), rtol=1e-4
    )
    assert registry.config(name)["band_scale"] == config["band_scale"] / 2
    (folder / "model.weights.h5").write_bytes(b"damaged")
    with pytest.raises(registry.PresetFileError, match=r"model\.weights\.h5 fails its checksum"):
        registry.load(name, folder)
