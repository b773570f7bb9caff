"""Checkpoints: resume continues the run, corrupt ones are skipped, NaN keeps the last good one."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.training import CheckpointOptions, NonFiniteLossError, Trainer


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


def test_corrupt_latest_checkpoint_is_skipped_for_the_previous(tmp_path):
    x, y = _data()
    model, trainer = _trainer(tmp_path, seed=2)
    initial = model.get_weights()
    trainer.fit((x, y), epochs=1, batch_size=8, shuffle=False, verbose=0)  # saves at steps 2, 4
    final = model.get_weights()
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("ckpt-4")
    kernel_at_2 = _saved_kernel(str(tmp_path / "ckpt-2"))
    data_file = tmp_path / "ckpt-4.data-00000-of-00001"
    data_file.write_bytes(data_file.read_bytes()[:10])  # a half-written checkpoint

    restored_model, restorer = _trainer(tmp_path, initial)
    with pytest.warns(RuntimeWarning, match="ckpt-4 could not be restored"):
        path = restorer.restore()
    assert path.endswith("ckpt-2")
    np.testing.assert_array_equal(restored_model.get_weights()[0], kernel_at_2)
    assert (tmp_path / "ckpt-2.index").exists()

    # Resuming redoes steps 3 and 4 from ckpt-2 and lands on the uninterrupted result.
    resumed_model, resumer = _trainer(tmp_path, initial)
    with pytest.warns(RuntimeWarning, match="ckpt-4"):
        resumer.fit((x, y), epochs=1, batch_size=8, shuffle=False, verbose=0, resume=True)
    for a, b in zip(resumed_model.get_weights(), final, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


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


def test_no_readable_checkpoint_raises_and_deletes_nothing(tmp_path):
    x, y = _data()
    _, trainer = _trainer(tmp_path)
    trainer.fit((x, y), epochs=1, batch_size=8, shuffle=False, verbose=0)
    for data_file in tmp_path.glob("ckpt-*.data-*"):
        data_file.write_bytes(b"")
    before = sorted(p.name for p in tmp_path.iterdir())
    _, restorer = _trainer(tmp_path)
    with (
        pytest.warns(RuntimeWarning),
        pytest.raises(RuntimeError, match=r"No checkpoint .* restored"),
    ):
        restorer.fit((x, y), epochs=2, batch_size=8, verbose=0, resume=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


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
