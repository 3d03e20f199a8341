"""mafa's own message sender against a small real HTTP server on loopback."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mafa_cli.traffic import Traffic


class Handler(BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []  # noqa: RUF012

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Handler.seen.append(body)
        number = int(body["message"].split("#")[1])
        status = 503 if number % 4 == 0 else 202
        payload = json.dumps({"id": f"id-{number}"} if status == 202 else {"reason": "down"})
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Handler.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_a_fixed_number_of_messages(server: str) -> None:
    counts = Traffic(server, "run-x", threads=3, total=40).start().wait()
    assert counts.sent == 40
    assert (counts.accepted, counts.refused, counts.errors) == (30, 10, 0)
    assert sorted(counts.accepted_ids) == sorted(f"id-{n}" for n in range(1, 41) if n % 4)
    assert {b["run_id"] for b in Handler.seen} == {"run-x"}


def test_no_server_counts_as_errors() -> None:
    counts = Traffic("http://127.0.0.1:9", "run-y", threads=1, total=2).start().wait()
    assert counts.errors == 2
    assert counts.accepted == 0
