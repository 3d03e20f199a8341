"""HTTP to a stack, against a small real HTTP server on loopback: Basic auth and JSON bodies as
the management API takes them, and failures as a short reason (an OSError, as callers expect)."""

import base64
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mafa_cli import http_client


class Handler(BaseHTTPRequestHandler):
    def _answer(self, status: int, body: dict[str, object]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        if self.path == "/down":
            self._answer(503, {})
            return
        self._answer(200, {"authorization": self.headers.get("Authorization")})

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        body = json.loads(self.rfile.read(length))
        self._answer(200, {"got": body, "type": self.headers["Content-Type"]})

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_basic_auth_is_sent(server: str) -> None:
    answer = json.loads(http_client.text(f"{server}/api/queues", 3, auth=("mafa_monitor", "pw")))
    assert answer["authorization"] == "Basic " + base64.b64encode(b"mafa_monitor:pw").decode()


def test_a_body_is_posted_as_json(server: str) -> None:
    answer = json.loads(http_client.text(f"{server}/api/x", 3, body={"count": 5}))
    assert answer == {"got": {"count": 5}, "type": "application/json"}


def test_a_failed_answer_is_an_os_error_with_a_short_reason(server: str) -> None:
    with pytest.raises(OSError, match=r"/down: HTTP 503 Service Unavailable$"):
        http_client.text(f"{server}/down", 3)


def test_no_server_is_cannot_connect() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: refused
        with pytest.raises(http_client.NoAnswer, match="cannot connect"):
            http_client.text(f"http://127.0.0.1:{port}/", 3)
