"""TensorFlow's C++ SavedModel loader, the one TF Serving links, through the C API (ctypes).

The `tensorflow` wheel ships `libtensorflow_cc.so.2`, which exports TensorFlow's C API. This module
calls it directly:

  * `TF_LoadSessionFromSavedModel(options, NULL, dir, tags, ntags, graph, meta, status)` loads
    the MetaGraph with the given tags (TF Serving: `serve`), restores the variables and runs the
    init op, exactly as `tensorflow::LoadSavedModel` does inside `tensorflow_model_server`;
  * `TF_SessionRun` feeds and fetches the tensors that a SignatureDef names (`name:index`).

No Python object of the model is involved: a SavedModel that answers here answers in TF Serving.
ctypes releases the GIL during every C call, so several threads may run one session at once.

Tensors cross the boundary as `TF_Tensor`s: numbers and booleans are copied from/to the numpy
buffer (C order); strings are arrays of `TF_TString` (24 bytes each) filled with `TF_StringCopy`.
"""

from __future__ import annotations

import ctypes
import importlib.util
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

# TF_DataType (= tensorflow.DataType enum) -> numpy dtype.
_NUMPY_OF: dict[int, np.dtype] = {
    1: np.dtype(np.float32),
    2: np.dtype(np.float64),
    3: np.dtype(np.int32),
    4: np.dtype(np.uint8),
    5: np.dtype(np.int16),
    6: np.dtype(np.int8),
    9: np.dtype(np.int64),
    10: np.dtype(np.bool_),
    17: np.dtype(np.uint16),
    19: np.dtype(np.float16),
    22: np.dtype(np.uint32),
    23: np.dtype(np.uint64),
}
DT_STRING = 7
_TSTRING_BYTES = 24  # sizeof(TF_TString)


class CApiError(RuntimeError):
    """A TF_Status that is not OK: `code` is TensorFlow's error code name, e.g. INVALID_ARGUMENT."""

    CODES = (
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    )

    def __init__(self, code: int, message: str) -> None:
        self.code = self.CODES[code] if 0 <= code < len(self.CODES) else "UNKNOWN"
        self.message = message
        super().__init__(f"{self.code}: {message}")


class _Buffer(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("length", ctypes.c_size_t),
        ("data_deallocator", ctypes.c_void_p),
    ]


class _Output(ctypes.Structure):
    _fields_ = [("oper", ctypes.c_void_p), ("index", ctypes.c_int)]


_P = ctypes.c_void_p
_SIGNATURES = {
    "TF_NewStatus": (_P, []),
    "TF_DeleteStatus": (None, [_P]),
    "TF_GetCode": (ctypes.c_int, [_P]),
    "TF_Message": (ctypes.c_char_p, [_P]),
    "TF_NewGraph": (_P, []),
    "TF_DeleteGraph": (None, [_P]),
    "TF_NewSessionOptions": (_P, []),
    "TF_DeleteSessionOptions": (None, [_P]),
    "TF_SetConfig": (None, [_P, ctypes.c_void_p, ctypes.c_size_t, _P]),
    "TF_NewBuffer": (ctypes.POINTER(_Buffer), []),
    "TF_DeleteBuffer": (None, [ctypes.POINTER(_Buffer)]),
    "TF_LoadSessionFromSavedModel": (
        _P,
        [
            _P,
            ctypes.POINTER(_Buffer),
            ctypes.c_char_p,
            ctypes.POINTER(ctypes.c_char_p),
            ctypes.c_int,
            _P,
            ctypes.POINTER(_Buffer),
            _P,
        ],
    ),
    "TF_CloseSession": (None, [_P, _P]),
    "TF_DeleteSession": (None, [_P, _P]),
    "TF_GraphOperationByName": (_P, [_P, ctypes.c_char_p]),
    "TF_SessionRun": (
        None,
        [
            _P,
            ctypes.POINTER(_Buffer),
            ctypes.POINTER(_Output),
            ctypes.POINTER(_P),
            ctypes.c_int,
            ctypes.POINTER(_Output),
            ctypes.POINTER(_P),
            ctypes.c_int,
            ctypes.POINTER(_P),
            ctypes.c_int,
            ctypes.POINTER(_Buffer),
            _P,
        ],
    ),
    "TF_AllocateTensor": (
        _P,
        [ctypes.c_int, ctypes.POINTER(ctypes.c_int64), ctypes.c_int, ctypes.c_size_t],
    ),
    "TF_DeleteTensor": (None, [_P]),
    "TF_TensorData": (_P, [_P]),
    "TF_TensorByteSize": (ctypes.c_size_t, [_P]),
    "TF_TensorType": (ctypes.c_int, [_P]),
    "TF_NumDims": (ctypes.c_int, [_P]),
    "TF_Dim": (ctypes.c_int64, [_P, ctypes.c_int]),
    "TF_StringInit": (None, [_P]),
    "TF_StringCopy": (None, [_P, ctypes.c_char_p, ctypes.c_size_t]),
    "TF_StringGetDataPointer": (_P, [_P]),
    "TF_StringGetSize": (ctypes.c_size_t, [_P]),
    "TF_StringDealloc": (None, [_P]),
}

