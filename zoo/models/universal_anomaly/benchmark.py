"""The universal detector's evaluation series: labelled, and never in its training corpus.

Three kinds, each a `LabelledSeries` (values, 0/1 labels, a window length for the baselines):

* ``kdd135``: the UCR anomaly archive's InternalBleeding16 (KDD-TSAD #135, a patient's heart
  rate, one labelled anomaly), bundled with aeon: a real series with a real, expert label.
* ``ucr_<name>``: built from a UCR classification data set that aeon bundles (GunPoint,
  ArrowHead, ItalyPowerDemand): the test split's instances of its first class joined
  end to end (`NORMAL_INSTANCES` of them) with `ODD_INSTANCES` instances of another class put in
  at seeded places; the odd instances' points are the anomalies (real shapes, the way the
  TSB-UAD benchmark builds its "artificial" UCR sets).
* ``injected_<name>``: a public series that pmdarima, statsmodels or aeon bundle (wineind,
  woolyrnq, lynx, taylor, nile, airline; none is in the training corpus) with anomalies injected
  by `zoo.models.common.anomaly_injection` (spikes, level shifts, noise bursts, flat lines,
  season breaks, 3 standard deviations, seeded).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from zoo.models.common.anomaly_injection import inject_anomalies

__all__ = ["LabelledSeries", "benchmark_series", "injected_benchmark"]

UCR_SETS = {
    "gunpoint": "load_gunpoint",
    "arrowhead": "load_arrow_head",
    "italypowerdemand": "load_italy_power_demand",
}
INJECTED = ("wineind", "woolyrnq", "lynx", "taylor", "nile", "airline")
NORMAL_INSTANCES = 30
ODD_INSTANCES = 2


@dataclass(frozen=True)
class LabelledSeries:
    name: str
    values: np.ndarray
    labels: np.ndarray
    window: int
    kind: str


def kdd135() -> LabelledSeries:
    from aeon.datasets import load_kdd_tsad_135

    values, labels = load_kdd_tsad_135(split="test")
    return LabelledSeries(
        "kdd135", np.asarray(values, "float64"), np.asarray(labels, "int8"), 100, "real label"
    )


def ucr_derived(name: str, seed: int = 0) -> LabelledSeries:
    import aeon.datasets

    x, y = getattr(aeon.datasets, UCR_SETS[name])(split="test")
    x = np.asarray(x, "float64")[:, 0, :]
    y = np.asarray(y)
    normal, odd = x[y == y[0]], x[y != y[0]]
    rng = np.random.default_rng(seed)
    pieces = list(normal[:NORMAL_INSTANCES])
    flags = [0] * len(pieces)
    slots = rng.choice(np.arange(5, len(pieces)), size=ODD_INSTANCES, replace=False)
    for slot, pick in zip(
        sorted(slots, reverse=True), rng.choice(len(odd), ODD_INSTANCES), strict=True
    ):
        pieces.insert(int(slot), odd[int(pick)])
        flags.insert(int(slot), 1)
    length = x.shape[1]
    labels = np.repeat(np.asarray(flags, "int8"), length)
    return LabelledSeries(f"ucr_{name}", np.concatenate(pieces), labels, length, "UCR-derived")


def injected(name: str, seed: int = 0) -> LabelledSeries:
    from zoo.data.public_series import load_public_series

    item = load_public_series(name)
    n, period = len(item.values), max(int(item.period), 1)
    count = int(np.clip(n // 60, 2, 10))
    high = int(np.clip(n // 40, 3, 20))
    events = inject_anomalies(
        item.values,
        count=count,
        period=period,
        length=(2, high),
        magnitude=3.0,
        gap=high,
        start=n // 10,
        seed=seed,
    )
    window = int(np.clip(period if period >= 4 else 16, 8, 100))
    return LabelledSeries(f"injected_{name}", events.values, events.labels, window, "injected")


@cache
def injected_benchmark() -> tuple[LabelledSeries, ...]:
    return tuple(injected(name) for name in INJECTED)


def benchmark_series() -> list[LabelledSeries]:
    """Every evaluation series, in the order of the card's table."""
    return [kdd135(), *(ucr_derived(name) for name in UCR_SETS), *injected_benchmark()]
