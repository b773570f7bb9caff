"""Fine-tuning helpers: freezing, a slower backbone, a new head on kept backbone weights."""

import keras
import numpy as np
import pytest

from zoo.training import (
    Trainer,
    backbone_head_optimizer,
    freeze_up_to,
    replace_head,
    unfreeze,
)


def _model():
    keras.utils.set_random_seed(5)
    inputs = keras.Input((3,), name="features")
    hidden = keras.layers.Dense(4, name="backbone_1")(inputs)
    hidden = keras.layers.Dense(2, name="backbone_2")(hidden)
    outputs = keras.layers.Dense(1, name="head")(hidden)
    return keras.Model(inputs, outputs, name="net")


def _data(n=16):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 3)).astype("float32")
    return x, rng.normal(size=(n, 1)).astype("float32")


def test_freeze_up_to_keeps_backbone_fixed_and_unfreeze_restores():
    model = _model()
    assert freeze_up_to(model, "backbone_2") == ["features", "backbone_1", "backbone_2"]
    before = {layer.name: layer.get_weights() for layer in model.layers}
    trainer = Trainer(model=model, optimizer=keras.optimizers.SGD(0.1), loss="mse")
    trainer.fit(_data(), epochs=2, batch_size=8, verbose=0)
    for name in ("backbone_1", "backbone_2"):
        for a, b in zip(model.get_layer(name).get_weights(), before[name], strict=True):
            np.testing.assert_array_equal(a, b)
    assert not np.allclose(model.get_layer("head").get_weights()[0], before["head"][0])
    assert len(model.trainable_variables) == 2
    assert unfreeze(model, "backbone_2") == ["backbone_2", "head"]
    assert len(model.trainable_variables) == 4
    unfreeze(model)
    assert len(model.trainable_variables) == 6


def test_backbone_learning_rate_is_the_head_rate_times_the_factor():
    model = _model()
    x, y = _data()
    w1, b1, w2, b2, w3, b3 = [w.astype("float64") for w in model.get_weights()]
    # Hand-written backward pass of mean((((x W1 + b1) W2 + b2) W3 + b3 - y)^2).
    h1 = x @ w1 + b1
    h2 = h1 @ w2 + b2
    g = 2.0 * (h2 @ w3 + b3 - y) / len(x)
    grads = {"w3": h2.T @ g, "b3": g.sum(0)}
    g2 = g @ w3.T
    grads.update(w2=h1.T @ g2, b2=g2.sum(0))
    g1 = g2 @ w2.T
    grads.update(w1=x.T @ g1, b1=g1.sum(0))
    head_lr, factor = 0.1, 0.01
    optimizer = backbone_head_optimizer(
        model, head_from="head", optimizer="sgd", learning_rate=head_lr, backbone_factor=factor
    )
    trainer = Trainer(model=model, optimizer=optimizer, loss="mse")
    history = trainer.fit((x, y), epochs=1, batch_size=len(x), shuffle=False, verbose=0)
    expected = [
        w1 - head_lr * factor * grads["w1"],
        b1 - head_lr * factor * grads["b1"],
        w2 - head_lr * factor * grads["w2"],
        b2 - head_lr * factor * grads["b2"],
        w3 - head_lr * grads["w3"],
        b3 - head_lr * grads["b3"],
    ]
    for got, want in zip(model.get_weights(), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(history.history["learning_rate"], [head_lr], rtol=1e-6)


def test_replace_head_keeps_backbone_weights_and_changes_output():
    model = _model()
    x, _ = _data()
    backbone_out = keras.Model(model.input, model.get_layer("backbone_2").output)(x)
    new = replace_head(
        model, keep_up_to="backbone_2", head=keras.layers.Dense(5, activation="softmax")
    )
    assert new.output_shape == (None, 5)
    assert new.get_layer("backbone_1") is model.get_layer("backbone_1")
    kernel, bias = new.layers[-1].get_weights()
    np.testing.assert_allclose(
        new.predict(x, verbose=0),
        keras.ops.convert_to_numpy(keras.ops.softmax(np.asarray(backbone_out) @ kernel + bias)),
        rtol=1e-5,
        atol=1e-6,
    )
    # Train only the new head for a new class count; the kept backbone does not move.
    freeze_up_to(new, "backbone_2")
    labels = np.arange(len(x)) % 5
    before = new.get_layer("backbone_1").get_weights()
    trainer = Trainer(model=new, optimizer="adam", loss="sparse_categorical_crossentropy")
    trainer.fit((x, labels), epochs=1, batch_size=8, verbose=0)
    np.testing.assert_array_equal(new.get_layer("backbone_1").get_weights()[0], before[0])


def test_unknown_layer_names_list_the_choices():
    model = _model()
    with pytest.raises(ValueError, match=r"`layer_name` 'nope' .*backbone_1, backbone_2, head"):
        freeze_up_to(model, "nope")
    with pytest.raises(ValueError, match="`keep_up_to` 'missing'"):
        replace_head(model, keep_up_to="missing", head=keras.layers.Dense(2))
    with pytest.raises(ValueError, match="`backbone_factor` must be in"):
        backbone_head_optimizer(model, head_from="head", backbone_factor=2.0)
