"""Any keras.callbacks.Callback in Trainer.fit, checked against the same callback in model.fit.

The reference is Keras' own loop: a recording callback sees the same hooks, indices and logs
under `model.fit` and `Trainer.fit`; Keras' CSVLogger, EarlyStopping, TensorBoard, LambdaCallback,
BackupAndRestore and ReduceLROnPlateau act as they do there. Full-batch or unshuffled SGD on a
linear model keeps both loops on the same batches, so their numbers agree to float32 rounding.
"""

import csv
from collections import defaultdict

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.training import Trainer

# The two loops reduce the same float32 numbers in other orders: a few roundings of float32's
# eps (1.2e-7) each, ~5e-7 relative for the handful of steps here (observed: <= 4e-8); 10x margin.
RTOL = 5e-6


def _data(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(32, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3 * rng.normal(size=(32, 1))).astype("float32")
    return x, y


def _models(seed):
    """Two models with the same initial weights: one for model.fit, one for the Trainer."""
    keras.utils.set_random_seed(seed)
    first = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    second = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    second.set_weights(first.get_weights())
    return first, second


class Recorder(keras.callbacks.Callback):
    """A user's own subclass: writes down every hook with its index and its logs."""

    def __init__(self):
        super().__init__()
        self.events = []

    def _add(self, hook, index=None, logs=None):
        self.events.append((hook, index, dict(logs) if logs else {}))

    def on_train_begin(self, logs=None):
        assert self.model is not None and self.params["epochs"] == 3
        self._add("train_begin", None, logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._add("epoch_begin", epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._add("batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._add("batch_end", batch, logs)
        if self.stop_at == (len([e for e in self.events if e[0] == "epoch_begin"]) - 1, batch):
            self.model.stop_training = True

    def on_test_begin(self, logs=None):
        self._add("test_begin", None, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._add("test_batch_end", batch, logs)

    def on_test_end(self, logs=None):
        self._add("test_end", None, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._add("epoch_end", epoch, logs)

    def on_train_end(self, logs=None):
        self._add("train_end", None, logs)

    stop_at = None


def _compare_events(ours, theirs):
    assert [(hook, index) for hook, index, _ in ours] == [(h, i) for h, i, _ in theirs]
    for (hook, _, our_logs), (_, _, their_logs) in zip(ours, theirs, strict=True):
        # Keras' keys are in ours (we add learning_rate and grad_norm at epoch end).
        assert set(their_logs) <= set(our_logs), hook
        for key, value in their_logs.items():
            np.testing.assert_allclose(our_logs[key], value, rtol=RTOL, err_msg=f"{hook} {key}")


@pytest.mark.parametrize("stop_at", [None, (1, 2)])
def test_hooks_indices_and_logs_are_those_of_model_fit(stop_at):
    x, y = _data(0)
    reference, model = _models(0)
    reference.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    theirs, ours = Recorder(), Recorder()
    theirs.stop_at = ours.stop_at = stop_at  # stop_training set mid-epoch 1, after batch 2
    reference.fit(
        x, y, validation_data=(x[:16], y[:16]), epochs=3, batch_size=8, shuffle=False,
        verbose=0, callbacks=[theirs],
    )  # fmt: skip
    trainer = Trainer(
        model=model, optimizer=keras.optimizers.SGD(0.05), loss="mse", metrics=["mae"]
    )
    trainer.fit(
        (x, y), validation=(x[:16], y[:16]), epochs=3, batch_size=8, shuffle=False,
        verbose=0, callbacks=[ours],
    )  # fmt: skip
    _compare_events(ours.events, theirs.events)
    if stop_at is not None:
        assert ours.events[-2][:2] == ("epoch_end", 1)
    for a, b in zip(model.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=1e-6)


def test_csv_logger_writes_one_row_per_epoch_with_the_history(tmp_path):
    x, y = _data(1)
    _, model = _models(1)
    trainer = Trainer(
        model=model, optimizer=keras.optimizers.SGD(0.05), loss="mse", metrics=["mae"]
    )
    path = tmp_path / "log.csv"
    history = trainer.fit(
        (x, y), validation=(x, y), epochs=3, batch_size=8, verbose=0,
        callbacks=[keras.callbacks.CSVLogger(str(path))],
    )  # fmt: skip
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["0", "1", "2"]
    assert set(rows[0]) == {"epoch", *history.history}
    for name, values in history.history.items():
        # CSVLogger writes each float's repr: reading it back gives the same float.
        assert [float(row[name]) for row in rows] == values


def test_keras_early_stopping_stops_where_model_fit_stops_and_restores_the_best_epoch():
    x, y = _data(2)
    # A user callback ahead of EarlyStopping feeds it a score whose best epoch is 1 (of 0..):
    # with patience 2 it stops after epoch 3 and puts back the weights seen at the end of epoch 1.
    scores = [3.0, 1.0, 2.0, 4.0, 0.5, 0.1]
    lengths, snapshots = {}, {}
    reference, model = _models(2)
    reference.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    for name, target in (("fit", reference), ("trainer", model)):
        seen = snapshots.setdefault(name, [])
        score = keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs, seen=seen, target=target: (
                logs.__setitem__("score", scores[epoch]),
                seen.append(target.get_weights()),
            )
        )
        stopper = keras.callbacks.EarlyStopping(
            monitor="score", mode="min", patience=2, restore_best_weights=True
        )
        arguments = {"epochs": 6, "batch_size": 8, "verbose": 0, "callbacks": [score, stopper]}
        if name == "fit":
            history = target.fit(x, y, shuffle=False, **arguments)
        else:
            trainer = Trainer(model=target, optimizer=keras.optimizers.SGD(0.05), loss="mse")
            history = trainer.fit((x, y), shuffle=False, **arguments)
        lengths[name] = len(history.history["loss"])
        assert stopper.stopped_epoch == 3 and stopper.best_epoch == 1
    assert lengths == {"fit": 4, "trainer": 4}
    for a, b in zip(model.get_weights(), snapshots["trainer"][1], strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(model.get_weights()[0], snapshots["trainer"][3][0])


def _scalars(directory):
    values = defaultdict(dict)
    for path in sorted(directory.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "scalars":
                    values[value.tag][event.step] = float(tf.make_ndarray(value.tensor))
    return values


def test_keras_tensorboard_writes_the_epoch_logs(tmp_path):
    x, y = _data(3)
    _, model = _models(3)
    trainer = Trainer(model=model, optimizer=keras.optimizers.SGD(0.05), loss="mse")
    board = keras.callbacks.TensorBoard(log_dir=str(tmp_path), update_freq="batch")
    history = trainer.fit(
        (x, y), validation=(x, y), epochs=2, batch_size=8, verbose=0, callbacks=[board]
    )
    train, validation = _scalars(tmp_path / "train"), _scalars(tmp_path / "validation")
    # Event files hold float32: the history's float64 values rounded once.
    np.testing.assert_allclose(
        [train["epoch_loss"][e] for e in (0, 1)], history.history["loss"], rtol=1e-6
    )
    np.testing.assert_allclose(
        [validation["epoch_loss"][e] for e in (0, 1)], history.history["val_loss"], rtol=1e-6
    )
    np.testing.assert_allclose(train["epoch_learning_rate"][1], 0.05, rtol=1e-6)
    assert sorted(train["batch_loss"]) == list(range(1, 9))  # 4 batches x 2 epochs


@pytest.mark.parametrize("steps_per_execution", [1, 3])
def test_keras_lambda_callback_sees_every_batch_and_epoch(steps_per_execution):
    x, y = _data(4)
    _, model = _models(4)
    seen = defaultdict(list)
    callback = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: seen["epochs"].append(epoch),
        on_train_batch_begin=lambda batch, logs: seen["begins"].append(batch),
        on_train_batch_end=lambda batch, logs: seen["ends"].append(batch),
        on_train_end=lambda logs: seen["end"].append(sorted(logs)),
    )
    trainer = Trainer(
        model=model, optimizer="sgd", loss="mse", steps_per_execution=steps_per_execution
    )
    trainer.fit((x, y), epochs=2, batch_size=10, verbose=0, callbacks=[callback])
    assert seen["epochs"] == [0, 1]
    # 32 samples in batches of 10: 4 batches (with 3 steps per call: a call of 3, then 1).
    assert seen["begins"] == seen["ends"] == [0, 1, 2, 3] * 2
    assert seen["end"] == [["grad_norm", "learning_rate", "loss"]]


def test_keras_backup_and_restore_resumes_an_interrupted_run(tmp_path):
    x, y = _data(5)

    def trainer_for(model):
        optimizer = keras.optimizers.SGD(0.05, momentum=0.9)  # momentum: state to restore
        return Trainer(model=model, optimizer=optimizer, loss="mse", seed=0)

    reference, model = _models(5)
    initial = reference.get_weights()
    trainer_for(reference).fit((x, y), epochs=4, batch_size=8, shuffle=False, verbose=0)

    class Crash(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise RuntimeError("crash at the start of epoch 2")

    backup = tmp_path / "backup"
    with pytest.raises(RuntimeError, match="crash"):
        trainer_for(model).fit(
            (x, y), epochs=4, batch_size=8, shuffle=False, verbose=0,
            callbacks=[keras.callbacks.BackupAndRestore(str(backup)), Crash()],
        )  # fmt: skip
    assert (backup / "training_metadata.json").exists()
    model.set_weights(initial)  # a fresh start: everything must come from the backup
    resumed = trainer_for(model)
    history = resumed.fit(
        (x, y), epochs=4, batch_size=8, shuffle=False, verbose=0,
        callbacks=[keras.callbacks.BackupAndRestore(str(backup))],
    )  # fmt: skip
    assert len(history.history["loss"]) == 2 and resumed.global_step == 16
    for a, b in zip(model.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=1e-6)
    assert not backup.exists()  # deleted at the end of a completed run, as in model.fit


def test_model_optimizer_is_the_trainers_during_fit_only():
    x, y = _data(6)
    _, model = _models(6)
    trainer = Trainer(model=model, optimizer="sgd", loss="mse")
    seen = []
    callback = keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: seen.append(model.optimizer)
    )
    trainer.fit((x, y), epochs=1, verbose=0, callbacks=[callback])
    assert seen == [trainer.optimizer]
    assert not hasattr(model, "optimizer")  # an uncompiled model stays uncompiled


def test_evaluate_and_predict_call_the_test_and_predict_hooks():
    x, y = _data(7)
    _, model = _models(7)
    trainer = Trainer(model=model, optimizer="sgd", loss="mse")
    seen = defaultdict(list)
    callback = keras.callbacks.LambdaCallback(
        on_test_batch_end=lambda batch, logs: seen["test"].append((batch, logs["loss"])),
        on_test_end=lambda logs: seen["test_end"].append(logs["loss"]),
        on_predict_batch_end=lambda batch, logs: seen["predict"].append(len(logs["outputs"])),
        # Keras' callbacks (TensorBoard's on_test_end) read model.optimizer in these hooks too.
        on_predict_end=lambda logs: seen["predict_end"].append(model.optimizer),
    )
    result = trainer.evaluate((x, y), batch_size=16, callbacks=[callback])
    prediction = trainer.predict(x, batch_size=20, callbacks=[callback])
    expected = float(np.mean((x @ model.get_weights()[0] + model.get_weights()[1] - y) ** 2))
    assert [batch for batch, _ in seen["test"]] == [0, 1]
    np.testing.assert_allclose(seen["test_end"], [expected], rtol=RTOL)
    np.testing.assert_allclose(result["loss"], expected, rtol=RTOL)
    assert seen["predict"] == [20, 12] and seen["predict_end"] == [trainer.optimizer]
    assert prediction.shape == (32, 1)


def test_keras_model_checkpoint_saves_the_best_epoch_as_a_loadable_model(tmp_path):
    x, y = _data(8)
    _, model = _models(8)
    trainer = Trainer(model=model, optimizer=keras.optimizers.SGD(0.05), loss="mse")
    snapshots = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: snapshots.append((logs["val_loss"], model.get_weights()))
    )
    path = tmp_path / "best.keras"
    saver = keras.callbacks.ModelCheckpoint(str(path), monitor="val_loss", save_best_only=True)
    trainer.fit((x, y), validation=(x, y), epochs=3, verbose=0, callbacks=[record, saver])
    best_weights = min(snapshots, key=lambda item: item[0])[1]
    loaded = keras.saving.load_model(path)
    for a, b in zip(loaded.get_weights(), best_weights, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not hasattr(model, "optimizer")
