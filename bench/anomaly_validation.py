"""The validation table behind `anomaly_universal`'s fusion rule: every candidate rule on the
validation set of the training generators (`zoo.models.universal_anomaly.validation`), never on
the benchmark series.

    python bench/anomaly_validation.py

Prints, per rule (best mean ROC-AUC first), ROC-AUC / PR-AUC / F1 at the shipped-style threshold
on each group (injected anomalies, repeated shapes, pulse trains, alike odd instances, real UCR
sets the benchmark does not use), and their mean ROC-AUC. `anomaly_rule_on_benchmark.py` runs
one of these rules on the benchmark series.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import zoo
from zoo.models.universal_anomaly.validation import mean_roc, validate


def main() -> None:
    report = validate(zoo.load("anomaly_universal"))
    groups = "    ".join(f"{g} ROC / PR / F1" for g in next(iter(report.values())))
    print(f"{'rule':32s} {groups}    mean ROC")
    for name, groups in sorted(report.items(), key=lambda kv: -mean_roc(kv[1])):
        cells = "   ".join(
            f"{g['roc_auc']:.3f} / {g['pr_auc']:.3f} / {g['f1_at_threshold']:.3f}"
            for g in groups.values()
        )
        print(f"{name:32s} {cells}   {mean_roc(groups):.3f}")


if __name__ == "__main__":
    main()
