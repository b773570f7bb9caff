"""Real instance-structured windows for the detector's training: shapes of bundled classification
sets joined end to end, with an instance of another class as the anomaly.

The sets (`INSTANCE_SETS`) are bundled with aeon or sktime, and neither the benchmark
(GunPoint, ArrowHead, ItalyPowerDemand, `benchmark.py`) nor the validation (OSULeaf, UnitTest,
ACSF1, `validation.py`) uses them:

* BasicMotions (aeon; UEA archive): 4 activities, 6 accelerometer and gyroscope channels, 100
  points an instance;
* JapaneseVowels (aeon; UCI): 9 speakers, 12 LPC-cepstrum channels, 7–29 points;
* PickupGestureWiimoteZ (aeon; UCR archive): 10 gestures, 29–361 points;
* PLAID (sktime): the current of 11 kinds of appliance, 100–1344 points;
* Tecator (sktime; StatLib): 100-point absorbance spectra of meat, a regression set whose fat
  content is cut into three classes at its tertiles.

Every channel of a multichannel set is a set of instances of its own (`InstanceSet`). A split
("train" or "test") keeps training and early-stopping windows on different instances.

`instance_window` builds one window: a set drawn uniformly, one of its channels, one class's
instances of it in random order, all cropped to the same part (a random share of at least a
quarter, at the same place in each) and resampled to one length (12–128 points, each instance
stretched by up to ±j, j in [0, 0.15] per window), z-normalised each half the time (as the UCR
archive stores them), joined end to end at a random scale and level. With probability
`anomaly_share` one instance is drawn from another class of the same set and channel; its points
are labelled 1.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from functools import cache

import numpy as np

from zoo.models.universal_anomaly.corpus import resampled

__all__ = [
    "INSTANCE_SETS",
    "InstanceSet",
    "instance_provenance",
    "instance_sets",
    "instance_window",
]

INSTANCE_SETS = ("BasicMotions", "JapaneseVowels", "PickupGestureWiimoteZ", "PLAID", "Tecator")
SPLITS = ("train", "test")
MIN_LENGTH, MAX_LENGTH = 12, 128


@dataclass(frozen=True)
class InstanceSet:
    """The instances (1-D arrays, any lengths) of one channel of a set, with their classes."""

    name: str
    instances: tuple[np.ndarray, ...]
    classes: np.ndarray

    def of_class(self, label) -> list[np.ndarray]:
        return [x for x, c in zip(self.instances, self.classes, strict=True) if c == label]


def _ts_file(package: str, name: str, split: str):
    import aeon
    import sktime
    from aeon.datasets import load_from_ts_file

    module = {"aeon": aeon, "sktime": sktime}[package]
    path = os.path.join(os.path.dirname(module.__file__), "datasets", "data", name)
    return load_from_ts_file(os.path.join(path, f"{name}_{split.upper()}.ts"))


def _load(name: str, split: str) -> tuple[list[np.ndarray], np.ndarray]:
    """Instances (channels, length) of the bundled set `name` and their classes."""
    if name in ("PLAID", "Tecator"):
        x, y = _ts_file("sktime", name, split)
    else:
        x, y = _ts_file("aeon", name, split)
    instances = [np.asarray(item, "float64") for item in x]
    y = np.asarray(y)
    if name == "Tecator":  # a regression target: fat-content tertiles of both splits
        both = np.concatenate([np.asarray(_ts_file("sktime", name, s)[1], float) for s in SPLITS])
        y = np.digitize(y.astype(float), np.quantile(both, [1 / 3, 2 / 3]))
    return instances, y


@cache
def instance_sets(split: str) -> tuple[InstanceSet, ...]:
    """Every channel of every set of `INSTANCE_SETS`, from its `split` ("train" or "test")."""
    if split not in SPLITS:
        raise ValueError(f"`split` must be one of {SPLITS}. Received: split={split!r}")
    out = []
    for name in INSTANCE_SETS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            instances, classes = _load(name, split)
        for channel in range(instances[0].shape[0]):
            rows = tuple(x[channel][np.isfinite(x[channel])] for x in instances)
            out.append(InstanceSet(f"{name}[{channel}]", rows, classes))
    return tuple(out)


def _fitted(x: np.ndarray, part: tuple[float, float], length: int) -> np.ndarray:
    """The share `part` = (start, width) of `x`, resampled to `length` points (smoothed first
    when shrunk, so a long instance does not alias: `corpus.resampled`)."""
    n = len(x)
    lo = int(part[0] * n)
    return resampled(x[lo : max(lo + int(np.ceil(part[1] * n)), lo + 4)], length)


def instance_window(
    rng: np.random.Generator,
    window: int,
    anomaly_share: float,
    *,
    sets: tuple[InstanceSet, ...],
) -> tuple[np.ndarray, np.ndarray]:
    """(values, labels), each (window,), from the instance sets `sets`: see the module
    docstring."""
    names = sorted({item.name.split("[")[0] for item in sets})
    name = names[int(rng.integers(0, len(names)))]  # each set equally often, then a channel
    channels = [item for item in sets if item.name.split("[")[0] == name]
    item = channels[int(rng.integers(0, len(channels)))]
    labels = np.unique(item.classes)
    normal_class = labels[int(rng.integers(0, len(labels)))]
    normal = item.of_class(normal_class)
    others = [x for x, c in zip(item.instances, item.classes, strict=True) if c != normal_class]
    length = int(rng.integers(MIN_LENGTH, MAX_LENGTH + 1))
    width = rng.uniform(0.25, 1.0)
    part = (rng.uniform(0.0, 1.0 - width), width)
    jitter = rng.uniform(0.0, 0.15)
    count = int(window / (length * (1 - jitter))) + 2
    picks = [normal[int(k)] for k in rng.integers(0, len(normal), count)]
    odd = int(rng.integers(0, count)) if others and rng.random() < anomaly_share else -1
    if odd >= 0:
        picks[odd] = others[int(rng.integers(0, len(others)))]
    normalise = rng.random() < 0.5
    instances = []
    for x in picks:
        x = _fitted(x, part, max(4, round(length * rng.uniform(1 - jitter, 1 + jitter))))
        instances.append((x - x.mean()) / (x.std() or 1.0) if normalise else x)
    while sum(len(x) for x in instances) < window:  # rounding left them short (rare)
        instances.append(instances[1 if odd == 0 else 0])
    marks = np.concatenate([np.full(len(x), float(k == odd)) for k, x in enumerate(instances)])
    values = np.concatenate(instances)
    spread = values.std() or 1.0
    values = (values - values.mean()) / spread * rng.uniform(0.1, 10) + rng.normal(0, 10)
    start = int(rng.integers(0, len(values) - window + 1))
    return values[start : start + window], marks[start : start + window]


def instance_provenance() -> dict:
    """The card's entry for these sets."""
    import aeon
    import sktime

    return {
        "name": "classification sets joined into instance series: " + ", ".join(INSTANCE_SETS),
        "version": f"aeon {aeon.__version__}, sktime {sktime.__version__}",
        "licence": "aeon BSD-3-Clause, sktime BSD-3-Clause; BasicMotions and "
        "PickupGestureWiimoteZ from the UEA/UCR archives (free for research), JapaneseVowels "
        "from the UCI repository (CC BY 4.0), PLAID (CC BY 4.0), Tecator (StatLib, free use "
        "crediting Tecator)",
        "use": "train (train splits) and early stopping (test splits); an instance of another "
        "class is the anomaly",
    }
