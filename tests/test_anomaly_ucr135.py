"""anomaly_ucr135: the shipped detector reaches its card metrics on the protocol, and behaves."""

import json

import keras
import numpy as np
import pytest
from scipy.integrate import trapezoid
from sklearn.metrics import f1_score, roc_auc_score

import zoo.registry as registry
from zoo.data import kdd_tsad
from zoo.models.anomaly import baselines as anomaly_baselines
from zoo.models.anomaly import metrics as anomaly_metrics
from zoo.models.anomaly import model as anomaly
from zoo.models.anomaly import plot as anomaly_plot
from zoo.models.anomaly import recipe as anomaly_recipe
from zoo.serving.session_runner import SessionSignatureRunner

NAME = "anomaly_ucr135"


@pytest.fixture(scope="module")
def model():
    return registry.load(NAME)


@pytest.fixture(scope="module")
def split():
    return kdd_tsad.load_ucr135()


@pytest.fixture(scope="module")
def test_points(model, split):
    return anomaly.predict(model, split.test)["point_score"]


def test_data_and_split(split):
    assert split.series.shape == (7501,)
    assert split.labels[: split.train_end].sum() == 0
    np.testing.assert_array_equal(np.flatnonzero(split.labels), np.arange(4187, 4199))
    assert len(split.test) == 6301


def test_point_scores_are_max_over_covering_windows():
    rng = np.random.default_rng(0)
    window, n = 5, 23
    window_scores = rng.normal(size=n - window + 1)
    expected = np.array(
        [
            max(window_scores[j] for j in range(len(window_scores)) if j <= i < j + window)
            for i in range(n)
        ]
    )
    np.testing.assert_array_equal(anomaly.point_scores(window_scores, window), expected)


def test_best_f1_matches_brute_force():
    rng = np.random.default_rng(1)
    labels = (rng.uniform(size=200) < 0.1).astype(int)
    scores = rng.normal(size=200) + labels
    brute = max(f1_score(labels, scores >= t) for t in np.unique(scores))
    assert anomaly_metrics.best_f1(labels, scores) == pytest.approx(brute, rel=1e-12)


def test_pretrained_reaches_card_metrics_and_targets(test_points, split):
    card = registry.info(NAME)
    labels = split.test_labels
    auc = roc_auc_score(labels, test_points)
    assert auc == pytest.approx(card["metrics"]["roc_auc"], abs=1e-3)
    assert auc >= 0.995
    assert anomaly_metrics.best_f1(labels, test_points) > 0.3
    top = int(np.argmax(test_points)) + split.train_end
    assert 4187 - 100 <= top <= 4198 + 100
    assert auc > card["baselines"]["isolation_forest_w100"]["roc_auc"]


def test_stored_threshold_flags_the_anomaly_and_nothing_far_from_it(model, test_points, split):
    flagged = np.flatnonzero(test_points > anomaly.get_threshold(model)) + split.train_end
    assert set(range(4187, 4199)) <= set(flagged)
    assert flagged.min() >= 4187 - 100 and flagged.max() <= 4198 + 100


def test_baselines_are_refit_on_the_split(split):
    measured = anomaly_baselines.baselines(split, seeds=0)
    card = registry.info(NAME)["baselines"]
    for name in ("isolation_forest_w100", "zscore"):
        assert measured[name]["roc_auc"] == pytest.approx(card[name]["roc_auc"], abs=1e-4)
    # the z-score baseline by hand: |x - mean| / std of the train part, ROC-AUC by sklearn
    z = np.abs(split.test - split.train.mean()) / split.train.std()
    assert measured["zscore"]["roc_auc"] == pytest.approx(
        roc_auc_score(split.test_labels, z), rel=1e-12
    )


def test_score_is_the_trapezoid_integral_of_the_squared_error(model, split):
    card_config = json.loads((registry.preset_dir(NAME) / "config.json").read_text())
    windows = anomaly.windows_of(split.series[4100:4300], 32)[::7]
    outputs = model.predict(windows, verbose=0)
    normalised_error = (
        (outputs["reconstruction"][..., 0] - windows[..., 0]) / card_config["std"]
    ) ** 2
    expected = trapezoid(normalised_error, dx=1.0, axis=1)
    # the reconstruction comes back through the inverse normalisation (x * std + mean, values
    # ~70): float32 rounding of ~70 * 6e-8 per value, squared-error terms of order 1e-2..1:
    # relative 1e-5 per term, 10x margin; atol for near-zero window errors
    np.testing.assert_allclose(outputs["score"], expected, rtol=1e-4, atol=1e-5)
    threshold = anomaly.get_threshold(model)
    clear = np.abs(outputs["score"] - threshold) > 1e-4 * threshold  # no tie decided by an ulp
    np.testing.assert_array_equal(
        outputs["is_anomaly"][clear], (outputs["score"] > threshold)[clear]
    )


def test_threshold_is_a_non_trainable_weight_in_the_saved_weights(model):
    layer = model.get_layer("threshold")
    assert layer.trainable_weights == []
    assert [w.name for w in layer.non_trainable_weights] == ["threshold"]
    # the weight holds the float32 value the recipe set; the config keeps it in full, the card
    # rounds it to 4 decimals
    config = registry.config(NAME)
    assert anomaly.get_threshold(model) == pytest.approx(config["threshold"], rel=1e-6)
    card = registry.info(NAME)
    assert anomaly.get_threshold(model) == pytest.approx(card["metrics"]["threshold"], abs=5.1e-5)


