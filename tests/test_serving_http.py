"""The HTTP/1.1 layer of `zoo serve` on its own (an echo handler, no model): keep-alive, chunked
bodies, `Expect: 100-continue`, size limits and malformed requests, checked with raw sockets and
the standard library's client."""

from __future__ import annotations

import json
import socket
from http.client import HTTPConnection

import pytest

from zoo.serving.http_server import MAX_HEAD_BYTES, HttpServer

LIMIT = 1000


def _echo(method, path, headers, body):
    answer = {
        "method": method,
        "path": path,
        "body": body.decode("latin-1"),
        "host": headers["host"],
    }
    return 200, [("Content-Type", "application/json")], json.dumps(answer).encode()


def _too_large(limit):
    return 413, [("Content-Type", "application/json")], b'{"error": "too large"}'


@pytest.fixture(scope="module")
def address():
    server = HttpServer(
        _echo,
        _too_large,
        host="127.0.0.1",
        port=0,
        threads=2,
        max_body_bytes=LIMIT,
        max_connections=8,
        idle_timeout=5.0,
    ).start()
    try:
        yield "127.0.0.1", server.port
    finally:
        server.shutdown()


def _read_answer(sock) -> tuple[bytes, bytes]:
    """(head, body) of one answer read from `sock` (Content-Length framing)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next(int(x.split(b":")[1]) for x in lines if x.lower().startswith(b"content-length"))
    while len(rest) < length:
        rest += sock.recv(65536)
    return head, rest[:length]


def test_keep_alive_answers_several_requests_on_one_connection(address):
    connection = HTTPConnection(*address, timeout=10)
    for i in range(3):
        connection.request("POST", f"/v1/a%20b/{i}?q=1", body=b"x" * i)
        response = connection.getresponse()
        answer = json.loads(response.read())
        assert response.status == 200 and response.getheader("Connection") is None
        assert answer == {
            "method": "POST",
            "path": f"/v1/a b/{i}",
            "body": "x" * i,
            "host": f"{address[0]}:{address[1]}",
        }
    connection.close()


def test_http_1_0_closes_unless_asked_to_keep_alive(address):
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(b"GET /x HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n")
        head, _ = _read_answer(sock)
        assert b"Connection: keep-alive" in head
        sock.sendall(b"GET /y HTTP/1.0\r\nHost: h\r\n\r\n")
        head, body = _read_answer(sock)
        assert b"Connection: close" in head and json.loads(body)["path"] == "/y"
        assert sock.recv(10) == b""


def test_chunked_body_and_expect_continue(address):
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(
            b"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n"
        )
        assert json.loads(_read_answer(sock)[1])["body"] == "hello world"
        sock.sendall(
            b"POST /e HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
        )
        assert sock.recv(64) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"body")
        assert json.loads(_read_answer(sock)[1])["body"] == "body"


def test_bodies_over_the_limit_get_the_413_answer(address):
    with socket.create_connection(address, timeout=10) as sock:
        # Up to twice the limit the body is read and dropped: the connection goes on.
        sock.sendall(b"POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: 1500\r\n\r\n" + b"x" * 1500)
        head, body = _read_answer(sock)
        assert head.startswith(b"HTTP/1.1 413 ") and body == b'{"error": "too large"}'
        sock.sendall(b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n")
        assert json.loads(_read_answer(sock)[1])["path"] == "/next"
    with socket.create_connection(address, timeout=10) as sock:
        chunks = b"".join(b"1f4\r\n" + b"y" * 500 + b"\r\n" for _ in range(3))
        sock.sendall(
            b"POST /big HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            + chunks
            + b"0\r\n\r\n"
        )
        assert _read_answer(sock)[0].startswith(b"HTTP/1.1 413 ")
    with socket.create_connection(address, timeout=10) as sock:
        # Far over the limit: answered at once, never read, and the connection is closed.
        sock.sendall(b"POST /huge HTTP/1.1\r\nHost: h\r\nContent-Length: 999999\r\n\r\n")
        head, _ = _read_answer(sock)
        assert head.startswith(b"HTTP/1.1 413 ") and b"Connection: close" in head


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"\x00\xff garbage\r\n\r\n", 400),
        (b"GET /x HTTP/1.1\r\nno colon here\r\n\r\n", 400),
        (b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400),
        (b"GET /x HTTP/1.1\r\nHost: h\r\nX: " + b"a" * (MAX_HEAD_BYTES + 10), 431),
    ],
)
def test_malformed_requests_get_an_error_and_the_connection_closes(address, request_bytes, status):
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(request_bytes)
        head, body = _read_answer(sock)
        assert head.startswith(f"HTTP/1.1 {status} ".encode()) and list(json.loads(body)) == [
            "error"
        ]
        assert sock.recv(10) == b""
    connection = HTTPConnection(*address, timeout=10)  # the server goes on
    connection.request("GET", "/ok")
    assert connection.getresponse().status == 200
    connection.close()
