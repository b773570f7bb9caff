"""`zoo export` and `zoo serve`: SavedModels for TensorFlow Serving, and a local server like it.

  zoo export forecaster_co2 --base-path saved_models   # -> saved_models/forecaster_co2/1
  zoo export my_model.keras --base-path saved_models --write-config
  zoo serve --model_config_file=saved_models/models.config --rest_api_port=8501
  zoo serve --model_name=half_plus_two --model_base_path=saved_models/half_plus_two

`zoo serve` takes TensorFlow Serving's own flag names and defaults, so a command line written for
`tensorflow_model_server` works here too (REST on --rest_api_port, gRPC on --port).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from pathlib import Path


def register(subparsers) -> None:
    export_parser = subparsers.add_parser(
        "export",
        help="export a registry model or a .keras file as a versioned SavedModel for TF Serving",
        description="Write BASE_PATH/MODEL_NAME/VERSION/ atomically: saved_model.pb, variables/, "
        "assets/, assets.extra/tf_serving_warmup_requests.",
    )
    export_parser.add_argument("model", help="a registry name, or a path ending in .keras")
    export_parser.add_argument(
        "--base-path", required=True, help="directory holding one folder per model"
    )
    export_parser.add_argument(
        "--version",
        dest="export_version",  # `zoo --version` owns the name `version` in the namespace
        type=int,
        default=None,
        help="version number (default: next free)",
    )
    export_parser.add_argument(
        "--model-name", default=None, help="folder name (default: registry name or file stem)"
    )
    export_parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing version"
    )
    export_parser.add_argument(
        "--no-warmup", action="store_true", help="skip assets.extra warm-up requests"
    )
    export_parser.add_argument(
        "--period",
        type=int,
        default=None,
        help="forecaster_universal: the season the exported graph removes, as zoo.forecast's "
        "period (a fine-tuned model brings its own)",
    )
    export_parser.add_argument(
        "--write-config",
        action="store_true",
        help="(re)write BASE_PATH/models.config listing every model under BASE_PATH",
    )
    export_parser.set_defaults(func=run_export)

    serve = subparsers.add_parser(
        "serve",
        help="serve SavedModels like tensorflow_model_server: REST + gRPC (local, no Docker)",
        description="A local server speaking TensorFlow Serving's REST and gRPC APIs; flags, "
        "defaults and precedence as in tensorflow_model_server.",
    )
    add_serve_flags(serve)
    serve.set_defaults(func=run_serve)


def _bool(text: str) -> bool:
    lowered = str(text).strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false. Received: {text!r}")


def add_serve_flags(serve: argparse.ArgumentParser) -> None:
    """TF Serving's flags (names, defaults) that `zoo serve` supports."""
    flag = serve.add_argument

    def bool_flag(name: str, default: bool, help: str) -> None:
        flag(name, type=_bool, default=default, nargs="?", const=True, help=help)

    flag("--port", type=int, default=8500, help="gRPC port (TF Serving: 8500; 0: any free)")
    flag("--grpc_socket_path", default="", help="not supported (a clear error if set)")
    flag("--rest_api_port", type=int, default=8501, help="REST port (container's 8501; 0: any)")
    flag("--rest_api_num_threads", type=int, default=None, help="REST worker threads (4 x cores)")
    flag("--rest_api_timeout_in_ms", type=int, default=30000, help="deadline of a REST request")
    bool_flag("--rest_api_enable_cors_support", False, "add CORS headers (Allow-Origin: *)")
    flag("--rest_api_host", default="127.0.0.1", help="interface to bind (zoo serve only)")
    flag("--model_name", default="default", help="name of the model (TF Serving: default)")
    flag("--model_base_path", default="", help="its base path (numeric version folders)")
    flag("--model_config_file", default="", help="a models.config (wins over --model_base_path)")
    for name, default, what in (
        ("--model_config_file_poll_wait_seconds", 0.0, "re-reads of the config file"),
        ("--file_system_poll_wait_seconds", 1.0, "polls for new versions"),
    ):
        flag(name, type=float, default=default, help=f"seconds between {what} (0: never)")
    flag("--saved_model_tags", default="serve", help="MetaGraph tags, comma separated")
    bool_flag("--enable_model_warmup", True, "replay the warm-up requests at load")
    bool_flag("--enable_batching", False, "server-side batching")
    flag("--batching_parameters_file", default="", help="BatchingParameters text proto")
    flag("--monitoring_config_file", default="", help="MonitoringConfig text proto (Prometheus)")
    flag("--tensorflow_intra_op_parallelism", type=int, default=0, help="0: TensorFlow decides")
    flag("--tensorflow_inter_op_parallelism", type=int, default=0, help="0: TensorFlow decides")
    bool_flag(
        "--allow_version_labels_for_unavailable_models", False, "accepted (labels per request)"
    )
    flag(
        "--max_request_bytes",
        type=int,
        default=64 * 1024 * 1024,
        help="largest accepted request body (413 above it; zoo serve only)",
    )


