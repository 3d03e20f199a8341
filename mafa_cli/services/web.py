"""The web side shared by both services: the Flask app with server-side sessions in Redis
(Flask-Session, one cookie for both services), CSRF protection (Flask-WTF), security headers and
error pages that never leak a traceback.

The only module that imports flask, flask_session and flask_wtf; the services' route modules
take what they need from here.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    get_flashed_messages,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SessionInterface, SessionMixin
from flask_session.redis import RedisSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf
from markupsafe import Markup
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.middleware.proxy_fix import ProxyFix

from mafa_cli.services.messages import InvalidInput
from mafa_cli.services.nodes import colour_class
from mafa_cli.services.sessions import SESSION_KEY_PREFIX
from mafa_cli.services.settings import ServiceSettings

__all__ = [
    "Blueprint",
    "Flask",
    "Markup",
    "Response",
    "create_app",
    "flash",
    "get_flashed_messages",
    "health",
    "jsonify",
    "mark_session_kept_alive",
    "redirect",
    "regenerate_session",
    "render_fragment",
    "render_template",
    "request",
    "session",
    "session_figures",
    "session_id",
    "session_kept_alive",
    "url_for",
]

log = logging.getLogger(__name__)
Figures = TypeVar("Figures")
HERE = Path(__file__).parent

# Only the stack's own assets: no CDN, no inline script or style (the node colours are classes).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def wants_json() -> bool:
    return request.path.startswith(("/api/", "/received/api/")) or request.path == "/healthz"


def error_response(status: int, reason: str) -> Response:
    """A 4xx/5xx answer with a reason: JSON for programs, a plain page for people."""
    if wants_json():
        response = jsonify({"error": status, "reason": reason})
    else:
        response = Response(
            render_template("error.html", status=status, reason=reason), mimetype="text/html"
        )
    response.status_code = status
    return response


class _GuardedSessions(SessionInterface):
    """Flask-Session's Redis interface, with Redis being down turned into a clean 503: the
    session is replaced by Flask's null session (so nothing tries to save it) and the error is
    raised again from a before_request hook, where the error handlers see it."""

    def __init__(self, inner: SessionInterface, unavailable: tuple[type[BaseException], ...]):
        self._inner = inner
        self._unavailable = unavailable

    def open_session(self, app: Flask, request: Any) -> SessionMixin | None:
        try:
            return self._inner.open_session(app, request)
        except self._unavailable as exc:
            request.environ["mafa.session_error"] = exc
            return self.make_null_session(app)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        # The rule: the answer a route gave stands, whatever happens to the session afterwards.
        # A message the broker confirmed is accepted; failing to store its session must not turn
        # that into a 503 (a client would retry and make a second message).
        if self.is_null_session(session):
            return
        try:
            self._inner.save_session(app, session, response)
        except self._unavailable as exc:
            log.warning("session not saved, answer kept: %r", exc)

    def regenerate(self, session: SessionMixin) -> None:
        self._inner.regenerate(session)  # type: ignore[attr-defined]


class _PrefetchingRedisSessions(RedisSessionInterface):  # type: ignore[misc]
    """Flask-Session's Redis store, reading a session through `open_data(sid)`: the one round
    trip that loads it also renews it and fetches the page's session figures, which the route
    takes with `session_figures()` instead of asking Redis again."""

    def __init__(
        self,
        app: Flask,
        client: Any,
        open_data: Callable[[str, bool], tuple[bytes | None, Any]],
        key_prefix: str,
    ) -> None:
        super().__init__(
            app,
            client=client,
            key_prefix=key_prefix,
            use_signer=False,
            permanent=False,
            serialization_format="json",
        )
        self._open_data = open_data

    def get_cookie_secure(self, app: Flask) -> bool:
        # Secure when the page was served over HTTPS (TLS ended in front of the balancer, which
        # says so in X-Forwarded-Proto; it drops any such header from clients).
        return bool(request.is_secure)

    def _retrieve_session_data(self, store_id: str) -> dict[str, Any] | None:
        # Pages (GET) show the session's figures; a POST only needs the session renewed.
        with_figures = request.method in ("GET", "HEAD")
        data, figures = self._open_data(store_id.removeprefix(self.key_prefix), with_figures)
        if data is None:
            return None
        if figures is not None:
            request.environ[_PREFETCHED] = figures
        request.environ[_KEPT_ALIVE] = True
        decoded: dict[str, Any] = self.serializer.decode(data)
        return decoded


def read_whole_body(environ: dict[str, Any], limit: int) -> None:
    """Make a chunked body (no Content-Length) look like a sized one, refusing it with 413 when
    it is over `limit`. Werkzeug would silently cut a chunked body at the limit and parse the
    rest as if it were whole. Sized bodies over the limit get Werkzeug's own 413 unread."""
    if (
        environ.get("CONTENT_LENGTH")
        or "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    ):
        return
    body = environ["wsgi.input"].read(limit + 1)
    if len(body) > limit:
        raise InvalidInput(413, f"the body is over {limit} bytes")
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))


