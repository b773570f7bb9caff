"""integral-zoo: a Keras 3 / TensorFlow model zoo built on calculus."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "backtest",
    "build",
    "export",
    "infer_threshold",
    "info",
    "list_models",
    "load",
]

# The public functions live in their modules; they are imported on first use so that `import zoo`
# (and every `zoo ...` command, `zoo --help` included) does not pay for importing TensorFlow.
_PUBLIC = {
    "backtest": "zoo.models.backtest",
    "build": "zoo.registry",
    "export": "zoo.serving",
    "infer_threshold": "zoo.models.anomaly",
    "info": "zoo.registry",
    "list_models": "zoo.registry",
    "load": "zoo.registry",
}

if TYPE_CHECKING:
    from zoo.models.anomaly import infer_threshold
    from zoo.models.backtest import backtest
    from zoo.registry import build, info, list_models, load
    from zoo.serving import export


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