_LIBRARY: ctypes.CDLL | None = None


def tensorflow_library_path() -> Path:
    """`libtensorflow_cc.so.2` of the installed `tensorflow` wheel (found without importing it)."""
    spec = importlib.util.find_spec("tensorflow")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("The `tensorflow` package is not installed: no TensorFlow C library.")
    root = Path(next(iter(spec.submodule_search_locations)))
    path = root / "libtensorflow_cc.so.2"
    if not path.exists():
        raise ImportError(f"The TensorFlow C library was not found at {path}")
    return path


def library() -> ctypes.CDLL:
    """The TensorFlow C library with the C API functions this module calls, typed."""
    global _LIBRARY
    if _LIBRARY is None:
        path = tensorflow_library_path()
        framework = path.with_name("libtensorflow_framework.so.2")
        if framework.exists():
            ctypes.CDLL(str(framework), mode=ctypes.RTLD_GLOBAL)
        lib = ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
        for name, (restype, argtypes) in _SIGNATURES.items():
            function = getattr(lib, name)
            function.restype = restype
            function.argtypes = argtypes
        _LIBRARY = lib
    return _LIBRARY


class _Status:
    def __init__(self, lib: ctypes.CDLL) -> None:
        self.lib = lib
        self.handle = lib.TF_NewStatus()

    def check(self) -> None:
        code = self.lib.TF_GetCode(self.handle)
        if code != 0:
            raise CApiError(code, self.lib.TF_Message(self.handle).decode("utf-8", "replace"))

    def close(self) -> None:
        self.lib.TF_DeleteStatus(self.handle)


def _to_tensor(lib: ctypes.CDLL, array: np.ndarray, dtype_enum: int) -> int:
    """A new TF_Tensor holding `array` converted to `dtype_enum` (the caller deletes it)."""
    if dtype_enum == DT_STRING:
        values = np.asarray(array, dtype=object)
        dims = (ctypes.c_int64 * values.ndim)(*values.shape)
        tensor = lib.TF_AllocateTensor(DT_STRING, dims, values.ndim, _TSTRING_BYTES * values.size)
        base = lib.TF_TensorData(tensor)
        for i, value in enumerate(values.reshape(-1)):
            raw = value if isinstance(value, bytes) else str(value).encode("utf-8")
            slot = base + i * _TSTRING_BYTES
            lib.TF_StringInit(slot)
            lib.TF_StringCopy(slot, raw, len(raw))
        return tensor
    if dtype_enum not in _NUMPY_OF:
        raise TypeError(f"Tensors of TF_DataType {dtype_enum} are not supported by the C loader")
    values = np.ascontiguousarray(array, dtype=_NUMPY_OF[dtype_enum])
    dims = (ctypes.c_int64 * values.ndim)(*values.shape)
    tensor = lib.TF_AllocateTensor(dtype_enum, dims, values.ndim, values.nbytes)
    if values.nbytes:
        ctypes.memmove(lib.TF_TensorData(tensor), values.ctypes.data, values.nbytes)
    return tensor


