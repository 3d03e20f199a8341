"""Fakes for the unit tests: stand-ins for what needs a Docker engine or a running stack.

FakeEngine is an in-memory `mafa_cli.engine.protocol.Engine`: replicas with health transitions
(a replica with a health check is "starting" for a number of polls, then "healthy"), slow
starts, replicas that never become healthy, and failures on create. Every change is logged in
`calls`, so tests assert on ordering. Time is counted in polls of `replicas()` (what the
scheduler does each round), not in seconds.

FakeStackClient stands in for stack.access.StackClient (RabbitMQ's API, PostgreSQL, Redis,
HAProxy): its answers are plain data, and any source can be made to fail.
"""

from __future__ import annotations

import itertools
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from mafa_cli.engine.protocol import Host, Replica
from mafa_cli.errors import MafaError, NotFound
from mafa_cli.services.names import DEAD_LETTER_QUEUE, WORK_QUEUE
from mafa_cli.stack.compose_model import Service
from mafa_cli.stack.forward import FRAME_HEADER


@dataclass
class _Record:
    id: str
    project: str
    service: str
    number: int
    config_hash: str
    has_healthcheck: bool
    state: str = "created"
    health: str | None = None
    polls_left: int = 0  # polls until healthy, once running
    started_at: datetime | None = None  # its last start
    ip: str = ""
    ports: tuple[str, ...] = ()
    # put_file: path -> (data, mode, owner, the replica's state when it arrived)
    files: dict[str, tuple[bytes, int, str, str]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.project}-{self.service}-{self.number}"


