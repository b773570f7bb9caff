"""Run a SavedModel the way TensorFlow Serving's C++ server runs it.

The C++ server never sees Python objects: it loads the MetaGraph tagged `serve` into a TF1-style
session (restoring variables and running the init op) and feeds/fetches the tensors that a
SignatureDef names. This module does exactly that, so a model that answers here answers there.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import tensorflow as tf


class _DropDeprecationNotices(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "is deprecated and will be removed" not in record.getMessage()


@contextlib.contextmanager
def _without_deprecation_notices():
    logger = tf.get_logger()
    notice_filter = _DropDeprecationNotices()
    logger.addFilter(notice_filter)
    try:
        yield
    finally:
        logger.removeFilter(notice_filter)


class SessionSignatureRunner:
    """A SavedModel loaded into a TF1 session, with its signatures run by tensor name.

    Args:
        export_dir: directory holding `saved_model.pb` and `variables/`.
        tags: MetaGraph tags to load; TF Serving uses `("serve",)`.
    """

    def __init__(self, export_dir: str | Path, tags: tuple[str, ...] = ("serve",)) -> None:
        self.export_dir = Path(export_dir)
        self.graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=self.graph)
        # The TF1 loader is what TF Serving's C++ loader mirrors; its deprecation notice is noise.
        with self.graph.as_default(), _without_deprecation_notices():
            meta_graph = tf.compat.v1.saved_model.loader.load(
                self.session, list(tags), str(self.export_dir)
            )
        self.signature_defs = dict(meta_graph.signature_def)

    @property
    def signature_names(self) -> list[str]:
        """Names of the signatures a client may call (the `__saved_model_init_op` excluded)."""
        return sorted(k for k in self.signature_defs if not k.startswith("__"))

    def input_names(self, signature: str = "serving_default") -> list[str]:
        return sorted(self._signature(signature).inputs)

    def output_names(self, signature: str = "serving_default") -> list[str]:
        return sorted(self._signature(signature).outputs)

    def run(
        self, inputs: Mapping[str, np.ndarray], signature: str = "serving_default"
    ) -> dict[str, np.ndarray]:
        """Feed `inputs` (signature input name -> array) and fetch every signature output."""
        signature_def = self._signature(signature)
        unknown = set(inputs) - set(signature_def.inputs)
        missing = set(signature_def.inputs) - set(inputs)
        if unknown or missing:
            raise ValueError(
                f"`inputs` must have exactly the keys {sorted(signature_def.inputs)} of signature "
                f"'{signature}'. Received: {sorted(inputs)}"
            )
        feed = {signature_def.inputs[k].name: np.asarray(v) for k, v in inputs.items()}
        fetch = {k: t.name for k, t in signature_def.outputs.items()}
        return self.session.run(fetch, feed_dict=feed)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> SessionSignatureRunner:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _signature(self, signature: str):
        if signature not in self.signature_defs:
            raise KeyError(
                f"Unknown signature '{signature}'. Choose one of: {', '.join(self.signature_names)}"
            )
        return self.signature_defs[signature]
