"""`zoo list | info | train | evaluate | fine-tune | predict | plot`: the pretrained zoo.

Every command is generic over the registry: it finds the preset by name and calls the callables
the preset names (see `zoo.models.common.preset.Preset`). `list` and `info` read the cards
without importing TensorFlow.

  zoo list
  zoo info cnn_digits
  zoo train cnn_digits --epochs 2 --output-dir runs/cnn   # resumable; rerun after a crash
  zoo evaluate anomaly_ucr135
  zoo fine-tune anomaly_ucr135 --csv my.csv --column value --epochs 5 --output mine.keras
  zoo predict cnn_digits --input images.npy --output predictions.npz
  zoo plot forecaster_co2 --output co2.png

With `--csv` (and `--model FILE.keras` or a name), `evaluate`, `backtest`, `plot` and `predict`
work on a user's own series: see `zoo.commands.own_data`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

from zoo.commands.own_data import (
    add_data_options,
    jsonable,
    refuse_csv_options,
    register_backtest,
    run_evaluate_csv,
    run_fine_tune_series,
    run_plot_csv,
    run_predict_csv,
    trainer_verbosity,
)

IMAGE_TASK = "image-classification"
# `zoo fine-tune` flags -> the keyword a family's fine_tune takes (see Preset.fine_tune_options).
FINE_TUNE_FLAGS = {
    "num_classes": ("--num-classes", int, "image models: new class count (a new head)"),
    "horizon": ("--horizon", int, "forecasters: new horizon (a new head)"),
    "period": (
        "--period",
        int,
        "forecasters and anomaly_universal: season length (default: from --time-column)",
    ),
    "window": ("--window", int, "forecasters and detectors: past values the model reads"),
    "false_alarm_rate": (
        "--false-alarm-rate",
        float,
        "detectors: point-wise false-alarm rate on held-out normal data (default 0.001)",
    ),
    "percentile": (
        "--percentile",
        float,
        "detectors: threshold at this percentile of held-out normal point scores",
    ),
}


def register(subparsers) -> None:
    listing = subparsers.add_parser("list", help="list the pretrained models")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(func=run_list)

    info = subparsers.add_parser("info", help="print a model's card (data, split, metrics)")
    info.add_argument("name", help="registry name (see `zoo list`)")
    info.set_defaults(func=run_info)

    train = subparsers.add_parser(
        "train",
        help="train a preset from its bundled data through the Trainer (resumable)",
        description="Trains in a run folder (checkpoints/, TensorBoard logs/, the preset files); "
        "running the same command again after a crash resumes from the last checkpoint. Without "
        "--output-dir the run folder is runs/NAME and the result replaces the shipped preset.",
    )
    train.add_argument("name", help="registry name")
    train.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    train.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    train.add_argument(
        "--output-dir",
        type=Path,
        default=None,
        help="the run folder; the preset files are written there (the shipped preset is kept)",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=run_train)

    evaluate = subparsers.add_parser(
        "evaluate",
        help="a model's metrics beside the baselines: on its own protocol, or on your --csv",
    )
    evaluate.add_argument("name", nargs="?", default=None, help="registry name (or --model)")
    _model_option(evaluate)
    add_data_options(evaluate)
    evaluate.add_argument("--json", action="store_true", help="print JSON instead of a table")
    evaluate.set_defaults(func=run_evaluate)

    fine_tune = subparsers.add_parser(
        "fine-tune", help="fine-tune a pretrained model on a CSV of your own (through the Trainer)"
    )
    fine_tune.add_argument("name", help="registry name")
    fine_tune.add_argument("--csv", type=Path, required=True, help="the CSV file")
    fine_tune.add_argument(
        "--column",
        required=True,
        help="series models: the column of values; image models: the label column (the other "
        "columns are the pixels, row-major)",
    )
    fine_tune.add_argument(
        "--time-column", default=None, help="series models: dates or numbers (sets the season)"
    )
    fine_tune.add_argument(
        "--id-column", default=None, help="forecasters: series names of a long-format file"
    )
    fine_tune.add_argument(
        "--epochs", type=int, default=None, help="epochs (default: the family's own)"
    )
    fine_tune.add_argument(
        "--learning-rate", type=float, default=None, help="learning rate (default: the family's)"
    )
    for key, (flag, kind, text) in FINE_TUNE_FLAGS.items():
        fine_tune.add_argument(flag, dest=key, type=kind, default=None, help=text)
    fine_tune.add_argument(
        "--freeze-backbone", action="store_true", help="train the head only (where supported)"
    )
    fine_tune.add_argument(
        "--output", type=Path, default=None, help="the fine-tuned .keras file (default NAME.keras)"
    )
    fine_tune.add_argument(
        "--run-dir",
        type=Path,
        default=None,
        help="checkpoints and TensorBoard logs (default: OUTPUT.run/); rerunning resumes",
    )
    fine_tune.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    fine_tune.add_argument("--quiet", action="store_true", help="no progress bar")
    fine_tune.set_defaults(func=run_fine_tune)

    predict = subparsers.add_parser(
        "predict",
        help="run a model: forecasts or point-wise flags of your --csv as a table, or the raw "
        "outputs for an --input .csv/.npy",
    )
    predict.add_argument("name", nargs="?", default=None, help="registry name (or --model)")
    predict.add_argument(
        "--input", type=Path, default=None, help="raw model outputs for a .csv or .npy file"
    )
    _model_option(predict)
    add_data_options(predict, evaluation=False)
    predict.add_argument(
        "--horizon",
        type=int,
        default=None,
        help="with --csv, forecasters: steps to forecast (forecaster_universal: any number; "
        "the others: up to their own horizon; default: their own)",
    )
    predict.add_argument(
        "--output",
        type=Path,
        default=None,
        help="with --csv: a .csv table; with --input: .npz or .json (default: stdout)",
    )
    predict.set_defaults(func=run_predict)

    plot = subparsers.add_parser(
        "plot", help="write a PNG: the preset's picture on its test split, or on your --csv"
    )
    plot.add_argument("name", nargs="?", default=None, help="registry name (or --model)")
    _model_option(plot)
    add_data_options(plot)
    plot.add_argument("--output", type=Path, default=None, help="PNG path (default NAME.png)")
    plot.set_defaults(func=run_plot)

    register_backtest(subparsers, _model_option, _guard)


def _model_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help="a .keras file (e.g. from `zoo fine-tune`) to use instead of the pretrained weights",
    )


def _keras_ready() -> None:
    from zoo.commands.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()


def _load(name: str, path: Path | None):
    _keras_ready()
    from zoo import registry

    if path is None:
        return registry.load(name)
    import keras

    if not path.exists():
        raise FileNotFoundError(f"`--model` must be an existing .keras file. Received: {path}")
    from zoo.own_data import check_keras_file

    check_keras_file(path, "--model")
    return keras.saving.load_model(path)


def _error(message: str) -> int:
    print(f"zoo: error: {message}", file=sys.stderr)
    return 2


def _guard(run):
    """Turns the library's clear errors into one line on stderr and exit status 2."""

    def wrapped(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except (ValueError, KeyError, FileNotFoundError) as error:
            message = error.args[0] if isinstance(error, KeyError) and error.args else error
            return _error(str(message))

    wrapped.__name__ = run.__name__
    return wrapped


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _flatten(prefix: str, value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        rows = []
        for key, inner in value.items():
            rows += _flatten(f"{prefix}.{key}" if prefix else str(key), inner)
        return rows
    return [(prefix, value)]


@_guard
def run_list(args: argparse.Namespace) -> int:
    from zoo import registry

    rows = []
    for name in registry.list_models():
        preset = registry.get_preset(name)
        shipped = (registry.preset_dir(name) / "card.json").exists()
        rows.append(
            {"name": name, "task": preset.task, "pretrained": shipped, "summary": preset.summary}
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max([len(r["name"]) for r in rows] + [4])
    task_width = max([len(r["task"]) for r in rows] + [4])
    print(f"{'name':<{width}}  {'task':<{task_width}}  pretrained  summary")
    for row in rows:
        shipped = "yes" if row["pretrained"] else "no"
        print(
            f"{row['name']:<{width}}  {row['task']:<{task_width}}  {shipped:<10}  {row['summary']}"
        )
    return 0


@_guard
def run_info(args: argparse.Namespace) -> int:
    from zoo import registry

    print(json.dumps(registry.info(args.name), indent=2))
    return 0


@_guard
def run_train(args: argparse.Namespace) -> int:
    from zoo import registry
    from zoo.models.common.preset_files import CHECKSUM_FILE, PRESET_FILES

    preset = registry.get_preset(args.name)
    run_dir = args.output_dir or Path("runs") / args.name
    print(f"Training {args.name} (seed {args.seed}) in {run_dir}", file=sys.stderr)
    _keras_ready()
    card = preset.resolve("recipe")(
        run_dir, seed=args.seed, epochs=args.epochs, verbose=trainer_verbosity(args)
    )
    if args.output_dir is None:
        target = registry.preset_dir(args.name)
        target.mkdir(parents=True, exist_ok=True)
        for name in (*PRESET_FILES, CHECKSUM_FILE):
            shutil.copy2(run_dir / name, target / name)
        print(f"Installed the preset files into {target}", file=sys.stderr)
    print(json.dumps(jsonable(card.get("metrics", card)), indent=2))
    return 0


@_guard
def run_evaluate(args: argparse.Namespace) -> int:
    _keras_ready()
    from zoo import registry

    if args.csv is not None:
        return run_evaluate_csv(args)
    refuse_csv_options(args, "recomputes the card's metrics on the preset's own protocol")
    _require_name(args)
    preset = registry.get_preset(args.name)
    result = jsonable(preset.resolve("evaluation")(_load(args.name, args.model)))
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    ours = _flatten("", {k: v for k, v in result.items() if k != "baselines"})
    baselines = _flatten("", result.get("baselines", {}))
    width = max(len(key) for key, _ in ours + baselines)
    print(f"{args.name}: metrics on its protocol")
    for key, value in ours:
        print(f"  {key:<{width}}  {_format(value)}")
    if baselines:
        print("baselines on the same split")
        for key, value in baselines:
            print(f"  {key:<{width}}  {_format(value)}")
    return 0


def _require_name(args: argparse.Namespace) -> None:
    if args.name is None:
        raise ValueError(
            "Give a registry name for the preset's own data, or `--csv` (with `--column`) for "
            "your own."
        )


def _image_side(name: str) -> int:
    from zoo import registry

    return int(registry.config(name)["image_size"])


def _read_training_data(name: str, task: str, csv: Path, column: str):
    from zoo.data.csv_input import read_images, read_series

    if task == IMAGE_TASK:
        labels = read_series(csv, column)
        side = _image_side(name)
        return read_images(csv, side, side, exclude=(column,)), labels
    return read_series(csv, column)


def _fine_tune_options(preset, args: argparse.Namespace) -> dict[str, Any]:
    """The options given on the command line; one that the preset's task does not take is an
    error naming the flag and the ones it does take."""
    given = {key: getattr(args, key) for key in FINE_TUNE_FLAGS if getattr(args, key) is not None}
    if args.freeze_backbone:
        given["freeze_backbone"] = True
    accepted = preset.fine_tune_options
    for key in given:
        if key not in accepted:
            flag = "--" + key.replace("_", "-")
            raise ValueError(
                f"`{flag}` does not apply to {preset.name} ({preset.task}). Its fine-tuning "
                f"takes: {', '.join('--' + a.replace('_', '-') for a in accepted)}"
            )
    for key in ("epochs", "learning_rate"):
        if getattr(args, key) is not None:
            given[key] = getattr(args, key)
    return given


@_guard
def run_fine_tune(args: argparse.Namespace) -> int:
    _keras_ready()
    from zoo import registry

    preset = registry.get_preset(args.name)
    options = _fine_tune_options(preset, args)
    if preset.task != IMAGE_TASK:
        return run_fine_tune_series(args, options)
    data = _read_training_data(args.name, preset.task, args.csv, args.column)
    output = args.output or Path(f"{args.name}.keras")
    run_dir = args.run_dir or output.with_name(output.name + ".run")
    model = _load(args.name, None)
    model = preset.resolve("fine_tune")(
        model, data, seed=args.seed, run_dir=run_dir, verbose=trainer_verbosity(args), **options
    )
    model.save(output)
    print(f"Saved the fine-tuned model to {output} (checkpoints and logs in {run_dir})")
    return 0


def _read_input(name: str, task: str, path: Path, column: str | None) -> np.ndarray:
    from zoo.data.csv_input import read_array, read_images

    if task == IMAGE_TASK:
        side = _image_side(name)
        return read_images(path, side, side)
    if path.suffix.lower() != ".npy" and column is None:
        raise ValueError(f"`--column` is required to read a series from the CSV file {path}.")
    return read_array(path, column)


@_guard
def run_predict(args: argparse.Namespace) -> int:
    _keras_ready()
    from zoo import registry

    if args.csv is not None:
        return run_predict_csv(args)
    if args.input is None:
        raise ValueError("Give `--csv` (a table of forecasts or flags) or `--input` (raw outputs).")
    if args.horizon is not None:
        raise ValueError("`--horizon` goes with `--csv` (a table of forecasts), not `--input`.")
    refuse_csv_options(args, "runs the model on the raw --input", keep=("column",))
    _require_name(args)
    preset = registry.get_preset(args.name)
    data = _read_input(args.name, preset.task, args.input, args.column)
    model = _load(args.name, args.model)
    outputs = {k: np.asarray(v) for k, v in preset.resolve("predict")(model, data).items()}
    if args.output is None:
        print(json.dumps(jsonable(outputs)))
    elif args.output.suffix.lower() == ".npz":
        np.savez(args.output, **outputs)
        print(f"Wrote {', '.join(outputs)} to {args.output}")
    elif args.output.suffix.lower() == ".json":
        args.output.write_text(json.dumps(jsonable(outputs)) + "\n")
        print(f"Wrote {', '.join(outputs)} to {args.output}")
    else:
        raise ValueError(f"`--output` must end in .npz or .json. Received: {args.output}")
    return 0


@_guard
def run_plot(args: argparse.Namespace) -> int:
    _keras_ready()
    from zoo import registry

    if args.csv is not None:
        return run_plot_csv(args)
    refuse_csv_options(args, "draws the preset's picture on its own test split")
    _require_name(args)
    preset = registry.get_preset(args.name)
    output = args.output or Path(f"{args.name}.png")
    path = preset.resolve("plot")(_load(args.name, args.model), output)
    print(f"Wrote {path}")
    return 0
