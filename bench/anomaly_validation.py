"""The validation table behind `anomaly_universal`'s fusion rule: every candidate rule on the
validation set of the training generators (`zoo.models.universal_anomaly.validation`), never on
the benchmark series.

    python bench/anomaly_validation.py [--preset-dir DIR]

`--preset-dir` validates a retrained preset (`zoo train anomaly_universal --output-dir DIR`) in
place of the shipped one.

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
    folder = parser.parse_args().preset_dir
    report = validate(zoo.load("anomaly_universal", folder))
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
