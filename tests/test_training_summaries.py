"""TensorBoard event files written by the Trainer, read back with TensorFlow's own reader."""

from collections import defaultdict

import keras
import numpy as np
import tensorflow as tf

from zoo.training import SummaryOptions, Trainer


def _read_events(directory):
    """{tag: {step: value}} for scalars, and the set of histogram tags, in `directory`."""
    scalars, histograms = defaultdict(dict), set()
    for path in sorted(directory.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                plugin = value.metadata.plugin_data.plugin_name
                if plugin == "histograms":
                    histograms.add(value.tag)
                elif plugin == "scalars":
                    scalars[value.tag][event.step] = float(tf.make_ndarray(value.tensor))
    return scalars, histograms


def test_scalars_and_histograms_match_the_history(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).astype("float32")
    y = (x @ np.array([[1.0], [2.0], [3.0]])).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, name="dense")])
    trainer = Trainer(
        model=model,
        optimizer=keras.optimizers.SGD(0.05),
        loss="mse",
        metrics=["mae"],
        log_dir=tmp_path,
        summary_options=SummaryOptions(histograms=True),
        seed=0,
    )
    history = trainer.fit((x, y), validation=(x[:20], y[:20]), epochs=3, batch_size=8, verbose=0)

    train, train_histograms = _read_events(tmp_path / "train")
    validation, _ = _read_events(tmp_path / "validation")
    assert {"loss", "mae", "learning_rate", "grad_norm"} <= set(train)
    for name in ("loss", "mae", "learning_rate", "grad_norm"):
        assert sorted(train[name]) == [1, 2, 3]
        np.testing.assert_allclose(
            [train[name][step] for step in (1, 2, 3)], history.history[name], rtol=1e-6
        )
    for name in ("loss", "mae"):
        np.testing.assert_allclose(
            [validation[name][step] for step in (1, 2, 3)],
            history.history[f"val_{name}"],
            rtol=1e-6,
        )
    # The validation loss is the model's MSE on the validation data after the epoch.
    final = model.predict(x[:20], verbose=0)
    np.testing.assert_allclose(validation["loss"][3], np.mean((final - y[:20]) ** 2), rtol=1e-5)
    np.testing.assert_allclose(train["learning_rate"][1], 0.05, rtol=1e-6)
    assert any("kernel" in tag for tag in train_histograms)


def test_progress_bar_counts_the_batches_of_each_epoch_and_verbose_0_is_quiet(capsys, monkeypatch):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 3)).astype("float32")
    y = x[:, :1] - x[:, 1:2]
    updates = []
    update = keras.utils.Progbar.update

    def spy(self, current, values=None, finalize=None):
        updates.append((self.target, current, finalize))
        return update(self, current, values=values, finalize=finalize)

    monkeypatch.setattr(keras.utils.Progbar, "update", spy)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    trainer = Trainer(model=model, optimizer="sgd", loss="mse", metrics=["mae"], seed=0)
    trainer.fit((x, y), validation=(x, y), epochs=2, batch_size=8, verbose=1)
    out = capsys.readouterr().out
    # 40 samples in batches of 8: the bar advances 1..5 within each epoch, then closes at 5/5
    # with the epoch's logs (validation included).
    per_epoch = [(5, step, False) for step in range(1, 6)] + [(5, 5, True)]
    assert updates == per_epoch * 2
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    assert out.count("5/5") == 2 and "val_loss" in out
    updates.clear()
    trainer.fit((x, y), epochs=3, batch_size=8, verbose=0)
    assert updates == [] and capsys.readouterr().out == ""
