"""Faults, load and hostile input: every bad request is a 4xx with TF Serving's body, idle clients
never lock others out, versions and exports stay consistent."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import tracemalloc
from http.client import HTTPConnection

import numpy as np
import pytest
import tensorflow as tf
from test_serving_support import half_plus_two, http

from zoo.serving import ModelManager, RestServer, export
from zoo.serving.exporter import sweep_stale
from zoo.serving.json_tensor import parse_predict_request, request_to_arrays
from zoo.serving.model_config import ModelEntry
from zoo.serving.rest import is_loopback, url_for

ONE = '{"instances": [[1.0]]}'


@pytest.fixture(scope="module")
def hpt_base(tmp_path_factory):
    base = tmp_path_factory.mktemp("models") / "hpt"
    export(half_plus_two(), base)
    return base


def _serve(base, **server_options):
    manager = ModelManager([ModelEntry("hpt", str(base))], poll_wait_seconds=0)
    manager.start()
    server = RestServer(manager, port=0, threads=4, **server_options).start()
    return manager, server


@pytest.fixture(scope="module")
def server(hpt_base):
    manager, rest = _serve(hpt_base, max_body_bytes=1 << 20)
    try:
        yield rest.url
    finally:
        rest.shutdown()
        manager.stop()


HOSTILE = [
    b'{"instances": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b'{"instances": ' + b"[" * 300 + b"1.0" + b"]" * 300 + b"}",
    b'{"instances": [[1e999999]], "signature_name": ' + b"[" * 5000 + b"}",
    b'{"instances": [{"b64": "!!"}]}',
    b'{"inputs": {"b64": "aGVsbG8="}}',
    b'{"instances": [[true]]}',
    b'{"instances": [[null]]}',
    b'{"instances": [["x"]]}',
    b'{"instances": [[1.0], [1.0, 2.0]]}',
    b"\xff\xfe\x00garbage",
    b'{"instances": [[1.0]]',
    b"[]",
    b'{"instances": {}}',
    b'{"inputs": {"nope": [[1.0]]}}',
    b'{"signature_name": "__saved_model_init_op", "instances": [[1.0]]}',
]


@pytest.mark.parametrize("body", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_bodies_get_a_4xx_with_an_error_body(server, body):
    status, answer = http(f"{server}/v1/models/hpt:predict", body)
    assert 400 <= status < 500, answer
    assert list(answer) == ["error"] and answer["error"]
    assert http(f"{server}/v1/models/hpt:predict", ONE) == (200, {"predictions": [[2.5]]})


def test_big_numbers_go_to_float_inputs_as_tf_serving_does(server):
    body = '{"instances": [[' + "9" * 400 + "], [1e999], [-123456789012345678901234567890]]}"
    status, answer = http(f"{server}/v1/models/hpt:predict", body)
    assert status == 200
    assert answer["predictions"][0] == [float("inf")] and answer["predictions"][1] == [float("inf")]
    want = np.float32(-123456789012345678901234567890) * np.float32(0.5) + np.float32(2)
    np.testing.assert_allclose(answer["predictions"][2], [want], rtol=1e-6)


def test_versions_beyond_int64_are_a_clean_400(server):
    for version in ("9" * 5000, "9223372036854775808"):
        status, answer = http(f"{server}/v1/models/hpt/versions/{version}:predict", ONE)
        assert status == 400 and "Failed to convert version" in answer["error"]
        status, answer = http(f"{server}/v1/models/hpt/versions/{version}")
        assert status == 400 and "Failed to convert version" in answer["error"]
    assert http(f"{server}/v1/models/hpt/versions/9223372036854775807:predict", ONE)[0] == 404


def test_a_request_body_costs_a_bounded_multiple_of_its_size():
    # The worst shape for a parser into Python objects: one short number per nested list.
    x = np.random.default_rng(0).standard_normal((200_000, 1)).round(3)
    body = json.dumps({"instances": x.tolist()}).encode()
    tracemalloc.start()
    try:
        _, arrays = request_to_arrays(parse_predict_request(body), {"x": tf.float32})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(arrays["x"], x.astype(np.float32))
    # Observed ~17 bytes of Python objects per body byte at the peak; 64 leaves 3.5x.
    assert peak < 64 * len(body)


def test_idle_keep_alive_clients_never_lock_out_the_next_one(hpt_base):
    manager, rest = _serve(hpt_base, max_connections=50, idle_timeout=1.0)
    host, port = rest.host, rest.port
    idle = []
    try:
        for _ in range(100):  # more than the pool: the extra ones wait in the listen queue
            sock = socket.create_connection((host, port), timeout=10)
            idle.append(sock)
        # The idle ones are closed after their timeout, so the 101st is answered.
        connection = HTTPConnection(host, port, timeout=30)
        connection.request("POST", "/v1/models/hpt:predict", ONE)
        response = connection.getresponse()
        assert response.status == 200 and json.loads(response.read()) == {"predictions": [[2.5]]}
        connection.close()
    finally:
        for sock in idle:
            sock.close()
        rest.shutdown()
        manager.stop()


def test_urls_for_every_address_and_loopback_detection():
    assert url_for("::1", 8501) == "http://[::1]:8501"
    assert url_for("127.0.0.1", 8501) == "http://127.0.0.1:8501"
    assert url_for("0.0.0.0", 1) == "http://0.0.0.0:1"
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("10.0.0.1")


def test_ipv6_loopback_server_answers_on_its_printed_url(hpt_base):
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        manager, rest = _serve_on(hpt_base, "::1")
    except OSError:
        pytest.skip("cannot bind ::1 here")
    try:
        assert rest.url.startswith("http://[::1]:")
        assert http(f"{rest.url}/v1/models/hpt:predict", ONE) == (200, {"predictions": [[2.5]]})
    finally:
        rest.shutdown()
        manager.stop()


def _serve_on(base, host):
    manager = ModelManager([ModelEntry("hpt", str(base))], poll_wait_seconds=0)
    manager.start()
    try:
        return manager, RestServer(manager, host=host, port=0, threads=2).start()
    except OSError:
        manager.stop()
        raise


def test_zero_padded_version_folders_are_versions(tmp_path):
    base = tmp_path / "hpt"
    export(half_plus_two(), base)
    os.rename(base / "1", base / "0001")
    shutil.copytree(base / "0001", base / "0002")
    export(half_plus_two(0.5, 3.0), base, version=2, overwrite=True)  # replaces 0002 in place
    assert sorted(p.name for p in base.iterdir()) == ["0001", "0002"]
    assert export(half_plus_two(), base).name == "3"
    manager, rest = _serve(base)
    try:
        assert manager.available_versions("hpt") == [3]
        assert http(f"{rest.url}/v1/models/hpt/versions/2:predict", ONE)[0] == 404  # latest 1
    finally:
        rest.shutdown()
        manager.stop()
    manager = ModelManager([ModelEntry("hpt", str(base), policy=("all", ()))], poll_wait_seconds=0)
    manager.start()
    try:
        assert manager.available_versions("hpt") == [1, 2, 3]
        with manager.servable("hpt", 2) as servable:
            out = servable.run({"x": np.ones((1, 1), np.float32)})["output"]
        np.testing.assert_array_equal(out, [[3.5]])
    finally:
        manager.stop()


def test_overwrite_never_leaves_a_moment_without_the_version(tmp_path):
    base = tmp_path / "hpt"
    export(half_plus_two(), base, version=1, warmup=False)
    seen_missing = []
    done = threading.Event()

    def watch():
        while not done.is_set():
            if not (base / "1" / "saved_model.pb").exists():
                seen_missing.append(True)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        for intercept in (2.0, 3.0, 4.0):
            export(half_plus_two(0.5, intercept), base, version=1, warmup=False, overwrite=True)
    finally:
        done.set()
        watcher.join(timeout=10)
    assert not seen_missing
    assert sorted(p.name for p in base.iterdir()) == ["1"]


def test_stale_folders_of_killed_exports_are_swept_and_live_ones_kept(tmp_path):
    base = tmp_path / "hpt"
    export(half_plus_two(), base, warmup=False)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    stale = base / f".tmp-export-{int(dead.stdout)}-abc"
    live = base / f".tmp-export-{os.getpid()}-def"
    for folder in (stale, live):
        folder.mkdir()
        (folder / "saved_model.pb").write_bytes(b"half written")
    assert sweep_stale(base) == [stale]
    assert live.exists() and not stale.exists()
    stale.mkdir()
    export(half_plus_two(), base, warmup=False)  # the next export sweeps too
    assert not stale.exists() and live.exists()
