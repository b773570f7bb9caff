"""`zoo evaluate anomaly_universal`: zero-shot on every benchmark series, beside the baselines.

For each series of `benchmark.benchmark_series()` (none of them in the training corpus): the
detector's point scores (`model.point_scores`, no fitting of any kind) and each baseline's
(`baselines.baseline_scores`, fitted on the series it scores) against the labels: ROC-AUC,
PR-AUC (average precision) and best F1 (`zoo.models.common.detection_scores`). A multichannel
series is scored channel by channel, by the detector and every baseline alike, and a point takes
the max over its channels (`benchmark.channel_max`). The detector's stored threshold is also
judged: its false-alarm rate on the anomaly-free points (farther than the series' baseline
window from every labelled anomaly) and its F1. Means over the labelled series (those with
anomalies) close the table; the false-alarm mean covers every series, the anomaly-free one
(Daphnet) too, which has no ROC-AUC and no baseline figures.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from zoo.models.common.detection_scores import (
    anomaly_free,
    average_precision,
    best_f1,
    roc_auc,
)
from zoo.models.common.progress import progress
from zoo.models.universal_anomaly.baselines import BASELINES, baseline_scores
from zoo.models.universal_anomaly.benchmark import benchmark_series, channel_max
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


def _stacked_baselines(values: np.ndarray, window: int) -> np.ndarray:
    """(len(BASELINES), n): each baseline's point scores of a 1-D series, in BASELINES order."""
    found = baseline_scores(values, window)
    return np.stack([found[name] for name in BASELINES])


def evaluate(model) -> dict:
    """Per-series and mean metrics of the detector and the baselines (module docstring)."""
    threshold = get_threshold(model)
    rows = []
    for item in progress(benchmark_series(), description="series"):
        labels = np.asarray(item.labels, "int8")
        scores = channel_max(partial(point_scores, model), item.values)
        row = {"series": item.name, "kind": item.kind, "points": len(labels)}
        row["channels"] = 1 if item.values.ndim == 1 else int(item.values.shape[1])
        row["anomalous_points"] = int(labels.sum())
        row["model"] = scores_report(labels, scores) if item.labelled else {}
        row["model"].update(_flags_report(labels, scores, threshold, item.window))
        if item.labelled:
            per_baseline = channel_max(partial(_stacked_baselines, window=item.window), item.values)
            for name, base in zip(BASELINES, per_baseline, strict=True):
                row[name] = scores_report(labels, base)
        rows.append(row)
    labelled = [row for row in rows if row["anomalous_points"]]
    means = _means(labelled, ("model", *BASELINES))
    means["model"]["false_alarm_rate"] = float(
        np.nanmean([row["model"]["false_alarm_rate"] for row in rows])
    )
    return {"series": rows, "mean": means, "labelled_series": len(labelled), "threshold": threshold}
