"""The CLI's own way into a running stack's parts (PostgreSQL as its superuser, RabbitMQ's
management API, Redis, HAProxy's stats), with the project's secrets. Used by `mafa watch`,
`mafa ledger`, `mafa smoke` and `mafa chaos`.

The CLI never routes to container addresses (Docker Desktop, rootless Docker and remote engines
do not let it): each part is reached through a port forward over the engine's API (forward.py
says how, and why that is safe). The balancer is reached where it is published when the engine
runs on this host, else through a forward too.
"""

from __future__ import annotations

import json
import socket
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from mafa_cli.engine.protocol import Engine, Replica, connect_engine
from mafa_cli.errors import NotFound
from mafa_cli.services.names import DEAD_LETTER_QUEUE, WORK_QUEUE
from mafa_cli.services.settings import conninfo

if TYPE_CHECKING:
    from mafa_cli.http_client import Session
    from mafa_cli.services.amqp import QueueProbe
    from mafa_cli.services.db import Database
    from mafa_cli.services.sessions import SessionCounts
from mafa_cli.stack.forward import Forward, relay_command
from mafa_cli.state import ProjectState

HTTP_TIMEOUT_S = 3.0
# Where each source the CLI reads answers: (service, port inside its container).
BROKER_API = ("rabbitmq", 15672)
BROKER_AMQP = ("rabbitmq", 5672)
DATABASE = ("postgres", 5432)
SESSIONS = ("redis", 6379)
BALANCER_STATS = ("haproxy", 8404)
SOURCES = (BROKER_API, BROKER_AMQP, DATABASE, SESSIONS, BALANCER_STATS)


