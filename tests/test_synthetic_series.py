"""The synthetic series generator: determinism and the statistics each component promises."""

import numpy as np
import pytest
from statsmodels.tsa.arima_process import ArmaProcess

from zoo.data import synthetic_series as ss


def test_corpus_is_a_pure_function_of_the_seed():
    a = ss.synthetic_corpus(30, seed=7)
    b = ss.synthetic_corpus(30, seed=7)
    c = ss.synthetic_corpus(30, seed=8)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.values, y.values)
        assert x.period == y.period
    assert any(
        len(x.values) != len(z.values) or not np.array_equal(x.values, z.values)
        for x, z in zip(a, c, strict=True)
    )
    # Series k does not depend on how many series are drawn.
    for x, y in zip(ss.synthetic_corpus(10, seed=7), a[:10], strict=True):
        np.testing.assert_array_equal(x.values, y.values)


def test_corpus_lengths_periods_and_finiteness():
    corpus = ss.synthetic_corpus(200, seed=0, min_length=20, max_length=60)
    assert len(corpus) == 200
    assert all(20 <= len(s.values) <= 60 for s in corpus)
    assert all(np.isfinite(s.values).all() for s in corpus)
    assert {s.period for s in corpus} <= {1, *ss.PERIODS}
    # Several kinds appear: seasonal ones, non-seasonal ones, intermittent ones (zeros).
    assert len({s.period for s in corpus}) >= 4
    assert any(np.mean(s.values == 0) > 0.3 for s in corpus)


def test_corpus_rejects_bad_arguments():
    with pytest.raises(ValueError, match="`n_series`"):
        ss.synthetic_corpus(-1, seed=0)
    with pytest.raises(ValueError, match="`min_length`"):
        ss.synthetic_corpus(3, seed=0, min_length=10, max_length=5)


@pytest.mark.parametrize("period", [4, 7, 12, 52])
def test_seasonal_component_is_periodic_with_zero_mean(period):
    s = ss.seasonal_component(np.random.default_rng(period), 5 * period, period)
    np.testing.assert_allclose(s[period:], s[:-period], atol=1e-12)
    # A Fourier sum of whole harmonics averages to zero over one period.
    assert abs(s[:period].mean()) < 1e-12 * max(1.0, np.abs(s).max()) * period


def test_arma_noise_matches_the_theoretical_autocorrelation():
    n, ar, ma = 40_000, (0.5, -0.3), (0.4,)
    x = ss.arma_noise(np.random.default_rng(0), n, ar, ma)
    reference = ArmaProcess(np.r_[1, -np.array(ar)], np.r_[1, ma]).acf(4)
    d = x - x.mean()
    sample = np.array([d[: n - k] @ d[k:] for k in range(4)]) / (d @ d)
    # Bartlett: the sample ACF's standard error is about sqrt((1 + 2 sum r_k^2) / n) < 0.01 here.
    np.testing.assert_allclose(sample, reference, atol=0.05)


def test_ar1_variance():
    phi, n = 0.8, 50_000
    x = ss.arma_noise(np.random.default_rng(1), n, (phi,))
    # Var = 1/(1 - phi^2); its estimate from n correlated draws has relative sd
    # ~ sqrt(2(1 + phi^2)/((1 - phi^2) n)) ~ 0.02 here.
    np.testing.assert_allclose(x.var(), 1 / (1 - phi**2), rtol=0.1)


def test_intermittent_demand_occurrence_and_sizes():
    n, p = 50_000, 0.25
    x = ss.intermittent_demand(np.random.default_rng(2), n, p, mean_size=6.0)
    assert np.all(x >= 0) and np.all(x == np.round(x))
    # Binomial: sd of the zero fraction = sqrt(p(1-p)/n) ~ 0.002.
    assert abs(np.mean(x > 0) - p) < 0.02
    # Sizes are ceil(Gamma) of mean 6: their mean lies in [6, 7].
    assert 6.0 - 0.2 < x[x > 0].mean() < 7.0 + 0.2


def test_level_shifts_are_a_step_function_with_the_given_rate():
    n, rate = 20_000, 0.01
    x = ss.level_shifts(np.random.default_rng(3), n, rate)
    jumps = np.count_nonzero(np.diff(x))
    assert x[0] == 0
    assert abs(jumps - rate * n) < 5 * np.sqrt(rate * n)


def test_gp_sample_has_the_kernel_as_covariance():
    rng = np.random.default_rng(4)
    t = np.arange(6.0)
    kernel = np.exp(-0.5 * ((t[:, None] - t[None, :]) / 2.0) ** 2)
    draws = np.stack([ss.gp_sample(rng, kernel) for _ in range(20_000)])
    # Sample covariance entries have sd <= sqrt(2/n) ~ 0.01.
    np.testing.assert_allclose(np.cov(draws.T), kernel, atol=0.05)


def test_random_kernels_are_symmetric_positive_semidefinite():
    t = np.arange(40.0)
    for seed in range(20):
        k = ss.gp_kernel(np.random.default_rng(seed), t, depth=3)
        np.testing.assert_allclose(k, k.T, atol=1e-12)
        assert np.linalg.eigvalsh(k).min() > -1e-8 * np.abs(k).max() * len(t)
