"""The receiver's web side (`/received`, the results page) and its consuming threads."""

from __future__ import annotations

import socket
from typing import Any

from mafa_cli.services.db import Database, DatabaseUnavailable
from mafa_cli.services.receiver.store import SCHEMA, ReceiverStore
from mafa_cli.services.receiver.worker import ReceiverWorker
from mafa_cli.services.sessions import REDIS_ERRORS, SessionCounts, make_client
from mafa_cli.services.settings import ServiceSettings
from mafa_cli.services.slots import keep_slot
from mafa_cli.services.startup import wait_for_dependencies
from mafa_cli.services.web import (
    Blueprint,
    Flask,
    Response,
    health,
    jsonify,
    render_template,
    session_figures,
)
from mafa_cli.services.web import (
    create_app as create_web_app,
)

UNAVAILABLE: tuple[type[Exception], ...] = (DatabaseUnavailable, *REDIS_ERRORS)

# The worker of this process, started by gunicorn's post_worker_init hook (gunicorn_conf.py),
# not by create_app: building the app (in tests, say) must not start consuming.
_worker: ReceiverWorker | None = None


def build_blueprint(
    settings: ServiceSettings, store: ReceiverStore, sessions: SessionCounts
) -> Blueprint:
    pages = Blueprint("receiver", __name__)

    def overview() -> dict[str, Any]:
        node_stats, messages = store.page(settings.node_name)
        counts = session_figures(sessions.overview)
        return {
            "stats": {
                "processed": node_stats.handled,
                "last_at": node_stats.last_handled_at,
                "session_messages": counts.session_messages,
                "active_sessions": counts.active_sessions,
            },
            "messages": messages,
        }

    @pages.get("/received")
    @pages.get("/received/")
    def received() -> str:
        return render_template("received.html", error=None, **overview())

    @pages.get("/received/api/stats")
    def stats() -> Response:
        data = overview()["stats"]
        last = data["last_at"]
        return jsonify(
            {
                "node": settings.node_name,
                "handled": data["processed"],
                "last_handled_at": last.isoformat() if last else None,
                "consuming_threads": _worker.consuming if _worker else 0,
            }
        )

    @pages.get("/healthz")
    def healthz() -> Response:
        consuming = _worker is not None and _worker.consuming_at_start() > 0
        return health(store.ping(), sessions.ping(), settings.node_name, consuming=consuming)

    return pages


def create_app(settings: ServiceSettings | None = None) -> Flask:
    """The gunicorn entry point: `mafa_cli.services.receiver.app:create_app()`."""
    global _worker
    settings = settings or ServiceSettings.from_env()
    db = Database(settings.db_conninfo, max_size=settings.web_threads + settings.consumers + 2)
    redis_client = make_client(settings)
    sessions = SessionCounts(redis_client, settings.session_lifetime_s)
    wait_for_dependencies(settings, db, sessions)
    db.open()
    db.ensure_schema("mafa.schema.receiver", SCHEMA, settings.startup_timeout_s)
    store = ReceiverStore(db)
    store.register_node(settings.node_name, socket.gethostname())
    keeper = keep_slot(settings.node_name, redis_client, store)
    app, _csrf = create_web_app(
        settings, redis_client, UNAVAILABLE, sessions.touch, sessions.open, lambda: keeper.slot
    )
    app.register_blueprint(build_blueprint(settings, store, sessions))
    _worker = ReceiverWorker(settings, store)
    return app


def start_consuming() -> None:
    if _worker is not None:
        _worker.start()


def stop_consuming() -> None:
    if _worker is not None:
        _worker.stop()
