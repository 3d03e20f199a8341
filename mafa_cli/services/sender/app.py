"""The sender: the HTML page and form, and the JSON API that programs (the load generator) use.

A message is accepted only once the broker has confirmed it: row written as 'publishing', publish
with confirms, row marked 'accepted', then the answer. If the broker is away the answer is 503
with the reason, and the row says 'failed'.
"""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from mafa_cli.services.amqp import BrokerUnavailable, Publisher, PublishRefused, PublishUncertain
from mafa_cli.services.db import Database, DatabaseUnavailable
from mafa_cli.services.messages import (
    Envelope,
    InvalidInput,
    clean_idempotency_key,
    clean_message,
    clean_run_id,
    parse_form_body,
    parse_json_body,
)
from mafa_cli.services.sender.store import SCHEMA, MessageRow, NodeStats, SenderStore
from mafa_cli.services.sessions import REDIS_ERRORS, SessionCounts, make_client
from mafa_cli.services.settings import ServiceSettings
from mafa_cli.services.slots import keep_slot
from mafa_cli.services.startup import wait_for_dependencies
from mafa_cli.services.web import (
    Blueprint,
    Flask,
    Markup,
    Response,
    flash,
    health,
    jsonify,
    mark_session_kept_alive,
    redirect,
    regenerate_session,
    render_fragment,
    render_template,
    request,
    session,
    session_figures,
    session_id,
    session_kept_alive,
    url_for,
)
from mafa_cli.services.web import (
    create_app as create_web_app,
)

log = logging.getLogger(__name__)
UNAVAILABLE: tuple[type[Exception], ...] = (
    DatabaseUnavailable,
    BrokerUnavailable,
    PublishRefused,
    *REDIS_ERRORS,
)


# The header that carries a client's idempotency key (the IETF draft's name).
KEY_HEADER = "Idempotency-Key"

# How old the page's shared part may get if a messages-version bump was lost (Redis failed
# between a message's commit and its bump); otherwise it is exactly as fresh as the database.
PAGE_MAX_AGE_S = 2.0


@dataclass(frozen=True)
class PageData:
    """What every page view of this node shows alike, read at one messages version."""

    version: int
    read_at: float  # time.monotonic()
    node_stats: NodeStats
    messages: list[MessageRow]


@dataclass(frozen=True)
class Accepted:
    envelope: Envelope
    accepted_at: datetime
    session_messages: int | None
    repeated: bool = False  # a request that repeated an idempotency key: the first's answer


class Sender:
    """What the routes call: accept a message, describe this node. No Flask in here."""

    def __init__(
        self,
        settings: ServiceSettings,
        store: SenderStore,
        publisher: Publisher,
        sessions: SessionCounts,
    ) -> None:
        self.settings = settings
        self.store = store
        self.publisher = publisher
        self.sessions = sessions
        self._page: PageData | None = None  # replaced whole, so threads need no lock

    def accept(
        self, text: str, run_id: str | None, sid: str, renewed: bool, key: str | None = None
    ) -> Accepted:
        """Accept a message from session `sid` (`renewed`: its lifetime was renewed already in
        this request). With an idempotency `key` that names a message already, that message is
        the answer: published again under its own id if the broker may not have it, never a
        second message (the key is unique in PostgreSQL, so it holds when Redis is down and
        across senders)."""
        node = self.settings.node_name
        envelope = Envelope(uuid4(), text, node, run_id, datetime.now(UTC))
        first = self.store.begin(envelope, sid, key)
        if first is None:
            accepted_at = self._publish(envelope)
        else:
            if first.body != text or first.run_id != run_id:
                raise InvalidInput(
                    422, "this Idempotency-Key was used for another message; use a new key"
                )
            first = self.store.repeat(first, request_id=envelope.id)
            envelope = Envelope(first.id, first.body, node, first.run_id, envelope.sent_at)
            if first.status == "accepted" and first.accepted_at is not None:
                return Accepted(envelope, first.accepted_at, None, repeated=True)
            accepted_at = self._publish(envelope)
            return Accepted(envelope, accepted_at, None, repeated=True)
        count: int | None = None
        try:
            count = self.sessions.count_message(sid, renew=not renewed)
        except REDIS_ERRORS:
            log.warning("message %s accepted; session count not updated", envelope.id)
        return Accepted(envelope, accepted_at, count)

    def _publish(self, envelope: Envelope) -> datetime:
        """Publish a message whose row is 'publishing'; when this returns the broker has it."""
        try:
            self.publisher.publish(str(envelope.id), envelope.to_bytes(), envelope.run_id)
        except (BrokerUnavailable, PublishRefused) as exc:
            try:
                self.store.mark_failed(envelope.id, uncertain=isinstance(exc, PublishUncertain))
            except DatabaseUnavailable:
                log.warning("message %s not published and not marked failed", envelope.id)
            raise
        # From here on the broker holds the message: it will be processed, so the answer is
        # "accepted" even if the bookkeeping below (or the session's, web.py) fails: the ledger
        # reads a 'publishing' row whose message was processed as accepted.
        try:
            return self.store.mark_accepted(envelope.id, self.settings.node_name)
        except DatabaseUnavailable:
            log.warning("message %s accepted; its row could not be marked", envelope.id)
            return datetime.now(UTC)

    def page(self, messages_version: int) -> PageData:
        """The page's shared part, read from the database only when a message was accepted
        since the last read (the version moved) or the last read is PAGE_MAX_AGE_S old."""
        page = self._page
        if (
            page is None
            or page.version != messages_version
            or time.monotonic() - page.read_at > PAGE_MAX_AGE_S
        ):
            read_at = time.monotonic()
            node = self.settings.node_name
            page = PageData(
                messages_version, read_at, self.store.node_stats(node), self.store.latest()
            )
            self._page = page
        return page


