"""`SessionSignatureRunner`: the name under which the project runs a SavedModel as TF Serving does.

It is `CSavedModel` (zoo/serving/c_loader.py): TensorFlow's C++ SavedModel loader, the one
`tensorflow_model_server` links, called through the C API of the library in the `tensorflow` wheel
(`TF_LoadSessionFromSavedModel` with tag `serve`, signature tensors run with `TF_SessionRun`).
"""

from __future__ import annotations

from zoo.serving.c_loader import CSavedModel

SessionSignatureRunner = CSavedModel

__all__ = ["SessionSignatureRunner"]