def _load_model(spec: str):
    """(model, default name, signatures, warm-up inputs) of a `.keras` file or a preset name.

    A preset's warm-up requests are held-out inputs of its own data (its `warmup` callable)."""
    from zoo.commands.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()  # `import zoo` has registered every custom object by then
    if spec.endswith(".keras"):
        import keras

        path = Path(spec)
        if not path.exists():
            raise FileNotFoundError(f"`model` file {path} does not exist")
        return keras.saving.load_model(path), path.stem, None, None
    from zoo import registry

    model = registry.load(spec)
    preset = registry.get_preset(spec)
    warmup = preset.resolve("warmup")(model) if preset.warmup else None
    return model, spec, dict(preset.signatures), warmup


def _served(model, name: str, period: int | None):
    """What to export: a model whose forecasts need steps around its network (the universal
    forecaster: a season removed, a fine-tuned model's band scales) says so by `served_model`."""
    served = getattr(model, "served_model", None)
    if callable(served):
        return served(period=period)
    if period is not None:
        raise ValueError(
            f"`--period` applies to the universal forecaster (zero-shot); {name} has no season "
            f"to set. Received: --period {period}"
        )
    return model


def run_export(args: argparse.Namespace) -> int:
    from zoo.commands.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    from zoo.serving import export, write_models_config

    try:
        model, default_name, signatures, warmup_inputs = _load_model(args.model)
        model = _served(model, default_name, args.period)
        name = args.model_name or default_name
        path = export(
            model,
            Path(args.base_path) / name,
            version=args.export_version,
            warmup=not args.no_warmup,
            warmup_inputs=warmup_inputs,
            signatures=signatures,
            model_name=name,
            overwrite=args.overwrite,
        )
    except (FileNotFoundError, FileExistsError, ValueError) as error:
        print(f"zoo export: {error}", file=sys.stderr)
        return 1
    print(path)
    if args.write_config:
        print(write_models_config(args.base_path))
    return 0


def _serve_options(args: argparse.Namespace):
    """Check the flags as TF Serving does; return (entries source, load options, app options)."""
    from zoo.serving.batching import BatchingOptions
    from zoo.serving.manager import LoadOptions
    from zoo.serving.metrics import read_monitoring_config

    if args.grpc_socket_path:
        raise ValueError("`--grpc_socket_path` is not supported by zoo serve; use `--port`.")
    if not args.model_config_file and not args.model_base_path:
        raise ValueError(
            "Both server_options.model_base_path and server_options.model_config_file are "
            "empty! Give `--model_base_path` (with `--model_name`) or `--model_config_file`."
        )
    for name in ("port", "rest_api_port", "rest_api_timeout_in_ms"):
        if getattr(args, name) < 0:
            raise ValueError(f"`--{name}` must be >= 0. Received: {getattr(args, name)}")
    if args.batching_parameters_file and not args.enable_batching:
        raise ValueError("`--batching_parameters_file` needs `--enable_batching`.")
    tags = tuple(t.strip() for t in args.saved_model_tags.split(",") if t.strip())
    if not tags:
        raise ValueError("`--saved_model_tags` must name at least one tag. Received: ''")
    load = LoadOptions(
        tags=tags,
        warmup=args.enable_model_warmup,
        intra_op_threads=args.tensorflow_intra_op_parallelism,
        inter_op_threads=args.tensorflow_inter_op_parallelism,
        batching=(
            BatchingOptions.from_file(args.batching_parameters_file or None)
            if args.enable_batching
            else None
        ),
    )
    metrics_path = (
        read_monitoring_config(args.monitoring_config_file) if args.monitoring_config_file else None
    )
    return load, metrics_path