def _start_session() -> None:
    # A session that holds nothing is not stored; mark it so it is kept and counted.
    session.setdefault("started_at", datetime.now(UTC).isoformat())


def build_blueprints(sender: Sender) -> tuple[Blueprint, Blueprint]:
    pages = Blueprint("sender", __name__)
    api = Blueprint("sender_api", __name__, url_prefix="/api")
    settings = sender.settings

    # The latest-messages table, rendered once per PageData (threads may race to render the
    # same one: harmless, the result is the same).
    rendered: list[tuple[PageData, Markup]] = []

    def latest_table(page: PageData) -> Markup:
        if rendered and rendered[-1][0] is page:
            return rendered[-1][1]
        html = render_fragment("_latest_messages.html", messages=page.messages)
        rendered[:] = [(page, html)]
        return html

    def page_stats() -> tuple[dict[str, Any], PageData]:
        sessions = session_figures(sender.sessions.overview)
        page = sender.page(sessions.messages_version)
        stats = {
            "processed": page.node_stats.accepted,
            "last_at": page.node_stats.last_accepted_at,
            "session_messages": sessions.session_messages,
            "active_sessions": sessions.active_sessions,
        }
        return stats, page

    def accept(text: str, run_id: str | None, key: str | None) -> Accepted:
        _start_session()
        accepted = sender.accept(text, run_id, session_id(), session_kept_alive(), key)
        if accepted.session_messages is not None:  # counted, and so renewed
            mark_session_kept_alive()
        return accepted

    def render_home(status: int = 200, error: str | None = None, draft: str = "") -> Response:
        _start_session()
        stats, page = page_stats()
        html = render_template(
            "sender.html",
            error=error,
            draft=draft,
            max_chars=settings.max_message_bytes,
            stats=stats,
            latest_table=latest_table(page),
            # A fresh idempotency key per rendered form: submitting it twice (a double click, a
            # resend after a timeout) makes one message.
            form_key=uuid4().hex,
        )
        return Response(html, status=status, mimetype="text/html")

    @pages.get("/")
    def home() -> Response:
        return render_home()

    @pages.post("/")
    def submit() -> Response:
        if request.mimetype != "application/x-www-form-urlencoded":
            raise InvalidInput(415, "send the form as application/x-www-form-urlencoded")
        fields = parse_form_body(request.get_data(cache=True))
        try:
            text = clean_message(fields.get("message", []), settings.max_message_bytes)
        except InvalidInput as exc:
            draft = (fields.get("message") or [""])[0][: settings.max_message_bytes]
            return render_home(exc.status, f"Not sent: {exc.reason}.", draft)
        run_id = clean_run_id(request.headers.get("X-Mafa-Run"))
        keys = fields.get("idempotency_key", [])
        if len(keys) > 1:
            raise InvalidInput(422, "the field 'idempotency_key' was sent more than once")
        accepted = accept(text, run_id, clean_idempotency_key(keys[0] if keys else None))
        already = "already " if accepted.repeated else ""
        flash(
            f"Message {already}accepted by {settings.node_name} (id {accepted.envelope.id}).",
            "success",
        )
        # Post/Redirect/Get: a refresh of the page does not send the message again.
        return redirect(url_for("sender.home"), code=303)  # type: ignore[return-value]

    def reset_session() -> None:
        # The old id is retired (its data deleted, its count dropped), never reused.
        sender.sessions.end(session_id())
        _start_session()  # regenerate() only acts on a session that holds something
        regenerate_session()
        session.clear()
        _start_session()

    @pages.post("/session/reset")
    def reset() -> Response:
        reset_session()
        flash("Session reset: a new session has started.", "success")
        return redirect(url_for("sender.home"), code=303)  # type: ignore[return-value]

    @pages.get("/healthz")
    def healthz() -> Response:
        return health(sender.store.ping(), sender.sessions.ping(), settings.node_name)

    @api.before_request
    def json_only() -> None:
        # A cross-site HTML form cannot send application/json without a CORS preflight, so this
        # is what protects the API (which has no CSRF token) from being posted to by other sites.
        if request.method == "POST" and request.mimetype != "application/json":
            raise InvalidInput(415, "send JSON with Content-Type: application/json")

    @api.post("/messages")
    def api_submit() -> Response:
        data = parse_json_body(request.get_data(cache=True))
        raw = data.get("message")
        text = clean_message([] if raw is None else [raw], settings.max_message_bytes)  # type: ignore[list-item]
        run_id = clean_run_id(data.get("run_id") or request.headers.get("X-Mafa-Run"))
        accepted = accept(text, run_id, clean_idempotency_key(request.headers.get(KEY_HEADER)))
        response = jsonify(
            {
                "id": str(accepted.envelope.id),
                "status": "accepted",
                "node": settings.node_name,
                "accepted_at": accepted.accepted_at.isoformat(),
                "session_messages": accepted.session_messages,
                "run_id": accepted.envelope.run_id,
                "repeated": accepted.repeated,
            }
        )
        response.status_code = 202
        return response

    @api.post("/session/reset")
    def api_reset() -> Response:
        reset_session()
        return jsonify({"status": "reset", "session_messages": 0})

    @api.get("/stats")
    def api_stats() -> Response:
        stats, _page = page_stats()
        last = stats["last_at"]
        return jsonify(
            {
                "node": settings.node_name,
                "accepted": stats["processed"],
                "last_accepted_at": last.isoformat() if last else None,
                "session_messages": stats["session_messages"],
                "active_sessions": stats["active_sessions"],
            }
        )

    return pages, api


def create_app(settings: ServiceSettings | None = None) -> Flask:
    """The gunicorn entry point: `mafa_cli.services.sender.app:create_app()`."""
    settings = settings or ServiceSettings.from_env()
    db = Database(settings.db_conninfo, max_size=settings.web_threads + 2)
    redis_client = make_client(settings)
    sessions = SessionCounts(redis_client, settings.session_lifetime_s)
    wait_for_dependencies(settings, db, sessions)
    db.open()
    db.ensure_schema("mafa.schema.sender", SCHEMA, settings.startup_timeout_s)
    store = SenderStore(db)
    store.register_node(settings.node_name, socket.gethostname())
    sender = Sender(settings, store, Publisher(settings), sessions)
    keeper = keep_slot(settings.node_name, redis_client, store)
    app, csrf = create_web_app(
        settings, redis_client, UNAVAILABLE, sessions.touch, sessions.open, lambda: keeper.slot
    )
    pages, api = build_blueprints(sender)
    csrf.exempt(api)
    app.register_blueprint(pages)
    app.register_blueprint(api)
    return app
