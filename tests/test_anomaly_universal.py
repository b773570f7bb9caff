"""The zero-shot detector `anomaly_universal`: its scale-free front end against numpy, the way a
series is scored, its corpus and benchmark, a baseline against a brute-force reference, and the
shipped model on series it never saw."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import zoo
from zoo.models.common.threshold import normal_threshold
from zoo.models.universal_anomaly import benchmark, corpus, recipe
from zoo.models.universal_anomaly.baselines import _matrix_profile
from zoo.models.universal_anomaly.discord import DiscordProfile, subsequence_stride
from zoo.models.universal_anomaly.layers import CLIP, MAD_TO_STD, RobustScaling
from zoo.models.universal_anomaly.model import (
    build_universal_detector,
    point_scores,
    window_starts,
)

SMALL = {"window": 32, "filters": 8, "dilations": [1, 2]}


def _robust_reference(row: np.ndarray) -> np.ndarray:
    observed = np.isfinite(row)
    med = np.median(row[observed])
    mad = np.median(np.abs(row[observed] - med))
    scale = MAD_TO_STD * mad if mad > 0 else np.std(row[observed])
    scale = max(scale, 1e-6 * (1 + abs(med)))
    z = np.where(observed, np.clip((row - med) / scale, -CLIP, CLIP), 0.0)
    dz = np.zeros_like(z)
    both = observed[1:] & observed[:-1]
    dz[1:] = np.where(both, np.clip(z[1:] - z[:-1], -CLIP, CLIP), 0.0)
    return np.stack([z, dz, observed.astype(float)], axis=-1)


def test_robust_scaling_matches_numpy_median_and_mad_with_missing_points():
    rng = np.random.default_rng(0)
    x = rng.normal(50.0, 3.0, (5, 41))
    x[0, :7] = np.nan  # left padding
    x[1, 10] = np.nan  # a gap inside
    x[2, 20] = 400.0  # an outlier the MAD ignores (its z is clipped)
    x[3, :] = np.r_[np.zeros(30), rng.uniform(1, 5, 11)]  # MAD 0: the std takes over
    out = np.asarray(RobustScaling()(x.astype("float32")))
    expected = np.stack([_robust_reference(row) for row in x])
    # float32 inputs near 50: rounding 50·6e-8 = 3e-6, over a scale of ~2: z to ~1e-5.
    np.testing.assert_allclose(out, expected, atol=2e-4)


@pytest.mark.parametrize("config", [SMALL, {**SMALL, "window": 64, "discord_lengths": [8, 32]}])
def test_detector_reads_any_scale_and_level_the_same(config):
    model = build_universal_detector(**config)
    rng = np.random.default_rng(1)
    x = np.sin(np.arange(100) / 3.0) + 0.1 * rng.normal(size=100)
    base = point_scores(model, x)
    moved = point_scores(model, 250.0 * x + 1e4)
    # 1e4 in float32 carries 1e-3 absolute error, 4e-6 of the scale 250: far below 1e-3.
    np.testing.assert_allclose(moved, base, atol=1e-3)


@pytest.mark.parametrize("factor", [1e-15, 1e-30, 1e30, 1e300])
def test_detector_reads_tiny_and_huge_magnitudes_as_their_shape(factor):
    # In float32 inside the graph, 1e-15·x reads as flat against the scale floor 1e-6·(1 +
    # |median|), 1e30·x overflows when squared and 1e300·x is beyond float32: `point_scores`
    # scores x / 2^k (an exact rescaling), so each gives x's own scores (before that, the shipped
    # detector's scores at 1e-15, 1e-30 and 1e30 were 0.33, 0.87 and 0.63 away from those at
    # 1; this small one's fail at all but 1e30). Scores are probabilities: float32 rounding of
    # the rescaled series (x·factor / 2^k is x times a factor in [0.7, 1.4]) moves them ~1e-6.
    model = build_universal_detector(**SMALL)
    rng = np.random.default_rng(4)
    x = np.sin(np.arange(120) / 3.0) + 0.1 * rng.normal(size=120)
    x[60] += 2.0
    np.testing.assert_allclose(point_scores(model, factor * x), point_scores(model, x), atol=1e-4)


def test_point_score_is_the_mean_over_covering_windows():
    model = build_universal_detector(**SMALL)
    x = np.cos(np.arange(90) / 4.0) + np.linspace(0, 2, 90)
    starts = window_starts(len(x), 32, 8)
    assert starts[0] == 0 and starts[-1] == len(x) - 32
    windows = np.stack([x[s : s + 32] for s in starts]).astype("float32")
    rows = np.asarray(model(windows)["score"], "float64")
    expected = np.array(
        [
            np.mean([rows[j, t - s] for j, s in enumerate(starts) if s <= t < s + 32])
            for t in range(90)
        ]
    )
    np.testing.assert_allclose(point_scores(model, x), expected, atol=1e-6)


def test_short_series_missing_points_and_bad_input():
    model = build_universal_detector(**SMALL)
    x = np.arange(12, dtype=float)
    x[5] = np.nan
    assert point_scores(model, x).shape == (12,)
    with pytest.raises(ValueError, match="Row 3 is inf"):
        point_scores(model, np.r_[1.0, 2.0, 3.0, np.inf, np.arange(10.0)])
    with pytest.raises(ValueError, match="at least 8 observed"):
        point_scores(model, np.arange(5.0))


def test_detect_takes_arrays_lists_and_long_frames(tmp_path):
    model = build_universal_detector(**SMALL)
    x = np.sin(np.arange(70) / 2.0)
    single = zoo.detect(model, x)
    assert single["score"].shape == (70,) and single["is_anomaly"].dtype == bool
    many = zoo.detect(model, [x, x[:20]])
    assert [len(s) for s in many["score"]] == [70, 20]
    np.testing.assert_allclose(many["score"][0], single["score"])
    # A plain list of numbers is one series; an empty list, no series.
    np.testing.assert_allclose(zoo.detect(model, list(x))["score"], single["score"])
    assert zoo.detect(model, []) == {"score": [], "is_anomaly": []}
    frame = pd.DataFrame({"unique_id": ["b"] * 20 + ["a"] * 70, "y": np.r_[x[:20], x]})
    out = zoo.detect(model, frame)
    np.testing.assert_allclose(out["score"].to_numpy()[20:], single["score"])
    with pytest.raises(ValueError, match="`column`"):
        zoo.detect(model, frame, column="value")
    # An empty frame, with or without a time column, comes back empty with the two columns.
    for empty in (frame.iloc[:0], frame.iloc[:0].assign(ds=pd.Series([], dtype="datetime64[ns]"))):
        none = zoo.detect(model, empty)
        assert len(none) == 0 and {"score", "is_anomaly"} <= set(none.columns)


def test_many_series_of_one_length_are_scored_in_batches_as_one_by_one(shipped):
    # The graph scores each row on its own: batching series of one length (a long frame's usual
    # case, one graph call instead of one per series) changes no score beyond float32 rounding.
    from zoo.models.universal_anomaly.model import MAX_POINTS, many_point_scores

    rng = np.random.default_rng(7)
    many = [rng.normal(size=n).cumsum() * 10.0**k for k, n in enumerate([120, 120, 40, 120, 300])]
    many[1][50] += 30.0  # a spike in one row of the batch of three
    many[3][60:70] = np.nan  # a gap in another
    one_by_one = [point_scores(shipped, x) for x in many]
    batched = many_point_scores(shipped, many)
    for got, expected in zip(batched, one_by_one, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    # more series of one length than one batch holds (MAX_POINTS points): several batches
    rows = [rng.normal(size=1024) for _ in range(MAX_POINTS // 1024 + 2)]
    split = many_point_scores(shipped, rows)
    np.testing.assert_allclose(split[-1], point_scores(shipped, rows[-1]), rtol=1e-5, atol=1e-6)


def test_detect_scores_a_long_frame_in_time_order_whatever_its_row_order():
    # Text day-first dates (as pd.read_csv leaves them), rows shuffled: each series is scored in
    # time order and the scores go back to their rows, as for the sorted frame.
    model = build_universal_detector(**SMALL)
    x = np.sin(np.arange(70) / 2.0)
    x[40] += 5.0
    stamps = pd.date_range("2024-01-01", periods=70, freq="D")
    ordered = pd.DataFrame({"unique_id": "a", "ds": stamps.strftime("%d/%m/%Y"), "y": x})
    shuffled = ordered.sample(frac=1.0, random_state=1)
    got = zoo.detect(model, shuffled)
    assert list(got.index) == list(shuffled.index)  # rows keep their order
    expected = zoo.detect(model, x)["score"]
    np.testing.assert_array_equal(got.sort_index()["score"].to_numpy(), expected)
    # Datetime and numeric time columns sort the same way.
    for times in (stamps, np.arange(70) * 2.5):
        frame = pd.DataFrame({"ds": times, "y": x}).iloc[::-1]
        np.testing.assert_array_equal(zoo.detect(model, frame).sort_index()["score"], expected)


def test_a_series_missing_half_a_period_is_scored_with_the_gap_missing(tmp_path):
    # An hourly sine of period 50 missing 25 hours. Before, zoo.detect scored a DataFrame's rows
    # as consecutive (a phase jump, scored up to 0.72) and zoo predict filled the gap with a
    # straight line, which the shipped detector flagged at both ends (0.90 > 0.81). Now both give
    # the detector the missing steps as missing (NaN), as an array with NaN in the gap is scored.
    model = zoo.load("anomaly_universal")
    y = 10 * np.sin(2 * np.pi * np.arange(1500) / 50)
    y += np.random.default_rng(0).normal(0.0, 0.3, 1500)
    frame = pd.DataFrame({"ds": pd.date_range("2020-01-01", periods=1500, freq="h"), "y": y})
    holed = frame.drop(index=range(700, 725))
    gridded = y.copy()
    gridded[700:725] = np.nan
    expected = zoo.detect(model, gridded)["score"][holed.index]
    got = zoo.detect(model, holed.sample(frac=1.0, random_state=0)).sort_index()
    np.testing.assert_allclose(got["score"].to_numpy(), expected, rtol=1e-6)
    holed.to_csv(tmp_path / "holed.csv", index=False)
    table = zoo.predict(model, tmp_path / "holed.csv", "y", time_column="ds")
    kept = table["ds"].isin(holed["ds"]).to_numpy()
    np.testing.assert_allclose(table.loc[kept, "score"].to_numpy(), expected, rtol=1e-6)
    assert not table["is_anomaly"].any() and not got["is_anomaly"].any()
    # A pandas Series with a DatetimeIndex is read on its grid too (before: rows consecutive).
    dated = zoo.detect(model, holed.set_index("ds")["y"])
    np.testing.assert_allclose(dated["score"], expected, rtol=1e-6)
    assert dated["is_anomaly"].dtype == bool and not dated["is_anomaly"].any()
    # A NaN value is a missing step too; NaN before a series' first value gets no score.
    nan_rows = holed.assign(y=holed["y"].where(~holed.index.isin([0, 300])))
    scored = zoo.detect(model, nan_rows)
    gridded[[0, 300]] = np.nan
    expected = zoo.detect(model, gridded[1:])["score"][holed.index[1:] - 1]
    assert np.isnan(scored["score"].iloc[0]) and not scored["is_anomaly"].iloc[0]
    # A series too short for the detector is named.
    two = pd.concat([holed.assign(unique_id="a"), holed.iloc[:5].assign(unique_id="b")])
    named = r"Series 'b' \(data rows \d+–\d+\): `series` must have at least 8 observed"
    with pytest.raises(ValueError, match=named):
        zoo.detect(model, two)
    np.testing.assert_allclose(scored["score"].to_numpy()[1:], expected, rtol=1e-6)


def _discord_reference(x: np.ndarray, m: int, r: int) -> np.ndarray:
    """Brute force: (W, 2) discord channels by explicit loops over subsequence pairs."""
    width = len(x)
    starts = np.arange(0, width - m + 1, r)
    valid = np.array([np.isfinite(x[s : s + m]).all() for s in starts])
    spread = np.nanstd(x)
    z = np.zeros((len(starts), m))
    for i, s in enumerate(starts):
        part = x[s : s + m] - np.mean(x[s : s + m])
        if valid[i] and part.std() >= 1e-3 * spread:
            z[i] = part / part.std()
    d = np.zeros(len(starts))
    for i in range(len(starts)):
        near = [
            np.linalg.norm(z[i] - z[j]) / np.sqrt(2 * m)
            for j in range(len(starts))
            if valid[i] and valid[j] and abs(starts[i] - starts[j]) >= m
        ]
        d[i] = min(near) if near else 0.0
    centred = np.where(valid, d - np.median(d[valid]), 0.0)
    out = np.full((width, 2), -np.inf)
    for i, s in enumerate(starts):
        for t in range(s, min(s + r, width - m + 1)):  # each value spread over its r starts
            out[t : t + m] = np.maximum(out[t : t + m], [d[i], centred[i]])
    return out


def test_discord_profile_matches_brute_force_nearest_neighbours():
    rng = np.random.default_rng(8)
    x = np.sin(np.arange(96) / 3.0) + 0.3 * rng.normal(size=96)
    x[:10] = np.nan  # left padding: subsequences touching it are left out
    rows = np.stack([x, 50.0 + 4.0 * rng.normal(size=96)])
    lengths = (8, 32)  # strides 1 and 4
    got = np.asarray(DiscordProfile(lengths)(rows.astype("float32")))
    expected = np.stack(
        [
            np.concatenate([_discord_reference(row, m, subsequence_stride(m)) for m in lengths], -1)
            for row in rows
        ]
    )
    # float32 correlations of m <= 32 terms err by ~1e-6; sqrt(1 - rho) amplifies that by
    # 1/(2d) with d >= 0.05 here: well below 1e-4.
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_discord_profile_singles_out_the_odd_instance_whatever_its_size():
    rng = np.random.default_rng(9)
    beat = np.exp(-0.5 * ((np.arange(40) - 12) / 3.0) ** 2)
    odd = np.exp(-0.5 * ((np.arange(40) - 28) / 6.0) ** 2)  # same size, other shape
    x = np.concatenate([beat] * 5 + [odd] + [beat] * 6) + 0.01 * rng.normal(size=480)
    channels = np.asarray(DiscordProfile([32])(x[None].astype("float32")))[0]
    far = np.r_[0:168, 272:480]  # farther than m = 32 from the odd instance (points 200-239)
    assert channels[200:240, 0].min() > 3 * channels[far, 0].max()
    scaled = np.asarray(DiscordProfile([32])((3e3 * x[None] - 7.0).astype("float32")))[0]
    np.testing.assert_allclose(scaled, channels, atol=1e-3)  # scale- and level-free


def test_detector_with_discord_channels_saves_loads_and_checks_its_lengths(tmp_path):
    import keras

    model = build_universal_detector(**{**SMALL, "window": 64, "discord_lengths": [8, 32]})
    x = np.sin(np.arange(2 * 64) / 3.0).reshape(2, 64).astype("float32")
    x[0, :20] = np.nan
    path = tmp_path / "detector.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.get_config()["discord_lengths"] == [8, 32]
    np.testing.assert_allclose(loaded(x)["score"], model(x)["score"], atol=1e-6)
    with pytest.raises(ValueError, match="`discord_lengths` must be at most window / 2 = 16"):
        build_universal_detector(**{**SMALL, "discord_lengths": [24]})


def test_training_windows_are_reproducible_and_labelled_where_changed():
    rng = np.random.default_rng(3)
    series = [
        corpus.NormalSeries(np.sin(np.arange(300) / 5) + 0.1 * rng.normal(size=300), 31, "m3"),
        corpus.NormalSeries(rng.normal(size=50), 1, "synthetic"),
    ]
    weights = {"m3": 0.5, "synthetic": 0.5}
    x, y = corpus.training_windows(series, window=64, count=200, seed=7, source_weights=weights)
    x2, y2 = corpus.training_windows(series, window=64, count=200, seed=7, source_weights=weights)
    np.testing.assert_array_equal(np.isnan(x), np.isnan(x2))
    np.testing.assert_array_equal(np.nan_to_num(x), np.nan_to_num(x2))
    np.testing.assert_array_equal(y, y2)
    # NaN only as left padding, never labelled; some windows carry anomalies, some none.
    for row, marks in zip(x, y, strict=True):
        missing = np.isnan(row)
        assert not np.any(missing[np.argmin(missing) :]) or missing.all()
        assert not marks[missing].any()
    carrying = (y.sum(axis=1) > 0).mean()
    assert 0.5 < carrying < 0.95


def test_repeated_pattern_marks_one_whole_instance_or_none():
    rng = np.random.default_rng(4)
    seen = set()
    for _ in range(40):
        values, marks = corpus.repeated_pattern(rng, 256, anomaly_share=0.5)
        assert values.shape == marks.shape == (256,) and np.isfinite(values).all()
        flagged = np.flatnonzero(marks)
        if len(flagged):  # one contiguous run (an instance, maybe cut by the window's edge)
            assert np.array_equal(flagged, np.arange(flagged[0], flagged[-1] + 1))
            assert len(flagged) <= round(128 * 1.15)  # 12–128 points, stretched up to 15 %
        seen.add(bool(len(flagged)))
    assert seen == {True, False}


def test_instance_windows_mark_the_one_instance_of_another_class():
    from zoo.models.universal_anomaly.instance_corpus import InstanceSet, instance_window

    # Class "up" rises, class "down" falls, at lengths 40-300: cropped, smoothed and resampled,
    # each instance keeps its direction, so the labelled run must fall and be one instance.
    rng = np.random.default_rng(6)
    lengths = rng.integers(40, 300, 20)
    ramps = tuple(np.linspace(0.0, 1.0, n) ** 1.5 for n in lengths)
    classes = np.array(["up"] * 14 + ["down"] * 6)
    shapes = tuple(r if c == "up" else r[::-1] for r, c in zip(ramps, classes, strict=True))
    sets = (InstanceSet("ramps[0]", shapes, classes),)
    seen = set()
    for _ in range(60):
        values, marks = instance_window(rng, 256, 0.75, sets=sets)
        assert values.shape == marks.shape == (256,) and np.isfinite(values).all()
        flagged = np.flatnonzero(marks)
        seen.add(bool(len(flagged)))
        if len(flagged) < 3:
            continue
        assert np.array_equal(flagged, np.arange(flagged[0], flagged[-1] + 1))
        assert len(flagged) <= round(128 * 1.15)
        steps = np.diff(values[flagged])
        up = 1.0 if np.sum(steps > 0) > np.sum(steps < 0) else -1.0
        # The odd instance runs against every whole normal one (the window's normal class may
        # be "down", then the odd one rises).
        normal = np.diff(values)[(marks[:-1] == 0) & (marks[1:] == 0)]
        assert np.all(up * steps > 0)
        assert np.mean(up * normal < 0) > 0.8
    assert seen == {True, False}
    # The same generator state gives the same window.
    a, b = np.random.default_rng(9), np.random.default_rng(9)
    for x, y in zip(
        instance_window(a, 256, 0.75, sets=sets),
        instance_window(b, 256, 0.75, sets=sets),
        strict=True,
    ):
        np.testing.assert_array_equal(x, y)


def test_a_training_mix_with_unknown_shares_is_refused(tmp_path):
    from zoo.models.universal_anomaly.recipe import train

    with pytest.raises(ValueError, match="`mix` takes pattern_share, instance_share, noise_sized"):
        train(tmp_path / "run", mix={"patterns": 0.2})
    assert not (tmp_path / "run").exists()


def test_the_bundled_instance_sets_load_with_their_classes():
    from zoo.models.universal_anomaly.instance_corpus import INSTANCE_SETS, instance_sets

    for split in ("train", "test"):
        sets = instance_sets(split)
        assert {item.name.split("[")[0] for item in sets} == set(INSTANCE_SETS)
        for item in sets:
            assert len(set(item.classes)) >= 2, item.name
            assert all(np.isfinite(x).all() and len(x) >= 7 for x in item.instances), item.name
    assert instance_sets("train")[0].instances[0] is not instance_sets("test")[0].instances[0]
    with pytest.raises(ValueError, match="`split`"):
        instance_sets("validation")
    with pytest.raises(ValueError, match="`instances`"):
        corpus.training_windows([], window=64, count=4, seed=0, instance_share=0.5)


def test_noise_level_reads_the_noise_beside_a_smooth_signal():
    rng = np.random.default_rng(21)
    noise = rng.normal(0.0, 2.0, 5000)
    slow = 50 * np.sin(2 * np.pi * np.arange(5000) / 2000)  # steps of at most 0.16
    # MAD estimate of a standard deviation: relative sd about 1.67 / sqrt(n) = 2.4 %; 8 % allowed
    for x in (noise, slow + noise, np.cumsum(rng.normal(0.0, 2.0 * np.sqrt(2), 5000))):
        assert abs(corpus.noise_level(x) / 2.0 - 1) < 0.08


def test_injection_sizes_in_noise_units():
    rng = np.random.default_rng(22)
    crop = 5 * np.sin(2 * np.pi * np.arange(256) / 64) + rng.normal(0, 0.5, 256)
    # with no noise-sized share the draws are the shipped recipe's: uniform 1-6 std
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    assert [corpus.injection_size(a, crop, 0.0) for _ in range(5)] == list(b.uniform(1, 6, 5))
    noise, spread = corpus.noise_level(crop), crop.std()
    units = np.array([corpus.injection_size(rng, crop, 1.0) for _ in range(400)]) * spread / noise
    assert units.min() >= 4 and units.max() <= 60
    # log-uniform on [4, 60]: its median is sqrt(4 * 60) = 15.5
    assert 12 < np.median(units) < 20
    assert corpus.injection_size(rng, np.full(64, 3.0), 1.0) == corpus.MIN_STD_SIZE
    assert corpus.injection_size(rng, np.linspace(0, 1, 64), 1.0) == corpus.MIN_STD_SIZE


def test_random_pulses_are_sharp_and_random_shapes_smooth():
    from scipy.stats import kurtosis

    rng = np.random.default_rng(5)
    pulses = [corpus.random_pulse(rng, int(rng.integers(12, 129))) for _ in range(100)]
    shapes = [corpus.random_shape(rng, int(rng.integers(12, 129))) for _ in range(100)]
    for x in pulses + shapes:  # z-normalised, as the windows' instances are scaled afterwards
        assert abs(x.mean()) < 1e-9 and abs(x.std() - 1.0) < 1e-9
    # A few narrow bumps on a flat baseline: heavy tails (excess kurtosis far above a Gaussian's
    # 0); sums of sines and wide bumps: light tails.
    assert np.median([kurtosis(x) for x in pulses]) > 3.0
    assert np.median([kurtosis(x) for x in shapes]) < 1.0


def test_ucr_derived_series_marks_exactly_the_odd_instances():
    item = benchmark.ucr_derived("gunpoint")
    assert item.labels.sum() == benchmark.ODD_INSTANCES * item.window
    assert len(item.values) == (benchmark.NORMAL_INSTANCES + benchmark.ODD_INSTANCES) * item.window


def _csv_columns(path, columns):
    """The named columns of a CSV file as float arrays, read with the standard library."""
    import csv

    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [np.array([float(row[c]) for row in rows]) for c in columns]


def test_bundled_labelled_series_are_the_package_files():
    from pathlib import Path

    import aeon
    import sktime

    for item, count in ((benchmark.mitdb(), 352), (benchmark.yahoo(), 7)):
        path = Path(sktime.__file__).parent / "datasets" / "data" / item.name / f"{item.name}.csv"
        values, labels = _csv_columns(path, ("data", "label"))
        # pandas' fast decimal parser may round the last bit differently from float(): ~1 ulp.
        np.testing.assert_allclose(item.values, values, rtol=1e-15, atol=1e-14)
        np.testing.assert_array_equal(item.labels, labels)
        assert item.labels.sum() == count and item.labelled
    aeon_data = Path(aeon.__file__).parent / "datasets" / "data"
    ecg = benchmark.ecg_diff_count_3()
    values, labels = _csv_columns(
        aeon_data / "UnitTest" / "ecg-diff-count-3_TEST.csv", ("value-0", "is_anomaly")
    )
    np.testing.assert_allclose(ecg.values, values, rtol=1e-15, atol=1e-14)
    starts = np.flatnonzero(np.diff(np.r_[0, ecg.labels]) == 1)
    assert len(starts) == 3 and ecg.labels.sum() == 300  # three anomalies of 100 points
    daphnet = benchmark.daphnet()
    columns = ("ankle_horiz_fwd", "leg_vert", "trunk_horiz_lateral", "is_anomaly")
    *channels, labels = _csv_columns(aeon_data / "Daphnet_S06R02E0" / "S06R02E0.csv", columns)
    assert daphnet.values.shape == (7040, 9)
    np.testing.assert_array_equal(daphnet.values[:, [0, 4, 8]], np.stack(channels, axis=1))
    assert not labels.any() and not daphnet.labelled  # the excerpt holds no labelled anomaly


def test_channel_max_scores_each_channel_alone():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(50, 3))
    x[10, 1] = 9.0

    def scorer(column):  # distance from the column's own median
        return np.abs(column - np.median(column))

    expected = np.max(np.abs(x - np.median(x, axis=0)), axis=1)
    np.testing.assert_allclose(benchmark.channel_max(scorer, x), expected)
    np.testing.assert_allclose(benchmark.channel_max(scorer, x[:, 0]), scorer(x[:, 0]))
    assert np.argmax(benchmark.channel_max(scorer, x)) == 10


@pytest.mark.slow  # stumpy compiles its kernels with numba on first use (~45 s)
def test_matrix_profile_baseline_matches_brute_force_discords():
    rng = np.random.default_rng(5)
    x = np.sin(np.arange(120) / 3.0) + 0.2 * rng.normal(size=120)
    m = 10
    w = np.lib.stride_tricks.sliding_window_view(x, m)
    z = (w - w.mean(axis=1, keepdims=True)) / w.std(axis=1, keepdims=True)
    d = np.sqrt(((z[:, None, :] - z[None, :, :]) ** 2).sum(-1))
    zone = int(np.ceil(m / 4))
    for i in range(len(w)):
        d[i, max(0, i - zone) : i + zone + 1] = np.inf
    # Both are Euclidean distances of z-normalised windows of size ~sqrt(2m): float64 to 1e-6.
    np.testing.assert_allclose(_matrix_profile(x, m), d.min(axis=1), atol=1e-6)


@pytest.fixture(scope="module")
def shipped():
    return zoo.load("anomaly_universal")


def test_shipped_detector_finds_a_spike_in_a_series_it_never_saw(shipped):
    rng = np.random.default_rng(11)
    t = np.arange(1500)
    x = 40 + 5 * np.sin(2 * np.pi * t / 50) + rng.normal(0, 0.5, len(t))
    x[900] += 8.0
    found = zoo.detect(shipped, x)
    assert np.argmax(found["score"]) in range(898, 903)
    assert found["is_anomaly"][900]
    clean = np.r_[0:850, 950:1500]
    # The threshold is set for 0.1 % false alarms on normal series; allow 10x on one series.
    assert found["is_anomaly"][clean].mean() <= 0.01


@pytest.mark.parametrize("kind", ["white noise", "random walk", "AR(1)", "sine of period 100"])
@pytest.mark.parametrize("size", [30.0, 100.0])
def test_shipped_detector_flags_a_spike_however_large(shipped, kind, size):
    # The network alone reads a spike as less anomalous the larger it is (its inputs clip at
    # 20 robust σ and the spike dominates its window's summary): a 100σ spike in white noise
    # scored 0.04 before the magnitude floor. σ: the series' own standard deviation.
    rng = np.random.default_rng(13)
    e = rng.normal(size=4000)
    x = {
        "white noise": e,
        "random walk": np.cumsum(e),
        "AR(1)": np.convolve(e, 0.9 ** np.arange(60))[:4000],
        "sine of period 100": np.sin(2 * np.pi * np.arange(4000) / 100) + 0.1 * e,
    }[kind]
    x = x.copy()
    x[2467] += size * x.std()
    found = zoo.detect(shipped, x)
    assert found["is_anomaly"][2467]
    # No flag away from it (in the sine the discord of the spike's subsequences flags some of
    # its neighbours within a period, as it did before the floor).
    assert np.abs(np.flatnonzero(found["is_anomaly"]) - 2467).max() <= 100


def test_fine_tune_sets_the_threshold_on_held_out_normal_points(shipped):
    # Noise whose level jumps 15-fold every 10 points scores higher than the corpus's normal
    # series, so its held-out points raise the threshold above the preset's own at 1 % (0.63);
    # 80 of them cannot set 1 %: the threshold is their largest score, and a warning says so.
    rng = np.random.default_rng(12)
    x = rng.normal(size=400) * np.repeat(rng.choice([0.2, 3.0], 40), 10)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        tuned = zoo.fine_tune(shipped, x, epochs=0, false_alarm_rate=0.01)
    said = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert len(said) == 1 and "needs at least 100 normal points" in said[0]
    assert "received 80" in said[0]
    held_out = point_scores(shipped, x)[320:]  # the held-out 20 %, scored within the series
    threshold = tuned.get_config()["threshold"]
    assert threshold == pytest.approx(held_out.max(), abs=1e-6)
    assert threshold > recipe.population_threshold(shipped, 0.01) + 0.1


def _noisy_sine(n, seed):
    return np.sin(2 * np.pi * np.arange(n) / 50) + np.random.default_rng(seed).normal(0, 0.1, n)


def test_fine_tune_keeps_its_calibration_threshold_when_the_held_out_part_sets_a_lower_one(shipped):
    """One held-out stretch of a clean periodic series sets a threshold at the top of its own
    scores, which new draws of the same process pass at far more than the rate asked (their
    scores move in period-long blocks); the fine-tune keeps the one the preset gets at that rate
    on its calibration series instead, says so, and new draws then pass it at most at the rate
    asked, while a spike is flagged. `percentile` is the held-out scores' own, as asked."""
    x = _noisy_sine(1500, 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        tuned = recipe.fine_tune(shipped, x, epochs=0, false_alarm_rate=0.001)
    said = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    # The preset's own population: its stored threshold was set on it at 0.001 (to 0.001).
    floor = recipe.population_threshold(shipped, 0.001)
    assert floor == pytest.approx(shipped.get_config()["threshold"], abs=0.001)
    assert tuned.get_config()["threshold"] == pytest.approx(floor, abs=1e-6)
    assert len(said) == 1 and f"kept {floor:.3f}" in said[0]
    held_out = normal_threshold(point_scores(shipped, x)[1200:], false_alarm_rate=0.001)
    assert held_out < floor - 0.1
    fresh = np.concatenate([point_scores(tuned, _noisy_sine(800, seed)) for seed in range(10, 20)])
    assert (fresh > held_out).mean() > 0.01  # what the held-out part alone would have set
    assert (fresh > tuned.get_config()["threshold"]).mean() <= 0.001
    spiked = _noisy_sine(800, 30)
    spiked[400] += 1.5
    assert zoo.detect(tuned, spiked)["is_anomaly"][400]
    by_percentile = recipe.fine_tune(shipped, x, epochs=0, percentile=99.0)
    expected = np.percentile(point_scores(shipped, x)[1200:], 99.0)
    assert by_percentile.get_config()["threshold"] == pytest.approx(expected, abs=1e-6)


def test_fine_tune_reads_nan_as_missing_steps(shipped):
    """A normal series with a missing stretch (and missing values before its first one; a CSV's
    missing steps come as NaN, `test_own_data`): the network trains on it filled, and the
    threshold is set on the series scored as given, so the held-out points of that scoring pass
    it at the rate asked."""
    rng = np.random.default_rng(13)
    x = 3 + np.sin(np.arange(1200) / 4.0) + 0.2 * rng.normal(size=1200)
    x[:7] = np.nan
    x[400:430] = np.nan
    tuned = recipe.fine_tune(shipped, x, epochs=1, windows=64, false_alarm_rate=0.01)
    threshold = tuned.get_config()["threshold"]
    assert 0 < threshold < 1
    held_out = point_scores(tuned, x[7:])[round(1193 * 0.8) :]
    assert (held_out > threshold).mean() <= 0.01
    assert not zoo.detect(tuned, x)["is_anomaly"][400:430].any()
