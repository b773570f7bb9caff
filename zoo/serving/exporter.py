"""Atomic, versioned SavedModel export in the layout TensorFlow Serving polls.

`export(model, "saved_models/forecaster")` writes `saved_models/forecaster/<version>/` holding
`saved_model.pb`, `variables/`, `assets/` and `assets.extra/tf_serving_warmup_requests`.

Names in the signatures:
  * inputs keep the names of the model's `keras.Input`s (an unnamed input of a Sequential model is
    called `input`, or `input_0`, `input_1`, ... when there are several); the batch dimension is
    left open (None).
  * `serving_default` returns every output: a dict output keeps its keys, a single tensor output is
    called `output`, a list of outputs keeps the output layers' names.
  * `signatures={"score": ["score"]}` adds a signature returning a subset of the dict outputs.

Atomicity: the version is built in a hidden, non-numeric directory beside its final place
(TF Serving and `zoo serve` only look at numeric names), checked, and then renamed into place in one
`rename(2)` (an overwrite swaps old and new in one `renameat2(RENAME_EXCHANGE)`). A failure or a
kill leaves earlier versions untouched and no numeric directory behind; the hidden directory of a
killed export is removed by the next export or `zoo serve` start.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from zoo.serving.c_loader import CSavedModel
from zoo.serving.graph_check import check_servable
from zoo.serving.versions import version_folders
from zoo.serving.warmup import (
    MAX_WARMUP_RECORDS,
    make_predict_log,
    read_warmup_records,
    request_arrays,
    write_warmup_records,
)

DEFAULT_SIGNATURE = "serving_default"
SINGLE_OUTPUT_NAME = "output"
_ANONYMOUS_INPUT = re.compile(r"^(keras_tensor|input_layer|input)(_\d+)?$")
_TMP_PREFIX = ".tmp-export-"
# A temporary directory without an owner pid and this old belongs to a killed export.
_STALE_SECONDS = 24 * 3600


class VersionExistsError(FileExistsError):
    """The requested version is already exported (pass `overwrite=True` to replace it)."""


def existing_versions(model_base_path: str | Path) -> list[int]:
    """Numeric version directories under `model_base_path` (`0001/` is 1), ascending."""
    return sorted(version_folders(Path(model_base_path)))


def _input_names(model: keras.Model) -> list[str]:
    inputs = list(model.inputs)
    names = [getattr(t, "name", "") or "" for t in inputs]
    if len(inputs) == 1 and _ANONYMOUS_INPUT.match(names[0]):
        return ["input"]
    return [f"input_{i}" if _ANONYMOUS_INPUT.match(name) else name for i, name in enumerate(names)]


def _input_specs(model: keras.Model) -> list[tf.TensorSpec]:
    if not getattr(model, "inputs", None):
        raise ValueError(
            "`model` must have symbolic inputs (a functional or Sequential model built with "
            "keras.Input) so that the exported signature knows its input names, shapes and "
            f"dtypes. Received: {type(model).__name__} without `inputs`"
        )
    names = _input_names(model)
    if len(set(names)) != len(names):
        raise ValueError(f"`model` inputs must have distinct names. Received: {names}")
    return [
        tf.TensorSpec(shape=(None, *tuple(t.shape)[1:]), dtype=tf.as_dtype(t.dtype).name, name=name)
        for t, name in zip(model.inputs, names, strict=True)
    ]


def _named_outputs(model: keras.Model, outputs) -> dict[str, tf.Tensor]:
    if isinstance(outputs, Mapping):
        return {str(k): v for k, v in outputs.items()}
    if isinstance(outputs, (list, tuple)):
        if len(outputs) == 1:
            return {SINGLE_OUTPUT_NAME: outputs[0]}
        names = list(getattr(model, "output_names", None) or [])
        if len(names) != len(outputs) or len(set(names)) != len(names):
            names = [f"output_{i}" for i in range(len(outputs))]
        return dict(zip(names, outputs, strict=True))
    return {SINGLE_OUTPUT_NAME: outputs}


def _make_serving_fn(model: keras.Model, keys: Sequence[str] | None):
    n_inputs = len(model.inputs)

    def serve(*tensors):
        args = tensors[0] if n_inputs == 1 else list(tensors)
        named = _named_outputs(model, model(args, training=False))
        if keys is None:
            return named
        return {k: named[k] for k in keys}

    return serve


def _output_keys(model: keras.Model, specs: list[tf.TensorSpec]) -> list[str]:
    dummies = [
        np.full([1 if d is None else d for d in s.shape], b"", dtype=object)
        if s.dtype == tf.string
        else np.zeros([1 if d is None else d for d in s.shape], dtype=s.dtype.as_numpy_dtype)
        for s in specs
    ]
    args = dummies[0] if len(dummies) == 1 else dummies
    return list(_named_outputs(model, model(args, training=False)))


def _default_warmup_inputs(specs: list[tf.TensorSpec]) -> list[dict[str, np.ndarray]]:
    """Two deterministic batches (sizes 1 and 4) of standard-normal values, per input spec."""
    rng = np.random.default_rng(0)
    batches = []
    for batch in (1, 4):
        sample = {}
        for s in specs:
            shape = [batch] + [1 if d is None else d for d in s.shape[1:]]
            if s.dtype.is_floating:
                sample[s.name] = rng.standard_normal(shape).astype(s.dtype.as_numpy_dtype)
            elif s.dtype.is_integer:
                sample[s.name] = np.zeros(shape, dtype=s.dtype.as_numpy_dtype)
            elif s.dtype == tf.bool:
                sample[s.name] = np.zeros(shape, dtype=bool)
            else:
                sample[s.name] = np.full(shape, b"", dtype=object)
        batches.append(sample)
    return batches


def _normalise_warmup(warmup_inputs, specs: list[tf.TensorSpec]) -> list[dict[str, np.ndarray]]:
    if warmup_inputs is None:
        return _default_warmup_inputs(specs)
    samples = [warmup_inputs] if isinstance(warmup_inputs, (Mapping, np.ndarray)) else warmup_inputs
    names = [s.name for s in specs]
    normalised = []
    for sample in samples:
        if not isinstance(sample, Mapping):
            if len(names) != 1:
                raise ValueError(
                    "`warmup_inputs` must be dicts (input name -> batch) for a model with inputs "
                    f"{names}. Received: {type(sample).__name__}"
                )
            sample = {names[0]: sample}
        if set(sample) != set(names):
            raise ValueError(
                f"`warmup_inputs` must have the keys {names}. Received: {sorted(sample)}"
            )
        normalised.append(
            {
                s.name: np.asarray(sample[s.name], dtype=s.dtype.as_numpy_dtype)
                if s.dtype != tf.string
                else np.asarray(sample[s.name], dtype=object)
                for s in specs
            }
        )
    return normalised


def _next_version(base: Path) -> int:
    versions = existing_versions(base)
    return versions[-1] + 1 if versions else 1


def export(
    model: keras.Model,
    model_base_path: str | Path,
    version: int | None = None,
    warmup: bool = True,
    signatures: Mapping[str, Sequence[str]] | None = None,
    warmup_inputs=None,
    *,
    model_name: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Export `model` to `model_base_path/<version>/` for TensorFlow Serving; return that path.

    Args:
        model: a Keras model with symbolic inputs (functional or Sequential). A model with a
            `served_model()` method is exported as what that returns (a fine-tuned universal
            forecaster: its season, scale and band in the graph; exported bare, its forecasts
            differed from `zoo.predict`'s by up to 10 %).
        model_base_path: the model's base path (`--model_base_path` of the server), e.g.
            `saved_models/forecaster`. Created if missing.
        version: a positive integer; None takes the next one after the highest existing.
        warmup: write `assets.extra/tf_serving_warmup_requests`.
        signatures: extra signature name -> output keys of the model's dict output, e.g.
            `{"score": ["score"], "is_anomaly": ["is_anomaly"]}`.
        warmup_inputs: realistic batches for the warm-up records (held-out inputs of the model's
            own data, as a client sends them): one array (single-input model), a dict input
            name -> batch, or a list of those. Only when None: two batches of random numbers.
        model_name: the `model_spec.name` written into warm-up requests; default the base path's
            directory name.
        overwrite: replace an existing `version` (the old one stays until the new one is complete).

    Before the version is published it is loaded by TensorFlow's C++ SavedModel loader (the one TF
    Serving links, through the C API, tag `serve`) and its warm-up requests are replayed through
    `TF_SessionRun`, so a published version is one the stock server loads.

    Raises:
        VersionExistsError: `version` exists and `overwrite` is False.
        UnservableGraphError: the graph holds ops the stock server cannot run.
    """
    served = getattr(model, "served_model", None)
    if callable(served):  # its answers need steps around its network: export what it serves
        model = served()
    base = Path(model_base_path)
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int) or version < 1
    ):
        raise ValueError(f"`version` must be a positive integer or None. Received: {version!r}")
    if version is not None and version in existing_versions(base) and not overwrite:
        raise VersionExistsError(
            f"`version` {version} already exists at {base / str(version)}; pass overwrite=True "
            "or choose another version."
        )
    specs = _input_specs(model)
    output_keys = _output_keys(model, specs)
    extra = dict(signatures or {})
    if DEFAULT_SIGNATURE in extra:
        raise ValueError(
            f"`signatures` must not redefine '{DEFAULT_SIGNATURE}' (it returns every output)."
        )
    for sig_name, keys in extra.items():
        missing = [k for k in keys if k not in output_keys]
        if not keys or missing:
            raise ValueError(
                f"`signatures['{sig_name}']` must list output keys of the model, among "
                f"{output_keys}. Received: {list(keys)}"
            )
    samples = _normalise_warmup(warmup_inputs, specs) if warmup else []
    if len(samples) * (1 + len(extra)) > MAX_WARMUP_RECORDS:
        raise ValueError(
            f"`warmup_inputs` would make more than {MAX_WARMUP_RECORDS} warm-up records. "
            f"Received: {len(samples)} batches x {1 + len(extra)} signatures"
        )

    base.mkdir(parents=True, exist_ok=True)
    sweep_stale(base)
    tmp = base / f"{_TMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex}"
    try:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint(
            DEFAULT_SIGNATURE, _make_serving_fn(model, None), input_signature=specs
        )
        for sig_name, keys in extra.items():
            archive.add_endpoint(
                sig_name, _make_serving_fn(model, list(keys)), input_signature=specs
            )
        archive.write_out(str(tmp), verbose=False)
        (tmp / "assets").mkdir(exist_ok=True)
        check_servable(tmp)
        if samples:
            name = model_name or base.resolve().name
            records = [
                make_predict_log(name, sig_name, sample)
                for sig_name in [DEFAULT_SIGNATURE, *extra]
                for sample in samples
            ]
            write_warmup_records(tmp, records)
        _load_like_tf_serving(tmp)
        _fsync_tree(tmp)
        published = _publish(tmp, base, version, overwrite)
        _fsync_dir(base)
        return published
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _load_like_tf_serving(export_dir: Path) -> None:
    """Load `export_dir` with TensorFlow's C++ loader (C API, tag `serve`) as TF Serving does, and
    replay its warm-up records through `TF_SessionRun` (or one zero batch when it has none)."""
    with CSavedModel(export_dir) as runner:
        records = read_warmup_records(export_dir)
        if records:
            for record in records:
                signature, inputs = request_arrays(record)
                runner.run(inputs, signature)
        else:
            specs = runner.signature_defs[DEFAULT_SIGNATURE].inputs
            batch = {}
            for name, info in specs.items():
                shape = [1] + [max(d.size, 1) for d in info.tensor_shape.dim[1:]]
                dtype = tf.as_dtype(info.dtype)
                batch[name] = (
                    np.full(shape, b"", dtype=object)
                    if dtype == tf.string
                    else np.zeros(shape, dtype=dtype.as_numpy_dtype)
                )
            runner.run(batch, DEFAULT_SIGNATURE)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by another user
    return True


