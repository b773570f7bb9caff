"""Early stopping and LR reduction on plateau, against Keras' own callbacks in model.fit."""

import keras
import numpy as np

from zoo.training import Callback, EarlyStopping, ReduceLROnPlateau, Trainer


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


def test_reduce_lr_on_plateau_matches_keras_schedule():
    x, y = _data()
    common = {"monitor": "loss", "factor": 0.5, "patience": 2, "min_delta": 1e-4, "min_lr": 1e-3}
    # A tiny learning rate: the loss moves by less than min_delta, a plateau from epoch 2 on.
    reference = _model()
    reference.compile(optimizer=keras.optimizers.SGD(1e-2), loss="mse")
    reference.optimizer.learning_rate = 1e-2
    weights = reference.get_weights()
    keras_lrs = []

    class Track(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            keras_lrs.append(float(self.model.optimizer.learning_rate))

    x_tiny = x * 1e-4  # gradients ~1e-4 x smaller: the loss barely moves
    reference.fit(
        x_tiny,
        y,
        epochs=8,
        batch_size=32,
        verbose=0,
        callbacks=[Track(), keras.callbacks.ReduceLROnPlateau(**common)],
    )
    trainer = Trainer(model=_model(weights), optimizer=keras.optimizers.SGD(1e-2), loss="mse")
    history = trainer.fit(
        (x_tiny, y),
        epochs=8,
        batch_size=32,
        shuffle=False,
        verbose=0,
        callbacks=[ReduceLROnPlateau(**common)],
    )
    np.testing.assert_allclose(history.history["learning_rate"], keras_lrs, rtol=1e-6)
    assert history.history["learning_rate"][-1] < 1e-2
