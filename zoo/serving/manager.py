"""Model versions on disk -> loaded servables, the way TensorFlow Serving's ServerCore manages them.

Each model has a base path whose numeric sub-directories are versions. A poll lists them, applies
the version policy (latest N, all, specific), loads the aspired versions that are not loaded yet
(TF1 session, tag `serve`, warm-up records replayed, as the C++ server does) and unloads the ones no
longer aspired. Availability first: an old version is unloaded only once an aspired version is
AVAILABLE, so a new version that fails to load leaves the previous one serving. Non-numeric
directories (an export in progress) are never looked at.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import tensorflow as tf

from zoo.serving.batching import BatchingOptions
from zoo.serving.c_loader import CSavedModel, session_config
from zoo.serving.errors import ServingError
from zoo.serving.model_config import CONTAINER_BASE, ModelEntry, read_models_config
from zoo.serving.versions import version_folders
from zoo.serving.warmup import read_warmup_records, request_arrays

log = logging.getLogger("zoo.serving")


@dataclass(frozen=True)
class LoadOptions:
    """How versions are loaded (TF Serving's flags of the same names).

    Args:
        tags: `--saved_model_tags`, the MetaGraph tags to load.
        warmup: `--enable_model_warmup`, replay `assets.extra/tf_serving_warmup_requests`.
        intra_op_threads: `--tensorflow_intra_op_parallelism` (0: TensorFlow's default).
        inter_op_threads: `--tensorflow_inter_op_parallelism` (0: TensorFlow's default).
        batching: `--enable_batching` with its `--batching_parameters_file` (None: off).
    """

    tags: tuple[str, ...] = ("serve",)
    warmup: bool = True
    intra_op_threads: int = 0
    inter_op_threads: int = 0
    batching: BatchingOptions | None = None

    def session_config(self) -> bytes | None:
        if not (self.intra_op_threads or self.inter_op_threads):
            return None
        return session_config(self.intra_op_threads, self.inter_op_threads)


def _declared_shape(proto) -> tuple[int, ...] | None:
    """A signature input's declared shape (-1 for a free size), None when its rank is free."""
    return None if proto.unknown_rank else tuple(int(d.size) for d in proto.dim)


class Servable:
    """One loaded version: a session runner with a reference count, closed when retired and idle."""

    def __init__(
        self, name: str, version: int, path: Path, options: LoadOptions = LoadOptions()
    ) -> None:
        self.name = name
        self.version = version
        self.path = path
        self.runner = CSavedModel(path, options.tags, options.session_config())
        self.batcher = options.batching.batcher() if options.batching is not None else None
        self._lock = threading.Lock()
        self._refs = 0
        self._retired = False
        self.input_dtypes = {
            sig: {k: tf.as_dtype(v.dtype) for k, v in sdef.inputs.items()}
            for sig, sdef in self.runner.signature_defs.items()
        }
        self.input_shapes = {
            sig: {k: _declared_shape(v.tensor_shape) for k, v in sdef.inputs.items()}
            for sig, sdef in self.runner.signature_defs.items()
        }

    def run(self, inputs: dict, signature: str = "serving_default", *, timeout_ms: int = 0) -> dict:
        """Run `signature` on `inputs` (through the batcher when server-side batching is on),
        each input first checked against the rank its signature declares."""
        self._check_shapes(inputs, signature)
        if self.batcher is not None:
            return self.batcher.run(self.runner, inputs, signature, timeout_ms)
        return self.runner.run(inputs, signature, timeout_ms=timeout_ms)

    def _check_shapes(self, inputs: dict, signature: str) -> None:
        """INVALID_ARGUMENT for an input whose rank differs from its signature's declaration.
        The session does not check a fed tensor against its placeholder's shape, and a kernel
        given a tensor of the wrong rank may abort the whole process (oneDNN's convolution did,
        on an 8x8 image sent without its channel axis: every model of the server went down).
        Sizes are left to the graph, as TF Serving leaves them (its errors, such as MatMul's
        "Matrix size-incompatible", are the ones a client sees)."""
        declared = self.input_shapes.get(signature, {})
        for key, array in inputs.items():
            want, got = declared.get(key), tuple(getattr(array, "shape", ()))
            if want is not None and len(got) != len(want):
                raise ServingError(
                    "INVALID_ARGUMENT",
                    f'Input "{key}" of signature "{signature}" must have {len(want)} dimensions, '
                    f"shape [{','.join(map(str, want))}] (-1: any size). "
                    f"Received {len(got)}: [{','.join(map(str, got))}]",
                )

    def warm_up(self) -> int:
        records = read_warmup_records(self.path)
        for record in records:
            signature, inputs = request_arrays(record)
            self.runner.run(inputs, signature)
        return len(records)

    def acquire(self) -> None:
        with self._lock:
            self._refs += 1

    def release(self) -> None:
        with self._lock:
            self._refs -= 1
            close = self._retired and self._refs == 0
        if close:
            self._close()

    def _close(self) -> None:
        if self.batcher is not None:
            self.batcher.close()
        self.runner.close()

    def retire(self) -> None:
        with self._lock:
            self._retired = True
            close = self._refs == 0
        if close:
            self._close()


@dataclass
class VersionRecord:
    state: str  # START, LOADING, AVAILABLE, UNLOADING, END (TF Serving's ManagerState)
    error_code: str = "OK"
    error_message: str = ""
    servable: Servable | None = None


@dataclass
class ModelState:
    entry: ModelEntry
    base_path: Path
    versions: dict[int, VersionRecord] = field(default_factory=dict)


def resolve_base_path(base_path: str, config_dir: Path | None) -> Path:
    """`base_path` as this machine sees it.

    A relative path is taken from the config file's directory; a `/models/<name>` path written for
    the container (`-v $PWD/saved_models:/models`) is looked up beside the config file when
    `/models` does not exist here, so one models.config serves both.
    """
    path = Path(base_path)
    if config_dir is not None:
        if not path.is_absolute():
            return (config_dir / path).resolve()
        if not path.exists() and base_path.startswith(CONTAINER_BASE + "/"):
            local = config_dir / base_path[len(CONTAINER_BASE) + 1 :]
            if local.exists():
                return local.resolve()
    return path


def _aspired(policy: tuple[str, tuple[int, ...]], on_disk: list[int]) -> set[int]:
    kind, values = policy
    if kind == "all":
        return set(on_disk)
    if kind == "specific":
        return set(values) & set(on_disk)
    return set(sorted(on_disk)[-values[0] :]) if on_disk else set()


class ModelManager:
    """Loads, serves and hot-reloads the versions of one or more models.

    Args:
        entries: the models (from `--model_name/--model_base_path` or a models.config).
        config_file: the models.config they came from; re-read on change when polling.
        poll_wait_seconds: how often to look for new versions (0: never after start-up).
        config_poll_wait_seconds: how often to re-read `config_file` (0: never, TF Serving's
            default); a changed file adds, removes or re-labels models without a restart.
        load_options: tags, warm-up and thread pools for every version loaded.
    """

    def __init__(
        self,
        entries: list[ModelEntry],
        *,
        config_file: str | Path | None = None,
        poll_wait_seconds: float = 1.0,
        config_poll_wait_seconds: float = 0.0,
        load_options: LoadOptions = LoadOptions(),
    ) -> None:
        self.load_options = load_options
        self.config_file = Path(config_file) if config_file is not None else None
        self._config_mtime = self.config_file.stat().st_mtime_ns if self.config_file else None
        self.poll_wait_seconds = poll_wait_seconds
        self.config_poll_wait_seconds = config_poll_wait_seconds if self.config_file else 0.0
        self._next_config_check = 0.0
        self._lock = threading.RLock()
        self._poll_lock = threading.Lock()
        self._models: dict[str, ModelState] = {}
        self._set_entries(entries)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_config_file(cls, path: str | Path, **kwargs) -> ModelManager:
        return cls(read_models_config(path), config_file=path, **kwargs)

    def _set_entries(self, entries: list[ModelEntry]) -> None:
        config_dir = self.config_file.resolve().parent if self.config_file else None
        names = [e.name for e in entries]
        if len(set(names)) != len(names):
            raise ValueError(f"Model names must be unique. Received: {names}")
        with self._lock:
            for name in set(self._models) - set(names):
                for record in self._models.pop(name).versions.values():
                    if record.servable is not None:
                        record.servable.retire()
            for entry in entries:
                base = resolve_base_path(entry.base_path, config_dir)
                state = self._models.get(entry.name)
                if state is None:
                    self._models[entry.name] = ModelState(entry, base)
                else:
                    state.entry, state.base_path = entry, base

    # ------------------------------------------------------------------ polling

    def start(self) -> None:
        """Load what is on disk now, then keep polling in a daemon thread."""
        self.poll()
        if self.poll_wait_seconds > 0 or self.config_poll_wait_seconds > 0:
            self._thread = threading.Thread(target=self._run, name="zoo-serving-poll", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        waits = [w for w in (self.poll_wait_seconds, self.config_poll_wait_seconds) if w > 0]
        next_poll = time.monotonic() + self.poll_wait_seconds
        while not self._stop.wait(min(waits)):
            try:
                if self.config_poll_wait_seconds > 0:
                    with self._poll_lock:
                        self._reload_config_if_changed()
                if self.poll_wait_seconds > 0 and time.monotonic() >= next_poll:
                    next_poll = time.monotonic() + self.poll_wait_seconds
                    self.poll()
            except Exception:  # a bad poll must not kill the poller; the next one retries
                log.exception("polling the model base paths failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with self._lock:
            for state in self._models.values():
                for record in state.versions.values():
                    if record.servable is not None:
                        record.servable.retire()
                        record.servable = None
                        record.state = "END"

    def _reload_config_if_changed(self) -> None:
        if self.config_file is None or time.monotonic() < self._next_config_check:
            return
        self._next_config_check = time.monotonic() + self.config_poll_wait_seconds
        try:
            mtime = self.config_file.stat().st_mtime_ns
        except FileNotFoundError:
            return
        if mtime == self._config_mtime:
            return
        try:
            entries = read_models_config(self.config_file)
        except (OSError, ValueError):
            log.exception("re-reading %s failed; keeping the previous config", self.config_file)
            return
        self._config_mtime = mtime
        self._set_entries(entries)
        log.info("applied the changed %s", self.config_file)
        for state in list(self._models.values()):
            self._poll_model(state)

    def poll(self) -> None:
        """One pass over every model: load new aspired versions, unload superseded ones."""
        with self._poll_lock:
            with self._lock:
                states = list(self._models.values())
            for state in states:
                self._poll_model(state)

    def _poll_model(self, state: ModelState) -> None:
        base = state.base_path
        folders = version_folders(base)
        on_disk = sorted(folders)
        aspired = _aspired(state.entry.policy, on_disk)
        for version in sorted(aspired, reverse=True):
            record = state.versions.get(version)
            if record is not None and record.state in ("AVAILABLE", "LOADING"):
                continue
            if record is not None and record.error_code != "OK":
                continue  # a version that failed to load is not retried (TF Serving gives up too)
            self._load(state, version, base / folders[version])
        with self._lock:
            available = [
                v
                for v in aspired
                if state.versions.get(v, VersionRecord("END")).state == "AVAILABLE"
            ]
            for version, record in state.versions.items():
                gone = version not in on_disk
                if record.state == "AVAILABLE" and version not in aspired and (available or gone):
                    record.state = "END"
                    if record.servable is not None:
                        record.servable.retire()
                        record.servable = None
                    log.info("unloaded %s version %d", state.entry.name, version)

    def _load(self, state: ModelState, version: int, path: Path) -> None:
        with self._lock:
            state.versions[version] = VersionRecord("LOADING")
        try:
            servable = Servable(state.entry.name, version, path, self.load_options)
            try:
                if self.load_options.warmup:
                    servable.warm_up()
            except Exception:
                servable.retire()
                raise
        except Exception as error:  # any load failure is reported in the version's status
            message = f"Failed to load {state.entry.name} version {version} from {path}: {error}"
            log.error(message)
            with self._lock:
                state.versions[version] = VersionRecord("END", "UNKNOWN", message)
            return
        with self._lock:
            state.versions[version] = VersionRecord("AVAILABLE", servable=servable)
        log.info("loaded %s version %d from %s", state.entry.name, version, path)

    # ------------------------------------------------------------------ lookups

    def base_paths(self) -> list[Path]:
        """The resolved base path of every model."""
        with self._lock:
            return [state.base_path for state in self._models.values()]

    @property
    def model_names(self) -> list[str]:
        with self._lock:
            return sorted(self._models)

    def available_versions(self, name: str) -> list[int]:
        """Versions of `name` that are AVAILABLE now, ascending."""
        with self._lock:
            state = self._models.get(name)
            if state is None:
                return []
            return sorted(v for v, r in state.versions.items() if r.state == "AVAILABLE")

    def _resolve_version(
        self, name: str, version: int | None, label: str | None
    ) -> tuple[ModelState, int | None]:
        if version is not None and label is not None:
            raise ServingError(
                "INVALID_ARGUMENT",
                f"Both model version ({version}) and model version label ({label}) cannot be "
                "supplied.",
            )
        state = self._models.get(name)
        if label is not None:
            labels = state.entry.labels if state is not None else {}
            if label not in labels:
                raise ServingError(
                    "INVALID_ARGUMENT", f"Unrecognized servable version label: {label}"
                )
            version = labels[label]
        if state is None:
            raise ServingError("NOT_FOUND", _not_found(name, version))
        return state, version

    @contextmanager
    def servable(
        self, name: str, version: int | None = None, label: str | None = None
    ) -> Iterator[Servable]:
        """The servable for a request (latest available by default), held for the `with` block."""
        with self._lock:
            state, version = self._resolve_version(name, version, label)
            available = {
                v: r.servable
                for v, r in state.versions.items()
                if r.state == "AVAILABLE" and r.servable is not None
            }
            chosen = version if version is not None else max(available, default=None)
            servable = available.get(chosen) if chosen is not None else None
            if servable is None:
                raise ServingError("NOT_FOUND", _not_found(name, version))
            servable.acquire()
        try:
            yield servable
        finally:
            servable.release()

    def status(
        self, name: str, version: int | None = None, label: str | None = None
    ) -> list[tuple[int, VersionRecord]]:
        with self._lock:
            if name not in self._models and label is None:
                raise ServingError("NOT_FOUND", f"Could not find any versions of model {name}")
            state, version = self._resolve_version(name, version, label)
            if version is not None:
                if version not in state.versions:
                    raise ServingError(
                        "NOT_FOUND", f"Could not find version {version} of model {name}"
                    )
                return [(version, state.versions[version])]
            if not state.versions:
                raise ServingError("NOT_FOUND", f"Could not find any versions of model {name}")
            return sorted(state.versions.items(), reverse=True)


def _not_found(name: str, version: int | None) -> str:
    spec = f"Latest({name})" if version is None else f"Specific({name}, {version})"
    return f"Servable not found for request: {spec}"
