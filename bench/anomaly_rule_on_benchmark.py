"""One validation rule of `anomaly_universal` on the benchmark series: how a look at the benchmark
was taken for a rule that is not shipped (each such run is counted in the card's
`fusion_chosen_on.benchmark_looks`; run it only after the rule was chosen on validation).

    python bench/anomaly_rule_on_benchmark.py "<rule name>" [--preset-dir DIR]

The rule is one of `validation.FUSION_RULES` (`python bench/anomaly_validation.py` lists them),
applied to the parts the detector fuses (`validation.fusion_parts`) of each labelled benchmark
series (`benchmark.benchmark_series`; the Daphnet excerpt has no labels and no ROC-AUC). Beside
it, the detector's own scores (`model.point_scores`). Prints ROC-AUC per series and the
means. `--preset-dir` takes a retrained preset (`zoo train anomaly_universal --output-dir DIR`)
in place of the shipped one.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

import zoo
from zoo.models.common.detection_scores import roc_auc
from zoo.models.universal_anomaly.benchmark import benchmark_series
from zoo.models.universal_anomaly.model import point_scores
from zoo.models.universal_anomaly.validation import FUSION_RULES, apply_rule, fusion_parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rule", help="one of:\n  " + "\n  ".join(FUSION_RULES))
    parser.add_argument("--preset-dir", help="a retrained preset folder (default: the shipped)")
    args = parser.parse_args()
    if args.rule not in FUSION_RULES:
        parser.error(f"unknown rule {args.rule!r}; one of:\n  " + "\n  ".join(FUSION_RULES))
    rule = FUSION_RULES[args.rule]
    model = zoo.load("anomaly_universal", args.preset_dir)
    rows = []
    print(f"{'series':24s} {'shipped':>8s} {'rule':>8s}")
    for item in benchmark_series():
        if not item.labelled or item.values.ndim != 1:
            continue
        shipped = roc_auc(item.labels, point_scores(model, item.values))
        candidate = roc_auc(item.labels, apply_rule(rule, fusion_parts(model, item.values)))
        rows.append((shipped, candidate))
        print(f"{item.name:24s} {shipped:8.3f} {candidate:8.3f}", flush=True)
    shipped, candidate = np.mean(rows, axis=0)
    print(f"{'mean of ' + str(len(rows)):24s} {shipped:8.3f} {candidate:8.3f}")


if __name__ == "__main__":
    main()