def session_figures(read: Callable[[str], Figures]) -> Figures:
    """The session's figures for a page: those `open_data` brought with the session's data, or
    `read(sid)` (which renews the session) for a session that was new in this request."""
    figures: Figures | None = request.environ.get(_PREFETCHED)
    if figures is None:
        figures = read(session_id())
        mark_session_kept_alive()
    return figures


def regenerate_session() -> None:
    """A new session id for the current session (after a reset), old data deleted."""
    current_app.session_interface.regenerate(session)  # type: ignore[attr-defined]
    # What was read and renewed belonged to the old id.
    request.environ.pop(_PREFETCHED, None)
    request.environ.pop(_KEPT_ALIVE, None)


def health(db_ok: bool, redis_ok: bool, node: str, **extra: bool) -> Response:
    checks = {"database": db_ok, "redis": redis_ok, **extra}
    response = jsonify({"node": node, "ok": all(checks.values()), "checks": checks})
    response.status_code = 200 if all(checks.values()) else 503
    return response


def render_fragment(template: str, **context: Any) -> Markup:
    """A template rendered into a piece of HTML that another template includes as is (it was
    escaped when rendered)."""
    return Markup(render_template(template, **context))  # noqa: S704 (autoescaped template)


# The signed form of each session's CSRF token, so a page view does not sign it again (with
# WTF_CSRF_TIME_LIMIT None a signed token is valid as long as its session; each session has its
# own raw token, so nothing is shared between sessions). Bounded: emptied when full.
_SIGNED_CSRF: dict[str, str] = {}
_SIGNED_CSRF_MAX = 10_000


def _signed_csrf_token() -> str:
    raw = session.get("csrf_token")
    signed = _SIGNED_CSRF.get(raw) if isinstance(raw, str) else None
    if signed is None:
        signed = str(generate_csrf())
        if len(_SIGNED_CSRF) >= _SIGNED_CSRF_MAX:
            _SIGNED_CSRF.clear()
        _SIGNED_CSRF[session["csrf_token"]] = signed
    return signed


_KEPT_ALIVE = "mafa.session_kept_alive"
_PREFETCHED = "mafa.session_figures"


def session_kept_alive() -> bool:
    """Has this request renewed its session already (when it was opened, say)?"""
    return bool(request.environ.get(_KEPT_ALIVE))


def mark_session_kept_alive() -> None:
    """Say that this request has renewed its session already (sessions.SessionCounts did, with
    its own reads), so the after-request hook does not do it again."""
    request.environ[_KEPT_ALIVE] = True


def session_id() -> str:
    """The server-side session id (Flask-Session's `sid`)."""
    return str(session.sid)  # type: ignore[attr-defined]


