"""A validation-only trial for `anomaly_universal`: the network fed each series resampled so that
its period m is T points (where m > T), as its training windows show instances of 12-128 points,
fused by the shipped rule. Not shipped (`validation`'s docstring gives the figures).

    python bench/anomaly_period_resampling.py [--keep-spikes]

The series is smoothed by a box as wide as the resampling step, linearly resampled to
round(n·T/m) points, scored by the network as a series is (windows, mean), and its logits are
interpolated back to the n points; e (the logit at each point's match) is recomputed from them.
`--keep-spikes` takes the max of the original and the resampled logits. Prints the shipped rule's
ROC-AUC / PR-AUC / F1 at the threshold (0.1 % of the normal validation points) per validation
group, for the original series and T = 32, 64.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import tensorflow as tf

import zoo
from zoo.models.common.detection_scores import average_precision, roc_auc
from zoo.models.common.threshold import normal_threshold
from zoo.models.universal_anomaly import validation
from zoo.models.universal_anomaly.corpus import resampled
from zoo.models.universal_anomaly.recipe import validation_series
from zoo.models.universal_anomaly.series_discord import series_discord_and_match

SHIPPED_RULE = "match-shared b=0.5, a=16·s, never lower"
TARGETS = (32, 64)


def resampled_logit(model, values: np.ndarray, period: int, target: int) -> np.ndarray:
    """The network's logits on `values` resampled so `period` is `target` points, mapped back."""
    n = len(values)
    small = resampled(np.asarray(values, "float64"), max(round(n * target / period), 16))
    places = np.linspace(0, n - 1, len(small))
    return np.interp(np.arange(n), places, validation.network_logit(model, small))


def variants(model, values: np.ndarray, keep_spikes: bool) -> dict:
    parts = validation.fusion_parts(model, values)
    out = {"original": parts}
    period = parts["period"]
    x = tf.constant(np.asarray(values, "float32")[None])
    for target in TARGETS:
        if period <= target:
            out[f"T={target}"] = parts
            continue
        logit = resampled_logit(model, values, period, target)
        if keep_spikes:
            logit = np.maximum(parts["logit"], logit)
        _, matched = series_discord_and_match(x, tf.constant([period]), tf.constant(logit[None]))
        out[f"T={target}"] = {
            **parts,
            "logit": logit,
            "matched_logit": np.asarray(matched, "float64")[0],
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep-spikes", action="store_true", help="max with the original logit")
    keep = parser.parse_args().keep_spikes
    model = zoo.load("anomaly_universal")
    rule = validation.FUSION_RULES[SHIPPED_RULE]
    normal = [
        variants(model, s.values, keep) for s in validation_series()[: validation.NORMAL_SERIES]
    ]
    thresholds = {
        name: normal_threshold(
            np.concatenate([validation.apply_rule(rule, n[name]) for n in normal]),
            false_alarm_rate=0.001,
        )
        for name in normal[0]
    }
    rows: dict = {}
    for item in validation.validation_set():
        for name, parts in variants(model, item.values, keep).items():
            score = validation.apply_rule(rule, parts)
            f1 = validation.f1_of_flags(item.labels, score > thresholds[name])
            row = (roc_auc(item.labels, score), average_precision(item.labels, score), f1)
            rows.setdefault(name, {}).setdefault(item.group, []).append(row)
    for name, groups in rows.items():
        means = {group: np.mean(found, axis=0) for group, found in groups.items()}
        cells = " | ".join(f"{g} {m[0]:.3f} / {m[1]:.3f} / {m[2]:.3f}" for g, m in means.items())
        print(f"{name:9s} {cells} | mean ROC {np.mean([m[0] for m in means.values()]):.3f}")


if __name__ == "__main__":
    main()
