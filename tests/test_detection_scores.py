"""zoo.models.common.detection_scores against sklearn.metrics and brute force; anomaly injection."""

import itertools
import warnings

import numpy as np
import pytest
from sklearn import metrics

from zoo.models.common import detection_scores as ds
from zoo.models.common.anomaly_injection import KINDS, inject_anomalies


def _labelled(seed, n=300, ties=False):
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.15).astype(int)
    scores = rng.normal(size=n) + 1.5 * labels
    return labels, np.round(scores, 1) if ties else scores


@pytest.mark.parametrize(("window", "stride", "length"), [(5, 1, 20), (4, 3, 17), (1, 1, 6)])
def test_point_scores_are_the_max_over_covering_windows(window, stride, length):
    rng = np.random.default_rng(0)
    count = (length - window) // stride + 1
    windows = rng.normal(size=count)
    result = ds.point_scores(windows, window, length, stride)
    for i in range(length):
        covering = [windows[j] for j in range(count) if j * stride <= i < j * stride + window]
        expected = max(covering) if covering else windows[-1]
        assert result[i] == expected


def test_point_scores_rejects_windows_that_do_not_fit():
    with pytest.raises(ValueError, match="`window_scores`"):
        ds.point_scores(np.zeros(5), 4, 7)
    with pytest.raises(ValueError, match="`stride`"):
        ds.point_scores(np.zeros(5), 4, 20, stride=0)


@pytest.mark.parametrize("ties", [False, True])
def test_roc_auc_and_average_precision_match_sklearn(ties):
    labels, scores = _labelled(1, ties=ties)
    assert ds.roc_auc(labels, scores) == pytest.approx(
        metrics.roc_auc_score(labels, scores), rel=1e-12
    )
    assert ds.average_precision(labels, scores) == pytest.approx(
        metrics.average_precision_score(labels, scores), rel=1e-12
    )


def test_hand_cases():
    # Perfect separation; one tie across classes counts 1/2 of a pair.
    assert ds.roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert ds.roc_auc([0, 1], [0.5, 0.5]) == 0.5
    # Ranking 1, 0, 1: precision 1 at recall 1/2, then 2/3 at recall 1.
    assert ds.average_precision([1, 0, 1], [0.9, 0.8, 0.7]) == pytest.approx(0.5 + 0.5 * 2 / 3)


@pytest.mark.parametrize("ties", [False, True])
def test_best_f1_matches_brute_force_and_its_threshold_reaches_it(ties):
    labels, scores = _labelled(2, ties=ties)
    brute = max(metrics.f1_score(labels, scores >= t) for t in np.unique(scores))
    f1, threshold = ds.best_f1(labels, scores)
    assert f1 == pytest.approx(brute, rel=1e-12)
    assert metrics.f1_score(labels, scores > threshold) == pytest.approx(f1, rel=1e-12)


def test_false_alarm_rate_counts_flagged_normal_points():
    assert ds.false_alarm_rate([1, 0, 1, 1, 0], [0, 0, 1, 0, 1]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="`labels`"):
        ds.false_alarm_rate([1], [1])


@pytest.mark.parametrize("rate", [0.0, 0.001, 0.01, 0.05, 0.2])
def test_threshold_for_false_alarm_rate_is_the_tightest_that_holds(rate):
    scores = np.random.default_rng(4).gamma(2.0, size=2000)
    threshold = ds.threshold_for_false_alarm_rate(scores, rate)
    assert np.mean(scores > threshold) <= rate
    # Any lower score as threshold lets through more than the rate allows.
    lower = np.max(scores[scores < threshold])
    assert np.mean(scores > lower) > rate


def test_labels_must_hold_both_classes_and_match_scores():
    with pytest.raises(ValueError, match="both classes"):
        ds.roc_auc([0, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="same length"):
        ds.best_f1([0, 1], [0.1])
    with pytest.raises(ValueError, match="`rate`"):
        ds.threshold_for_false_alarm_rate([1.0, 2.0], 1.0)


def test_anomaly_free_keeps_a_margin_around_anomalies():
    labels = np.array([0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0])
    np.testing.assert_array_equal(ds.anomaly_free(labels, 0), labels == 0)
    expected = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], bool)  # 1-5 and 6-10 are near
    np.testing.assert_array_equal(ds.anomaly_free(labels, 2), expected)
    np.testing.assert_array_equal(ds.anomaly_free(labels, 1), [1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0])


