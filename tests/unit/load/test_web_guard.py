"""The guard in front of locust's web UI (`mafa load --web`), on a plain WSGI app: what a page
from another site could send is turned away with a reason, mafa's and the UI's own calls pass."""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

import pytest

from mafa_cli.load.web_guard import LoopbackOnly

PORT, TARGET = 8089, "http://127.0.0.1:8080"


def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """locust's app stand-in: echoes the form it reads (so a form read by the guard is kept)."""
    start_response("200 OK", [])
    return [environ["wsgi.input"].read()]


def call(
    path: str = "/swarm", http_host: str = f"127.0.0.1:{PORT}", **form_and_headers: Any
) -> tuple[str, bytes]:
    """A POST to the guarded app: HTTP_* keywords are headers, the others the form's fields."""
    headers = {k: v for k, v in form_and_headers.items() if k.startswith("HTTP_")}
    body = urlencode({k: v for k, v in form_and_headers.items() if k not in headers}).encode()
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "HTTP_HOST": http_host,
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        **headers,
    }
    status: list[str] = []
    answer = b"".join(LoopbackOnly(app, PORT, TARGET)(environ, lambda s, _: status.append(s)))
    return status[0], answer


@pytest.mark.parametrize("host", [f"127.0.0.1:{PORT}", f"localhost:{PORT}"])
def test_the_ui_and_mafa_itself_pass_and_the_app_reads_the_same_form(host: str) -> None:
    status, body = call(http_host=host, user_count=6, HTTP_ORIGIN=f"http://{host}", host=TARGET)
    assert status == "200 OK"
    assert b"user_count=6" in body, "the form the guard read is the app's to read again"
    assert call(user_count=6)[0] == "200 OK", "mafa's own calls send no Origin"


@pytest.mark.parametrize(
    ("request_kwargs", "reason"),
    [
        ({"HTTP_ORIGIN": "http://evil.example"}, b"another origin (http://evil.example)"),
        ({"HTTP_ORIGIN": "null"}, b"another origin (null)"),
        ({"http_host": "evil.example"}, b"rebound name"),
        ({"http_host": f"127.0.0.1:{PORT + 1}"}, b"rebound name"),
        ({"HTTP_REFERER": "http://evil.example/"}, None),
    ],
)
def test_what_another_site_could_send_is_refused(
    request_kwargs: dict[str, Any], reason: bytes | None
) -> None:
    status, body = call(user_count=40, **request_kwargs)
    if reason is None:
        assert status == "200 OK"
    else:
        assert status == "403 Forbidden"
        assert reason in body


def test_the_target_host_cannot_be_changed_mid_run() -> None:
    status, body = call(user_count=6, host="http://127.0.0.1:9")
    assert status == "403 Forbidden"
    assert b"the run's host is http://127.0.0.1:8080" in body
