"""The local deviation in `anomaly_universal`'s magnitude floor: validation and spike checks.

    python bench/anomaly_local_magnitude.py [--local 2]

The magnitude floor raises the fused logit to at least E' − 6, E a point's robust |z| in its
windows. On a series whose own swing is large beside its noise (a daily cycle with sensor noise)
|z| stays small for a spike many noise units high, and the network ranks the spike first but
below the threshold: on a sine of amplitude 5 with unit noise, spikes of 12 and 20 noise units
scored logits 0.15 and 0.33 against the threshold's 1.46. The variant takes E as the larger of
|z| and the point's local deviation (`series_layers.local_deviation`: its distance from the
median of its h neighbours on each side in the window's noise units), h = 2 and the noise-scale
floor 0.1 fixed before any run. (A first definition, the median over the point too, failed its
numpy unit test's check on noise before any run of this script: wherever neighbours rise
monotonically that median is the point itself, and the MAD of those zeros made noise look like
spikes.)

First run (the local deviation as it is, no offset): validation ROC-AUC within 0.002 of the
shipped on every group, but the threshold rose 0.812 -> 0.837 and the injected group's PR-AUC
fell 0.776 -> 0.750 and its F1 0.556 -> 0.532: (1) failed; (2) held (every spike of 10 or more
flagged, sines from 10 where the shipped flags none even at 20; no false flag). Not shipped.
Second run, the only other one, written down before it: E takes the local deviation less
`series_layers.LOCAL_OFFSET` = 2 (it counts from 8 noise units, as f = 8 did for |z|), the same
criterion. Result: the threshold 0.812 -> 0.822, injected PR-AUC 0.776 -> 0.758 (held) but F1
0.543 (failed), and one sine spike of 10 of three missed (failed). Not shipped; no third variant.

Criterion, written down before the first run: (1) on the five validation groups
(`validation.validation_set`), each detector with its threshold set as the recipe sets it (0.1 %
of the points of the recipe's 300 held-out normal series), every group's ROC-AUC within 0.005 and
PR-AUC within 0.02 of the shipped detector's, and the injected group's F1 at the threshold at
least 0.55; (2) spikes of k noise units (innovations for AR(1) and the random walk) at three
places of 3000-point series of four kinds (white noise, AR(1) with φ = 0.8, a random walk, a
period-100 sine of amplitude 5 plus unit noise): every spike of 10 or more flagged in all four
kinds, and no flag farther than 2 points from a spike. If both hold, the variant is shipped (the
threshold set again, the benchmark run once and reported whatever it gives).

Prints the validation table of both detectors and the spike table (spikes flagged of 3, false
flags) for each.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


import zoo
from zoo.models.universal_anomaly.model import build_universal_detector, get_threshold
from zoo.models.universal_anomaly.recipe import RECIPE, calibrate, validation_series
from zoo.models.universal_anomaly.spike_check import SPIKES, group_scores, spike_series, spike_table


def variant(local: int):
    """The shipped detector with E taking the local deviation of half-width `local`, its
    threshold set as the recipe sets it."""
    shipped = zoo.load("anomaly_universal")
    config = {**shipped.get_config(), "magnitude_local": local}
    config.pop("name", None)
    model = build_universal_detector(**{k: v for k, v in config.items() if k != "trainable"})
    model.set_weights(shipped.get_weights())
    calibrate(model, [s.values for s in validation_series()], RECIPE["false_alarm_rate"])
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--local", type=int, default=2, help="h, the running median's half-width")
    args = parser.parse_args()
    models = {"shipped": zoo.load("anomaly_universal"), f"local h={args.local}": None}
    models[f"local h={args.local}"] = variant(args.local)
    for name, model in models.items():
        threshold = get_threshold(model)
        print(f"{name}: threshold {threshold:.4f}", flush=True)
        for group, (roc, pr, f1) in group_scores(model).items():
            print(f"  {group:10s} ROC {roc:.3f}  PR {pr:.3f}  F1 {f1:.3f}", flush=True)
        spikes = spike_table(model)
        for kind in spike_series():
            cells = "  ".join(
                f"{k}:{spikes[(kind, k)][0]}/3 fa{spikes[(kind, k)][1]}" for k in SPIKES
            )
            print(f"  spikes {kind:6s} {cells}", flush=True)


if __name__ == "__main__":
    main()