@dataclass
class FakeEngine:
    """An in-memory engine. Knobs (per service name): `slow` polls before healthy, `never_healthy`
    services, `fail_create` errors raised when a replica of that service is created."""

    images: dict[str, dict[str, str]] = field(default_factory=dict)  # reference -> labels
    slow: dict[str, int] = field(default_factory=dict)
    never_healthy: set[str] = field(default_factory=set)
    answers_early: set[str] = field(default_factory=set)
    grace_of_removed: list[float] = field(default_factory=list)  # stop_and_remove's grace_s
    fail_create: dict[str, Exception] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    logs_of: dict[str, list[str]] = field(default_factory=dict)  # replica name -> lines
    # exec_socket: what a relay process answers (its stdout, framed), and where the engine runs.
    exec_answer: bytes = b""
    local: bool = True
    # A Swarm's nodes (none: one engine); replica N of a service runs on node (N-1) mod count.
    nodes: list[Host] = field(default_factory=list)
    host_reads: int = 0
    _records: dict[str, _Record] = field(default_factory=dict)
    _networks: set[str] = field(default_factory=set)
    _volumes: set[str] = field(default_factory=set)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    # images ----------------------------------------------------------------------------------
    def image_id(self, reference: str) -> str | None:
        return f"sha256:{reference}" if reference in self.images else None

    def image_label(self, reference: str, label: str) -> str | None:
        return self.images.get(reference, {}).get(label)

    def build(
        self,
        service: Service,
        on_line: Callable[[str], None],
        labels: dict[str, str],
        context: IO[bytes] | None = None,
    ) -> str:
        self.calls.append(("build", service.image))
        on_line(f"Step 1/1 : FROM for {service.image}")
        self.images[service.image] = dict(labels)
        return f"sha256:{service.image}"

    def pull(self, reference: str) -> str:
        self.calls.append(("pull", reference))
        self.images[reference] = {}
        return f"sha256:{reference}"

    # networks and volumes --------------------------------------------------------------------
    def ensure_network(self, project: str) -> str:
        self._networks.add(f"{project}_default")
        return f"{project}_default"

    def ensure_volume(self, project: str, volume: str) -> str:
        self._volumes.add(f"{project}_{volume}")
        return f"{project}_{volume}"

    def networks(self, project: str) -> list[str]:
        return sorted(n for n in self._networks if n.startswith(f"{project}_"))

    def volumes(self, project: str) -> list[str]:
        return sorted(v for v in self._volumes if v.startswith(f"{project}_"))

    def remove_network(self, name: str) -> None:
        self.calls.append(("remove_network", name))
        self._networks.discard(name)

    def remove_volume(self, name: str) -> None:
        self.calls.append(("remove_volume", name))
        self._volumes.discard(name)

    # replicas --------------------------------------------------------------------------------
    def replicas(self, project: str, service: str | None = None) -> list[Replica]:
        """One poll: time passes for every replica that is starting."""
        for record in list(self._records.values()):
            if record.state == "running" and record.health == "starting":
                if record.service in self.never_healthy:
                    continue
                record.polls_left -= 1
                if record.polls_left <= 0:
                    record.health = "healthy"
        found = [
            self._replica(r)
            for r in list(self._records.values())
            if r.project == project and (service is None or r.service == service)
        ]
        return sorted(found, key=lambda r: (r.service, r.number))

    def _replica(self, record: _Record) -> Replica:
        running = record.state == "running"
        return Replica(
            id=record.id,
            name=record.name,
            service=record.service,
            number=record.number,
            config_hash=record.config_hash,
            state=record.state,
            health=record.health,
            started_at=record.started_at if running else None,
            ports=record.ports if running else (),
            ip=record.ip if running else None,
            node=self.nodes[(record.number - 1) % len(self.nodes)].name if self.nodes else None,
        )

    def create(
        self,
        project: str,
        service: Service,
        number: int,
        config_hash: str,
        network: str,
        labels: dict[str, str],
        start: bool = True,
    ) -> str:
        if service.name in self.fail_create:
            raise self.fail_create[service.name]
        record = _Record(
            id=f"id{next(self._ids):04d}",
            project=project,
            service=service.name,
            number=number,
            config_hash=config_hash,
            has_healthcheck=service.healthcheck is not None,
            ip=f"10.0.0.{len(self._records) + 2}",
            ports=tuple(f"{p.host_ip}:{p.host_port}->{p.container_port}" for p in service.ports),
        )
        if any(r.name == record.name for r in list(self._records.values())):
            raise MafaError(f"a container named {record.name} already exists")
        self._records[record.id] = record
        self.calls.append(("create", record.name))
        if start:
            self.start(record.id)
        return record.id

    def run_in(self, replica_id: str, command: Sequence[str], timeout_s: float = 1.0) -> int:
        """A probe: answers (0) once the replica is healthy, or at once for `answers_early`
        services (a check that passes before Docker's next scheduled one); -1 when not running."""
        record = self._records.get(replica_id)
        if record is None or record.state != "running":
            return -1
        self.calls.append(("probe", record.name))
        if record.service in self.never_healthy:
            return 1
        return 0 if record.health == "healthy" or record.service in self.answers_early else 1

    def put_file(self, replica_id: str, path: str, data: bytes, mode: int, owner: str) -> None:
        record = self._get(replica_id)
        self.calls.append(("put_file", record.name))
        record.files[path] = (data, mode, owner, record.state)  # the state it arrived in

    def start(self, replica_id: str, name: str = "") -> None:
        record = self._get(replica_id)
        self.calls.append(("start", record.name))
        record.state, record.started_at = "running", datetime.now(UTC)
        if record.has_healthcheck:
            record.health = "starting"
            record.polls_left = self.slow.get(record.service, 1)

    def kill(self, replica_id: str) -> None:
        record = self._get(replica_id)
        self.calls.append(("kill", record.name))
        record.state, record.health = "exited", None

    def restart(self, replica_id: str, grace_s: float) -> None:
        self.calls.append(("restart", self._get(replica_id).name))
        self.start(replica_id)

    def stop_and_remove(self, replica_id: str, grace_s: float) -> None:
        record = self._records.pop(replica_id, None)
        if record is not None:
            self.calls.append(("remove", record.name))
            self.grace_of_removed.append(grace_s)

    def stop(self, replica_id: str) -> None:
        """Not in the protocol: a test's way to have a replica exit by itself."""
        self._get(replica_id).state = "exited"

    def exec_socket(self, replica_id: str, command: list[str]) -> socket.socket:
        """One end of a socket pair; the other answers `exec_answer` in Docker's stdout frames."""
        self.calls.append(("exec", self._get(replica_id).name))
        ours, theirs = socket.socketpair()
        with theirs:
            theirs.sendall(FRAME_HEADER.pack(1, len(self.exec_answer)) + self.exec_answer)
        return ours

    def runs_here(self) -> bool:
        return self.local

    def hosts(self) -> list[Host]:
        self.host_reads += 1
        return list(self.nodes)

    def stats_stream(self, replica_id: str) -> Iterator[dict[str, Any]]:
        if replica_id not in self._records:
            return
        yield {
            "cpu_stats": {"cpu_usage": {"total_usage": 2_000}, "system_cpu_usage": 20_000},
            "precpu_stats": {"cpu_usage": {"total_usage": 1_000}, "system_cpu_usage": 10_000},
            "memory_stats": {"usage": 64 * 1024 * 1024, "stats": {}},
        }

    def logs(self, replica_id: str, tail: int | str = "all", follow: bool = False) -> Iterator[str]:
        record = self._get(replica_id)
        lines = self.logs_of.get(record.name, [f"{record.name} says hello"])
        yield from lines if tail == "all" else lines[-int(tail) :]

    def _get(self, replica_id: str) -> _Record:
        if replica_id not in self._records:
            raise NotFound(f"container {replica_id} is gone")
        return self._records[replica_id]


