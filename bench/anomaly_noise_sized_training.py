"""Train `anomaly_universal`'s network with anomalies sized in noise units (the variant
`recipe.NOISE_SIZED_MIX`) and check it beside the shipped detector.

    python bench/anomaly_noise_sized_training.py DIR [--epochs 20] [--check-only]

Why. The shipped network was trained with anomalies of 1–6 standard deviations of the crop. It
reads a spike beyond that range as normal (a 20σ spike in white noise: p = 0.03 in its window;
6σ: 0.79), which the magnitude floor patches for white noise but not on a series whose own swing
is large beside its noise: on a sine of amplitude 5 with unit noise, spikes of 10–20 noise units
(3–5 standard deviations of the series) are ranked first but never flagged. The variant draws
half the injected crops' sizes as 4–60 units of the crop's noise (`corpus.injection_size`,
log-uniform), the rest as before; everything else (corpus, windows, epochs, fusion rule with its
floor, threshold at 0.1 % of the held-out normal series) is the recipe's.

Criterion, written down before the training ran and before any figure of it was seen:
(1) on the five validation groups (`spike_check.group_scores`: whole detectors, each flagged at
its own threshold set as the recipe sets it) the five-group mean ROC-AUC at least the shipped
detector's − 0.005, no group's ROC-AUC more than 0.02 below the shipped's, and the injected
group's F1 at the threshold at least 0.55; (2) spikes (`spike_check.spike_table`): every spike of
10 or more noise units flagged in all four kinds of series (white noise, AR(1), random walk,
sine), and no flag farther than 2 points from a spike. If both hold, the variant replaces the
shipped network (its preset, SavedModel and card), and the benchmark is run once and reported
whatever it gives; if not, it is not shipped and the benchmark figures that the training writes
into DIR's card are not read.

First run (12 epochs, the recipe's): (1) held — five-group mean ROC-AUC 0.8650 against the
shipped 0.8563 (injected 0.917 against 0.921, F1 0.563; shapes 0.993, pulses 0.856, twins 0.970,
ucr 0.589), threshold 0.797; (2) failed — every spike of 10 or more flagged in white noise and
AR(1) (the shipped misses AR(1) spikes of 10), but in the random walk one place of three missed
at 10, 12 and 20 noise units (the shipped flags all three), and on the sine 1 of 3 flagged at 10,
2 at 12, 3 at 20 (the shipped flags none, even at 20). Not shipped. Its best epoch was 11 of 12
with the validation loss still falling (0.1330, 0.1304, 0.1295, 0.1305 in the last four).

Second and last variant, written down before it ran: the same with 20 epochs (`--epochs 20`;
early stopping as in the recipe), judged by the same criterion. If it fails too, no third.
Result (it ran all 20, resumed from the first run's epoch 12): (1) failed — mean 0.8567 against
0.8563, but ucr 0.565 (0.027 below) and injected F1 0.533; (2) failed worse than the first —
AR(1) 1 of 3 at 10, the random walk 1 of 3 even at 20, the sine none at 20. Not shipped; no third
variant. The benchmark was not run for either.

The first step trains through the Trainer into the run folder DIR (resumable, about 15 minutes on
2 cores) and writes a preset there; the second prints both detectors' tables and the verdict.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

import zoo
from zoo.models.universal_anomaly.model import get_threshold
from zoo.models.universal_anomaly.recipe import NOISE_SIZED_MIX, train
from zoo.models.universal_anomaly.spike_check import SPIKES, group_scores, spike_series, spike_table

MEAN_SLACK, GROUP_SLACK, MIN_F1, FLAGGED_FROM = 0.005, 0.02, 0.55, 10


def report(name: str, model) -> tuple[dict, dict]:
    print(f"{name}: threshold {get_threshold(model):.4f}", flush=True)
    groups = group_scores(model)
    for group, (roc, pr, f1) in groups.items():
        print(f"  {group:10s} ROC {roc:.3f}  PR {pr:.3f}  F1 {f1:.3f}", flush=True)
    print(f"  mean ROC {np.mean([v[0] for v in groups.values()]):.4f}", flush=True)
    spikes = spike_table(model)
    for kind in spike_series():
        cells = "  ".join(f"{k}:{spikes[(kind, k)][0]}/3 fa{spikes[(kind, k)][1]}" for k in SPIKES)
        print(f"  spikes {kind:6s} {cells}", flush=True)
    return groups, spikes


def verdict(shipped: dict, variant: dict, spikes: dict) -> list[str]:
    """The criterion's failures (empty: it holds)."""
    failures = []
    mean = {"s": np.mean([v[0] for v in shipped.values()])}
    mean["v"] = np.mean([v[0] for v in variant.values()])
    if mean["v"] < mean["s"] - MEAN_SLACK:
        failures.append(f"mean ROC-AUC {mean['v']:.4f} < {mean['s']:.4f} - {MEAN_SLACK}")
    for group, (roc, _, _) in shipped.items():
        if variant[group][0] < roc - GROUP_SLACK:
            failures.append(f"{group} ROC-AUC {variant[group][0]:.3f} < {roc:.3f} - {GROUP_SLACK}")
    if variant["injected"][2] < MIN_F1:
        failures.append(f"injected F1 {variant['injected'][2]:.3f} < {MIN_F1}")
    for (kind, k), (hits, false) in spikes.items():
        if k >= FLAGGED_FROM and hits < 3:
            failures.append(f"{kind}: {3 - hits} spike(s) of {k} missed")
        if false:
            failures.append(f"{kind}: {false} false flag(s) around spikes of {k}")
    return failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output_dir", type=Path, help="the run folder (resumed if it exists)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None, help="default: the recipe's 12")
    parser.add_argument("--check-only", action="store_true", help="skip the training")
    args = parser.parse_args()
    if not args.check_only:
        train(args.output_dir, seed=args.seed, epochs=args.epochs, mix=NOISE_SIZED_MIX, verbose=0)
        print(f"preset written to {args.output_dir}", flush=True)
    shipped, _ = report("shipped", zoo.load("anomaly_universal"))
    variant, spikes = report("noise-sized", zoo.load("anomaly_universal", args.output_dir))
    failures = verdict(shipped, variant, spikes)
    print("criterion holds" if not failures else "criterion fails:\n  " + "\n  ".join(failures))


if __name__ == "__main__":
    main()
