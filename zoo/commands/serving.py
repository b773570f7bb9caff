"""`zoo export` and `zoo serve`: SavedModels for TensorFlow Serving, and a local server like it.

  zoo export forecaster_co2 --base-path saved_models   # -> saved_models/forecaster_co2/1
  zoo export my_model.keras --base-path saved_models --write-config
  zoo serve --model_config_file=saved_models/models.config --rest_api_port=8501
  zoo serve --model_name=half_plus_two --model_base_path=saved_models/half_plus_two

`zoo serve` takes TensorFlow Serving's own flag names, so a command line written for
`tensorflow_model_server` works here too (REST only).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
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
        "--write-config",
        action="store_true",
        help="(re)write BASE_PATH/models.config listing every model under BASE_PATH",
    )
    export_parser.set_defaults(func=run_export)

    serve = subparsers.add_parser(
        "serve",
        help="serve SavedModels over TensorFlow Serving's REST API (local, no Docker)",
        description="A local server speaking TensorFlow Serving's REST API; flags as in "
        "tensorflow_model_server.",
    )
    serve.add_argument("--model_name", default=None, help="name of a single model to serve")
    serve.add_argument("--model_base_path", default=None, help="its base path (numeric versions)")
    serve.add_argument("--model_config_file", default=None, help="a models.config file")
    serve.add_argument(
        "--port", type=int, default=None, help="gRPC port (default: no gRPC; 0: any free port)"
    )
    serve.add_argument("--rest_api_port", type=int, default=8501, help="REST port (0: any free)")
    serve.add_argument("--rest_api_host", default="127.0.0.1", help="interface to bind")
    serve.add_argument(
        "--rest_api_num_threads", type=int, default=None, help="worker threads (4 x cores)"
    )
    serve.add_argument(
        "--file_system_poll_wait_seconds",
        type=float,
        default=1.0,
        help="seconds between polls for new versions (0: load at start only)",
    )
    serve.add_argument(
        "--model_config_file_poll_wait_seconds",
        type=float,
        default=0.0,
        help="seconds between re-reads of --model_config_file (0: never)",
    )
    serve.add_argument(
        "--allow_version_labels_for_unavailable_models",
        default="false",
        help="accepted for command-line compatibility: labels are resolved per request here",
    )
    serve.add_argument(
        "--max_request_bytes",
        type=int,
        default=64 * 1024 * 1024,
        help="largest accepted request body (413 above it)",
    )
    serve.set_defaults(func=run_serve)


def _load_model(spec: str):
    if spec.endswith(".keras"):
        import keras

        import zoo.layers  # noqa: F401  (registers the custom layers for deserialisation)

        path = Path(spec)
        if not path.exists():
            raise FileNotFoundError(f"`model` file {path} does not exist")
        return keras.saving.load_model(path), path.stem, None
    from zoo import registry

    model = registry.load(spec)
    preset = registry.get_preset(spec)
    return model, spec, dict(preset.signatures)


def run_export(args: argparse.Namespace) -> int:
    from zoo.serving import export, write_models_config

    try:
        model, default_name, signatures = _load_model(args.model)
        name = args.model_name or default_name
        path = export(
            model,
            Path(args.base_path) / name,
            version=args.export_version,
            warmup=not args.no_warmup,
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


def run_serve(args: argparse.Namespace) -> int:
    from zoo.serving import GrpcServer, ModelManager, RestServer
    from zoo.serving.model_config import ModelEntry

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    single = args.model_base_path is not None
    if single == (args.model_config_file is not None):
        print(
            "zoo serve: give exactly one of `--model_base_path` (with `--model_name`) or "
            "`--model_config_file`.",
            file=sys.stderr,
        )
        return 2
    try:
        if single:
            base = Path(args.model_base_path)
            entry = ModelEntry(name=args.model_name or base.resolve().name, base_path=str(base))
            manager = ModelManager([entry], poll_wait_seconds=args.file_system_poll_wait_seconds)
        else:
            manager = ModelManager.from_config_file(
                args.model_config_file,
                poll_wait_seconds=args.file_system_poll_wait_seconds,
                config_poll_wait_seconds=args.model_config_file_poll_wait_seconds,
            )
        manager.start()
        server = RestServer(
            manager,
            host=args.rest_api_host,
            port=args.rest_api_port,
            threads=args.rest_api_num_threads,
            max_body_bytes=args.max_request_bytes,
        )
        grpc_server = (
            GrpcServer(
                manager,
                host=args.rest_api_host,
                port=args.port,
                threads=args.rest_api_num_threads or 8,
                max_message_bytes=args.max_request_bytes,
            )
            if args.port is not None
            else None
        )
    except (OSError, ValueError) as error:
        print(f"zoo serve: {error}", file=sys.stderr)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    if grpc_server is not None:
        grpc_server.start()
    models = {name: manager.available_versions(name) for name in manager.model_names}
    # One machine-readable line, so scripts (and tests) can find the port.
    ready = {"rest_api": server.url, "models": models}
    if grpc_server is not None:
        ready["grpc"] = grpc_server.target
    print(json.dumps(ready), flush=True)
    try:
        stop.wait()
    finally:
        server.shutdown()
        if grpc_server is not None:
            grpc_server.shutdown()
        manager.stop()
    return 0