def create_app(
    settings: ServiceSettings,
    redis_client: Any,
    unavailable: tuple[type[BaseException], ...],
    on_session_saved: Callable[[str], None],
    open_session_data: Callable[[str, bool], tuple[bytes | None, Any]],
    node_slot: Callable[[], int | None] = lambda: None,
) -> tuple[Flask, CSRFProtect]:
    """The Flask app both services build on.

    `unavailable` lists the exceptions that mean a dependency is down (answered 503 with the
    reason instead of 500). `on_session_saved(sid)` is called for every request that keeps a
    session and has not renewed it yet, so the active-session count follows the sessions'
    lifetime. `open_session_data(sid)` reads a stored session (see _PrefetchingRedisSessions).
    """
    app = Flask(
        "mafa_cli.services",
        static_folder=str(HERE / "static"),
        template_folder=str(HERE / "templates"),
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        # The server keeps a session for a lifetime after its last request (sessions.py renews it
        # in the round trip that reads it); the cookie lasts as long as the browser session
        # (not permanent). So Flask-Session writes the data only when it changed.
        SESSION_REFRESH_EACH_REQUEST=False,
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=settings.session_lifetime_s),
        SESSION_COOKIE_NAME="mafa_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # A body larger than this is refused (413) before it is read. Room for a full-size
        # message percent-encoded three times over, plus the other fields.
        MAX_CONTENT_LENGTH=settings.max_message_bytes * 3 + 4096,
        MAX_FORM_PARTS=50,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session that holds it
    )
    app.jinja_env.globals["colour_class"] = colour_class
    app.jinja_env.globals["node_slot"] = node_slot  # this node's colour slot (slots.py), in memory
    app.jinja_env.globals["node_name"] = settings.node_name

    @app.before_request
    def session_store_down() -> None:
        error = request.environ.get("mafa.session_error")
        if error is not None:
            raise error

    @app.before_request
    def keep_raw_body() -> None:
        # Cache the raw body before anything parses it, so form input can be decoded strictly
        # (messages.parse_form_body) after CSRF has read its token from the same bytes.
        if request.method == "POST":
            read_whole_body(request.environ, app.config["MAX_CONTENT_LENGTH"])
            request.get_data(cache=True)

    inner = _PrefetchingRedisSessions(app, redis_client, open_session_data, SESSION_KEY_PREFIX)
    app.session_interface = _GuardedSessions(inner, unavailable)
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=0, x_proto=1, x_host=0)  # type: ignore[method-assign]
    csrf = CSRFProtect(app)
    # Flask-WTF offers csrf_token() to templates as a global and through a context processor;
    # this processor runs after its one, so templates get the cached signature.
    app.jinja_env.globals["csrf_token"] = _signed_csrf_token
    app.context_processor(lambda: {"csrf_token": _signed_csrf_token})

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Mafa-Node"] = settings.node_name
        # A session that is kept (it holds something) counts as active; renewed here unless the
        # route already did it in its own round trip.
        if session and not session_kept_alive():
            try:
                on_session_saved(session_id())
            except unavailable as exc:
                log.warning("session count not updated: %r", exc)
        return response

    @app.errorhandler(InvalidInput)
    def invalid_input(exc: InvalidInput) -> Response:
        return error_response(exc.status, exc.reason)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Response:
        return error_response(400, f"refused: {exc.description} Reload the page and try again.")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        if isinstance(exc, InternalServerError):
            return server_error(exc)
        return error_response(exc.code or 400, exc.description or exc.name)

    @app.errorhandler(InternalServerError)
    def server_error(exc: InternalServerError) -> Response:
        original = exc.original_exception
        if isinstance(original, unavailable):
            reason = f"a dependency is unavailable: {original}"
            if type(original).__name__ == "PublishUncertain":
                reason += ". The message may or may not be processed: the broker did not confirm it"
            return error_response(503, reason)
        log.error("unhandled error", exc_info=original)
        return error_response(500, "internal error (logged on the node)")

    return app, csrf
