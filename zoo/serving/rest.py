"""TensorFlow Serving's REST API over a `ModelManager`: a WSGI app (werkzeug) served by waitress.

Routes (case-insensitive, as TF Serving matches them):
  GET  /v1/models/NAME[/versions/V | /labels/L]            model status
  GET  /v1/models/NAME[/versions/V | /labels/L]/metadata   signature defs
  POST /v1/models/NAME[/versions/V | /labels/L]:predict    row (`instances`) or columnar (`inputs`)

Every error is `{"error": "<message>"}` with TF Serving's message and its HTTP code (400 bad
request or unknown label/signature, 404 unknown model or version, 413 body over the size limit).

Why waitress + werkzeug: waitress is a maintained, production WSGI server with a fixed worker
thread pool (TF Serving's `--rest_api_num_threads`) and a hard request-body cap; werkzeug parses the
requests. The model runs in a TF1 session, which releases the GIL, so worker threads run
concurrently.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from urllib.parse import unquote

import numpy as np
from google.protobuf import json_format
from tensorflow_serving.apis import get_model_metadata_pb2
from waitress import create_server, wasyncore
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from zoo.serving.errors import ServingError, as_serving_error
from zoo.serving.json_tensor import (
    dumps,
    outputs_to_json,
    parse_predict_request,
    request_to_arrays,
)
from zoo.serving.manager import ModelManager

log = logging.getLogger("zoo.serving")

DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
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
    """The WSGI application; `max_body_bytes` caps a request body."""

    def __init__(self, manager: ModelManager, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.manager = manager
        self.max_body_bytes = max_body_bytes

    def __call__(self, environ, start_response):
        request = Request(environ)
        request.max_content_length = self.max_body_bytes
        try:
            status, body = self.dispatch(request)
        except ServingError as error:
            status, body = error.http_status, {"error": error.message}
        except RequestEntityTooLarge:
            status, body = (
                413,
                {"error": f"Request body is larger than the limit of {self.max_body_bytes} bytes"},
            )
        except Exception as error:  # never let one request take the server down
            log.exception("request failed")
            status, body = 500, {"error": f"{type(error).__name__}: {error}"}
        text = body if isinstance(body, str) else dumps(body)
        response = Response(text, status=status, content_type="application/json")
        return response(environ, start_response)

    def dispatch(self, request: Request) -> tuple[int, object]:
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
                if verb.lower() != "predict":
                    raise ServingError(
                        "UNIMPLEMENTED", f"{verb} is not supported by zoo serve (predict only)"
                    )
                return 200, self.predict(request, unquote(name), _version(version), _label(label))
        elif method == "GET":
            match = _STATUS.fullmatch(path)
            if match:
                name, version, label, sub = match.groups()
                if not name:
                    raise ServingError("INVALID_ARGUMENT", "Missing model name in request.")
                name = unquote(name)
                if sub:
                    return 200, self.metadata(name, _version(version), _label(label))
                return 200, self.status(name, _version(version), _label(label))
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

    def predict(self, request: Request, name: str, version: int | None, label: str | None) -> dict:
        body = request.get_data(cache=False)
        with self.manager.servable(name, version, label) as servable:
            document = parse_predict_request(body)
            signature = document.get("signature_name") or "serving_default"
            if signature not in servable.input_dtypes or signature.startswith("__"):
                raise ServingError(
                    "INVALID_ARGUMENT",
                    f'Serving signature name: "{signature}" not found in signature def',
                )
            form, arrays = request_to_arrays(document, servable.input_dtypes[signature])
            try:
                outputs = servable.runner.run(arrays, signature)
            except Exception as error:
                raise as_serving_error(error) from None
        return outputs_to_json({k: np.asarray(v) for k, v in outputs.items()}, form)


def _version(text: str | None) -> int | None:
    return None if text is None else int(text)


def _label(text: str | None) -> str | None:
    return None if text is None else unquote(text)


class RestServer:
    """`app` on host:port with a fixed pool of worker threads; `start()` runs it in a thread.

    Args:
        manager: the models to serve.
        host: interface to bind; 127.0.0.1 by default (use 0.0.0.0 only behind a firewall).
        port: TCP port; 0 picks a free one (see `port` after construction).
        threads: worker threads (TF Serving's `--rest_api_num_threads`, default 4 x cores).
        max_body_bytes: largest accepted request body.
    """

    def __init__(
        self,
        manager: ModelManager,
        *,
        host: str = "127.0.0.1",
        port: int = 8501,
        threads: int | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self.app = RestApp(manager, max_body_bytes)
        self._map: dict = {}
        self._server = create_server(
            self.app,
            map=self._map,
            host=host,
            port=port,
            threads=threads or max(4, 4 * (os.cpu_count() or 1)),
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
        return f"http://{self.host}:{self.port}"

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
