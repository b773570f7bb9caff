"""Seasonal naive, ETS and ARIMA on the public series no preset uses, at rolling origins.

    python bench/public_baselines.py [--series wineind nile ...] [--max-origins 20] [--json F]

Protocol (zoo.models.common.rolling_origin): the last 20 % of each series is the test part; origins
run through it with the stride that gives at most `max_origins` origins, each baseline refit on the
history before every origin; horizon = PUBLIC_SERIES[name].horizon, season = the inferred period.
Prints one markdown table: MASE, sMAPE, 0.1–0.9 band coverage and weighted quantile loss per
series and baseline, with the seconds each series took (all three baselines).
"""

from __future__ import annotations

import argparse
import json
import time

from zoo.data.public_series import PUBLIC_SERIES, load_public_series
from zoo.models.common.rolling_origin import rolling_origin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", nargs="*", default=list(PUBLIC_SERIES))
    parser.add_argument("--max-origins", type=int, default=20)
    parser.add_argument("--json", help="also write every report to this file")
    args = parser.parse_args()
    reports = {}
    print(
        "| series | freq | m | n | h | origins | baseline | MASE | sMAPE % | coverage | wQL | s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in args.series:
        try:
            series = load_public_series(name)
        except ImportError as error:  # the optional public-data extra is not installed
            print(f"| {name} | skipped: {error} |")
            continue
        horizon = PUBLIC_SERIES[name].horizon
        start = time.perf_counter()
        result = rolling_origin(series, None, horizon=horizon, max_origins=args.max_origins)
        seconds = time.perf_counter() - start
        reports[name] = result.report
        for baseline, scores in result.report["baselines"].items():
            print(
                f"| {name} | {series.freq} | {series.period} | {len(series)} | {horizon} | "
                f"{result.report['origins']} | {baseline} | {scores['mase']:.3f} | "
                f"{scores['smape']:.2f} | {scores['coverage']:.3f} | {scores['wql']:.4f} | "
                f"{seconds:.0f} |",
                flush=True,
            )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(reports, handle, indent=1)


if __name__ == "__main__":
    main()
