"""cnn_digits: the shipped preset reaches its card accuracy, beats the baselines, and behaves."""

import json

import keras
import numpy as np
import pytest
from scipy import ndimage

import zoo.registry as registry
from zoo.data import digits as digits_data
from zoo.models.cnn import evaluate as cnn_evaluate
from zoo.models.cnn import model as cnn
from zoo.models.cnn import plot as cnn_plot
from zoo.models.cnn import recipe as cnn_recipe
from zoo.models.common.classifier import predict
from zoo.serving.session_runner import SessionSignatureRunner

NAME = "cnn_digits"


@pytest.fixture(scope="module")
def model():
    return registry.load(NAME)


@pytest.fixture(scope="module")
def split():
    return digits_data.load_digits_split()


def test_split_is_the_documented_one(split):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    _, x_test, _, y_test = train_test_split(
        data.images, data.target, test_size=0.2, stratify=data.target, random_state=0
    )
    np.testing.assert_array_equal(split.x_test[..., 0], x_test)
    np.testing.assert_array_equal(split.y_test, y_test)
    assert len(split.x_train) == 1437


def test_baselines_are_refit_on_the_split(split):
    # An independent refit (scaled pixels, another solver) lands where the card's baselines do:
    # the card's figures come from the split, not from a typed constant.
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    measured = cnn_evaluate.baselines(split)
    x_train = split.x_train.reshape(len(split.x_train), -1)
    x_test = split.x_test.reshape(len(split.x_test), -1)
    scaled_svc = make_pipeline(StandardScaler(), SVC()).fit(x_train, split.y_train)
    independent = float(np.mean(scaled_svc.predict(x_test) == split.y_test))
    assert abs(measured["svc_rbf"] - independent) <= 0.02  # 7 of 360 images
    card = registry.info(NAME)
    assert card["baselines"]["svc_rbf_test_accuracy"] == pytest.approx(
        measured["svc_rbf"], abs=1e-4
    )
    assert card["baselines"]["logistic_regression_test_accuracy"] == pytest.approx(
        measured["logistic_regression"], abs=1e-4
    )


def test_pretrained_reaches_card_accuracy_and_beats_baselines(model, split):
    card = registry.info(NAME)
    probabilities = predict(model, split.x_test)["probabilities"]
    # accuracy from the probabilities with numpy's argmax, not the model's own class_id
    accuracy = float(np.mean(np.argmax(probabilities, axis=1) == split.y_test))
    assert accuracy == pytest.approx(card["metrics"]["test_accuracy"], abs=1e-4)
    assert accuracy >= 0.99
    assert accuracy > card["baselines"]["svc_rbf_test_accuracy"]
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_card_records_protocol_and_learned_p(model):
    card = registry.info(NAME)
    assert card["split"]["protocol"] == digits_data.SPLIT
    assert card["training"]["command"] == "zoo train cnn_digits"
    assert "Trainer" in card["training"]["loop"]
    learned = cnn.learned_p(model)
    assert set(learned) == {"lp_pool0", "lp_pool1", "global_lp_pool"}
    assert all(p >= 1.0 for p in learned.values())
    for name, p in card["metrics"]["learned_p"].items():
        assert learned[name] == pytest.approx(p, abs=1e-3)


def test_class_id_is_argmax(model, split):
    outputs = model(split.x_test[:50], training=False)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(outputs["class_id"]),
        np.argmax(keras.ops.convert_to_numpy(outputs["probabilities"]), axis=1),
    )


def test_input_forms_agree(model, split):
    images = split.x_test[:5]
    as_4d = predict(model, images)["probabilities"]
    # Batch size changes the float summation order: probabilities in [0, 1] after ~6 layers of
    # float32 sums over <= 576 terms differ by a few hundred ulps at most.
    close = {"rtol": 0.0, "atol": 1e-5}
    np.testing.assert_allclose(predict(model, images[..., 0])["probabilities"], as_4d, **close)
    flat = predict(model, images.reshape(5, 64))["probabilities"]
    np.testing.assert_allclose(flat, as_4d, **close)
    single = predict(model, images[0, ..., 0])["probabilities"]
    np.testing.assert_allclose(single, as_4d[:1], **close)


@pytest.mark.parametrize(
    ("images", "match"),
    [
        (np.zeros((2, 7, 7)), r"`images` must have shape \(n, 8, 8, 1\).*\(2, 7, 7\)"),
        (np.zeros((2, 8, 8, 3)), r"`images`.*\(2, 8, 8, 3\)"),
        (np.zeros(5), r"`images`.*\(5,\)"),
        (np.full((1, 8, 8), np.nan), r"`images` must hold finite numbers.*NaN"),
    ],
)
def test_bad_images_are_rejected(model, images, match):
    with pytest.raises(ValueError, match=match):
        predict(model, images)


