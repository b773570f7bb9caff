"""Early stopping and LR reduction on plateau, against Keras' own callbacks in model.fit."""

import keras
import numpy as np
import pytest

from zoo.training import Callback, EarlyStopping, LambdaCallback, ReduceLROnPlateau, Trainer


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 3)).astype("float32")
    return x, (x @ np.array([[1.0], [2.0], [3.0]])).astype("float32")


def _model(weights=None):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    if weights is not None:
        model.set_weights(weights)
    return model


def test_early_stopping_stops_at_the_same_epoch_as_keras():
    x, y = _data()
    # A learning rate of zero keeps val_loss constant: epoch 1 improves on +inf, then none do.
    reference = _model()
    reference.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    keras_history = reference.fit(
        x,
        y,
        validation_data=(x, y),
        epochs=20,
        batch_size=16,
        verbose=0,
        callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=2)],
    )
    trainer = Trainer(model=_model(reference.get_weights()), optimizer="sgd", loss="mse")
    trainer.optimizer.learning_rate = 0.0
    stopper = EarlyStopping(monitor="val_loss", patience=2)
    history = trainer.fit(
        (x, y), validation=(x, y), epochs=20, batch_size=16, verbose=0, callbacks=[stopper]
    )
    assert len(history.history["loss"]) == len(keras_history.history["loss"]) == 3
    assert stopper.stopped_epoch == 2
    # zoo's callbacks are Keras callbacks: the same one stops model.fit at the same epoch.
    ours_in_fit = EarlyStopping(monitor="val_loss", patience=2)
    fit_history = reference.fit(
        x, y, validation_data=(x, y), epochs=20, batch_size=16, verbose=0,
        callbacks=[ours_in_fit],
    )  # fmt: skip
    assert len(fit_history.history["loss"]) == 3 and ours_in_fit.stopped_epoch == 2


def test_early_stopping_restores_best_weights():
    x, y = _data()
    model = _model()
    trainer = Trainer(model=model, optimizer=keras.optimizers.SGD(0.05), loss="mse")
    # Monitoring `grad_norm` with mode=max: the first epoch (largest gradients) is the best.
    stopper = EarlyStopping(monitor="grad_norm", mode="max", patience=1, restore_best_weights=True)
    seen = []

    class Record(Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(model.get_weights())

    trainer.fit((x, y), epochs=10, batch_size=16, verbose=0, callbacks=[Record(), stopper])
    assert stopper.stopped_epoch == 1
    for a, b in zip(model.get_weights(), seen[0], strict=True):
        np.testing.assert_array_equal(a, b)


def _near_optimum(x, y):
    """Weights a little off the least-squares fit: full-batch SGD then improves the loss by a
    geometrically shrinking amount, which drops below `min_delta` (1e-3) after a few epochs."""
    design = np.c_[x, np.ones(len(x))]
    solution = np.linalg.lstsq(design, y, rcond=None)[0]
    offset = np.array([[0.3], [-0.2], [0.1]])
    return [(solution[:3] + offset).astype("float32"), (solution[3] + 0.1).astype("float32")]


@pytest.mark.parametrize("kind", ["zoo", "keras"])
def test_reduce_lr_on_plateau_halves_the_rate_where_keras_does(kind):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3 * rng.normal(size=(32, 1))).astype("float32")
    common = {"monitor": "loss", "factor": 0.5, "patience": 2, "min_delta": 1e-3}
    # The reference: Keras' own callback in model.fit. The loss beats its best by more than
    # min_delta up to epoch 7, then by less (a real plateau): with patience 2 the rate halves
    # after epochs 9 and 11. The closest any epoch comes to the threshold, 1e-4 on a loss of
    # 0.07, is ~1e4 float32 ulps: no tie for rounding to decide.
    reference = _model(_near_optimum(x, y))
    reference.compile(optimizer=keras.optimizers.SGD(0.2), loss="mse")
    keras_lrs = []

    class Track(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            keras_lrs.append(float(self.model.optimizer.learning_rate))

    keras_history = reference.fit(
        x, y, epochs=14, batch_size=32, shuffle=False, verbose=0,
        callbacks=[Track(), keras.callbacks.ReduceLROnPlateau(**common)],
    )  # fmt: skip
    assert keras_lrs[9:] == pytest.approx([0.2, 0.1, 0.1, 0.05, 0.05], rel=1e-6)

    plateau = (
        ReduceLROnPlateau(**common)
        if kind == "zoo"
        else keras.callbacks.ReduceLROnPlateau(**common)
    )
    model = _model(_near_optimum(x, y))
    trainer = Trainer(model=model, optimizer=keras.optimizers.SGD(0.2), loss="mse")
    history = trainer.fit(
        (x, y), epochs=14, batch_size=32, shuffle=False, verbose=0, callbacks=[plateau]
    )
    # `learning_rate` is logged at each epoch's end, before the callbacks lower it.
    np.testing.assert_allclose(history.history["learning_rate"], keras_lrs, rtol=1e-6)
    # The lower rate really drives the updates: the losses and weights follow model.fit's.
    # Full-batch float32 SGD, 14 steps on values ~0.1-1: a few ulps apart (observed ~1e-7).
    np.testing.assert_allclose(history.history["loss"], keras_history.history["loss"], rtol=1e-5)
    for a, b in zip(model.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_early_stopping_counters_survive_a_resume(tmp_path):
    x, y = _data()
    # A score whose best epoch is 1: with patience 2 the run stops after epoch 3 (4 epochs).
    # Resumed after epoch 2 without its counters (best 1.0, wait 1), the stopper would call
    # epoch 3's 4.0 an improvement and stop only after epoch 5.
    scores = [3.0, 1.0, 2.0, 4.0, 5.0, 6.0]

    def run(directory, epochs, resume):
        score = LambdaCallback(
            on_epoch_end=lambda epoch, logs: logs.__setitem__("score", scores[epoch])
        )
        stopper = EarlyStopping(monitor="score", mode="min", patience=2)
        trainer = Trainer(
            model=_model(), optimizer="sgd", loss="mse", checkpoint_dir=directory, seed=0
        )
        history = trainer.fit(
            (x, y), epochs=epochs, batch_size=16, verbose=0, callbacks=[score, stopper],
            resume=resume,
        )  # fmt: skip
        return history, stopper

    uninterrupted, stopper = run(tmp_path / "full", 6, False)
    assert len(uninterrupted.history["loss"]) == 4 and stopper.stopped_epoch == 3
    run(tmp_path / "split", 3, False)
    resumed, stopper = run(tmp_path / "split", 6, True)
    assert len(resumed.history["loss"]) == 4 and stopper.stopped_epoch == 3
    assert (stopper.best, stopper.wait) == (1.0, 2)
