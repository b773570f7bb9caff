"""`SessionSignatureRunner`: the name under which the project runs a SavedModel as TF Serving does.

It is `CSavedModel` (zoo/serving/c_loader.py): TensorFlow's C++ SavedModel loader, the one
`tensorflow_model_server` links, called through the C API of the library in the `tensorflow` wheel
(`TF_LoadSessionFromSavedModel` with tag `serve`, signature tensors run with `TF_SessionRun`).
A failed run raises TensorFlow's own exception class for the status code
(`tf.errors.InvalidArgumentError`, ...), as a TF1 session does.
"""

from __future__ import annotations

from tensorflow.python.framework.errors_impl import exception_type_from_error_code

from zoo.serving.c_loader import CApiError, CSavedModel


class SessionSignatureRunner(CSavedModel):
    """`CSavedModel` whose failed runs raise `tf.errors.OpError` subclasses."""

    def run(self, inputs, signature="serving_default", output_names=None, timeout_ms=0):
        try:
            return super().run(inputs, signature, output_names, timeout_ms)
        except CApiError as error:
            code = CApiError.CODES.index(error.code)
            raise exception_type_from_error_code(code)(None, None, error.message) from None


__all__ = ["SessionSignatureRunner"]