def _from_tensor(lib: ctypes.CDLL, tensor: int) -> np.ndarray:
    """A numpy copy of a TF_Tensor (strings as an object array of bytes)."""
    shape = tuple(lib.TF_Dim(tensor, i) for i in range(lib.TF_NumDims(tensor)))
    dtype_enum = lib.TF_TensorType(tensor)
    data = lib.TF_TensorData(tensor)
    if dtype_enum == DT_STRING:
        count = int(np.prod(shape, dtype=np.int64))
        out = np.empty(count, dtype=object)
        for i in range(count):
            slot = data + i * _TSTRING_BYTES
            out[i] = ctypes.string_at(lib.TF_StringGetDataPointer(slot), lib.TF_StringGetSize(slot))
        return out.reshape(shape)
    if dtype_enum not in _NUMPY_OF:
        raise TypeError(f"Tensors of TF_DataType {dtype_enum} are not supported by the C loader")
    size = lib.TF_TensorByteSize(tensor)
    out = np.empty(shape, dtype=_NUMPY_OF[dtype_enum])
    if size:
        ctypes.memmove(out.ctypes.data, data, size)
    return out


def _free_string_tensor(lib: ctypes.CDLL, tensor: int, count: int) -> None:
    data = lib.TF_TensorData(tensor)
    for i in range(count):
        lib.TF_StringDealloc(data + i * _TSTRING_BYTES)


def session_config(intra_op_threads: int = 0, inter_op_threads: int = 0) -> bytes:
    """A serialised ConfigProto setting TensorFlow's two thread pools (0: TensorFlow's default)."""
    from tensorflow.core.protobuf import config_pb2

    return config_pb2.ConfigProto(
        intra_op_parallelism_threads=intra_op_threads,
        inter_op_parallelism_threads=inter_op_threads,
    ).SerializeToString()


_RUN_OPTIONS: dict[int, tuple[bytes, _Buffer]] = {}


def _run_options(timeout_ms: int):
    """A TF_Buffer holding a serialised RunOptions with `timeout_in_ms` (None for no deadline)."""
    if timeout_ms <= 0:
        return None
    cached = _RUN_OPTIONS.get(timeout_ms)
    if cached is None:
        from tensorflow.core.protobuf import config_pb2

        raw = config_pb2.RunOptions(timeout_in_ms=timeout_ms).SerializeToString()
        buffer = _Buffer(ctypes.cast(ctypes.c_char_p(raw), ctypes.c_void_p), len(raw), None)
        cached = _RUN_OPTIONS.setdefault(timeout_ms, (raw, buffer))  # `raw` keeps the bytes alive
    return ctypes.byref(cached[1])


