"""TensorFlow Serving's REST API over a `ModelManager`, served by `HttpServer` (http_server.py).

Routes (case-insensitive, as TF Serving matches them):
  GET  /v1/models/NAME[/versions/V | /labels/L]            model status
  GET  /v1/models/NAME[/versions/V | /labels/L]/metadata   signature defs
  POST /v1/models/NAME[/versions/V | /labels/L]:predict    row (`instances`) or columnar (`inputs`)
  OPTIONS (any path)                                        CORS preflight (needs an http(s) Origin)
  GET  <prometheus path>                                    metrics, with a monitoring config

Every error is `{"error": "<message>"}` with TF Serving's message and its HTTP code (400 bad
request or unknown label/signature, 404 unknown model or version, 413 body over the size limit).

`RestApp.respond(method, path, headers, body)` computes an answer; `RestApp` is also a WSGI
application (werkzeug) with the same answers, for test clients and other WSGI servers. The model
runs through TensorFlow's C API, which releases the GIL, so connections run concurrently.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import time
from collections.abc import Mapping
from urllib.parse import unquote

from google.protobuf import json_format
from tensorflow_serving.apis import get_model_metadata_pb2
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from zoo.serving.classify import classify_or_regress
from zoo.serving.errors import ServingError, as_serving_error
from zoo.serving.http_server import HttpServer
from zoo.serving.json_tensor import (
    dumps,
    outputs_to_json,
    parse_predict_request,
    request_to_arrays,
)
from zoo.serving.manager import ModelManager
from zoo.serving.metrics import ServingMetrics

log = logging.getLogger("zoo.serving")

DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_CONNECTIONS = 1024
DEFAULT_IDLE_TIMEOUT = 30.0
# What TF Serving's AddCORSHeaders adds when `--rest_api_enable_cors_support` is on.
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, GET",
    "Access-Control-Allow-Headers": "Content-Type",
}
_PREDICT = re.compile(
    r"/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?:(classify|regress|predict)",
    re.IGNORECASE,
)
_API_PREFIX = re.compile(r"/v1/", re.IGNORECASE)
_STATUS = re.compile(
    r"/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?(?:/(metadata))?",
    re.IGNORECASE,
)


class RestApp:
    """The WSGI application.

    Args:
        manager: the models.
        max_body_bytes: largest request body (413 above it).
        cors: add TF Serving's CORS headers to every answer (`--rest_api_enable_cors_support`).
        timeout_ms: deadline of one model run (`--rest_api_timeout_in_ms`; 0: none).
        metrics: where request counts and latencies go (None: not recorded).
        metrics_path: the path that answers the Prometheus text exposition (None: no endpoint).
    """

    def __init__(
        self,
        manager: ModelManager,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        *,
        cors: bool = False,
        timeout_ms: int = 0,
        metrics: ServingMetrics | None = None,
        metrics_path: str | None = None,
    ) -> None:
        self.manager = manager
        self.max_body_bytes = max_body_bytes
        self.cors = cors
        self.timeout_ms = timeout_ms
        self.metrics = metrics
        self.metrics_path = metrics_path

    def respond(self, method: str, path: str, headers: Mapping[str, str], body: bytes):
        """(status, headers, payload bytes) of one request; `headers` has lower-case names."""
        start = time.perf_counter()
        content_type = "application/json"
        model, api = "", ""
        try:
            if self.metrics_path and path == self.metrics_path and self.metrics:
                status, text, content_type = 200, self.metrics.exposition(), self.metrics.CONTENT
            elif method == "OPTIONS":
                status, text = self.preflight(headers), ""
            else:
                model, api, answer = self.dispatch(method, path, body)
                status, text = 200, answer if isinstance(answer, str) else dumps(answer)
            code = "OK"
        except ServingError as error:
            status, code = error.http_status, error.code
            text = "" if method == "OPTIONS" else dumps({"error": error.message})
        except Exception as error:  # never let one request take the server down
            log.exception("request failed")
            status, code = 500, "INTERNAL"
            text = dumps({"error": f"{type(error).__name__}: {error}"})
        if self.metrics is not None and model:
            self.metrics.record(model, api, "REST", code, time.perf_counter() - start)
        payload = text if isinstance(text, bytes) else text.encode()
        return status, self._headers(content_type), payload

    def too_large(self, limit: int):
        """The answer to a body over `limit` bytes (413, TF Serving's error shape)."""
        text = dumps({"error": f"Request body is larger than the limit of {limit} bytes"})
        return 413, self._headers("application/json"), text.encode()

    def _headers(self, content_type: str) -> list[tuple[str, str]]:
        headers = [("Content-Type", content_type)]
        if self.cors:
            headers.extend(CORS_HEADERS.items())
        return headers

    def __call__(self, environ, start_response):
        """The same answers as a WSGI application (for WSGI servers and test clients)."""
        request = Request(environ)
        request.max_content_length = self.max_body_bytes
        try:
            body = request.get_data(cache=False) if request.method == "POST" else b""
        except RequestEntityTooLarge:
            status, headers, payload = self.too_large(self.max_body_bytes)
        else:
            headers_in = {k.lower(): v for k, v in request.headers.items()}
            status, headers, payload = self.respond(request.method, request.path, headers_in, body)
        response = Response(payload, status=status, headers=headers)
        return response(environ, start_response)

    @staticmethod
    def preflight(headers: Mapping[str, str]) -> int:
        """TF Serving answers OPTIONS with 200 when the Origin is an http(s) URL."""
        if not re.search(r"https?://", headers.get("origin", "")):
            raise ServingError("FAILED_PRECONDITION", "Origin header is missing in CORS preflight")
        return 200

    def dispatch(self, method: str, path: str, body: bytes) -> tuple[str, str, object]:
        """(model name, API name, answer) of one request; raises `ServingError`."""
        if not _API_PREFIX.match(path):
            # TF Serving registers its REST handler for `(?i)/v1/.*` only; other paths find no
            # handler (404). Under /v1/, a path that matches no route is a malformed request (400).
            raise ServingError("NOT_FOUND", f"No handler for {method} {path}")
        if method == "POST":
            match = _PREDICT.fullmatch(path)
            if match:
                name, version, label, verb = match.groups()
                name, verb = _decode(name, "model name"), verb.lower()
                version, label = _version(version), _label(label)
                if verb == "predict":
                    return name, verb, self.predict(body, name, version, label)
                return (
                    name,
                    verb,
                    classify_or_regress(
                        self.manager, verb, body, name, version, label, self.timeout_ms
                    ),
                )
        elif method == "GET":
            match = _STATUS.fullmatch(path)
            if match:
                name, version, label, sub = match.groups()
                if not name:
                    raise ServingError("INVALID_ARGUMENT", "Missing model name in request.")
                name = _decode(name, "model name")
                version, label = _version(version), _label(label)
                if sub:
                    return name, "metadata", self.metadata(name, version, label)
                return name, "status", self.status(name, version, label)
        raise ServingError("INVALID_ARGUMENT", f"Malformed request: {method} {path}")

    def status(self, name: str, version: int | None, label: str | None) -> dict:
        return {
            "model_version_status": [
                {
                    "version": str(v),
                    "state": record.state,
                    "status": {
                        "error_code": record.error_code,
                        "error_message": record.error_message,
                    },
                }
                for v, record in self.manager.status(name, version, label)
            ]
        }

    def metadata(self, name: str, version: int | None, label: str | None) -> str:
        with self.manager.servable(name, version, label) as servable:
            signature_map = get_model_metadata_pb2.SignatureDefMap()
            for key, sdef in servable.runner.signature_defs.items():
                signature_map.signature_def[key].CopyFrom(sdef)
            served_version = servable.version
        signatures = json_format.MessageToDict(
            signature_map,
            preserving_proto_field_name=True,
            always_print_fields_with_no_presence=True,
        )
        return dumps(
            {
                "model_spec": {"name": name, "signature_name": "", "version": str(served_version)},
                "metadata": {"signature_def": signatures},
            }
        )

    def predict(self, body: bytes, name: str, version: int | None, label: str | None) -> str:
        document = parse_predict_request(body)  # first, as TF Serving: a bad body is a 400
        with self.manager.servable(name, version, label) as servable:
            signature = document.get("signature_name") or "serving_default"
            if signature not in servable.input_dtypes or signature.startswith("__"):
                raise ServingError(
                    "INVALID_ARGUMENT",
                    f'Serving signature name: "{signature}" not found in signature def',
                )
            form, arrays = request_to_arrays(document, servable.input_dtypes[signature])
            del document  # the parsed JSON can go before the model runs
            try:
                outputs = servable.run(arrays, signature, timeout_ms=self.timeout_ms)
            except Exception as error:
                raise as_serving_error(error) from None
        return outputs_to_json(outputs, form)


_INT64_MAX = (1 << 63) - 1


def _version(text: str | None) -> int | None:
    """A version from the URL, parsed as TF Serving's `SimpleAtoi` into an int64."""
    if text is None:
        return None
    if len(text) > 19 or int(text) > _INT64_MAX:
        shown = text if len(text) <= 64 else text[:64] + "..."
        raise ServingError("INVALID_ARGUMENT", f"Failed to convert version: {shown} to numeric.")
    return int(text)


def _decode(text: str, what: str) -> str:
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise ServingError("INVALID_ARGUMENT", f"Failed to decode {what}:{text}") from None


def _label(text: str | None) -> str | None:
    return None if text is None else _decode(text, "model version label")


def url_for(host: str, port: int) -> str:
    """`http://host:port`, with an IPv6 address in brackets (`http://[::1]:8501`)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or `localhost`) only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class RestServer:
    """`RestApp` on host:port (`HttpServer`: a thread per connection); `start()` serves it.

    Args:
        manager: the models to serve.
        host: interface to bind; 127.0.0.1 by default (use 0.0.0.0 only behind a firewall).
        port: TCP port; 0 picks a free one (see `port` after construction).
        threads: requests handled at once (TF Serving's `--rest_api_num_threads`, default
            4 x cores).
        max_body_bytes: largest accepted request body.
        max_connections: open connections at most; beyond it new ones wait in the listen queue.
        idle_timeout: seconds after which an idle (keep-alive) connection is closed, so idle
            clients never hold the pool.
        app_options: `cors`, `timeout_ms`, `metrics`, `metrics_path` of `RestApp`.
    """

    def __init__(
        self,
        manager: ModelManager,
        *,
        host: str = "127.0.0.1",
        port: int = 8501,
        threads: int | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        **app_options,
    ) -> None:
        self.app = RestApp(manager, max_body_bytes, **app_options)
        self._server = HttpServer(
            self.app.respond,
            self.app.too_large,
            host=host,
            port=port,
            threads=threads or max(4, 4 * (os.cpu_count() or 1)),
            max_body_bytes=max_body_bytes,
            max_connections=max_connections,
            idle_timeout=idle_timeout,
        )
        self.host = host
        self.port = self._server.port

    @property
    def url(self) -> str:
        return url_for(self.host, self.port)

    def start(self) -> RestServer:
        self._server.start()
        return self

    def shutdown(self) -> None:
        self._server.shutdown()

    def __enter__(self) -> RestServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.shutdown()
