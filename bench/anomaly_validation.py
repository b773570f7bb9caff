"""The validation table behind `anomaly_universal`'s fusion rule: every candidate rule on the
validation set of the training generators (`zoo.models.universal_anomaly.validation`), never on
the benchmark series.

    python bench/anomaly_validation.py [--preset-dir DIR]

`--preset-dir` validates a retrained preset (`zoo train anomaly_universal --output-dir DIR`) in
place of the shipped one. `--baselines` prints instead the benchmark's baselines (IsolationForest,
LOF, matrix profile; `baselines.py`) on the same groups, each on windows of the period the
detector estimates for the series (at least 4 points): ROC-AUC per group and the mean.
`--rank-fusion` prints instead the ranking of the shipped detector's score fused with each
baseline's, per series, as (1 − w)·rank(ours) + w·rank(baseline) (ranks over n; w = 0.1, 0.25,
0.5) and as the max of the two ranks: a probe of whether a baseline is worth building into the
detector (a rank carries no threshold).

Prints, per rule (best mean ROC-AUC first), ROC-AUC / PR-AUC / F1 at the shipped-style threshold
on each group (injected anomalies, repeated shapes, pulse trains, alike odd instances, real UCR
sets the benchmark does not use), and their mean ROC-AUC. `anomaly_rule_on_benchmark.py` runs
one of these rules on the benchmark series.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import zoo
from zoo.models.universal_anomaly.validation import mean_roc, validate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset-dir", help="a retrained preset folder (default: the shipped)")
    parser.add_argument("--baselines", action="store_true", help="the baselines' ROC-AUC instead")
    parser.add_argument(
        "--rank-fusion", action="store_true", help="the detector's rank fused with each baseline's"
    )
    args = parser.parse_args()
    if args.baselines or args.rank_fusion:
        print_baselines(args.preset_dir, fused=args.rank_fusion)
        return
    report = validate(zoo.load("anomaly_universal", args.preset_dir))
    groups = "    ".join(f"{g} ROC / PR / F1" for g in next(iter(report.values())))
    print(f"{'rule':32s} {groups}    mean ROC")
    for name, groups in sorted(report.items(), key=lambda kv: -mean_roc(kv[1])):
        cells = "   ".join(
            f"{g['roc_auc']:.3f} / {g['pr_auc']:.3f} / {g['f1_at_threshold']:.3f}"
            for g in groups.values()
        )
        print(f"{name:32s} {cells}   {mean_roc(groups):.3f}")


def print_baselines(preset_dir=None, fused: bool = False) -> None:
    import numpy as np
    import tensorflow as tf
    from scipy.stats import rankdata

    from zoo.models.common.detection_scores import roc_auc
    from zoo.models.universal_anomaly.baselines import baseline_scores
    from zoo.models.universal_anomaly.period import estimate_period
    from zoo.models.universal_anomaly.validation import validation_set

    model = zoo.load("anomaly_universal", preset_dir) if fused else None
    found: dict = {}

    def add(name, group, labels, score):
        found.setdefault(name, {}).setdefault(group, []).append(roc_auc(labels, score))

    for item in validation_set():
        period, _ = estimate_period(tf.constant(np.asarray(item.values, "float32")[None]))
        window = max(int(period.numpy()[0]), 4)
        baselines = baseline_scores(item.values, window)
        if not fused:
            for name, score in baselines.items():
                add(name, item.group, item.labels, score)
            continue
        ours = rankdata(zoo.detect(model, item.values)["score"]) / len(item.values)
        add("detector", item.group, item.labels, ours)
        for name, score in baselines.items():
            theirs = rankdata(score) / len(score)
            for w in (0.1, 0.25, 0.5):
                add(f"{name}, w={w:g}", item.group, item.labels, (1 - w) * ours + w * theirs)
            add(f"{name}, max", item.group, item.labels, np.maximum(ours, theirs))
    for name, groups in found.items():
        means = {group: float(np.mean(rocs)) for group, rocs in groups.items()}
        cells = " | ".join(f"{group} {roc:.3f}" for group, roc in means.items())
        print(f"{name:26s} {cells} | mean {np.mean(list(means.values())):.3f}")


if __name__ == "__main__":
    main()
