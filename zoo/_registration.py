"""Register zoo's Keras custom objects as soon as Keras is there, without importing Keras first.

`import zoo` must be cheap (`zoo list` never loads TensorFlow) and yet, once the user has Keras,
`keras.saving.load_model("any_zoo_model.keras")` must find every class the zoo defines. So:

- if Keras (and TensorFlow) are already imported when `zoo` is, the modules that define custom
  objects are imported at once (their `register_keras_serializable` decorators run);
- otherwise a finder on `sys.meta_path` watches the imports of keras, tensorflow,
  tensorflow_probability, tf_keras and zoo's own modules; when the outermost of those imports
  finishes and Keras is loaded, it registers and removes itself. Waiting for the outermost one
  matters: `import tensorflow` imports keras half-way through its own initialisation, and a zoo
  module imported from inside `import zoo.layers` must not re-enter a half-built package.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
import threading

_WATCHED_TOP = ("keras", "tensorflow", "tensorflow_probability", "tf_keras")
_lock = threading.RLock()
_state = {"done": False, "depth": 0, "registering": False}


def _watched(fullname: str) -> bool:
    return fullname in _WATCHED_TOP or fullname == "zoo" or fullname.startswith("zoo.")


def _initialising(name: str) -> bool:
    module = sys.modules.get(name)
    spec = getattr(module, "__spec__", None)
    return module is not None and bool(getattr(spec, "_initializing", False))


def register_now() -> None:
    """Import every module of the zoo that defines a Keras custom object (idempotent)."""
    with _lock:
        if _state["done"] or _state["registering"]:
            return
        _state["registering"] = True
        try:
            importlib.import_module("zoo.layers")
            from zoo.registry import custom_object_modules

            for module in custom_object_modules():
                importlib.import_module(module)
            _state["done"] = True
        finally:
            _state["registering"] = False
    _uninstall()


def _ready(finishing: str) -> bool:
    """Keras is loaded and no watched import but `finishing` (whose loader is returning) and the
    `zoo` package itself is still running."""
    if "keras" not in sys.modules:
        return False
    busy = [
        n
        for n in list(sys.modules)
        if _watched(n) and n not in ("zoo", finishing) and _initialising(n)
    ]
    return not busy


class _LoaderAfterwards:
    """Wraps a module's loader: counts nested watched imports and registers after the outermost."""

    def __init__(self, loader) -> None:
        self._loader = loader

    def __getattr__(self, name):
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        _state["depth"] += 1
        try:
            self._loader.exec_module(module)
        finally:
            _state["depth"] -= 1
        if _state["depth"] == 0 and not _state["done"] and _ready(module.__name__):
            register_now()


class _Watcher(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if _state["done"] or not _watched(fullname):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _LoaderAfterwards(spec.loader)
        return spec


_watcher = _Watcher()


def _uninstall() -> None:
    if _watcher in sys.meta_path:
        sys.meta_path.remove(_watcher)


def install() -> None:
    """Called by `import zoo`: register now if Keras is ready, else when it has been imported."""
    if _state["done"]:
        return
    if "keras" in sys.modules and not any(
        _initialising(n) for n in _WATCHED_TOP if n in sys.modules
    ):
        register_now()
        return
    if _watcher not in sys.meta_path:
        sys.meta_path.insert(0, _watcher)