def test_shifted_copies_match_scipy_shift(split):
    images, labels = split.x_train[:4], split.y_train[:4]
    augmented, tiled = cnn_recipe.shifted_copies(images, labels)
    assert augmented.shape == (36, 8, 8, 1)
    index = 0
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            expected = ndimage.shift(images, (0, dy, dx, 0), order=0, mode="constant", cval=0)
            np.testing.assert_array_equal(augmented[index * 4 : (index + 1) * 4], expected)
            index += 1
    np.testing.assert_array_equal(tiled, np.tile(labels, 9))


def test_keras_round_trip(model, split, tmp_path):
    path = tmp_path / "cnn.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    x = split.x_test[:16]
    # the same graph and weights on the same batch: equal up to kernel nondeterminism
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(reloaded(x)["probabilities"]),
        keras.ops.convert_to_numpy(model(x)["probabilities"]),
        rtol=0.0,
        atol=1e-5,
    )
    assert type(reloaded) is type(model)
    assert reloaded.get_config() == model.get_config()


def test_export_loads_in_a_tf1_session_with_equal_outputs(model, split, tmp_path):
    model.export(str(tmp_path / "export"), verbose=False)
    x = split.x_test[:16]
    with SessionSignatureRunner(tmp_path / "export") as runner:
        assert runner.input_names() == ["image"]
        served = runner.run({"image": x})
    expected = model(x, training=False)
    # Another graph (TF1 session, oneDNN on or off) sums in another order; probabilities in
    # [0, 1]: a few hundred float32 ulps, checked with a 10x margin.
    probabilities = keras.ops.convert_to_numpy(expected["probabilities"])
    np.testing.assert_allclose(served["probabilities"], probabilities, rtol=0.0, atol=1e-4)
    top_two = np.sort(probabilities, axis=1)[:, -2:]
    clear = top_two[:, 1] - top_two[:, 0] > 1e-3  # no near-tie decided by rounding
    np.testing.assert_array_equal(
        served["class_id"][clear], keras.ops.convert_to_numpy(expected["class_id"])[clear]
    )


def test_fine_tune_new_head_keeps_backbone(split):
    keras.utils.set_random_seed(0)  # the new head's initial weights
    model = registry.load(NAME)
    conv_before = model.get_layer("conv1_1").get_weights()[0].copy()
    keep = split.y_train < 3
    x, y = split.x_train[keep][:150], split.y_train[keep][:150]
    tuned = cnn_recipe.fine_tune(
        model, (x, y), epochs=8, learning_rate=1e-2, num_classes=3, freeze_backbone=True
    )
    assert tuned.get_layer("head").units == 3
    assert tuned.get_config()["num_classes"] == 3
    np.testing.assert_array_equal(tuned.get_layer("conv1_1").get_weights()[0], conv_before)
    test_keep = split.y_test < 3
    predicted = predict(tuned, split.x_test[test_keep])["class_id"]
    # the pretrained backbone makes three classes easy after a few head-only epochs
    assert np.mean(predicted == split.y_test[test_keep]) > 0.9


def test_fine_tune_rejects_bad_labels():
    model = cnn.build_cnn(**cnn_recipe.CONFIG)
    with pytest.raises(ValueError, match=r"`labels` must be integers in \[0, 9\]"):
        cnn_recipe.fine_tune(model, (np.zeros((2, 8, 8)), np.array([0, 12])), epochs=1)
    with pytest.raises(ValueError, match="`data` must be a pair"):
        cnn_recipe.fine_tune(model, np.zeros((2, 8, 8)), epochs=1)


def test_build_overrides_and_errors():
    assert registry.build(NAME, num_classes=4).get_layer("head").units == 4
    with pytest.raises(ValueError, match="`num_classes` must be an int >= 2"):
        cnn.build_cnn(num_classes=1)


def test_plot_writes_a_png(model, tmp_path):
    path = cnn_plot.plot(model, tmp_path / "confusion.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_training_recipe_reproduces_the_card(tmp_path):
    card = cnn_recipe.train(tmp_path, seed=0, verbose=0)
    written = json.loads((tmp_path / "card.json").read_text())
    assert card["metrics"]["test_accuracy"] >= 0.99
    shipped = registry.info(NAME)["metrics"]["test_accuracy"]
    # another CPU or library release may flip an image or two of 360
    assert written["metrics"]["test_accuracy"] == pytest.approx(shipped, abs=2.5 / 360)
    assert (tmp_path / "checkpoints" / "fit" / "checkpoint").exists()
    assert any((tmp_path / "logs" / "fit").rglob("events.out.tfevents.*"))
