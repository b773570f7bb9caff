"""`zoo list | info | train | evaluate | fine-tune | predict | plot`: the pretrained zoo.

Each command is generic over the registry: it finds the preset by name and calls the preset's own
`train`, `evaluate`, `predict`, `fine_tune` or `plot` (see `zoo.models.preset.Preset`).

  zoo list
  zoo info cnn_digits
  zoo evaluate anomaly_ucr135
  zoo train cnn_digits --seed 0                # rewrites zoo/pretrained/cnn_digits/
  zoo fine-tune anomaly_ucr135 --csv my.csv --column value --epochs 5 --output mine.keras
  zoo predict cnn_digits --input images.npy --output predictions.npz
  zoo plot forecaster_co2 --output co2.png
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

IMAGE_TASK = "image-classification"


def register(subparsers) -> None:
    listing = subparsers.add_parser("list", help="list the pretrained models")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(func=run_list)

    info = subparsers.add_parser("info", help="print a model's card (data, split, metrics)")
    info.add_argument("name", help="registry name (see `zoo list`)")
    info.set_defaults(func=run_info)

    train = subparsers.add_parser(
        "train", help="train a preset from its bundled data with a fixed seed (rewrites it)"
    )
    train.add_argument("name", help="registry name")
    train.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    train.add_argument(
        "--output-dir",
        type=Path,
        default=None,
        help="write the preset folder here instead of zoo/pretrained/NAME",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=run_train)

    evaluate = subparsers.add_parser(
        "evaluate", help="recompute a model's card metrics on its protocol, beside the baselines"
    )
    evaluate.add_argument("name", help="registry name")
    _model_option(evaluate)
    evaluate.add_argument("--json", action="store_true", help="print JSON instead of a table")
    evaluate.set_defaults(func=run_evaluate)

    fine_tune = subparsers.add_parser(
        "fine-tune", help="fine-tune a pretrained model on a CSV of your own"
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
        "--epochs", type=int, default=None, help="epochs (default: the preset's own)"
    )
    fine_tune.add_argument(
        "--learning-rate", type=float, default=None, help="learning rate (default: the preset's)"
    )
    fine_tune.add_argument(
        "--output", type=Path, default=None, help="the fine-tuned .keras file (default NAME.keras)"
    )
    fine_tune.add_argument(
        "--num-classes", type=int, default=None, help="image models: new class count (new head)"
    )
    fine_tune.add_argument(
        "--horizon", type=int, default=None, help="forecasters: new horizon (new head)"
    )
    fine_tune.add_argument(
        "--percentile",
        type=float,
        default=None,
        help="anomaly detectors: threshold percentile of the scores on your (normal) data",
    )
    fine_tune.add_argument(
        "--freeze-backbone", action="store_true", help="train the head only (where supported)"
    )
    fine_tune.add_argument("--quiet", action="store_true", help="no progress bar")
    fine_tune.set_defaults(func=run_fine_tune)

    predict = subparsers.add_parser("predict", help="run a model on a CSV or .npy file")
    predict.add_argument("name", help="registry name")
    predict.add_argument("--input", type=Path, required=True, help="a .csv or .npy file")
    predict.add_argument(
        "--column", default=None, help="CSV column of the series (series models; required there)"
    )
    _model_option(predict)
    predict.add_argument(
        "--output", type=Path, default=None, help="write the outputs to .npz or .json"
    )
    predict.set_defaults(func=run_predict)

    plot = subparsers.add_parser("plot", help="write the preset's picture on its test split")
    plot.add_argument("name", help="registry name")
    _model_option(plot)
    plot.add_argument("--output", type=Path, default=None, help="PNG path (default NAME.png)")
    plot.set_defaults(func=run_plot)


def _model_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help="a .keras file (e.g. from `zoo fine-tune`) to use instead of the pretrained weights",
    )


def _load(name: str, path: Path | None):
    from zoo import registry

    if path is None:
        return registry.load(name)
    import keras

    if not path.exists():
        raise FileNotFoundError(f"`--model` must be an existing .keras file. Received: {path}")
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


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


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
        shipped = (registry.preset_dir(name) / registry.CARD_FILE).exists()
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

    preset = registry.get_preset(args.name)
    target = args.output_dir or registry.preset_dir(args.name)
    print(f"Training {args.name} (seed {args.seed}) -> {target}", file=sys.stderr)
    metrics = preset.train(args.output_dir, seed=args.seed, verbose=0 if args.quiet else 1)
    print(json.dumps(_jsonable(metrics), indent=2))
    return 0


@_guard
def run_evaluate(args: argparse.Namespace) -> int:
    from zoo import registry

    preset = registry.get_preset(args.name)
    result = _jsonable(preset.evaluate(_load(args.name, args.model)))
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


def _read_training_data(task: str, csv: Path, column: str):
    from zoo.data.csv_input import read_images, read_series

    if task == IMAGE_TASK:
        labels = read_series(csv, column)
        return read_images(csv, 8, 8, exclude=(column,)), labels
    return read_series(csv, column)


def _check_options(preset, options: dict) -> None:
    """An option the preset's `fine_tune` does not take is an error naming the option."""
    parameters = inspect.signature(preset.fine_tune).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        accepted = None
    else:
        accepted = {p.name for p in parameters}
    for key in options:
        if accepted is not None and key not in accepted:
            flag = "--" + key.replace("_", "-")
            raise ValueError(
                f"`{flag}` does not apply to {preset.name} ({preset.task}). "
                f"Its fine-tuning takes: {', '.join(sorted(accepted - {'model', 'data'}))}"
            )


