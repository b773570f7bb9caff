"""How much the benchmark's UCR-derived series depend on the draw of their two odd instances.

    python bench/anomaly_ucr_draws.py [--draws 10] [--preset-dir DIR]

Each `ucr_<name>` benchmark series holds 30 instances of one class and two of another, put in at
places drawn with seed 0 (`benchmark.ucr_derived`); its ROC-AUC rests on those two instances. This
script builds the same series with seeds 0..draws-1 and prints, per seed and as mean and standard
deviation over the seeds, the ROC-AUC of the shipped detector and of each baseline (fitted on the
series, on windows of its instance length, as `zoo evaluate` does). Nothing is chosen from it: the
shipped detector and the benchmark's protocol (seed 0) stay as they are.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

import zoo
from zoo.models.common.detection_scores import roc_auc
from zoo.models.universal_anomaly.baselines import BASELINES, baseline_scores
from zoo.models.universal_anomaly.benchmark import UCR_SETS, ucr_derived
from zoo.models.universal_anomaly.model import point_scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--draws", type=int, default=10, help="seeds 0..draws-1 (default 10)")
    parser.add_argument("--preset-dir", help="a retrained preset folder (default: the shipped)")
    args = parser.parse_args()
    model = zoo.load("anomaly_universal", args.preset_dir)
    names = ("detector", *BASELINES)
    print(f"{'series':22s} {'seed':>4s} " + " ".join(f"{n:>16s}" for n in names))
    for name in UCR_SETS:
        rows = []
        for seed in range(args.draws):
            item = ucr_derived(name, seed)
            found = baseline_scores(item.values, item.window)
            scores = [point_scores(model, item.values), *(found[b] for b in BASELINES)]
            rows.append([roc_auc(item.labels, s) for s in scores])
            print(f"{item.name:22s} {seed:4d} " + " ".join(f"{v:16.3f}" for v in rows[-1]))
        table = np.asarray(rows)
        cells = (f"{m:.3f} ± {s:.3f}" for m, s in zip(table.mean(0), table.std(0), strict=True))
        print(f"{item.name:22s} {'mean':>4s} " + " ".join(f"{c:>16s}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
