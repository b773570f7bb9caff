"""Bad input gets a clear error that names the argument, the expectation and what came."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.training import CheckpointOptions, Trainer


def _trainer(**kwargs):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    return Trainer(model=model, loss=kwargs.pop("loss", "mse"), **kwargs)


def test_x_and_y_of_different_lengths():
    x, y = np.zeros((10, 3), "float32"), np.zeros((9, 1), "float32")
    with pytest.raises(ValueError, match=r"same number of samples. Received: x has 10, y has 9"):
        _trainer().fit((x, y), verbose=0)


def test_empty_numpy_and_empty_datasets():
    with pytest.raises(ValueError, match="`train` is empty"):
        _trainer().fit((np.zeros((0, 3)), np.zeros((0, 1))), verbose=0)
    empty = tf.data.Dataset.from_tensor_slices((np.zeros((0, 3)), np.zeros((0, 1)))).batch(4)
    with pytest.raises(ValueError, match="`train` is empty"):
        _trainer().fit(empty, verbose=0)
    # Unknown length that turns out empty: caught when the first epoch yields nothing.
    data = tf.data.Dataset.from_tensor_slices((np.zeros((4, 3)), np.zeros((4, 1)))).batch(2)
    filtered = data.filter(lambda x, y: tf.reduce_sum(x) > 1.0)
    with pytest.raises(ValueError, match="`train` is empty: epoch 1 yielded no batch"):
        _trainer().fit(filtered, verbose=0)


def test_unknown_optimizer_loss_and_metric_names():
    with pytest.raises(ValueError, match=r"Unknown optimizer 'adamx'. Choose one of: sgd, heun"):
        _trainer(optimizer="adamx")
    with pytest.raises(ValueError, match=r"Unknown loss 'msee'. Choose one of: mse"):
        _trainer(loss="msee")
    with pytest.raises(ValueError, match="Unknown metric 'accuracyy'"):
        _trainer(metrics=["accuracyy"])
    with pytest.raises(TypeError, match="`optimizer` must be a name"):
        _trainer(optimizer=3)


def test_bad_arguments_name_themselves():
    x, y = np.zeros((4, 3), "float32"), np.zeros((4, 1), "float32")
    with pytest.raises(TypeError, match="`model` must be a Keras model"):
        Trainer(model=object(), loss="mse")
    with pytest.raises(ValueError, match=r"`clip_norm` must be a positive number .*clip_norm=-1"):
        _trainer(clip_norm=-1)
    with pytest.raises(
        ValueError, match=r"`epochs` must be a positive integer. Received: epochs=0"
    ):
        _trainer().fit((x, y), epochs=0, verbose=0)
    with pytest.raises(ValueError, match="`batch_size` must be a positive integer"):
        _trainer().fit((x, y), batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="`resume=True` needs the Trainer's `checkpoint_dir`"):
        _trainer().fit((x, y), resume=True, verbose=0)
    with pytest.raises(ValueError, match="`every_n_steps` must be a positive integer"):
        CheckpointOptions(every_n_steps=0)
    with pytest.raises(ValueError, match="`max_to_keep` must be an integer >= 2"):
        CheckpointOptions(max_to_keep=1)
    with pytest.raises(TypeError, match=r"`train` must be a tf.data.Dataset or a tuple"):
        _trainer().fit(x, verbose=0)
    with pytest.raises(
        TypeError, match=r"Each of `callbacks` must be a keras.callbacks.Callback .*Received: dict"
    ):
        _trainer().fit((x, y), callbacks=[{"on_epoch_end": print}], verbose=0)
    with pytest.raises(TypeError, match=r"`resume` must be True, False or the path"):
        _trainer(checkpoint_dir="unused").fit((x, y), resume=3, verbose=0)


def test_mixed_precision_wraps_the_optimizer_and_trains_like_float32():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-1.0], [0.5]])).astype("float32")
    losses = {}
    for policy in ("float32", "mixed_float16"):
        keras.mixed_precision.set_global_policy(policy)
        try:
            keras.utils.set_random_seed(0)
            model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
            trainer = Trainer(model=model, optimizer=keras.optimizers.SGD(0.1), loss="mse")
            history = trainer.fit((x, y), epochs=3, batch_size=16, shuffle=False, verbose=0)
            losses[policy] = history.history["loss"]
            if policy == "mixed_float16":
                assert isinstance(trainer.optimizer, keras.optimizers.LossScaleOptimizer)
        finally:
            keras.mixed_precision.set_global_policy("float32")
    # float16 forward passes (eps 9.8e-4) over 12 SGD steps: the losses drift ~2 float16 eps
    # apart (observed 1.8e-3 relative); 10x that.
    np.testing.assert_allclose(losses["mixed_float16"], losses["float32"], rtol=2e-2)
