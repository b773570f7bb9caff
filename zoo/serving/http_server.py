"""A small HTTP/1.1 server: one thread per connection, blocking sockets, one `sendall` per answer.

Why not a general WSGI server: a predict request on a 2-core machine is ~0.1 ms of JSON work
beside a ~1 ms model run, and what used to dominate was the hand-offs between an I/O loop thread
and worker threads (each waiting for Python's GIL, up to its 5 ms switch interval, while other
threads parse JSON). Here the thread that reads a request also runs it and writes the answer:
`recv`, the model run and `sendall` release the GIL, so connections proceed in parallel with no
queue between them.

What it speaks: HTTP/1.0 and 1.1, keep-alive (1.1 by default, 1.0 on `Connection: keep-alive`),
`Content-Length` and chunked bodies, `Expect: 100-continue`. Bounds that keep a careless or
hostile client from hurting the others:
  * at most `max_connections` open connections; further clients wait in the listen queue;
  * a connection idle (or stalled mid-request) for `idle_timeout` seconds is closed;
  * a head larger than 64 KiB is refused (431), a body larger than `max_body_bytes` gets the
    handler's 413 answer without being stored (bodies up to twice the limit are drained so the
    client reads the answer; larger ones close the connection);
  * at most `threads` requests run the handler at once (TF Serving's `--rest_api_num_threads`).

The handler is `handler(method, path, headers, body) -> (status, headers, payload)`: `path` is
percent-decoded (UTF-8, invalid bytes replaced) without the query, `headers` a dict with lower-case
names, `payload` bytes. `too_large(limit) -> (status, headers, payload)` answers oversized bodies.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from http import HTTPStatus
from urllib.parse import unquote_to_bytes

log = logging.getLogger("zoo.serving")

MAX_HEAD_BYTES = 64 * 1024
_RECV = 256 * 1024
_REASONS = {s.value: s.phrase for s in HTTPStatus}

Handler = Callable[[str, str, dict, bytes], tuple[int, list, bytes]]


class _Closed(Exception):
    """The connection ended (closed, reset or timed out) or must be dropped."""


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Connection:
    """Buffered reads from one socket."""

    __slots__ = ("buffer", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def fill(self) -> None:
        try:
            chunk = self.sock.recv(_RECV)
        except OSError:  # timeout, reset, shut down by the server
            raise _Closed from None
        if not chunk:
            raise _Closed
        self.buffer += chunk

    def head(self) -> bytes:
        """The request head (up to the blank line), skipping empty lines before it."""
        self.buffer = self.buffer.lstrip(b"\r\n")
        while not self.buffer:  # a keep-alive client may send line ends between requests
            self.fill()
            self.buffer = self.buffer.lstrip(b"\r\n")
        return self._until(b"\r\n\r\n", _BadRequest(431, "Request header fields too large"))

    def line(self) -> bytes:
        return self._until(b"\r\n", _BadRequest(400, "Chunk line too long"))

    def _until(self, marker: bytes, too_long: _BadRequest) -> bytes:
        """The bytes before the next `marker` (which is consumed too)."""
        while True:
            end = self.buffer.find(marker)
            if end >= 0:
                found, self.buffer = self.buffer[:end], self.buffer[end + len(marker) :]
                return found
            if len(self.buffer) > MAX_HEAD_BYTES:
                raise too_long
            self.fill()

    def exactly(self, size: int, keep: bool = True) -> bytes:
        """The next `size` bytes (dropped as they come when `keep` is false)."""
        parts = []
        while size > 0:
            if not self.buffer:
                self.fill()
            piece, self.buffer = self.buffer[:size], self.buffer[size:]
            size -= len(piece)
            if keep:
                parts.append(piece)
        return b"".join(parts)


def _parse_head(head: bytes) -> tuple[str, str, str, dict]:
    """(method, path, version, headers) of a request head."""
    try:
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ")
    except ValueError:
        raise _BadRequest(400, "Malformed request line") from None
    if not version.startswith("HTTP/1.") or not method.isalpha():
        raise _BadRequest(400, "Malformed request line")
    headers = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise _BadRequest(400, "Malformed header line")
        headers[name.lower()] = value.strip()
    if "://" in target.split("?", 1)[0]:  # absolute form: drop scheme and authority
        target = "/" + target.split("://", 1)[1].partition("/")[2]
    raw_path = target.split("?", 1)[0].split("#", 1)[0]
    path = unquote_to_bytes(raw_path).decode("utf-8", "replace")
    return method, path, version, headers


def _answer(status: int, headers: list, payload: bytes, keep_alive: bool, version: str) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    lines.append(f"Content-Length: {len(payload)}")
    if not keep_alive:
        lines.append("Connection: close")
    elif version == "HTTP/1.0":
        lines.append("Connection: keep-alive")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


class HttpServer:
    """Serve `handler` on host:port; `start()` runs the accept loop in a thread.

    Args:
        handler: `(method, path, headers, body) -> (status, headers, payload)`.
        too_large: `(limit) -> (status, headers, payload)`, the answer to an oversized body.
        host: interface to bind (an IPv4 or IPv6 address or a name).
        port: TCP port; 0 picks a free one (see `port`).
        threads: requests handled at once.
        max_body_bytes: largest body handed to `handler`.
        max_connections: open connections at most.
        idle_timeout: seconds a connection may wait for (the rest of) a request.
    """

    def __init__(
        self,
        handler: Handler,
        too_large: Callable[[int], tuple[int, list, bytes]],
        *,
        host: str,
        port: int,
        threads: int,
        max_body_bytes: int,
        max_connections: int,
        idle_timeout: float,
    ) -> None:
        for name, value in (("threads", threads), ("max_connections", max_connections)):
            if value < 1:
                raise ValueError(f"`{name}` must be >= 1. Received: {name}={value}")
        if idle_timeout <= 0:
            raise ValueError(f"`idle_timeout` must be > 0. Received: idle_timeout={idle_timeout}")
        self.handler = handler
        self.too_large = too_large
        self.max_body_bytes = max_body_bytes
        self.idle_timeout = idle_timeout
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        self._listener = socket.socket(family, kind, proto)
        try:
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._listener.bind(address)
            self._listener.listen(max(128, max_connections))
        except OSError:
            self._listener.close()
            raise
        self._listener.settimeout(0.2)  # so the accept loop sees `shutdown()`
        self.port = int(self._listener.getsockname()[1])
        self._slots = threading.BoundedSemaphore(max_connections)
        self._working = threading.BoundedSemaphore(threads)
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> HttpServer:
        self._thread = threading.Thread(target=self._accept_loop, name="zoo-http", daemon=True)
        self._thread.start()
        return self

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop accepting, close every open connection and wait for their threads."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._listener.close()
        with self._lock:
            for sock in self._open:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            if not self._slots.acquire(timeout=0.2):
                continue
            try:
                sock, _ = self._listener.accept()
            except OSError:  # timeout (look at the stop flag again), or a failed handshake
                self._slots.release()
                continue
            with self._lock:
                self._open.add(sock)
            try:
                threading.Thread(target=self._serve, args=(sock,), daemon=True).start()
            except RuntimeError:  # no thread to spare: drop this client, keep the others
                log.warning("no thread for a new connection: closed it")
                with self._lock:
                    self._open.discard(sock)
                sock.close()
                self._slots.release()

    def _serve(self, sock: socket.socket) -> None:
        try:
            sock.settimeout(self.idle_timeout)
            if sock.family != socket.AF_UNIX:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection = _Connection(sock)
            while not self._stopping.is_set() and self._one_request(connection):
                pass
        except (_Closed, OSError):  # the client left, or `shutdown()` closed the socket
            pass
        finally:
            with self._lock:
                self._open.discard(sock)
            sock.close()
            self._slots.release()

    def _one_request(self, connection: _Connection) -> bool:
        """Read, handle and answer one request; whether the connection stays open."""
        version = "HTTP/1.1"
        try:
            method, path, version, headers = _parse_head(connection.head())
            tokens = headers.get("connection", "").lower()
            if version == "HTTP/1.0":
                keep_alive = "keep-alive" in tokens
            else:
                keep_alive = "close" not in tokens
            body, oversized = self._body(connection, headers, version)
        except _BadRequest as error:
            payload = f'{{"error": "{error}"}}'.encode()
            headers = [("Content-Type", "application/json")]
            connection.sock.sendall(_answer(error.status, headers, payload, False, version))
            return False
        if oversized is not None:
            status, extra, payload = self.too_large(self.max_body_bytes)
            keep_alive = keep_alive and oversized
        else:
            with self._working:
                try:
                    status, extra, payload = self.handler(method, path, headers, body)
                except Exception:  # a handler bug: answer 500 and drop the connection
                    log.exception("request handler failed")
                    status, extra, payload = 500, [("Content-Type", "application/json")], b"{}"
                    keep_alive = False
        connection.sock.sendall(_answer(status, extra, payload, keep_alive, version))
        return keep_alive

    def _body(self, connection: _Connection, headers: dict, version: str):
        """(body, None), or (b"", drained) for a body over the limit (`drained`: whether it was
        read to its end, so the connection can go on)."""
        limit = self.max_body_bytes
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._continue(connection, headers, version)
            return self._chunked(connection, limit)
        length_text = headers.get("content-length", "0")
        if not length_text.isdigit():
            raise _BadRequest(400, "Invalid Content-Length")
        length = int(length_text)
        if length > limit:
            if length > 2 * limit or "100-continue" in headers.get("expect", "").lower():
                return b"", False  # answer now and close: the body is never read
            connection.exactly(length, keep=False)
            return b"", True
        if length:
            self._continue(connection, headers, version)
        return connection.exactly(length), None

    @staticmethod
    def _continue(connection: _Connection, headers: dict, version: str) -> None:
        if version != "HTTP/1.0" and "100-continue" in headers.get("expect", "").lower():
            connection.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")

    @staticmethod
    def _chunked(connection: _Connection, limit: int):
        parts, size, over = [], 0, False
        while True:
            line = connection.line().split(b";", 1)[0].strip()
            try:
                chunk = int(line, 16)
            except ValueError:
                raise _BadRequest(400, "Invalid chunk size") from None
            if chunk == 0:
                while connection.line():  # trailers, up to the blank line
                    pass
                return (b"", True) if over else (b"".join(parts), None)
            size += chunk
            if size > 2 * limit:
                return b"", False
            over = over or size > limit
            piece = connection.exactly(chunk, keep=not over)
            if over:
                parts.clear()
            else:
                parts.append(piece)
            if connection.exactly(2) != b"\r\n":
                raise _BadRequest(400, "Invalid chunk")
