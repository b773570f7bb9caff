"""Issue 11's targets on public series no preset was trained on: fine-tune, then evaluate.

    python bench/own_data.py [--preset forecaster_universal] [--epochs N] [--rate 0.01]
        [--only forecasters|detectors] [--confirm | --fresh | --fresh2]

Forecasters: for each public series (zoo.data.public_series; its frequency sets the season, its
horizon the one evaluated), `zoo.fine_tune` on the first 80 % (the preset's weights, the
series' period and horizon, the family's default epochs unless `--epochs`; every setting of
the fine-tune is chosen on that 80 % alone), then rolling origins over the last 20 %
(`zoo.backtest`: at most 20 origins, seasonal naive, ETS and ARIMA refit at each). Prints MASE
of the model and the baselines, the 0.1–0.9 band's coverage, the transform and weight toward
seasonal naive the fine-tune chose, its band (static or adaptive, `adaptive_band.py`) with the
coverage of the other band on the same origins, and the fine-tuning time. Then the
time to fine-tune on a 500-point series (the first 500 weeks of us_gasoline).

Detectors: for each long series, the first half is the normal data (`zoo.fine_tune` of
anomaly_ucr135 and of anomaly_universal: train on its first 80 %, threshold for the point-wise
false-alarm rate `--rate` on the last 20 %); the second half gets 10 injected anomalies (spikes,
level shifts, noise bursts, flat lines, season breaks; magnitude 3, seeded) and is scored by
`zoo.evaluate`: ROC-AUC, PR-AUC, best F1 and the false-alarm rate on the anomaly-free stretches
(points farther than window - 1 from every anomaly), beside the IsolationForest and z-score
baselines; then each detector's ROC-AUC per kind of anomaly (that kind's points against every
normal point).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

import zoo
from zoo.data.public_series import (
    CONFIRMATION_SERIES,
    FRESH_SERIES,
    PUBLIC_SERIES,
    SECOND_FRESH_SERIES,
    load_public_series,
)
from zoo.models.common.anomaly_injection import KINDS, inject_anomalies
from zoo.models.universal.adaptive_band import RECENT_ORIGINS
from zoo.models.universal.tuned import TunedUniversalForecaster, forecast_histories

SERIES_SETS = {
    "development": PUBLIC_SERIES,
    "confirm": CONFIRMATION_SERIES,
    "fresh": FRESH_SERIES,
    "fresh2": SECOND_FRESH_SERIES,
}

# Series long enough for 10 injected events in their second half (elecdaily, 365 days, is not).
# The development pair, and three fixed with SECOND_FRESH_SERIES before any detector ran on them.
DETECTION_SERIES = {
    "development": ("taylor", "us_gasoline"),
    "fresh2": ("jfk_temp", "elecdemand_hourly", "treering"),
}


def _head(series, count: int):
    stamps = None if series.timestamps is None else series.timestamps[:count]
    return dataclasses.replace(series, values=series.values[:count], timestamps=stamps)


def _chosen(model) -> str:
    """The transform and naive weight the universal fine-tune chose ("–" for other models)."""
    config = model.get_config()
    if "transform" not in config:
        return "–"
    return f"{config['transform']}, {config['naive_weight']:g}"


def _other_band(model, frame, values) -> str:
    """The band the fine-tune chose, and the coverage of the other one (static ↔ adaptive,
    `RECENT_ORIGINS`) at the backtest's origins ("–" for other models)."""
    config = model.get_config()
    if "band_adapt" not in config:
        return "–"
    chosen = config["band_adapt"]
    other = 0 if chosen else RECENT_ORIGINS
    twin = TunedUniversalForecaster(**{**model.builder_config, "band_adapt": other})
    twin.set_weights(model.get_weights())
    origins = np.unique(frame["origin"].to_numpy(int))
    horizon = int(frame["step"].max())
    q = forecast_histories(twin, [values[:o] for o in origins])["quantiles"][:, :horizon]
    actual = np.stack([values[o : o + horizon] for o in origins])
    covered = np.mean((actual >= q[..., 0]) & (actual <= q[..., 2]))
    return (
        f"{'adaptive' if chosen else 'static'} ({'static' if chosen else 'adaptive'} {covered:.3f})"
    )


