"""`zoo serve` with TF Serving's flags: defaults, precedence, batching, monitoring, CORS, tags."""

from __future__ import annotations

import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from test_serving_support import half_plus_two, http

from zoo.cli import main
from zoo.serving import export, write_models_config
from zoo.serving.batching import BatchingOptions
from zoo.serving.child_server import ChildServer
from zoo.serving.metrics import read_monitoring_config

REPO = Path(__file__).resolve().parents[1]
ONE = '{"instances": [[1.0]]}'


def test_tf_servings_flags_end_to_end(tmp_path):
    export(half_plus_two(), tmp_path / "saved_models" / "hpt")
    config = write_models_config(tmp_path / "saved_models")
    (tmp_path / "batching.txt").write_text(
        "max_batch_size { value: 8 }\nbatch_timeout_micros { value: 2000 }\n"
        "num_batch_threads { value: 2 }\nallowed_batch_sizes: 4\nallowed_batch_sizes: 8\n"
    )
    (tmp_path / "monitoring.txt").write_text(
        'prometheus_config {\n  enable: true,\n  path: "/monitoring/prometheus/metrics"\n}\n'
    )
    flags = [
        f"--model_config_file={config}",
        "--model_base_path=/does/not/exist",  # the config file wins, as in TF Serving
        "--rest_api_enable_cors_support=true",
        "--enable_batching",
        f"--batching_parameters_file={tmp_path / 'batching.txt'}",
        f"--monitoring_config_file={tmp_path / 'monitoring.txt'}",
        "--saved_model_tags=serve",
        "--tensorflow_intra_op_parallelism=1",
        "--tensorflow_inter_op_parallelism=1",
        "--rest_api_timeout_in_ms=60000",
        "--enable_model_warmup=false",
    ]
    with ChildServer(flags, cwd=REPO) as server:
        assert server.ready["models"] == {"hpt": [1]} and server.grpc
        url = f"{server.rest_api}/v1/models/hpt:predict"
        with ThreadPoolExecutor(8) as pool:  # concurrent requests go through the batcher
            bodies = [f'{{"instances": [[{i}.0], [{i}.5]]}}' for i in range(16)]
            answers = list(pool.map(lambda b: http(url, b), bodies))
        for i, (status, body) in enumerate(answers):
            assert status == 200
            np.testing.assert_array_equal(body["predictions"], [[0.5 * i + 2], [0.5 * i + 2.25]])
        request = urllib.request.Request(url, data=ONE.encode(), method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.headers["Access-Control-Allow-Origin"] == "*"
        preflight = urllib.request.Request(
            url, method="OPTIONS", headers={"Origin": "https://example.org"}
        )
        with urllib.request.urlopen(preflight, timeout=30) as response:
            assert response.status == 200
            assert response.headers["Access-Control-Allow-Methods"] == "POST, GET"
        with urllib.request.urlopen(server.ready["metrics"], timeout=30) as response:
            text = response.read().decode()
        assert ':tensorflow:serving:request_count{model_name="hpt",status="OK"} 17.0' in text
        assert ':tensorflow:serving:request_latency_bucket{API="predict"' in text
        assert 'entrypoint="REST",le="+Inf",model_name="hpt"} 17.0' in text


def test_model_base_path_alone_serves_the_model_named_default(tmp_path):
    export(half_plus_two(), tmp_path / "hpt")
    with ChildServer([f"--model_base_path={tmp_path / 'hpt'}"], cwd=REPO) as server:
        assert server.ready["models"] == {"default": [1]}
        status, body = http(f"{server.rest_api}/v1/models/default:predict", ONE)
        assert (status, body) == (200, {"predictions": [[2.5]]})
        status, body = http(f"{server.rest_api}/v1/models/default:predict", b"x", timeout=30)
        assert status == 400


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ([], "model_base_path and server_options.model_config_file are empty"),
        (["--model_base_path=m", "--saved_model_tags="], "`--saved_model_tags` must name"),
        (["--model_base_path=m", "--batching_parameters_file=b"], "needs `--enable_batching`"),
        (["--model_base_path=m", "--grpc_socket_path=/tmp/s"], "`--grpc_socket_path` is not"),
        (["--model_base_path=m", "--port=-1"], "`--port` must be >= 0"),
    ],
)
def test_bad_flags_are_a_clear_error(flags, message, capsys):
    assert main(["serve", *flags]) == 1
    assert message in capsys.readouterr().err


