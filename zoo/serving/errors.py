"""`ServingError`: an error with TF Serving's status code name, and the HTTP code TF Serving maps it
to (`tensorflow_serving/util/net_http/...` via `ToHTTPStatusCode` in `http_rest_api_handler`).

Every error a request can meet is turned into one of these, so the REST layer answers with TF
Serving's code and `{"error": "<message>"}` body and the gRPC layer with the same status code.
"""

from __future__ import annotations

from typing import ClassVar


class ServingError(Exception):
    """An error with TF Serving's status code name; the REST layer maps it to HTTP."""

    HTTP: ClassVar[dict[str, int]] = {
        "OK": 200,
        "CANCELLED": 499,
        "UNKNOWN": 500,
        "INVALID_ARGUMENT": 400,
        "DEADLINE_EXCEEDED": 504,
        "NOT_FOUND": 404,
        "ALREADY_EXISTS": 409,
        "PERMISSION_DENIED": 403,
        "RESOURCE_EXHAUSTED": 429,
        "FAILED_PRECONDITION": 400,
        "ABORTED": 409,
        "OUT_OF_RANGE": 400,
        "UNIMPLEMENTED": 501,
        "INTERNAL": 500,
        "UNAVAILABLE": 503,
        "DATA_LOSS": 500,
        "UNAUTHENTICATED": 401,
    }

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def http_status(self) -> int:
        return self.HTTP.get(self.code, 500)


def invalid(message: str) -> ServingError:
    """An INVALID_ARGUMENT error (HTTP 400)."""
    return ServingError("INVALID_ARGUMENT", message)


def as_serving_error(error: BaseException) -> ServingError:
    """`error` as TF Serving would report it: TensorFlow's status code kept, bad input 400."""
    if isinstance(error, ServingError):
        return error
    code = getattr(error, "code", None)  # CApiError carries TensorFlow's code name
    if isinstance(code, str) and code in ServingError.HTTP:
        return ServingError(code, getattr(error, "message", str(error)))
    if isinstance(error, (ValueError, TypeError, KeyError, OverflowError)):
        return invalid(str(error).strip("'\""))
    return ServingError("INTERNAL", f"{type(error).__name__}: {error}")
