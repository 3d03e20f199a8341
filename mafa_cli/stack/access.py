"""The CLI's own way into a running stack's parts (PostgreSQL as its superuser, RabbitMQ's
management API, Redis), on the containers' addresses on the stack network, with the project's
secrets. Used by `mafa watch`, `mafa ledger`, `mafa smoke` and `mafa chaos`.
"""

from __future__ import annotations

import base64
import json
import urllib.request
from types import TracebackType
from typing import Any, Self

from mafa_cli.engine.protocol import Engine, Replica, connect_engine
from mafa_cli.errors import NotFound
from mafa_cli.services.db import Database
from mafa_cli.services.names import DEAD_LETTER_QUEUE, WORK_QUEUE
from mafa_cli.services.sessions import SessionCounts, connect
from mafa_cli.services.settings import conninfo
from mafa_cli.state import ProjectState

HTTP_TIMEOUT_S = 3.0


class StackClient:
    def __init__(self, project: str, backend: Engine | None = None) -> None:
        self.project = project
        self.backend = backend or connect_engine()
        known = ProjectState(project).secrets()
        if known is None:
            raise NotFound(
                f"no stack named {project!r} was brought up by mafa here",
                hint="bring it up with `mafa up`, or choose it with --project",
            )
        self._secrets = known
        self._addresses: dict[str, str] = {}
        self._db: Database | None = None
        self._db_host: str | None = None
        self._sessions: SessionCounts | None = None
        self._redis_host: str | None = None

    def refresh(self) -> list[Replica]:
        """The project's containers; also where each service answers now."""
        containers = self.backend.replicas(self.project)
        self._addresses = {c.service: c.ip for c in containers if c.ip and c.state == "running"}
        return containers

    def address(self, service: str) -> str:
        if service not in self._addresses:
            self.refresh()
        address = self._addresses.get(service)
        if not address:
            raise ConnectionError(f"{service} is not running")
        return address

    def database(self) -> Database:
        host = self.address("postgres")
        if self._db is None or host != self._db_host:
            if self._db is not None:
                self._db.close()
            password = self._secrets["MAFA_POSTGRES_PASSWORD"]
            self._db = Database(
                conninfo(host, 5432, "mafa", "postgres", password, "mafa-cli"),
                max_size=2,
                timeout_s=3.0,
            )
            self._db.open()
            self._db_host = host
        return self._db

    def sessions(self) -> SessionCounts:
        host = self.address("redis")
        if self._sessions is None or host != self._redis_host:
            client = connect(host, 6379, self._secrets["MAFA_REDIS_PASSWORD"])
            self._sessions = SessionCounts(client, lifetime_s=60)
            self._redis_host = host
        return self._sessions

    def http_text(self, url: str, auth: tuple[str, str] | None = None, body: Any = None) -> str:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data)  # noqa: S310 (http on the stack network)
        if auth:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as answer:  # noqa: S310
            return str(answer.read().decode("utf-8"))

    def rabbit(self, path: str, body: Any = None) -> Any:
        url = f"http://{self.address('rabbitmq')}:15672/api/{path}"
        return json.loads(
            self.http_text(url, ("mafa", self._secrets["MAFA_RABBITMQ_PASSWORD"]), body)
        )

    def balancer_stats(self) -> str:
        auth = ("mafa_stats", self._secrets["MAFA_HAPROXY_STATS_PASSWORD"])
        return self.http_text(f"http://{self.address('haproxy')}:8404/stats;csv", auth)

    def queue(self, name: str = WORK_QUEUE) -> dict[str, Any]:
        return dict(self.rabbit(f"queues/%2F/{name}"))

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
        if self._db is not None:
            self._db.close()
            self._db = None
