"""The `zoo` commands on a user's CSV: `--csv/--column` (+ time, id, label columns) for
`evaluate`, `backtest`, `plot`, `predict` and the series models' `fine-tune`.

Each command is one call of `zoo.own_data` (the Python face), so the CLI and Python give the same
results:

  zoo fine-tune forecaster_sunspots --csv sales.csv --column y --time-column ds --output m.keras
  zoo evaluate --model m.keras --csv sales.csv --column y --time-column ds [--json]
  zoo backtest --model m.keras --csv sales.csv --column y --time-column ds --output bt.csv
  zoo plot --model m.keras --csv sales.csv --column y --time-column ds --output sales.png
  zoo predict --model m.keras --csv sales.csv --column y --time-column ds --output next.csv
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "add_data_options",
    "jsonable",
    "model_argument",
    "print_report",
    "register_backtest",
    "run_backtest",
]


def add_data_options(
    parser: argparse.ArgumentParser, *, evaluation: bool = True, required: bool = False
) -> None:
    """--csv, --column, --time-column, --id-column, --period (and the evaluation options)."""
    group = parser.add_argument_group("your own data (a CSV file)")
    group.add_argument("--csv", type=Path, default=None, required=required, help="the CSV file")
    group.add_argument("--column", default=None, help="the column of values")
    group.add_argument(
        "--time-column",
        default=None,
        help="dates or numbers; the frequency is inferred and sets the season length",
    )
    group.add_argument(
        "--id-column", default=None, help="the series name column of a long-format file"
    )
    group.add_argument(
        "--period", type=int, default=None, help="season length (default: from the frequency)"
    )
    if not evaluation:
        return
    group.add_argument(
        "--label-column", default=None, help="detectors: 1 = anomaly, 0 = normal, per point"
    )
    group.add_argument(
        "--test-fraction",
        type=float,
        default=None,
        help="forecasters: the share of each series at the end evaluated (default 0.2)",
    )
    group.add_argument(
        "--stride", type=int, default=None, help="forecasters: steps between rolling origins"
    )
    group.add_argument(
        "--horizon",
        type=int,
        default=None,
        help="forecasters: steps forecast at each origin (default: the model's own; "
        "forecaster_universal: any number, the others: up to their own)",
    )


def model_argument(args: argparse.Namespace) -> str | Path:
    """The `--model` file, else the registry name; one of them must be given."""
    if args.model is not None:
        return args.model
    if args.name is None:
        raise ValueError("Give a registry name (see `zoo list`) or `--model FILE.keras`.")
    return args.name


def _series_options(args: argparse.Namespace) -> dict[str, Any]:
    if args.column is None:
        raise ValueError(f"`--column` is required to read a series from the CSV file {args.csv}.")
    return {
        "time_column": args.time_column,
        "id_column": args.id_column,
    }


# The options that read a user's CSV (`add_data_options`): dest -> flag.
CSV_FLAGS = {
    "column": "--column",
    "time_column": "--time-column",
    "id_column": "--id-column",
    "period": "--period",
    "label_column": "--label-column",
    "test_fraction": "--test-fraction",
    "stride": "--stride",
    "horizon": "--horizon",
}


def refuse_csv_options(args: argparse.Namespace, what: str, keep: tuple[str, ...] = ()) -> None:
    """An error naming the first option of a user's CSV given to a command run without
    `--csv` (`what`: what the command does instead), which would do nothing there; `keep`: the
    options that do apply to it."""
    for dest, flag in CSV_FLAGS.items():
        if dest not in keep and getattr(args, dest, None) is not None:
            raise ValueError(
                f"`{flag}` goes with `--csv` (your own series); without it this {what}. "
                f"Received: {flag} {getattr(args, dest)}"
            )


def trainer_verbosity(args: argparse.Namespace) -> int:
    """The Trainer's `verbose`: 0 with --quiet, a progress bar on a terminal, else one line per
    epoch (a bar redrawn with terminal codes makes a log file unreadable)."""
    return 0 if args.quiet else (1 if sys.stdout.isatty() else 2)


def evaluation_options(args: argparse.Namespace) -> dict[str, Any]:
    """Keywords of `zoo.own_data.evaluate`/`plot` from the command line."""
    return {
        **_series_options(args),
        "period": args.period,
        "labels": args.label_column,
        "test_fraction": args.test_fraction,
        "stride": args.stride,
        "horizon": args.horizon,
    }


def _format(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def print_report(title: str, report: dict) -> None:
    """The report as a table: one row per metric, the model and each baseline as columns."""
    baselines = report.get("baselines", {})
    names = ["model", *baselines]
    metrics = [k for k, v in report["metrics"].items() if not isinstance(v, list)]
    for values in baselines.values():
        metrics += [k for k in values if k not in metrics and not isinstance(values[k], list)]
    rows = [
        [key, _format(report["metrics"].get(key))]
        + [_format(baselines[name].get(key)) for name in names[1:]]
        for key in metrics
    ]
    widths = [max(len(str(c)) for c in column) for column in zip(["", *names], *rows, strict=True)]
    print(title)
    for row in [["", *names], *rows]:
        print(
            "  ".join(
                str(c).rjust(w) if i else str(c).ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    for key in ("origins", "series", "horizon", "threshold", "baselines_note"):
        if key in report:
            print(f"{key.replace('_', ' ')}: {_format(report[key])}")
    flagged = report["metrics"].get("flagged_points")
    if flagged is not None:
        shown = ", ".join(map(str, flagged[:20])) + (", ..." if len(flagged) > 20 else "")
        print(f"flagged points (positions): {shown or 'none'}")


def jsonable(value: Any) -> Any:
    """`value` with numpy arrays and numbers as JSON types (NaN and inf as null)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def run_evaluate_csv(args: argparse.Namespace) -> int:
    from zoo import own_data

    source = model_argument(args)
    report = own_data.evaluate(source, args.csv, args.column, **evaluation_options(args))
    if args.json:
        print(json.dumps(jsonable(report), indent=2))
    else:
        print_report(f"{source} on {args.csv}", report)
    return 0