def test_unknown_flag_values_are_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit):
        main(["serve", "--model_base_path=m", "--enable_batching=maybe"])
    assert "expected true or false" in capsys.readouterr().err


def test_batching_and_monitoring_files_are_tf_servings_text_protos(tmp_path):
    path = tmp_path / "b.txt"
    path.write_text("# comment\nmax_batch_size { value: 16 }\nallowed_batch_sizes: 16\n")
    assert BatchingOptions.from_file(path) == BatchingOptions(
        max_batch_size=16, allowed_batch_sizes=(16,)
    )
    path.write_text("max_batch_size { value: 16 }\nallowed_batch_sizes: 8\n")
    with pytest.raises(ValueError, match="`allowed_batch_sizes` must increase and end with"):
        BatchingOptions.from_file(path)
    path.write_text("thread_pool_name: 'x'\n")
    with pytest.raises(ValueError, match="unsupported fields"):
        BatchingOptions.from_file(path)
    path.write_text("prometheus_config { enable: true }\n")
    assert read_monitoring_config(path) == "/monitoring/prometheus/metrics"
    path.write_text("prometheus_config { enable: false }\n")
    assert read_monitoring_config(path) is None


def test_batcher_splits_results_and_pads_to_allowed_sizes():
    import threading

    seen: list[int] = []

    class Doubler:
        def run(self, inputs, signature, timeout_ms=0):
            seen.append(len(inputs["x"]))
            return {"y": inputs["x"] * 2.0}

    batcher = BatchingOptions(
        max_batch_size=8, batch_timeout_micros=20_000, num_batch_threads=2,
        allowed_batch_sizes=(4, 8),
    ).batcher()  # fmt: skip
    results = {}
    model = Doubler()

    def one(i):
        x = np.full((1 + i % 3, 2), float(i), np.float32)
        results[i] = (x, batcher.run(model, {"x": x}, "serving_default")["y"])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(12)]  # 2 batch threads
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    batcher.close()
    assert len(results) == 12
    for x, y in results.values():
        np.testing.assert_array_equal(y, 2.0 * x)  # exact: doubling is exact in float32
    assert set(seen) <= {4, 8}  # every run padded to an allowed size
    assert sum(seen) >= sum(1 + i % 3 for i in range(12))
    small = BatchingOptions(max_batch_size=8, num_batch_threads=1).batcher()
    try:
        with pytest.raises(Exception, match="Task size 9 is larger than maximum input batch size"):
            small.run(model, {"x": np.zeros((9, 2), np.float32)}, "serving_default")
    finally:
        small.close()


def test_an_idle_model_runs_a_lone_request_without_waiting_for_the_batch_timeout():
    import threading

    class Echo:
        def run(self, inputs, signature, timeout_ms=0):
            return {"y": inputs["x"]}

    hour = 3600 * 10**6
    batcher = BatchingOptions(max_batch_size=8, batch_timeout_micros=hour).batcher()
    answers = []
    x = np.ones((1, 2), np.float32)
    thread = threading.Thread(target=lambda: answers.append(batcher.run(Echo(), {"x": x}, "s")))
    thread.start()
    thread.join(timeout=60)  # a guard against a hang, far below the hour of the timeout
    batcher.close()
    assert len(answers) == 1
    np.testing.assert_array_equal(answers[0]["y"], x)
