"""What stands between locust's web UI (`mafa load --web`) and the web pages in the user's own
browser. The UI has no login and listens on the loopback only, but a page from any site can still
send it a form POST (no CORS preflight for a form), or reach it under its own name after a DNS
rebinding: without this, another site could change the users of a run and aim them at any host.

A WSGI middleware (plain WSGI: it wraps locust's Flask app without importing Flask) that turns
away, with 403 and a reason:
- a Host that is not the UI's loopback address (a rebound name);
- an Origin that is not the UI's own (another site's page; mafa's own calls send none);
- a change of the target host through /swarm (the run's host is fixed when `mafa load` starts).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]
LOOPBACK_NAMES = ("127.0.0.1", "localhost")
MAX_FORM_BYTES = 64 * 1024  # /swarm's form is a few fields


def refusal(environ: Environ, port: int, target_host: str) -> str | None:
    """Why this request must be turned away, or None to let it through. May read the body of a
    /swarm form: it is then put back for the app."""
    allowed = {f"{name}:{port}" for name in LOOPBACK_NAMES}
    if environ.get("HTTP_HOST", "") not in allowed:
        return "this UI answers only as 127.0.0.1 or localhost (a rebound name is refused)"
    origin = environ.get("HTTP_ORIGIN")
    if origin is not None and origin not in {f"http://{where}" for where in allowed}:
        return f"requests from another origin ({origin[:80]}) are refused"
    if environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO") == "/swarm":
        host = _form_field(environ, "host")
        if host and host.rstrip("/") != target_host.rstrip("/"):
            return f"the run's host is {target_host}: mafa load fixes it when the run starts"
    return None


def _form_field(environ: Environ, name: str) -> str | None:
    if not str(environ.get("CONTENT_TYPE", "")).startswith("application/x-www-form-urlencoded"):
        return None
    try:
        size = min(int(environ.get("CONTENT_LENGTH") or 0), MAX_FORM_BYTES)
    except ValueError:
        size = 0
    body = environ["wsgi.input"].read(size)
    environ["wsgi.input"] = io.BytesIO(body)  # the app reads the same form
    values = parse_qs(body.decode("utf-8", "replace")).get(name)
    return values[0] if values else None


class LoopbackOnly:
    """Wraps locust's WSGI app; see the module's docstring."""

    def __init__(self, app: WsgiApp, port: int, target_host: str) -> None:
        self._app, self._port, self._target_host = app, port, target_host

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        reason = refusal(environ, self._port, self._target_host)
        if reason is None:
            return self._app(environ, start_response)
        body = f"refused by mafa: {reason}\n".encode()
        start_response(
            "403 Forbidden",
            [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        return [body]
