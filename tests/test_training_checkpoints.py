"""Checkpoints: resume continues the run, a damaged folder is a clear error (nothing lost),
NaN keeps the last good one."""

import re
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.training import CheckpointError, CheckpointOptions, NonFiniteLossError, Trainer


def _data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    return x, (x @ np.array([[1.0], [-1.0], [2.0]])).astype("float32")


def _trainer(directory, weights=None, **kwargs):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, name="dense")])
    if weights is not None:
        model.set_weights(weights)
    options = CheckpointOptions(every_n_steps=2, max_to_keep=3)
    trainer = Trainer(
        model=model,
        optimizer=keras.optimizers.SGD(0.05),
        loss="mse",
        checkpoint_dir=directory,
        checkpoint_options=options,
        **kwargs,
    )
    return model, trainer


def _saved_kernel(path):
    """The Dense kernel as written in checkpoint `path`, read with TensorFlow's own reader."""
    reader = tf.train.load_checkpoint(path)
    keys = [k for k, shape in tf.train.list_variables(path) if k.startswith("model/")]
    kernel_keys = [k for k in keys if "kernel" in k and "optimizer" not in k]
    assert len(kernel_keys) == 1, keys
    return reader.get_tensor(kernel_keys[0])


def test_resume_continues_epochs_and_history(tmp_path):
    x, y = _data()
    model, trainer = _trainer(tmp_path / "full", seed=1)
    initial = model.get_weights()
    full = trainer.fit((x, y), epochs=3, batch_size=8, verbose=0)

    _, first = _trainer(tmp_path / "split", initial, seed=1)
    first.fit((x, y), epochs=1, batch_size=8, verbose=0)
    resumed_model, second = _trainer(tmp_path / "split", initial, seed=1)
    history = second.fit((x, y), epochs=3, batch_size=8, verbose=0, resume=True)
    assert len(history.history["loss"]) == 3
    np.testing.assert_allclose(history.history["loss"], full.history["loss"], rtol=1e-6)
    for a, b in zip(resumed_model.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert second.global_step == 12


@pytest.fixture(scope="module")
def trained_folder(tmp_path_factory):
    """A folder holding ckpt-2 and ckpt-4 of one 4-step epoch, the run's initial and final
    weights, and the Dense kernel as ckpt-2 holds it."""
    directory = tmp_path_factory.mktemp("pristine")
    x, y = _data()
    model, trainer = _trainer(directory, seed=2)
    initial = model.get_weights()
    trainer.fit((x, y), epochs=1, batch_size=8, shuffle=False, verbose=0)  # saves at steps 2, 4
    assert tf.train.latest_checkpoint(str(directory)).endswith("ckpt-4")
    return directory, initial, model.get_weights(), _saved_kernel(str(directory / "ckpt-2"))


def _snapshot(directory):
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def _write(path, content):
    path.write_bytes(content)


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip(path):
    # Same length, every byte changed: only the per-tensor CRC32C checksums can tell.
    path.write_bytes(bytes(b ^ 0xFF for b in path.read_bytes()))


DATA, INDEX, STATE = "ckpt-4.data-00000-of-00001", "ckpt-4.index", "checkpoint"
DAMAGES = {
    "state file garbage": (
        STATE,
        lambda p: _write(p, b"model_checkpoint_path ckpt-4 ?\n"),
        "line 1",
    ),
    "state file empty": (STATE, lambda p: _write(p, b""), "is empty"),
    "state file binary": (STATE, lambda p: _write(p, b"\xff\xfe\x00\x81"), "is not text"),
    "state file without latest": (
        STATE,
        lambda p: _write(p, b'all_model_checkpoint_paths: "ckpt-2"\n'),
        "names no newest checkpoint",
    ),
    "state file missing": (STATE, lambda p: p.unlink(), "is missing, but the folder holds"),
    "index missing": (INDEX, lambda p: p.unlink(), "is missing"),
    "index truncated": (INDEX, _truncate, "cannot be read"),
    "data missing": (DATA, lambda p: p.unlink(), "is missing"),
    "data truncated": (DATA, _truncate, "is damaged"),
    "data corrupted": (DATA, _flip, "is damaged"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_folder_stops_resume_naming_the_file_and_changes_nothing(
    damage, trained_folder, tmp_path
):
    pristine, initial, _, _ = trained_folder
    directory = tmp_path / "run"
    shutil.copytree(pristine, directory)
    name, spoil, problem = DAMAGES[damage]
    spoil(directory / name)
    before = _snapshot(directory)
    x, y = _data()
    _, trainer = _trainer(directory, initial)
    # The state file names the file; a checkpoint's missing/damaged file names itself.
    with pytest.raises(CheckpointError, match=rf"{re.escape(str(directory / name))}.*{problem}"):
        trainer.fit((x, y), epochs=2, batch_size=8, verbose=0, resume=True)
    assert _snapshot(directory) == before


def test_resuming_from_the_earlier_checkpoint_the_error_names(trained_folder, tmp_path):
    pristine, initial, final, kernel_at_2 = trained_folder
    directory = tmp_path / "run"
    shutil.copytree(pristine, directory)
    _truncate(directory / DATA)
    x, y = _data()
    restored_model, restorer = _trainer(directory, initial)
    with pytest.raises(CheckpointError, match=r"intact other checkpoint is .*ckpt-2") as caught:
        restorer.restore()
    earlier = re.search(r"resume='([^']+)'", str(caught.value)).group(1)
    assert earlier == str(directory / "ckpt-2")
    assert restorer.restore(earlier) == earlier
    np.testing.assert_array_equal(restored_model.get_weights()[0], kernel_at_2)
    # Resuming there redoes steps 3 and 4 and lands on the uninterrupted result.
    resumed_model, resumer = _trainer(directory, initial)
    resumer.fit((x, y), epochs=1, batch_size=8, shuffle=False, verbose=0, resume=earlier)
    for a, b in zip(resumed_model.get_weights(), final, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_a_checkpoint_of_another_model_is_refused(trained_folder, tmp_path):
    pristine = trained_folder[0]
    directory = tmp_path / "run"
    shutil.copytree(pristine, directory)
    before = _snapshot(directory)
    other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(1)])
    trainer = Trainer(model=other, optimizer=keras.optimizers.SGD(0.05), loss="mse",
                      checkpoint_dir=directory)  # fmt: skip
    with pytest.raises(CheckpointError, match=r"ckpt-4 does not fit this Trainer"):
        trainer.restore()
    assert _snapshot(directory) == before


def test_nan_loss_names_epoch_and_step_and_keeps_last_good_checkpoint(tmp_path):
    x, y = _data()
    y[20, 0] = np.nan  # sample 20 is in the third batch of 8 (no shuffle)
    model, trainer = _trainer(tmp_path)
    trainer.checkpoint_options = CheckpointOptions(every_n_steps=1, max_to_keep=3)
    with pytest.raises(NonFiniteLossError, match=r"epoch 1, step 3 .*ckpt-2"):
        trainer.fit((x, y), epochs=2, batch_size=8, shuffle=False, verbose=0)
    latest = tf.train.latest_checkpoint(str(tmp_path))
    assert latest.endswith("ckpt-2")
    np.testing.assert_array_equal(model.get_weights()[0], _saved_kernel(latest))
    assert np.all(np.isfinite(model.get_weights()[0]))


def test_nan_loss_without_checkpoints_says_so():
    x, y = _data()
    x[0, 0] = np.nan
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    trainer = Trainer(model=model, optimizer="sgd", loss="mse")
    with pytest.raises(NonFiniteLossError, match=r"epoch 1, step 1 .*No checkpoint"):
        trainer.fit((x, y), batch_size=8, shuffle=False, verbose=0)


def test_checkpoints_wait_for_the_end_of_a_multi_step_call(tmp_path):
    x, y = _data()
    model, trainer = _trainer(tmp_path, seed=3, steps_per_execution=3)
    initial = model.get_weights()
    # 4 steps per epoch: one call of steps 1-3 (a save falls due at step 2), then step 4 alone.
    trainer.fit((x, y), epochs=1, batch_size=8, shuffle=False, verbose=0)
    final = model.get_weights()
    assert sorted(p.name for p in tmp_path.glob("ckpt-*.index")) == ["ckpt-3.index", "ckpt-4.index"]
    # Point the state file back at ckpt-3: its counters must match the weights it holds.
    tf.compat.v1.train.update_checkpoint_state(
        str(tmp_path),
        str(tmp_path / "ckpt-3"),
        all_model_checkpoint_paths=[str(tmp_path / "ckpt-3")],
    )
    resumed_model, resumer = _trainer(tmp_path, initial, steps_per_execution=3)
    resumer.fit((x, y), epochs=1, batch_size=8, shuffle=False, verbose=0, resume=True)
    assert resumer.global_step == 4
    for a, b in zip(resumed_model.get_weights(), final, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


class _UnseededMask(keras.layers.Layer):
    """Dropout drawn with `keras.random` and no seed: from Keras' global seed generator."""

    def call(self, x, training=False):
        return keras.random.dropout(x, 0.3) if training else x


def _dropout_run(directory):
    keras.utils.set_random_seed(5)
    model = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(8, activation="tanh"),
            keras.layers.Dropout(0.5),
            _UnseededMask(),
            keras.layers.Dense(1),
        ]
    )
    trainer = Trainer(
        model=model,
        optimizer=keras.optimizers.SGD(0.05),
        loss="mse",
        checkpoint_dir=directory,
        checkpoint_options=CheckpointOptions(every_n_steps=3),
        seed=5,
    )
    return model, trainer


def test_resume_mid_epoch_draws_the_dropout_masks_an_uninterrupted_run_draws(tmp_path):
    x, y = _data()
    model, trainer = _dropout_run(tmp_path / "full")
    trainer.fit((x, y), epochs=2, batch_size=8, verbose=0)  # 8 steps
    _, first = _dropout_run(tmp_path / "split")
    first.fit((x, y), epochs=1, batch_size=8, verbose=0)  # saves ckpt-3 (mid-epoch) and ckpt-4
    # ckpt-3 holds the Dropout layer's generator state [seed, draws]: one draw per train step.
    reader = tf.train.load_checkpoint(str(tmp_path / "split" / "ckpt-3"))
    keys = [k for k, _ in tf.train.list_variables(str(tmp_path / "split" / "ckpt-3"))]
    layer_keys = [k for k in keys if k.startswith("seeds/layers/")]
    assert len(layer_keys) == 1 and any(k.startswith("seeds/globals/") for k in keys)
    assert reader.get_tensor(layer_keys[0])[1] == 3
    resumed_model, resumed = _dropout_run(tmp_path / "split")
    resumed.fit((x, y), epochs=2, batch_size=8, verbose=0, resume=str(tmp_path / "split/ckpt-3"))
    assert resumed.global_step == 8
    for a, b in zip(resumed_model.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)


# pytest.warns re-emits the other warnings of its block, Keras' numpy-2 DeprecationWarning too.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_checkpoint_without_random_state_resumes_with_a_warning(tmp_path, monkeypatch):
    x, y = _data()
    # Write checkpoints as the Trainer did before it saved seed-generator states.
    with monkeypatch.context() as patch:
        patch.setattr("zoo.training.trainer.layer_seed_states", lambda model: [])
        patch.setattr("zoo.training.trainer.global_seed_state", lambda: None)
        _, old = _dropout_run(tmp_path)
        old.fit((x, y), epochs=1, batch_size=8, verbose=0)
    keys = [k for k, _ in tf.train.list_variables(str(tmp_path / "ckpt-4"))]
    assert not any(k.startswith("seeds/") for k in keys)
    _, resumed = _dropout_run(tmp_path)
    with pytest.warns(RuntimeWarning, match=r"ckpt-4 holds no random-number state"):
        resumed.fit((x, y), epochs=2, batch_size=8, verbose=0, resume=True)
    assert resumed.global_step == 8