def run_plot_csv(args: argparse.Namespace) -> int:
    from zoo import own_data

    source = model_argument(args)
    output = args.output or Path(f"{Path(str(source)).stem}.png")
    path = own_data.plot(source, args.csv, args.column, output=output, **evaluation_options(args))
    print(f"Wrote {path}")
    return 0


def run_predict_csv(args: argparse.Namespace) -> int:
    from zoo import own_data

    table = own_data.predict(
        model_argument(args),
        args.csv,
        args.column,
        period=args.period,
        horizon=args.horizon,
        **_series_options(args),
    )
    if args.output is None:
        table.to_csv(sys.stdout, index=False)
        return 0
    if args.output.suffix.lower() != ".csv":
        raise ValueError(f"`--output` must end in .csv with `--csv`. Received: {args.output}")
    table.to_csv(args.output, index=False)
    print(f"Wrote {len(table)} rows ({', '.join(table.columns)}) to {args.output}")
    return 0


def run_fine_tune_series(args: argparse.Namespace, options: dict[str, Any]) -> int:
    """`zoo fine-tune` of a forecaster or detector on `--csv` (time and id columns read)."""
    from zoo import own_data

    output = args.output or Path(f"{args.name}.keras")
    run_dir = args.run_dir or output.with_name(output.name + ".run")
    model = own_data.fine_tune(
        args.name,
        args.csv,
        args.column,
        time_column=args.time_column,
        id_column=args.id_column,
        seed=args.seed,
        run_dir=run_dir,
        verbose=trainer_verbosity(args),
        **options,
    )
    model.save(output)
    config = model.get_config()
    keys = ("window", "horizon", "period", "transform", "naive_weight", "band_adapt", "threshold")
    shown = {k: config[k] for k in keys if k in config}
    print(
        f"Saved the fine-tuned model to {output} ({', '.join(f'{k}={v}' for k, v in shown.items())}"
        f"; checkpoints and logs in {run_dir})"
    )
    return 0


def register_backtest(subparsers, model_option, guard) -> None:
    backtest = subparsers.add_parser(
        "backtest",
        help="forecasts at rolling origins on your CSV, beside seasonal naive, ETS and ARIMA",
        description="Rolling origins over the last --test-fraction of each series; every "
        "baseline is refit at every origin. Prints the scores; --output writes one row per "
        "(series, origin, step) as CSV.",
    )
    backtest.add_argument("name", nargs="?", default=None, help="registry name (or --model)")
    model_option(backtest)
    add_data_options(backtest, required=True)
    backtest.add_argument("--output", type=Path, default=None, help="the forecasts as .csv")
    backtest.add_argument("--json", action="store_true", help="print JSON instead of a table")
    backtest.set_defaults(func=guard(run_backtest))


def run_backtest(args: argparse.Namespace) -> int:
    from zoo import own_data
    from zoo.commands.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()

    source = model_argument(args)
    options = evaluation_options(args)
    if options.pop("labels") is not None:
        raise ValueError(
            "`--label-column` applies to detectors (`zoo evaluate`); a backtest forecasts. "
            f"Received: --label-column {args.label_column}"
        )
    result = own_data.backtest(source, args.csv, args.column, **options)
    if args.output is not None:
        result.frame.to_csv(args.output, index=False)
        print(f"Wrote {len(result.frame)} forecasts to {args.output}", file=sys.stderr)
    if args.json:
        print(json.dumps(jsonable(result.report), indent=2))
    else:
        print_report(f"{source} on {args.csv}: rolling origins", result.report)
    return 0
