"""`zoo evaluate anomaly_universal`: zero-shot on every benchmark series, beside the baselines.

For each series of `benchmark.benchmark_series()` (none of them in the training corpus): the
detector's point scores (`model.point_scores`, no fitting of any kind) and each baseline's
(`baselines.baseline_scores`, fitted on the series it scores) against the labels: ROC-AUC,
PR-AUC (average precision) and best F1 (`zoo.models.common.detection_scores`). The detector's
stored threshold is also judged: its false-alarm rate on the anomaly-free points (farther than
the series' baseline window from every labelled anomaly) and its F1. Means over the series
close the table.
"""

from __future__ import annotations

import numpy as np

from zoo.models.common.detection_scores import (
    anomaly_free,
    average_precision,
    best_f1,
    roc_auc,
)
from zoo.models.common.progress import progress
from zoo.models.universal_anomaly.baselines import BASELINES, baseline_scores
from zoo.models.universal_anomaly.benchmark import benchmark_series
from zoo.models.universal_anomaly.model import get_threshold, point_scores

METRICS = ("roc_auc", "pr_auc", "best_f1")


def scores_report(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    return {
        "roc_auc": roc_auc(labels, scores),
        "pr_auc": average_precision(labels, scores),
        "best_f1": best_f1(labels, scores)[0],
    }


def _flags_report(labels: np.ndarray, scores: np.ndarray, threshold: float, margin: int) -> dict:
    flags = scores > threshold
    clean = anomaly_free(labels, margin)
    hits = int(np.sum(flags & (labels == 1)))
    precision = hits / max(int(flags.sum()), 1)
    recall = hits / max(int(labels.sum()), 1)
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return {
        "flagged": int(flags.sum()),
        "false_alarm_rate": float(flags[clean].mean()) if clean.any() else float("nan"),
        "f1_at_threshold": float(f1),
    }


def _means(rows: list[dict], names) -> dict[str, dict[str, float]]:
    return {
        name: {k: float(np.mean([row[name][k] for row in rows])) for k in METRICS} for name in names
    }


def evaluate(model) -> dict:
    """Per-series and mean metrics of the detector and the baselines (module docstring)."""
    threshold = get_threshold(model)
    rows = []
    for item in progress(benchmark_series(), description="series"):
        labels = np.asarray(item.labels, "int8")
        scores = point_scores(model, item.values)
        row = {"series": item.name, "kind": item.kind, "points": len(labels)}
        row["anomalous_points"] = int(labels.sum())
        row["model"] = {**scores_report(labels, scores)}
        row["model"].update(_flags_report(labels, scores, threshold, item.window))
        for name, base in baseline_scores(item.values, item.window).items():
            row[name] = scores_report(labels, base)
        rows.append(row)
    means = _means(rows, ("model", *BASELINES))
    means["model"]["false_alarm_rate"] = float(
        np.nanmean([row["model"]["false_alarm_rate"] for row in rows])
    )
    return {"series": rows, "mean": means, "threshold": threshold}
