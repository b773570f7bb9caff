"""`zoo serve` in a child process, for scripts, benchmarks and tests that talk to a real server.

    with ChildServer(["--model_name=m", "--model_base_path=saved_models/m"]) as server:
        server.rest_api          # "http://127.0.0.1:<free port>"
        server.ready["models"]   # {"m": [1]}

The child binds free ports (`--rest_api_port=0`, `--port=0` unless given) and prints one JSON
line when it listens; the block starts after that line. On leaving, the child gets SIGTERM (a
clean shutdown), and is killed if it has not exited after `stop_timeout` seconds; after the
block `server.returncode` is its exit code and `server.final_log` its stderr (which times each
shutdown step).
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path


class ChildServer:
    """Run `python -m zoo serve FLAGS` until the `with` block ends.

    Args:
        flags: `zoo serve` flags (TF Serving's names); `--rest_api_port=0` and `--port=0` are
            added if absent.
        start_timeout: seconds to wait for the ready line.
        stop_timeout: seconds to wait for a clean exit after SIGTERM before killing.
        cwd: the child's working directory.

    Attributes (inside the block): `ready` (the parsed ready line), `rest_api` (its URL), `grpc`
    (the gRPC target), `process`; after the block,
    `returncode`.
    """

    def __init__(
        self,
        flags: Sequence[str],
        *,
        start_timeout: float = 180.0,
        stop_timeout: float = 30.0,
        cwd: str | Path | None = None,
    ) -> None:
        self.flags = list(flags)
        for name in ("--rest_api_port", "--port"):  # free ports unless given
            if not any(flag.split("=")[0] == name for flag in self.flags):
                self.flags.append(f"{name}=0")
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.cwd = cwd
        self.process: subprocess.Popen | None = None
        self.ready: dict = {}
        self.returncode: int | None = None
        self.final_log = ""
        self._log = None

    @property
    def rest_api(self) -> str:
        return self.ready["rest_api"]

    @property
    def grpc(self) -> str | None:
        return self.ready.get("grpc")

    def log_text(self) -> str:
        """What the child wrote to stderr so far."""
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read()

    def __enter__(self) -> ChildServer:
        self._log = tempfile.TemporaryFile(mode="w+")
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "zoo", "serve", *self.flags],
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env=env,
            cwd=self.cwd,
        )
        try:
            self.ready = self._wait_until_ready()
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop()

    def _wait_until_ready(self) -> dict:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"`zoo serve` exited with code {self.process.returncode} before it was "
                    f"ready:\n{self.log_text()[-3000:]}"
                )
            readable, _, _ = select.select([self.process.stdout], [], [], 0.5)
            if readable:
                line = self.process.stdout.readline()
                if line.startswith("{"):
                    return json.loads(line)
        raise TimeoutError(
            f"`zoo serve` was not ready after {self.start_timeout:.0f} s:\n"
            f"{self.log_text()[-3000:]}"
        )

    def _stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.returncode = self.process.returncode
        self.final_log = self.log_text()  # kept for reading after the block (e.g. a failed exit)
        self.process.stdout.close()
        self._log.close()
