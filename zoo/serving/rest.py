"""TensorFlow Serving's REST API over a `ModelManager`: a WSGI app (werkzeug) served by waitress.

Routes (case-insensitive, as TF Serving matches them):
  GET  /v1/models/NAME[/versions/V | /labels/L]            model status
  GET  /v1/models/NAME[/versions/V | /labels/L]/metadata   signature defs
  POST /v1/models/NAME[/versions/V | /labels/L]:predict    row (`instances`) or columnar (`inputs`)
  OPTIONS (any path)                                        CORS preflight (needs an http(s) Origin)
  GET  <prometheus path>                                    metrics, with a monitoring config

Every error is `{"error": "<message>"}` with TF Serving's message and its HTTP code (400 bad
request or unknown label/signature, 404 unknown model or version, 413 body over the size limit).

Why waitress + werkzeug: waitress is a maintained, production WSGI server with a fixed worker
thread pool (TF Serving's `--rest_api_num_threads`) and a hard request-body cap; werkzeug parses the
requests. The model runs in a TF1 session, which releases the GIL, so worker threads run
concurrently.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import threading
import time
from urllib.parse import unquote

from google.protobuf import json_format
from tensorflow_serving.apis import get_model_metadata_pb2
from waitress import create_server, wasyncore
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from zoo.serving.classify import classify_or_regress
from zoo.serving.errors import ServingError, as_serving_error
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

    def __call__(self, environ, start_response):
        request = Request(environ)
        request.max_content_length = self.max_body_bytes
        start = time.perf_counter()
        content_type = "application/json"
        model, api = "", ""
        try:
            if self.metrics_path and request.path == self.metrics_path and self.metrics:
                status, text, content_type = 200, self.metrics.exposition(), self.metrics.CONTENT
            elif request.method == "OPTIONS":
                status, text = self.preflight(request), ""
            else:
                model, api, body = self.dispatch(request)
                status, text = 200, body if isinstance(body, str) else dumps(body)
            code = "OK"
        except ServingError as error:
            status, code = error.http_status, error.code
            text = "" if request.method == "OPTIONS" else dumps({"error": error.message})
        except RequestEntityTooLarge:
            status, code = 413, "INVALID_ARGUMENT"
            text = dumps(
                {"error": f"Request body is larger than the limit of {self.max_body_bytes} bytes"}
            )
        except Exception as error:  # never let one request take the server down
            log.exception("request failed")
            status, code = 500, "INTERNAL"
            text = dumps({"error": f"{type(error).__name__}: {error}"})
        if self.metrics is not None and model:
            self.metrics.record(model, api, "REST", code, time.perf_counter() - start)
        response = Response(text, status=status, content_type=content_type)
        if self.cors:
            response.headers.update(CORS_HEADERS)
        return response(environ, start_response)

    @staticmethod
    def preflight(request: Request) -> int:
        """TF Serving answers OPTIONS with 200 when the Origin is an http(s) URL."""
        if not re.search(r"https?://", request.headers.get("Origin", "")):
            raise ServingError("FAILED_PRECONDITION", "Origin header is missing in CORS preflight")
        return 200

    def dispatch(self, request: Request) -> tuple[str, str, object]:
        """(model name, API name, answer) of one request; raises `ServingError`."""
        path = request.path
        method = request.method
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
                body = request.get_data(cache=False)
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
    """`app` on host:port with a fixed pool of worker threads; `start()` runs it in a thread.

    Args:
        manager: the models to serve.
        host: interface to bind; 127.0.0.1 by default (use 0.0.0.0 only behind a firewall).
        port: TCP port; 0 picks a free one (see `port` after construction).
        threads: worker threads (TF Serving's `--rest_api_num_threads`, default 4 x cores).
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
        self._map: dict = {}
        self._server = create_server(
            self.app,
            map=self._map,
            host=host,
            port=port,
            threads=threads or max(4, 4 * (os.cpu_count() or 1)),
            connection_limit=max_connections,
            channel_timeout=idle_timeout,
            cleanup_interval=max(1, int(idle_timeout) // 2),
            # waitress buffers a body before the app sees it: cap that buffer too. The app answers
            # bodies between the two limits with TF Serving's JSON error shape.
            max_request_body_size=2 * max_body_bytes + (1 << 20),
            ident="zoo-serve",
            clear_untrusted_proxy_headers=True,
        )
        self.host = host
        self.port = int(self._server.effective_port)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return url_for(self.host, self.port)

    def serve_forever(self) -> None:
        while not self._stopping.is_set():
            wasyncore.loop(timeout=0.2, map=self._map, use_poll=True, count=1)

    def start(self) -> RestServer:
        self._thread = threading.Thread(target=self.serve_forever, name="zoo-serve", daemon=True)
        self._thread.start()
        return self

    def shutdown(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server.task_dispatcher.shutdown(timeout=5)
        wasyncore.close_all(self._map)

    def __enter__(self) -> RestServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.shutdown()