class StackClient:
    def __init__(self, project: str, backend: Engine | None = None) -> None:
        self.project = project
        state = ProjectState(project)
        known = state.secrets()
        if known is None:
            raise NotFound(
                f"no stack named {project!r} was brought up by mafa here",
                hint="bring it up with `mafa up`, or choose it with --project",
            )
        # Whether the stack is on a Swarm is in its settings: the engine need not be asked.
        recorded = (state.settings() or {}).get("swarm")
        self.backend = backend or connect_engine(
            swarm=recorded if isinstance(recorded, bool) else None
        )
        self._secrets = known
        self._forwards: dict[tuple[str, int], Forward] = {}
        self._opening = threading.RLock()  # `mafa watch` reads its sources from several threads
        self._opening_db = threading.Lock()
        self._http: dict[str, tuple[Session, threading.Lock]] = {}
        self._db: Database | None = None
        self._sessions: SessionCounts | None = None
        self._probe: QueueProbe | None = None

    def refresh(self) -> list[Replica]:
        """The project's containers."""
        return self.backend.replicas(self.project)

    def _relay(self, service: str, port: int) -> socket.socket:
        running = [r for r in self.backend.replicas(self.project, service) if r.state == "running"]
        if not running:
            raise ConnectionError(f"{service} is not running")
        return self.backend.exec_socket(running[0].id, relay_command(port))

    def endpoint(self, service: str, port: int) -> tuple[str, int]:
        """Where `port` of `service` answers from here: a loopback forward, opened once and kept
        (it finds the service's container afresh for each connection, so restarts are fine)."""
        key = (service, port)
        with self._opening:
            if key not in self._forwards:
                self._forwards[key] = Forward(lambda: self._relay(service, port))
            return "127.0.0.1", self._forwards[key].port

    def database(self) -> Database:
        # Each client library is imported where its source is first read: `mafa watch` reads
        # its sources in threads, so the imports overlap the other sources' I/O.
        from mafa_cli.services.db import Database

        # Its own lock: the first connection is waited for here (up to 3 s when PostgreSQL is
        # down), and the other sources' threads must not wait behind it.
        with self._opening_db:
            if self._db is None:
                host, port = self.endpoint(*DATABASE)
                password = self._secrets["MAFA_POSTGRES_PASSWORD"]
                self._db = Database(
                    conninfo(host, port, "mafa", "postgres", password, "mafa-cli"),
                    max_size=2,
                    timeout_s=3.0,
                )
                try:
                    self._db.open(wait=True)
                except Exception:
                    # A pool that timed out waiting is closed for good (psycopg_pool): the next
                    # read makes a new one rather than failing on this one for the whole command.
                    self._db.close()
                    self._db = None
                    raise
        return self._db

    def sessions(self) -> SessionCounts:
        from mafa_cli.services.sessions import SessionCounts, connect

        with self._opening:
            if self._sessions is None:
                host, port = self.endpoint(*SESSIONS)
                client = connect(host, port, self._secrets["MAFA_REDIS_PASSWORD"])
                self._sessions = SessionCounts(client, lifetime_s=60)
        return self._sessions

    def prepare_sources(self) -> None:
        """Start the relay of each source's first connection now (stack/forward.py), so the
        engine works on them while the caller imports the client libraries."""
        for source in SOURCES:
            self.endpoint(*source)
            with self._opening:
                self._forwards[source].prepare()

    def balancer_url(self, published: str) -> str:
        """`published` (the balancer's published URL) when the engine runs on this host; else a
        forward to the balancer through the API, as for the other parts. (Trying the published
        port would not do: on this host it may be another stack's.)"""
        if self.backend.runs_here():
            return published
        host, port = self.endpoint("haproxy", 8080)
        scheme = published.partition("://")[0] or "http"  # https when the stack is up --tls
        return f"{scheme}://{host}:{port}"

    def http_text(self, url: str, auth: tuple[str, str] | None = None, body: Any = None) -> str:
        """Over one kept connection per address: through a forward each new connection is an
        exec in the container (~0.1 s, and work for the engine at every refresh of `mafa
        watch`); a kept one answers the next request in a few ms. One request at a time each."""
        from mafa_cli import http_client  # requests: imported by the first read, as the others

        where = url.split("/")[2]
        with self._opening:
            if where not in self._http:
                self._http[where] = (http_client.session(), threading.Lock())
            kept, turn = self._http[where]
        with turn:
            return http_client.text(url, HTTP_TIMEOUT_S, auth, body, kept=kept)

    def rabbit(self, path: str, body: Any = None) -> Any:
        host, port = self.endpoint(*BROKER_API)
        url = f"http://{host}:{port}/api/{path}"
        return json.loads(self.http_text(url, self._broker_monitor(), body))

    def _broker_monitor(self) -> tuple[str, str]:
        """The CLI's broker user, for the management API and AMQP alike: it sees queues,
        connections and channels and may read `messages.dead` (the ledger's get-and-requeue),
        nothing more (compose/rabbitmq). The CLI writes nothing to the broker."""
        return "mafa_monitor", self._secrets["MAFA_MONITOR_AMQP_PASSWORD"]

    def balancer_stats(self) -> str:
        host, port = self.endpoint(*BALANCER_STATS)
        auth = ("mafa_stats", self._secrets["MAFA_HAPROXY_STATS_PASSWORD"])
        return self.http_text(f"http://{host}:{port}/stats;csv", auth)

    def queue(self, name: str = WORK_QUEUE) -> dict[str, Any]:
        return dict(self.rabbit(f"queues/%2F/{name}"))

    def queue_depths(self) -> dict[str, tuple[int, int]]:
        """Work and dead-letter queue -> (ready messages, consumers), exact at this moment (a
        passive declare over AMQP, through a forward like the other parts)."""
        from mafa_cli.services.amqp import QueueProbe

        with self._opening:
            if self._probe is None:
                host, port = self.endpoint(*BROKER_AMQP)
                self._probe = QueueProbe(host, port, *self._broker_monitor())
        return self._probe.read((WORK_QUEUE, DEAD_LETTER_QUEUE))

    def dead_lettered(self, limit: int = 1_000_000) -> dict[str, str]:
        """Message id -> why it was dead-lettered, for every message in the dead-letter queue
        (read and put back: that queue has no delivery limit, so nothing moves)."""
        got = self.rabbit(
            f"queues/%2F/{DEAD_LETTER_QUEUE}/get",
            {"count": limit, "ackmode": "ack_requeue_true", "encoding": "auto"},
        )
        parked = {}
        for message in got:
            properties = message.get("properties") or {}
            deaths = (properties.get("headers") or {}).get("x-death") or [{}]
            parked[str(properties.get("message_id"))] = str(deaths[0].get("reason", "unknown"))
        return parked

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        for kept, _ in self._http.values():
            kept.close()
        self._http.clear()
        if self._probe is not None:
            self._probe.close()
            self._probe = None
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._sessions is not None:
            self._sessions.close()
            self._sessions = None
        for forward in self._forwards.values():
            forward.close()
        self._forwards.clear()
