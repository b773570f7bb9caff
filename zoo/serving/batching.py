"""Server-side batching (`--enable_batching`), configured by TF Serving's batching parameters file.

Concurrent requests for the same signature whose inputs agree on everything but the batch size are
queued; a batch thread takes the oldest, waits at most `batch_timeout_micros` for more (and not at
all while no other batch is running: an idle model runs what is queued at once), joins them
along axis 0 (up to `max_batch_size` rows, padded up to the next of `allowed_batch_sizes` by
repeating the first row), runs the model once and hands every request its own rows back.

The file is TF Serving's `BatchingParameters` text proto (wrapped numbers, as TF Serving writes
them):

    max_batch_size { value: 32 }
    batch_timeout_micros { value: 1000 }
    max_enqueued_batches { value: 100 }
    num_batch_threads { value: 4 }
    allowed_batch_sizes: 8
    allowed_batch_sizes: 32
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo.serving.errors import ServingError, invalid
from zoo.serving.text_proto import parse_text_proto

_WRAPPED = (
    "max_batch_size",
    "batch_timeout_micros",
    "max_enqueued_batches",
    "num_batch_threads",
    "pad_variable_length_inputs",
)


@dataclass(frozen=True)
class BatchingOptions:
    """TF Serving's batching parameters (its defaults when the file leaves one out)."""

    max_batch_size: int = 1000
    batch_timeout_micros: int = 0
    max_enqueued_batches: int = 10
    num_batch_threads: int = os.cpu_count() or 1
    allowed_batch_sizes: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        for name in ("max_batch_size", "max_enqueued_batches", "num_batch_threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"`{name}` must be >= 1. Received: {getattr(self, name)}")
        if self.batch_timeout_micros < 0:
            raise ValueError(
                f"`batch_timeout_micros` must be >= 0. Received: {self.batch_timeout_micros}"
            )
        sizes = self.allowed_batch_sizes
        if sizes and (list(sizes) != sorted(set(sizes)) or sizes[-1] != self.max_batch_size):
            raise ValueError(
                "`allowed_batch_sizes` must increase and end with `max_batch_size` "
                f"({self.max_batch_size}). Received: {list(sizes)}"
            )

    @classmethod
    def from_file(cls, path: str | Path | None) -> BatchingOptions:
        """Read a `--batching_parameters_file` (None: TF Serving's defaults)."""
        if path is None:
            return cls()
        fields = parse_text_proto(Path(path).read_text(), path=str(path))
        unknown = set(fields) - {*_WRAPPED, "allowed_batch_sizes"}
        if unknown:
            raise ValueError(
                f"`batching_parameters_file` {path}: unsupported fields {sorted(unknown)}. "
                f"Supported: {sorted({*_WRAPPED, 'allowed_batch_sizes'})}"
            )
        kwargs = {}
        for name in _WRAPPED:
            if name in fields:
                wrapped = fields[name][-1]
                value = wrapped.get("value", [0])[-1] if isinstance(wrapped, dict) else wrapped
                if name == "pad_variable_length_inputs":
                    if value:
                        raise ValueError(
                            "`pad_variable_length_inputs` is not supported by zoo serve"
                        )
                    continue
                kwargs[name] = int(value)
        if "allowed_batch_sizes" in fields:
            kwargs["allowed_batch_sizes"] = tuple(int(v) for v in fields["allowed_batch_sizes"])
        return cls(**kwargs)

    def batcher(self) -> Batcher:
        return Batcher(self)


class _Task:
    __slots__ = ("arrays", "done", "error", "result", "rows", "timeout_ms")

    def __init__(self, arrays: dict, rows: int, timeout_ms: int) -> None:
        self.arrays = arrays
        self.rows = rows
        self.timeout_ms = timeout_ms
        self.done = threading.Event()
        self.result: dict | None = None
        self.error: BaseException | None = None


class Batcher:
    """The queues and batch threads of one loaded version."""

    def __init__(self, options: BatchingOptions) -> None:
        self.options = options
        self._cv = threading.Condition()
        self._queues: dict[tuple, deque] = {}
        self._runners: dict[tuple, object] = {}
        self._closed = False
        self._running = 0  # batches in the model now
        self._threads = [
            threading.Thread(target=self._work, name=f"zoo-batch-{i}", daemon=True)
            for i in range(options.num_batch_threads)
        ]
        for thread in self._threads:
            thread.start()

    def run(self, runner, inputs: dict, signature: str, timeout_ms: int = 0) -> dict:
        arrays = {k: np.asarray(v) for k, v in inputs.items()}
        sizes = {a.shape[0] if a.ndim else -1 for a in arrays.values()}
        if len(sizes) != 1 or -1 in sizes:
            return runner.run(arrays, signature, timeout_ms=timeout_ms)  # nothing to batch on
        rows = sizes.pop()
        if rows > self.options.max_batch_size:
            raise invalid(
                f"Task size {rows} is larger than maximum input batch size "
                f"{self.options.max_batch_size}"
            )
        key = (
            id(runner),
            signature,
            tuple(sorted((k, a.dtype.str, a.shape[1:]) for k, a in arrays.items())),
        )
        task = _Task(arrays, rows, timeout_ms)
        with self._cv:
            queue = self._queues.setdefault(key, deque())
            limit = self.options.max_enqueued_batches * self.options.max_batch_size
            if sum(t.rows for t in queue) + rows > limit:
                raise ServingError("UNAVAILABLE", "The batch scheduling queue is full")
            self._runners[key] = runner
            queue.append(task)
            self._cv.notify()
        task.done.wait()
        if task.error is not None:
            raise task.error
        return task.result

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()

    def _take(self) -> tuple[object, str, list[_Task]] | None:
        """The next batch: the oldest queue's tasks, gathered for at most the batch timeout."""
        with self._cv:
            while not self._closed and not any(self._queues.values()):
                self._cv.wait()
            if self._closed:
                return None
            key = next(k for k, q in self._queues.items() if q)
            queue = self._queues[key]
            batch = [queue.popleft()]
            rows = batch[0].rows
            deadline = time.monotonic() + self.options.batch_timeout_micros / 1e6
            while rows < self.options.max_batch_size:
                # Another batch thread may have emptied and dropped this queue while we waited.
                queue = self._queues.get(key, queue)
                while queue and rows + queue[0].rows <= self.options.max_batch_size:
                    batch.append(queue.popleft())
                    rows += batch[-1].rows
                left = deadline - time.monotonic()
                if rows >= self.options.max_batch_size or left <= 0:
                    break
                if not self._running:
                    break  # the model is idle: run now; later requests form the next batch
                self._cv.wait(left)
            if not queue and self._queues.get(key) is queue:
                del self._queues[key]
            self._running += 1
            return self._runners[key], key[1], batch

    def _padded_size(self, rows: int) -> int:
        for size in self.options.allowed_batch_sizes:
            if size >= rows:
                return size
        return rows

    def _work(self) -> None:
        while True:
            taken = self._take()
            if taken is None:
                return
            runner, signature, batch = taken
            try:
                rows = sum(t.rows for t in batch)
                padded = self._padded_size(rows)
                joined = {}
                for name in batch[0].arrays:
                    parts = [t.arrays[name] for t in batch]
                    if padded > rows:
                        first = parts[0][:1]
                        parts.append(np.repeat(first, padded - rows, axis=0))
                    joined[name] = np.concatenate(parts, axis=0)
                outputs = runner.run(joined, signature, timeout_ms=batch[0].timeout_ms)
                unbatched = [k for k, v in outputs.items() if v.ndim == 0 or len(v) != padded]
                if unbatched:
                    raise ServingError(
                        "INVALID_ARGUMENT",
                        f"Batching needs outputs batched along axis 0; {unbatched} are not",
                    )
                start = 0
                for task in batch:
                    task.result = {k: v[start : start + task.rows] for k, v in outputs.items()}
                    start += task.rows
            except BaseException as error:  # every waiting request gets the batch's error
                for task in batch:
                    task.error = error
            with self._cv:
                self._running -= 1
                self._cv.notify_all()  # a thread gathering the next batch may run it now
            for task in batch:
                task.done.set()