def _announce(host: str, url: str) -> None:
    from zoo.serving.rest import is_loopback

    if not is_loopback(host):
        log = logging.getLogger("zoo.serving")
        log.warning(
            "zoo serve is bound to %s: every machine that can reach this one can call the "
            "models (no authentication, no TLS). Put it behind a firewall or a proxy, or bind "
            "127.0.0.1.",
            host,
        )
    logging.getLogger("zoo.serving").info("REST API at %s", url)


def run_serve(args: argparse.Namespace) -> int:
    from zoo.serving import GrpcServer, ModelManager, RestServer
    from zoo.serving.exporter import sweep_stale
    from zoo.serving.metrics import ServingMetrics
    from zoo.serving.model_config import ModelEntry

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        load, metrics_path = _serve_options(args)
        if args.model_config_file:
            # TF Serving: a config file wins; --model_name/--model_base_path are ignored.
            manager = ModelManager.from_config_file(
                args.model_config_file,
                poll_wait_seconds=args.file_system_poll_wait_seconds,
                config_poll_wait_seconds=args.model_config_file_poll_wait_seconds,
                load_options=load,
            )
        else:
            entry = ModelEntry(name=args.model_name, base_path=args.model_base_path)
            manager = ModelManager(
                [entry], poll_wait_seconds=args.file_system_poll_wait_seconds, load_options=load
            )
        for base in manager.base_paths():
            for removed in sweep_stale(base):
                logging.getLogger("zoo.serving").info("removed stale %s", removed)
        manager.start()
        metrics = ServingMetrics() if metrics_path else None
        server = RestServer(
            manager,
            host=args.rest_api_host,
            port=args.rest_api_port,
            threads=args.rest_api_num_threads,
            max_body_bytes=args.max_request_bytes,
            cors=args.rest_api_enable_cors_support,
            timeout_ms=args.rest_api_timeout_in_ms,
            metrics=metrics,
            metrics_path=metrics_path,
        )
        grpc_server = GrpcServer(
            manager,
            host=args.rest_api_host,
            port=args.port,
            threads=args.rest_api_num_threads or 8,
            max_message_bytes=args.max_request_bytes,
        )
    except (OSError, ValueError) as error:
        print(f"zoo serve: {error}", file=sys.stderr)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    grpc_server.start()
    _announce(args.rest_api_host, server.url)
    models = {name: manager.available_versions(name) for name in manager.model_names}
    # One machine-readable line, so scripts (and tests) can find the ports.
    ready = {"rest_api": server.url, "grpc": grpc_server.target, "models": models}
    if metrics_path:
        ready["metrics"] = server.url + metrics_path
    print(json.dumps(ready), flush=True)
    try:
        wait_for(stop)
    finally:
        _shut_down(
            ("REST server", server.shutdown),
            ("gRPC server", grpc_server.shutdown),
            ("models", manager.stop),
        )
    return 0


def wait_for(stop: threading.Event, poll: float = 0.5) -> None:
    """Block the main thread until `stop` is set, waking every `poll` seconds.

    Linux may deliver SIGTERM to any thread of the process (gRPC's, TensorFlow's), and CPython
    runs a Python signal handler only when the main thread next runs Python code; a main thread
    blocked in a bare `stop.wait()` then never does, and the handler that would set `stop` never
    runs (the child was killed after 30 s in two fresh-clone test runs)."""
    while not stop.wait(timeout=poll):
        pass


def _shut_down(*steps) -> None:
    """Run each (name, stop) in turn, logging how long each took (a slow exit names its step)."""
    log = logging.getLogger("zoo.serving")
    for name, stop in steps:
        started = time.monotonic()
        stop()
        log.info("%s stopped in %.2f s", name, time.monotonic() - started)
    log.info("zoo serve stopped cleanly")
