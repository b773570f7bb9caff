"""The universal detector's evaluation series: labelled, and never in its training corpus.

Each is a `LabelledSeries` (values (n,) or (n, channels), 0/1 labels (n,), a window length for
the baselines: the series' period or instance length):

* ``kdd135``: the UCR anomaly archive's InternalBleeding16 (KDD-TSAD #135, a patient's heart
  rate, one labelled anomaly), bundled with aeon: a real series with a real, expert label.
* ``mitdb``: an ECG excerpt of the MIT-BIH Arrhythmia Database (PhysioNet, ODC-By 1.0) as the
  TSB-UAD benchmark prepared it, bundled with sktime (7500 points, one labelled stretch of 352
  abnormal-beat points); window 280, one heartbeat at 360 Hz.
* ``yahoo``: a Yahoo S5 Webscope series (TSB-UAD's copy, bundled with sktime; 1000 points, seven
  labelled spikes); window 24, its period (autocorrelation of the differences).
* ``ecg_diff_count_3``: TimeEval's GutenTAG-generated ECG with three labelled 100-point anomalies
  of different kinds (aeon's ``UnitTest/ecg-diff-count-3_TEST.csv``; GutenTAG is MIT); window 20,
  its beat length.
* ``daphnet``: Daphnet Freezing of Gait S06R02E0 (UCI, CC BY 4.0; aeon), 9 acceleration channels
  of a Parkinson's patient walking. aeon's excerpt holds **no** labelled freezing episode (aeon
  1.6 deprecates it for that reason), so it measures false alarms on real, normal, multichannel
  data only; it has no ROC-AUC and stays out of the means of those. Every detector scores each
  channel on its own and a point's score is the max over the channels (`channel_max`).
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

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np

from zoo.models.common.anomaly_injection import inject_anomalies

__all__ = ["LabelledSeries", "benchmark_series", "channel_max", "injected_benchmark"]

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

    @property
    def labelled(self) -> bool:
        """True when the series holds both normal and anomalous points (ROC-AUC exists)."""
        return bool(0 < self.labels.sum() < len(self.labels))


def channel_max(scorer: Callable[[np.ndarray], np.ndarray], values: np.ndarray) -> np.ndarray:
    """Point scores (n,) of `values` (n,) or (n, channels): `scorer` on each channel alone, and
    the max over the channels (a point is as anomalous as its most anomalous channel)."""
    values = np.asarray(values, "float64")
    if values.ndim == 1:
        return np.asarray(scorer(values), "float64")
    return np.max([scorer(values[:, c]) for c in range(values.shape[1])], axis=0)


def kdd135() -> LabelledSeries:
    from aeon.datasets import load_kdd_tsad_135

    values, labels = load_kdd_tsad_135(split="test")
    return LabelledSeries(
        "kdd135", np.asarray(values, "float64"), np.asarray(labels, "int8"), 100, "real label"
    )


def _aeon_timeeval(folder: str, file: str) -> tuple[np.ndarray, np.ndarray]:
    """A TimeEval-format CSV that aeon bundles, read by aeon's own reader: (values, labels)."""
    from pathlib import Path

    import aeon
    from aeon.datasets import load_from_timeeval_csv_file

    values, labels = load_from_timeeval_csv_file(
        Path(aeon.__file__).parent / "datasets" / "data" / folder / file
    )
    return np.asarray(values, "float64"), np.asarray(labels, "int8")


def ecg_diff_count_3() -> LabelledSeries:
    values, labels = _aeon_timeeval("UnitTest", "ecg-diff-count-3_TEST.csv")
    return LabelledSeries("ecg_diff_count_3", values, labels, 20, "synthetic (GutenTAG)")


def daphnet() -> LabelledSeries:
    values, labels = _aeon_timeeval("Daphnet_S06R02E0", "S06R02E0.csv")
    return LabelledSeries("daphnet_s06r02e0", values, labels, 66, "real, no anomaly")


def _sktime_tsb_uad(name: str, window: int, kind: str) -> LabelledSeries:
    """A `data,label` CSV of the TSB-UAD benchmark that sktime bundles (datasets/data/<name>)."""
    from pathlib import Path

    import pandas as pd
    import sktime

    frame = pd.read_csv(Path(sktime.__file__).parent / "datasets" / "data" / name / f"{name}.csv")
    values = frame["data"].to_numpy("float64")
    return LabelledSeries(name, values, frame["label"].to_numpy("int8"), window, kind)


def mitdb() -> LabelledSeries:
    return _sktime_tsb_uad("mitdb", 280, "real label")


def yahoo() -> LabelledSeries:
    return _sktime_tsb_uad("yahoo", 24, "Yahoo S5 label")


def insert_instances(normal: np.ndarray, odd: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """(values, labels): the `normal` instances (k, length) joined end to end with
    `ODD_INSTANCES` instances drawn from `odd` put in at places drawn by `rng` (after the fifth),
    their points labelled 1."""
    pieces = list(normal)
    flags = [0] * len(pieces)
    slots = rng.choice(np.arange(5, len(pieces)), size=ODD_INSTANCES, replace=False)
    for slot, pick in zip(
        sorted(slots, reverse=True), rng.choice(len(odd), ODD_INSTANCES), strict=True
    ):
        pieces.insert(int(slot), odd[int(pick)])
        flags.insert(int(slot), 1)
    labels = np.repeat(np.asarray(flags, "int8"), normal.shape[1])
    return np.concatenate(pieces), labels


def ucr_derived(name: str, seed: int = 0) -> LabelledSeries:
    import aeon.datasets

    x, y = getattr(aeon.datasets, UCR_SETS[name])(split="test")
    x = np.asarray(x, "float64")[:, 0, :]
    y = np.asarray(y)
    normal, odd = x[y == y[0]], x[y != y[0]]
    rng = np.random.default_rng(seed)
    values, labels = insert_instances(normal[:NORMAL_INSTANCES], odd, rng)
    return LabelledSeries(f"ucr_{name}", values, labels, x.shape[1], "UCR-derived")


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
    return [
        kdd135(),
        mitdb(),
        yahoo(),
        ecg_diff_count_3(),
        *(ucr_derived(name) for name in UCR_SETS),
        *injected_benchmark(),
        daphnet(),
    ]