def test_infer_threshold_flags_the_requested_share(split):
    model = registry.load(NAME)
    normal = split.train[:400]
    threshold = anomaly.infer_threshold(model, normal, percentile=90)
    assert anomaly.get_threshold(model) == pytest.approx(threshold, rel=1e-6)
    # the served flag (the graph's own comparison) marks about 10 % of the windows it was set on
    flagged = model.predict(anomaly.windows_of(normal, 32), verbose=0)["is_anomaly"]
    assert flagged.mean() == pytest.approx(0.10, abs=0.01)
    with pytest.raises(ValueError, match="`percentile` must be a number in"):
        anomaly.infer_threshold(model, normal, percentile=0)


def test_keras_round_trip_keeps_scores_and_threshold(model, split, tmp_path):
    path = tmp_path / "detector.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    windows = anomaly.windows_of(split.series[4000:4100], 32)
    # the same graph on the same batch; scores ~1e-2..1e2: float32 ulps with a 10x margin
    np.testing.assert_allclose(
        reloaded.predict(windows, verbose=0)["score"],
        model.predict(windows, verbose=0)["score"],
        rtol=1e-5,
        atol=1e-6,
    )
    assert anomaly.get_threshold(reloaded) == anomaly.get_threshold(model)
    assert reloaded.get_config() == model.get_config()


def test_export_serves_score_and_is_anomaly_in_a_tf1_session(split, tmp_path):
    model = registry.load(NAME)
    windows = anomaly.windows_of(split.series[4150:4250], 32)
    scores = model.predict(windows, verbose=0)["score"]
    # A threshold inside the range of these scores, so both answers occur, and halfway between
    # two neighbouring scores, so no window's flag is a tie decided by rounding.
    ordered = np.sort(scores)
    middle = len(ordered) // 2
    threshold = float((ordered[middle - 1] + ordered[middle]) / 2)
    assert ordered[middle] - ordered[middle - 1] > 1e-3 * threshold
    model.get_layer("threshold").threshold.assign(threshold)
    model.export(str(tmp_path / "export"), verbose=False)
    with SessionSignatureRunner(tmp_path / "export") as runner:
        assert runner.input_names() == ["series"]
        served = runner.run({"series": windows})
    # Another graph (TF1 session; oneDNN on or off changes the LSTM's summation order): scores
    # near 0.02 and up differ by up to ~1e-5 relative (measured 1.3e-5 with oneDNN off), so
    # relative 1e-4 and an absolute floor of 1e-6 for the smallest scores.
    np.testing.assert_allclose(served["score"], scores, rtol=1e-4, atol=1e-6)
    expected = scores > threshold
    assert 0 < expected.sum() < len(expected)
    np.testing.assert_array_equal(served["is_anomaly"], expected)


def test_fine_tune_through_the_trainer_recalibrates(split, tmp_path):
    model = registry.load(NAME)
    normal = split.train[:150]
    windows = anomaly.windows_of(normal, 32)
    before_weights = [w.copy() for w in model.get_weights()]
    tuned = anomaly_recipe.fine_tune(
        model, normal, epochs=2, learning_rate=1e-4, percentile=100, run_dir=tmp_path / "run"
    )
    assert any(
        not np.array_equal(a, b) for a, b in zip(before_weights, tuned.get_weights(), strict=True)
    )
    assert (tmp_path / "run" / "checkpoints" / "fine_tune" / "checkpoint").exists()
    # percentile 100 puts the threshold at the largest score of the normal windows: the served
    # flag marks none of them but that one (a tie with itself is not "greater")
    scores = tuned.predict(windows, verbose=0)["score"]
    assert anomaly.get_threshold(tuned) == pytest.approx(scores.max(), rel=1e-4)
    clear = scores < anomaly.get_threshold(tuned) * (1 - 1e-4)
    assert not tuned.predict(windows, verbose=0)["is_anomaly"][clear].any()


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (np.zeros((10, 2, 3)), r"`series` must be 1-D.*\(10, 2, 3\)"),
        (np.arange(10.0), r"`series` must have at least `window`=32 points. Received 10"),
        (np.r_[np.ones(40), np.nan], r"`series` must hold finite numbers.*index \(40,\)"),
    ],
)
def test_bad_series_are_rejected(model, data, match):
    with pytest.raises(ValueError, match=match):
        anomaly.predict(model, data)


def test_wrong_window_length_is_rejected(model):
    with pytest.raises(ValueError, match=r"`windows` must have length 32.*Received .* 50"):
        anomaly.score_windows(model, np.zeros((3, 50, 1)))
    with pytest.raises(ValueError, match=r"`windows` must have shape \(n, 32, 1\)"):
        anomaly.score_windows(model, np.zeros((3, 32, 2)))


def test_plot_writes_a_png(model, tmp_path):
    path = anomaly_plot.plot(model, tmp_path / "scores.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_training_recipe_reproduces_the_card(tmp_path):
    metrics = anomaly_recipe.train(tmp_path, seed=0, verbose=0)["metrics"]
    assert metrics["roc_auc"] >= 0.99
    assert metrics["best_f1"] > 0.3
    assert metrics["top_in_anomaly"]
