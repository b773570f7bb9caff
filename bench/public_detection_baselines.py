"""IsolationForest and z-score on public series with injected anomalies, thresholded on normal data.

    python bench/public_detection_baselines.py [--rate 0.01] [--window 32] [--seed 0]

For each long public series (zoo.data.public_series; the daily one, 365 points, is too short for
windows of 32): the first half is the normal part (the baselines fit on its first 80 % and set
the threshold on its last 20 % for the point-wise false-alarm rate `--rate`); the second half gets
10 injected anomalies (zoo.models.common.anomaly_injection: spikes, level shifts, noise bursts,
flat lines, season breaks in turn, magnitude 3, seeded). Prints ROC-AUC, PR-AUC, best F1,
recall and the false-alarm rate on the anomaly-free stretches (points farther than window - 1
from every anomaly).
"""

from __future__ import annotations

import argparse

from zoo.data.public_series import load_public_series
from zoo.models.common.anomaly_injection import inject_anomalies
from zoo.models.common.detection_baselines import detection_baselines

SERIES = ("taylor", "us_gasoline")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=0.01)
    parser.add_argument("--window", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"false-alarm rate asked: {args.rate}; window {args.window}; seed {args.seed}")
    print(
        "| series | n test | anomalous points | baseline | ROC-AUC | PR-AUC | best F1 | recall "
        "| false alarms |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name in SERIES:
        try:
            series = load_public_series(name)
        except ImportError as error:  # the optional public-data extra is not installed
            print(f"| {name} | skipped: {error} |")
            continue
        half = len(series) // 2
        normal, test = series.values[:half], series.values[half:]
        injected = inject_anomalies(test, period=series.period, seed=args.seed)
        reports = detection_baselines(
            normal,
            injected.values,
            window=args.window,
            labels=injected.labels,
            false_alarm_rate=args.rate,
            seed=args.seed,
        )
        for baseline, r in reports.items():
            print(
                f"| {name} | {len(test)} | {int(injected.labels.sum())} | {baseline} | "
                f"{r['roc_auc']:.3f} | {r['pr_auc']:.3f} | {r['best_f1']:.3f} | "
                f"{r['recall']:.3f} | {r['false_alarm_rate']:.4f} |"
            )


if __name__ == "__main__":
    main()