def sweep_stale(base: str | Path) -> list[Path]:
    """Remove the temporary folders of exports that were killed; return what was removed.

    A temporary folder is `.tmp-export-<pid>-...`: it is stale once process <pid> is gone (a
    running export on this machine keeps its own). Folders without a pid (older releases) are
    stale after a day. `zoo serve` calls this for every base path at start-up.
    """
    base = Path(base)
    removed = []
    if not base.is_dir():
        return removed
    now = time.time()
    for child in base.iterdir():
        if not child.name.startswith(_TMP_PREFIX):
            continue
        owner = child.name[len(_TMP_PREFIX) :].split("-", 1)[0]
        if owner.isdigit():
            stale = not _pid_alive(int(owner))
        else:
            try:
                stale = now - child.stat().st_mtime > _STALE_SECONDS
            except FileNotFoundError:
                continue
        if stale:
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child)
    return removed


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one `renameat2(RENAME_EXCHANGE)`; False where the system cannot."""
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return result == 0


def _fsync_tree(root: Path) -> None:
    """Flush every file so that the rename publishes complete files even after a crash."""
    for directory, _, files in os.walk(root):
        for name in files:
            with open(os.path.join(directory, name), "rb") as handle:
                os.fsync(handle.fileno())


def _publish(tmp: Path, base: Path, version: int | None, overwrite: bool) -> Path:
    if version is None:
        # Another exporter may take the same number between our listing and our rename: the
        # rename onto a non-empty directory fails, and we move on to the next number.
        for _ in range(100):
            target = base / str(_next_version(base))
            try:
                os.rename(tmp, target)
                return target
            except OSError:
                if not target.exists():
                    raise
        raise RuntimeError(f"Could not find a free version number under {base}")
    target = base / version_folders(base).get(version, str(version))
    if target.exists():
        if not overwrite:
            raise VersionExistsError(f"`version` {version} already exists at {target}")
        # One atomic swap: a poll sees the old version or the new one, never no version.
        if _exchange(tmp, target):
            shutil.rmtree(tmp, ignore_errors=True)  # now holds the old version
            return target
        retired = base / f"{_TMP_PREFIX}{os.getpid()}-old-{version}-{uuid.uuid4().hex}"
        os.rename(target, retired)
        os.rename(tmp, target)
        shutil.rmtree(retired, ignore_errors=True)
        return target
    try:
        os.rename(tmp, target)
    except OSError as error:
        raise VersionExistsError(
            f"`version` {version} appeared at {target} while exporting"
        ) from error
    return target