def forecasters(preset: str, epochs: int | None, which: str = "development") -> None:
    print(f"## Forecasters: {preset} fine-tuned on the first 80 %, origins on the last 20 %")
    options = {} if epochs is None else {"epochs": epochs}
    print(
        "| series | freq | n | period | h | origins | MASE model | seasonal naive | ETS | ARIMA "
        "| model / best(ETS, ARIMA) | coverage 0.1–0.9 | transform, naive weight "
        "| band (other band's coverage) | fine-tune s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, spec in SERIES_SETS[which].items():
        try:
            series = load_public_series(name)
        except ImportError as error:
            print(f"| {name} | skipped: {error} |")
            continue
        n_train = int(np.floor(0.8 * len(series) + 1e-9))
        start = time.perf_counter()
        model = zoo.fine_tune(
            preset, [_head(series, n_train)], horizon=spec.horizon, seed=0, **options
        )
        seconds = time.perf_counter() - start
        result = zoo.backtest(model, [series], progress=False)
        row = result.per_series.iloc[0]
        best = min(row["ets_mase"], row["arima_mase"])
        print(
            f"| {name} | {series.freq} | {len(series)} | {series.period} | {spec.horizon} | "
            f"{int(row['origins'])} | {row['model_mase']:.3f} | {row['seasonal_naive_mase']:.3f} "
            f"| {row['ets_mase']:.3f} | {row['arima_mase']:.3f} | {row['model_mase'] / best:.2f} "
            f"| {row['model_coverage']:.3f} | {_chosen(model)} "
            f"| {_other_band(model, result.frame, series.values)} | {seconds:.0f} |",
            flush=True,
        )
    if which != "development":
        return
    series = _head(load_public_series("us_gasoline"), 500)
    start = time.perf_counter()
    zoo.fine_tune(preset, [series], horizon=13, seed=0, **options)
    print(f"\nFine-tuning {preset} on 500 weekly points: {time.perf_counter() - start:.1f} s")


def _fine_tuned(detector: str, normal, rate: float, epochs: int, seed: int, period: int):
    if detector == "anomaly_ucr135":
        window = 32 if len(normal) >= 320 else 16
        return zoo.fine_tune(
            detector, normal, window=window, false_alarm_rate=rate, epochs=epochs, seed=seed
        )
    return zoo.fine_tune(
        detector, normal, false_alarm_rate=rate, epochs=epochs, seed=seed, period=period
    )


def _roc_by_kind(model, injected) -> str:
    """ROC-AUC of each anomaly kind's points against all normal points, as "kind 0.97, ..."."""
    from sklearn.metrics import roc_auc_score

    scores = np.asarray(zoo.detect(model, injected.values)["score"])
    normal = scores[injected.labels == 0]
    parts = []
    for kind in KINDS:
        points = np.concatenate([scores[a:b] for k, a, b in injected.events if k == kind])
        truth = np.r_[np.ones(len(points)), np.zeros(len(normal))]
        parts.append(f"{kind} {roc_auc_score(truth, np.r_[points, normal]):.3f}")
    return ", ".join(parts)


def detectors(rate: float, epochs: dict[str, int], seed: int, which: str = "development") -> None:
    print(f"\n## Detectors fine-tuned on normal data ({which}), false-alarm rate {rate}")
    print(
        "| series | n test | anomalous points | detector | ROC-AUC | PR-AUC | best F1 | recall "
        "| false alarms |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    by_kind = []
    for name in DETECTION_SERIES.get(which, ()):
        try:
            series = load_public_series(name)
        except ImportError as error:
            print(f"| {name} | skipped: {error} |")
            continue
        half = len(series) // 2
        normal, test = series.values[:half], series.values[half:]
        injected = inject_anomalies(test, period=series.period, seed=seed)
        for detector, count in epochs.items():
            model = _fine_tuned(detector, normal, rate, count, seed, series.period)
            by_kind.append(f"{name}, {detector}: {_roc_by_kind(model, injected)}")
            report = zoo.evaluate(model, injected.values, labels=injected.labels)
            rows = {f"{detector} (fine-tuned, {count} epochs)": report["metrics"]}
            if detector == "anomaly_ucr135":
                rows.update(report["baselines"])
            for label, r in rows.items():
                print(
                    f"| {name} | {len(test)} | {int(injected.labels.sum())} | {label} | "
                    f"{r['roc_auc']:.3f} | {r['pr_auc']:.3f} | {r['best_f1']:.3f} | "
                    f"{r['recall']:.3f} | {r['false_alarm_rate']:.4f} |",
                    flush=True,
                )
    print("\nROC-AUC by kind of anomaly:")
    for line in by_kind:
        print(f"- {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="forecaster_universal")
    parser.add_argument("--epochs", type=int, default=None, help="default: the family's own")
    parser.add_argument("--detector-epochs", type=int, default=10)
    parser.add_argument("--universal-epochs", type=int, default=2)
    parser.add_argument("--rate", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=("forecasters", "detectors"), default=None)
    parser.add_argument(
        "--set",
        choices=tuple(SERIES_SETS),
        default="development",
        dest="which",
        help="PUBLIC_SERIES, CONFIRMATION_SERIES, FRESH_SERIES or SECOND_FRESH_SERIES "
        "(detectors: the development series, or the three fixed with the second fresh set)",
    )
    parser.add_argument("--confirm", action="store_const", const="confirm", dest="which")
    parser.add_argument("--fresh", action="store_const", const="fresh", dest="which")
    parser.add_argument("--fresh2", action="store_const", const="fresh2", dest="which")
    args = parser.parse_args()
    if args.only != "detectors":
        forecasters(args.preset, args.epochs, args.which)
    if args.only != "forecasters":
        epochs = {
            "anomaly_ucr135": args.detector_epochs,
            "anomaly_universal": args.universal_epochs,
        }
        detectors(args.rate, epochs, args.seed, args.which)


if __name__ == "__main__":
    main()