class FakeCursor:
    """Answers the collectors' queries from rows given per query text."""

    def __init__(self, answers: dict[str, list[dict[str, Any]]]) -> None:
        self._answers = answers
        self._last: list[dict[str, Any]] = []

    def execute(self, sql: str, params: Any = None) -> None:
        key = next((k for k in self._answers if k in sql), None)
        self._last = list(self._answers[key]) if key is not None else []

    def fetchall(self) -> list[dict[str, Any]]:
        return self._last

    def fetchone(self) -> dict[str, Any] | None:
        return self._last[0] if self._last else None


class FakeDatabase:
    def __init__(self, answers: dict[str, list[dict[str, Any]]]) -> None:
        self.answers = answers

    @contextmanager
    def transaction(self) -> Iterator[FakeCursor]:
        yield FakeCursor(self.answers)


class FakeSessions:
    def __init__(self, count: int) -> None:
        self.count = count

    def active(self) -> int:
        return self.count


@dataclass
class FakeStackClient:
    """What `mafa watch` reads, as plain data. Name a source in `broken` to make it fail:
    queue, database, sessions, balancer, containers."""

    backend: FakeEngine
    project: str = "fake"
    queues: dict[str, dict[str, Any]] = field(default_factory=dict)
    rabbit_answers: dict[str, Any] = field(default_factory=dict)
    db_answers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    active_sessions: int = 0
    haproxy_csv: str = "# pxname,svname,req_tot,hrsp_5xx,status,addr,stot\n"
    broken: set[str] = field(default_factory=set)
    closed: bool = False

    def _check(self, source: str) -> None:
        if source in self.broken:
            raise ConnectionError(f"{source} is not running")

    def prepare_sources(self) -> None:
        """Nothing to open ahead: the answers are data."""

    def refresh(self) -> list[Replica]:
        self._check("containers")
        return self.backend.replicas(self.project)

    def queue(self, name: str = "messages") -> dict[str, Any]:
        self._check("queue")
        return self.queues.get(name, {})

    def queue_depths(self) -> dict[str, tuple[int, int]]:
        """What a passive declare answers: the queues' ready messages and consumers."""
        self._check("queue")
        depths = {}
        for name in (WORK_QUEUE, DEAD_LETTER_QUEUE):
            figures = self.queues.get(name, {})
            ready = figures.get("messages_ready", figures.get("messages", 0))
            depths[name] = (int(ready or 0), int(figures.get("consumers") or 0))
        return depths

    def rabbit(self, path: str, body: Any = None) -> Any:
        self._check("queue")
        return self.rabbit_answers.get(path.split("?")[0], [])

    def database(self) -> FakeDatabase:
        self._check("database")
        return FakeDatabase(self.db_answers)

    def sessions(self) -> FakeSessions:
        self._check("sessions")
        return FakeSessions(self.active_sessions)

    def balancer_stats(self) -> str:
        self._check("balancer")
        return self.haproxy_csv

    def dead_lettered(self, limit: int = 1_000_000) -> dict[str, str]:
        self._check("queue")
        return {}

    def close(self) -> None:
        self.closed = True