@_guard
def run_fine_tune(args: argparse.Namespace) -> int:
    from zoo import registry

    preset = registry.get_preset(args.name)
    options = {
        key: getattr(args, key)
        for key in ("epochs", "learning_rate", "num_classes", "horizon", "percentile")
        if getattr(args, key) is not None
    }
    if args.freeze_backbone:
        options["freeze_backbone"] = True
    _check_options(preset, options)
    data = _read_training_data(preset.task, args.csv, args.column)
    model = registry.load(args.name)
    model = preset.fine_tune(model, data, verbose=0 if args.quiet else 1, **options)
    output = args.output or Path(f"{args.name}.keras")
    model.save(output)
    print(f"Saved the fine-tuned model to {output}")
    return 0


def _read_input(task: str, path: Path, column: str | None) -> np.ndarray:
    from zoo.data.csv_input import read_array, read_images

    if task == IMAGE_TASK:
        return read_images(path, 8, 8)
    if path.suffix.lower() != ".npy" and column is None:
        raise ValueError(f"`--column` is required to read a series from the CSV file {path}.")
    return read_array(path, column)


@_guard
def run_predict(args: argparse.Namespace) -> int:
    from zoo import registry

    preset = registry.get_preset(args.name)
    data = _read_input(preset.task, args.input, args.column)
    outputs = {
        k: np.asarray(v) for k, v in preset.predict(_load(args.name, args.model), data).items()
    }
    if args.output is None:
        print(json.dumps(_jsonable(outputs)))
    elif args.output.suffix.lower() == ".npz":
        np.savez(args.output, **outputs)
        print(f"Wrote {', '.join(outputs)} to {args.output}")
    elif args.output.suffix.lower() == ".json":
        args.output.write_text(json.dumps(_jsonable(outputs)) + "\n")
        print(f"Wrote {', '.join(outputs)} to {args.output}")
    else:
        raise ValueError(f"`--output` must end in .npz or .json. Received: {args.output}")
    return 0


@_guard
def run_plot(args: argparse.Namespace) -> int:
    from zoo import registry

    preset = registry.get_preset(args.name)
    output = args.output or Path(f"{args.name}.png")
    path = preset.plot(_load(args.name, args.model), output)
    print(f"Wrote {path}")
    return 0
