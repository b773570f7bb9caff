"""Serving benchmark: `zoo serve` over loopback vs the same SavedModel called in-process.

    python bench/serving.py [--model lstm|cnn_digits|PATH.keras] [--clients 16] [--seconds 1]

Every row runs the exported SavedModel through TensorFlow's C++ loader (the C API, as TF Serving
and `zoo serve` load it), one instance per request, from `--clients` concurrent threads:
  * in-process (the floor): each thread calls `CSavedModel.run(...)` directly;
  * REST: `zoo serve` runs as a separate process on 127.0.0.1 and each client thread sends
    TF Serving-style JSON (`{"instances": [...]}`) on its own keep-alive connection; once with
    server-side batching off and once on (`--enable_batching`, a batching parameters file).
The overhead ratio is the REST p50 latency over the in-process p50 (1.0 = free HTTP + JSON).
The paths alternate for `--rounds` rounds and the median round is shown. In a round every client
calls until `--seconds` have passed, so all of them are busy the whole time (a fixed request count
per client would let early finishers leave a less loaded tail that flatters the less fair path).
Both paths are first warmed with a few calls from every client.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

from zoo.serving import export
from zoo.serving.c_loader import CSavedModel
from zoo.serving.child_server import ChildServer

REPO = Path(__file__).resolve().parents[1]
WARMUP = 5  # requests per client before the measured rounds, on each path


def lstm_model() -> keras.Model:
    """A zoo-like series model: (batch, 104, 1) -> LSTM(32) -> 8-step forecast and a score."""
    keras.utils.set_random_seed(0)
    series = keras.Input(shape=(104, 1), name="series")
    hidden = keras.layers.LSTM(32)(series)
    return keras.Model(
        series,
        {"forecast": keras.layers.Dense(8)(hidden), "score": keras.layers.Dense(1)(hidden)},
    )


def load_model(spec: str) -> tuple[keras.Model, str]:
    if spec == "lstm":
        return lstm_model(), "lstm"
    if spec.endswith(".keras"):
        import zoo.layers  # noqa: F401

        return keras.saving.load_model(spec), Path(spec).stem
    from zoo import registry

    return registry.load(spec), spec


def run_clients(call, clients: int, requests: int, seconds: float) -> dict:
    """`clients` threads each calling `call(client_index)` until `seconds` have passed (or
    `requests` calls are made); latency stats."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(clients + 1)

    def worker(i: int) -> None:
        barrier.wait()
        deadline = time.monotonic() + seconds
        try:
            for _ in range(requests):
                if time.monotonic() > deadline:
                    break
                start = time.perf_counter()
                call(i)
                latencies[i].append(time.perf_counter() - start)
        except BaseException as error:  # reported below; the bench must not hang on one failure
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    if errors:
        raise errors[0]
    flat = sorted(x for per in latencies for x in per)
    return {
        "requests": len(flat),
        "rps": len(flat) / wall,
        "p50_ms": 1e3 * statistics.median(flat),
        "p99_ms": 1e3 * flat[min(len(flat) - 1, int(0.99 * len(flat)))],
    }


def median_round(rounds: list[dict]) -> dict:
    """The round with the median requests/s, with the total request count of all rounds."""
    ordered = sorted(rounds, key=lambda r: r["rps"])
    return {**ordered[len(ordered) // 2], "requests": sum(r["requests"] for r in rounds)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lstm", help="lstm, a registry name, or a .keras path")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=1.0, help="length of a round")
    parser.add_argument("--requests", type=int, default=100_000, help="cap per client per round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds; median shown")
    args = parser.parse_args()

    model, name = load_model(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = export(model, root / name)
        from zoo.serving import write_models_config

        config = write_models_config(root)
        runner = CSavedModel(path)
        (input_name,) = runner.input_names()
        spec = runner.signature_defs["serving_default"].inputs[input_name]
        shape = [d.size for d in spec.tensor_shape.dim][1:]
        rng = np.random.default_rng(0)
        samples = [rng.standard_normal([1, *shape]).astype("float32") for _ in range(args.clients)]
        bodies = [json.dumps({"instances": s.tolist()}).encode() for s in samples]

        # Batch sizes padded to powers of two (TF Serving's advice), so the model meets a few
        # shapes only.
        sizes = sorted({2**k for k in range(args.clients.bit_length()) if 2**k < args.clients})
        (root / "batching.txt").write_text(
            f"max_batch_size {{ value: {args.clients} }}\n"
            "batch_timeout_micros { value: 500 }\n"
            "num_batch_threads { value: 2 }\n"
            + "".join(f"allowed_batch_sizes: {n}\n" for n in [*sizes, args.clients])
        )
        flags = [
            f"--model_config_file={config}",
            f"--rest_api_num_threads={args.clients}",
            "--file_system_poll_wait_seconds=0",
        ]

        def in_process(i: int) -> None:
            runner.run({input_name: samples[i]})

        # Warm the in-process path from every client thread, as the REST path is warmed below.
        run_clients(in_process, args.clients, WARMUP, 60.0)

        floors: list[dict] = []
        rests: dict[str, list[dict]] = {"off": [], "on": []}
        for batching in ("off", "on"):
            extra = (
                ["--enable_batching", f"--batching_parameters_file={root / 'batching.txt'}"]
                if batching == "on"
                else []
            )
            with ChildServer(flags + extra, cwd=REPO) as server:
                post, connections = _poster(server.rest_api, name, bodies)
                try:
                    run_clients(post, args.clients, WARMUP, 60.0)  # connect, warm up
                    # Alternate the paths so that load from other processes hits them alike.
                    for _ in range(args.rounds):
                        floors.append(
                            run_clients(in_process, args.clients, args.requests, args.seconds)
                        )
                        rests[batching].append(
                            run_clients(post, args.clients, args.requests, args.seconds)
                        )
                finally:
                    for connection in connections.values():
                        connection.close()
        runner.close()
    floor = median_round(floors)
    print(
        f"model {name}, input {[None, *shape]}, {args.clients} concurrent clients, "
        f"1 instance per request, {os.cpu_count()} CPU cores, median of {args.rounds} "
        f"alternating rounds of {args.seconds:g} s\n"
    )
    print("| path | requests | requests/s | p50 ms | p99 ms | p50 ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for label, row in (
        ("in-process, C++ loader (floor)", floor),
        ("zoo serve REST, batching off", median_round(rests["off"])),
        ("zoo serve REST, batching on", median_round(rests["on"])),
    ):
        ratio = row["p50_ms"] / floor["p50_ms"]
        print(
            f"| {label} | {row['requests']} | {row['rps']:.0f} | {row['p50_ms']:.2f} | "
            f"{row['p99_ms']:.2f} | {ratio:.2f}x |"
        )
    return 0


def _poster(rest_api: str, name: str, bodies: list[bytes]):
    """A `post(i)` sending body i on client i's own keep-alive connection, and the connections."""
    host, port = rest_api.removeprefix("http://").rsplit(":", 1)
    connections: dict[int, http.client.HTTPConnection] = {}

    def post(i: int) -> None:
        if i not in connections:
            connections[i] = http.client.HTTPConnection(host, int(port), timeout=60)
        connection = connections[i]
        connection.request(
            "POST",
            f"/v1/models/{name}:predict",
            body=bodies[i],
            headers={"Content-Type": "application/json"},
        )
        response = connection.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {payload[:200]!r}")

    return post, connections


if __name__ == "__main__":
    sys.exit(main())