class CSavedModel:
    """A SavedModel loaded by TensorFlow's C++ loader; its signatures run by tensor name.

    Args:
        export_dir: directory holding `saved_model.pb` and `variables/`.
        tags: MetaGraph tags to load; TF Serving's `--saved_model_tags` default is `serve`.
        config: a serialised `ConfigProto` for the session (thread pools), or None.

    Attributes:
        meta_graph: the loaded `MetaGraphDef` (as returned by the C loader).
        signature_defs: signature name -> `SignatureDef`.
    """

    def __init__(
        self,
        export_dir: str | Path,
        tags: Sequence[str] = ("serve",),
        config: bytes | None = None,
    ) -> None:
        from tensorflow.core.protobuf import meta_graph_pb2

        self.export_dir = Path(export_dir)
        self._lib = lib = library()
        self._session = None
        self._graph = lib.TF_NewGraph()
        status = _Status(lib)
        options = lib.TF_NewSessionOptions()
        meta = lib.TF_NewBuffer()
        try:
            if config:
                lib.TF_SetConfig(options, config, len(config), status.handle)
                status.check()
            tag_array = (ctypes.c_char_p * len(tags))(*(t.encode() for t in tags))
            self._session = lib.TF_LoadSessionFromSavedModel(
                options,
                None,
                str(self.export_dir).encode(),
                tag_array,
                len(tags),
                self._graph,
                meta,
                status.handle,
            )
            status.check()
            self.meta_graph = meta_graph_pb2.MetaGraphDef.FromString(
                ctypes.string_at(meta.contents.data, meta.contents.length)
            )
        except BaseException:
            self.close()
            raise
        finally:
            lib.TF_DeleteBuffer(meta)
            lib.TF_DeleteSessionOptions(options)
            status.close()
        self.signature_defs = dict(self.meta_graph.signature_def)
        self._outputs_cache: dict[str, _Output] = {}

    @property
    def signature_names(self) -> list[str]:
        """Names of the signatures a client may call (the `__saved_model_init_op` excluded)."""
        return sorted(k for k in self.signature_defs if not k.startswith("__"))

    def input_names(self, signature: str = "serving_default") -> list[str]:
        return sorted(self._signature(signature).inputs)

    def output_names(self, signature: str = "serving_default") -> list[str]:
        return sorted(self._signature(signature).outputs)

    def _endpoint(self, tensor_name: str) -> _Output:
        endpoint = self._outputs_cache.get(tensor_name)
        if endpoint is None:
            op_name, _, index = tensor_name.partition(":")
            oper = self._lib.TF_GraphOperationByName(self._graph, op_name.encode())
            if not oper:
                raise KeyError(f"The graph has no operation '{op_name}' (tensor {tensor_name})")
            endpoint = _Output(oper, int(index or 0))
            self._outputs_cache[tensor_name] = endpoint
        return endpoint

    def run(
        self,
        inputs: Mapping[str, np.ndarray],
        signature: str = "serving_default",
        output_names: Sequence[str] | None = None,
        timeout_ms: int = 0,
    ) -> dict[str, np.ndarray]:
        """Feed `inputs` (signature input name -> array), fetch the signature's outputs.

        Inputs are converted to the signature's dtypes; `output_names` picks a subset of outputs;
        `timeout_ms` > 0 is the run's deadline (`RunOptions.timeout_in_ms`, DEADLINE_EXCEEDED).
        Raises `CApiError` with TensorFlow's code when the session run fails.
        """
        if self._session is None:
            raise RuntimeError("This CSavedModel is closed")
        signature_def = self._signature(signature)
        if set(inputs) != set(signature_def.inputs):
            raise ValueError(
                f"`inputs` must have exactly the keys {sorted(signature_def.inputs)} of signature "
                f"'{signature}'. Received: {sorted(inputs)}"
            )
        names_out = (
            list(output_names) if output_names is not None else sorted(signature_def.outputs)
        )
        lib = self._lib
        n_in, n_out = len(inputs), len(names_out)
        feeds = (_Output * n_in)()
        values = (_P * n_in)()
        fetches = (_Output * n_out)()
        results = (_P * n_out)()
        strings = []
        status = _Status(lib)
        try:
            for i, (name, value) in enumerate(inputs.items()):
                info = signature_def.inputs[name]
                feeds[i] = self._endpoint(info.name)
                values[i] = _to_tensor(lib, value, info.dtype)
                if info.dtype == DT_STRING:
                    strings.append((values[i], int(np.size(value))))
            for i, name in enumerate(names_out):
                fetches[i] = self._endpoint(signature_def.outputs[name].name)
            options = _run_options(timeout_ms)
            lib.TF_SessionRun(
                self._session, options, feeds, values, n_in, fetches, results, n_out,
                None, 0, None, status.handle,
            )  # fmt: skip
            status.check()
            return {name: _from_tensor(lib, results[i]) for i, name in enumerate(names_out)}
        finally:
            for tensor, count in strings:
                _free_string_tensor(lib, tensor, count)
            for i in range(n_in):
                if values[i]:
                    lib.TF_DeleteTensor(values[i])
            for i in range(n_out):
                if results[i]:  # a fetched tensor owns its strings: deleting it frees them
                    lib.TF_DeleteTensor(results[i])
            status.close()

    def close(self) -> None:
        """Close and free the session and its graph (idempotent)."""
        lib = self._lib
        if self._session:
            status = _Status(lib)
            lib.TF_CloseSession(self._session, status.handle)
            lib.TF_DeleteSession(self._session, status.handle)
            status.close()
            self._session = None
        if self._graph:
            lib.TF_DeleteGraph(self._graph)
            self._graph = None

    def __enter__(self) -> CSavedModel:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _signature(self, signature: str):
        if signature not in self.signature_defs:
            raise KeyError(
                f"Unknown signature '{signature}'. Choose one of: {', '.join(self.signature_names)}"
            )
        return self.signature_defs[signature]