def test_detection_report_with_and_without_labels():
    labels, scores = _labelled(6)
    report = ds.detection_report(scores, 1.0, labels)
    flags = scores > 1.0
    assert report["flagged"] == int(flags.sum())
    assert report["false_alarm_rate"] == pytest.approx(np.mean(flags[labels == 0]), rel=1e-12)
    assert report["recall"] == pytest.approx(metrics.recall_score(labels, flags), rel=1e-12)
    assert report["roc_auc"] == pytest.approx(metrics.roc_auc_score(labels, scores), rel=1e-12)
    assert set(ds.detection_report(scores, 1.0)) == {"flagged", "flagged_share"}
    far = ds.anomaly_free(labels, 3)
    report = ds.detection_report(scores, 1.0, labels, margin=3)
    assert report["false_alarm_rate"] == pytest.approx(np.mean(flags[far]), rel=1e-12)


def _seasonal(n=1200, period=24):
    t = np.arange(n)
    noise = np.random.default_rng(9).normal(0, 0.1, n)
    return 5.0 + np.sin(2 * np.pi * t / period) + noise


def test_injection_changes_only_labelled_points_and_each_kind_as_documented():
    x = _seasonal()
    out = inject_anomalies(x, count=10, period=24, start=200, seed=7, magnitude=3.0)
    changed = out.values != x
    assert not changed[out.labels == 0].any()
    assert out.labels[:200].sum() == 0
    assert out.labels.sum() == sum(stop - start for _, start, stop in out.events)
    assert [kind for kind, _, _ in out.events] == list(KINDS) * 2
    sigma = np.std(x)
    for kind, start, stop in out.events:
        segment, before = out.values[start:stop], x[start:stop]
        if kind == "spike":
            np.testing.assert_allclose(np.abs(segment - before), 3.0 * sigma, rtol=1e-12)
        elif kind == "level_shift":
            np.testing.assert_allclose(np.abs(segment - before), 1.5 * sigma, rtol=1e-12)
        elif kind == "flat_line":
            np.testing.assert_array_equal(segment, x[start])
        elif kind == "season_break":
            np.testing.assert_array_equal(segment, x[start - 12 : stop - 12])
    starts = sorted((start, stop) for _, start, stop in out.events)
    gaps = [b[0] - a[1] for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 2 * 20


def test_injection_is_seeded_and_checks_room():
    x = _seasonal()
    a, b = inject_anomalies(x, seed=1, period=24), inject_anomalies(x, seed=1, period=24)
    np.testing.assert_array_equal(a.values, b.values)
    assert a.events == b.events
    assert inject_anomalies(x, seed=2, period=24).events != a.events
    with pytest.raises(ValueError, match="`count`"):
        inject_anomalies(x[:100], count=10)
    with pytest.raises(ValueError, match="Unknown anomaly kind"):
        inject_anomalies(x, kinds=("drift",))


def test_detection_baselines_threshold_on_held_out_normal_and_find_spikes():
    from zoo.models.common.detection_baselines import detection_baselines

    normal = _seasonal(1000)
    test = inject_anomalies(_seasonal(600), count=4, kinds=("spike",), period=24, seed=3)
    reports = detection_baselines(
        normal, test.values, window=24, labels=test.labels, false_alarm_rate=0.01
    )
    assert set(reports) == {"isolation_forest", "zscore"}
    for report in reports.values():
        assert {"roc_auc", "pr_auc", "best_f1", "false_alarm_rate", "threshold"} <= set(report)
        assert 0.0 <= report["false_alarm_rate"] <= 1.0
    # Spikes of 3 standard deviations stand out of |x - mean| / std.
    assert reports["zscore"]["roc_auc"] > 0.9
    with pytest.raises(ValueError, match="`normal`"):
        detection_baselines(normal[:50], test.values, window=24)


def test_a_false_alarm_rate_that_the_normal_points_cannot_set_is_warned_about():
    # 600 held-out points cannot set 0.1 %: the threshold is their largest score, which an iid
    # new score passes with probability 1/601, and the user is told so.
    from zoo.models.common.threshold import normal_threshold

    scores = np.random.default_rng(5).normal(size=600)
    with pytest.warns(UserWarning, match=r"0.001 needs at least 1000 normal points.*received 600"):
        assert normal_threshold(scores, false_alarm_rate=0.001) == scores.max()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        normal_threshold(np.r_[scores, scores], false_alarm_rate=0.001)
        normal_threshold(scores, percentile=99.9)
