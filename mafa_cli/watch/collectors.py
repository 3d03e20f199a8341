"""All the I/O of `mafa watch`: one Collector per project reads RabbitMQ's management API,
PostgreSQL's per-node counters, Redis' session count, HAProxy's stats, Docker's container state
and one-shot stats, and the running load's CSV. Each source is read in O(nodes), never
O(messages). A source that fails marks its panel stale with the reason and keeps its last values.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from mafa_cli.errors import NotFound
from mafa_cli.load.plan import read_stats_csv, user_counts
from mafa_cli.load.runner import load_state_file
from mafa_cli.services.db import Database
from mafa_cli.services.sessions import SessionCounts, connect
from mafa_cli.services.settings import conninfo
from mafa_cli.stack import secrets
from mafa_cli.stack.docker_backend import ContainerInfo, DockerBackend
from mafa_cli.watch import parse
from mafa_cli.watch.snapshot import (
    ContainerRow,
    Ledger,
    LoadFigures,
    QueueFigures,
    ReceiverRow,
    SenderRow,
    Snapshot,
)

T = TypeVar("T")
HTTP_TIMEOUT_S = 2.0
RECENT_ATTEMPTS = 200  # mean and p95 handling time are over each node's latest attempts

RECEIVERS_SQL = """
SELECT n.node, n.host, n.handled, n.duplicates, n.failed, n.interrupted, n.redelivered,
       n.redelivered_elsewhere, n.last_seen_at, recent.mean_ms, recent.p95_ms
FROM receiver.nodes n
LEFT JOIN LATERAL (
    SELECT avg(duration_ms) AS mean_ms,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_ms
    FROM (SELECT duration_ms FROM receiver.attempts a
          WHERE a.node = n.node ORDER BY a.id DESC LIMIT %s) latest
) recent ON true
ORDER BY n.node
"""
SENDERS_SQL = "SELECT node, host, accepted FROM sender.nodes ORDER BY node"


class Collector:
    def __init__(self, project: str, backend: DockerBackend | None = None) -> None:
        self.project = project
        self._backend = backend or DockerBackend.connect()
        path = secrets.secrets_file(project)
        if not path.exists():
            raise NotFound(
                f"no stack named {project!r} was brought up by mafa here",
                hint="bring it up with `mafa up`, or choose it with --project",
            )
        self._secrets = secrets.parse_env_file(path.read_text())
        self._db: Database | None = None
        self._db_host: str | None = None
        self._sessions: SessionCounts | None = None
        self._redis_host: str | None = None
        self._samplers = ResourceSamplers(self._backend)
        self._last = Snapshot(project=project, taken_at=datetime.now(UTC))
        self._accepted_before: int | None = None

    # connections, re-made when a container comes back on another address ------------------

    def _database(self, host: str) -> Database:
        if self._db is None or host != self._db_host:
            if self._db is not None:
                self._db.close()
            self._db = Database(
                conninfo(
                    host,
                    5432,
                    "mafa",
                    "postgres",
                    self._secrets["MAFA_POSTGRES_PASSWORD"],
                    "mafa-watch",
                ),
                max_size=2,
                timeout_s=2.0,
            )
            self._db.open()
            self._db_host = host
        return self._db

    def _session_counts(self, host: str) -> SessionCounts:
        if self._sessions is None or host != self._redis_host:
            client = connect(host, 6379, self._secrets["MAFA_REDIS_PASSWORD"])
            self._sessions = SessionCounts(client, lifetime_s=60)
            self._redis_host = host
        return self._sessions

    def close(self) -> None:
        if self._db is not None:
            self._db.close()

    # reading -----------------------------------------------------------------------------------

    def _http_json(self, url: str, password_key: str | None = None) -> Any:
        request = urllib.request.Request(url)  # noqa: S310 (http URL on the stack's network)
        if password_key:
            token = base64.b64encode(f"mafa:{self._secrets[password_key]}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as answer:  # noqa: S310
            body = answer.read().decode("utf-8")
        return json.loads(body) if password_key else body

    def collect(self) -> Snapshot:
        """One snapshot; never raises for a failing source (that panel goes stale)."""
        previous = self._last
        stale: dict[str, str] = {}

        def attempt(panel: str, read: Callable[[], T], fallback: T) -> T:
            try:
                return read()
            except Exception as exc:  # any failure of one source only marks its panel stale
                stale[panel] = f"{type(exc).__name__}: {str(exc)[:120]}"
                return fallback

        no_containers: list[ContainerInfo] = []
        containers = attempt(
            "containers", lambda: self._backend.containers(self.project), no_containers
        )
        ip = {c.service: c.ip for c in containers if c.ip and c.state == "running"}
        by_ip = {c.ip: c for c in containers if c.ip}
        by_host = {c.id[:12]: c.name for c in containers}

        nothing_in_flight: dict[str, int] = {}
        queue, in_flight = attempt(
            "queue", lambda: self._read_queue(ip), (previous.queue, nothing_in_flight)
        )
        receivers, senders_db = attempt(
            "database",
            lambda: self._read_nodes(ip),
            (
                list(previous.receivers),
                [(s.node, s.container, s.accepted) for s in previous.senders],
            ),
        )
        balancer = attempt("balancer", lambda: self._read_balancer(ip), None)
        sessions = attempt(
            "sessions",
            lambda: self._session_counts(self._need(ip, "redis")).active(),
            previous.active_sessions,
        )
        receiver_rows = tuple(
            replace(
                r,
                container=by_host.get(r.container or "", r.container),
                in_flight=in_flight.get(r.node, 0),
            )
            if "database" not in stale
            else r
            for r in receivers
        )
        sender_rows = tuple(self._senders(senders_db, by_host, by_ip, balancer, stale))
        previous_rows = list(previous.containers)
        container_rows = tuple(
            attempt("resources", lambda: self._resources(containers), previous_rows)
        )
        accepted = sum(row.accepted for row in sender_rows)
        at_rest = (
            not {"queue", "database"} & stale.keys()
            and queue.total == 0
            and queue.publish_rate < 0.01
            and queue.deliver_rate < 0.01
            and accepted == self._accepted_before
        )
        self._accepted_before = accepted
        ledger = Ledger(
            accepted=accepted,
            processed=sum(r.handled for r in receiver_rows),
            in_queue=queue.ready,
            in_flight=queue.unacked,
            parked=queue.dead_letters,
            at_rest=at_rest,
        )
        snapshot = Snapshot(
            project=self.project,
            taken_at=datetime.now(UTC),
            queue=queue,
            receivers=receiver_rows,
            senders=sender_rows,
            active_sessions=sessions,
            ledger=ledger,
            containers=container_rows,
            load=attempt("load", self._read_load, None),
            faults=attempt("faults", self._read_faults, previous.faults),
            stale=stale,
        )
        self._last = snapshot
        return snapshot

    @staticmethod
    def _need(ip: dict[str, str], service: str) -> str:
        address = ip.get(service)
        if not address:
            raise ConnectionError(f"{service} is not running")
        return address

    def _read_queue(self, ip: dict[str, str]) -> tuple[QueueFigures, dict[str, int]]:
        base = f"http://{self._need(ip, 'rabbitmq')}:15672/api"
        key = "MAFA_RABBITMQ_PASSWORD"
        work = self._http_json(f"{base}/queues/%2F/messages", key)
        dead = self._http_json(f"{base}/queues/%2F/messages.dead", key)
        connections = self._http_json(f"{base}/connections?columns=name,client_properties", key)
        channels = self._http_json(
            f"{base}/channels?columns=connection_details,messages_unacknowledged", key
        )
        return parse.queue_figures(work, dead), parse.unacked_by_node(connections, channels)

    def _read_nodes(
        self, ip: dict[str, str]
    ) -> tuple[list[ReceiverRow], list[tuple[str, str | None, int]]]:
        db = self._database(self._need(ip, "postgres"))
        with db.transaction() as cur:
            cur.execute(RECEIVERS_SQL, (RECENT_ATTEMPTS,))
            receivers = [
                ReceiverRow(
                    node=r["node"],
                    container=r["host"],  # container id prefix, named by the caller
                    handled=int(r["handled"]),
                    failed=int(r["failed"]),
                    interrupted=int(r["interrupted"]),
                    redelivered=int(r["redelivered"]),
                    redelivered_elsewhere=int(r["redelivered_elsewhere"]),
                    duplicates=int(r["duplicates"]),
                    in_flight=0,
                    mean_ms=None if r["mean_ms"] is None else float(r["mean_ms"]),
                    p95_ms=None if r["p95_ms"] is None else float(r["p95_ms"]),
                    last_seen=r["last_seen_at"],
                )
                for r in cur.fetchall()
            ]
            cur.execute(SENDERS_SQL)
            senders = [(r["node"], r["host"], int(r["accepted"])) for r in cur.fetchall()]
        return receivers, senders

    def _read_balancer(self, ip: dict[str, str]) -> list[parse.BalancerServer]:
        text = self._http_json(f"http://{self._need(ip, 'haproxy')}:8404/stats;csv")
        return parse.haproxy_servers(str(text), "senders")

    @staticmethod
    def _senders(
        rows: list[tuple[str, str | None, int]],
        by_host: dict[str, str],
        by_ip: dict[str, ContainerInfo],
        balancer: list[parse.BalancerServer] | None,
        stale: dict[str, str],
    ) -> list[SenderRow]:
        traffic: dict[str, parse.BalancerServer] = {}
        for server in balancer or []:
            holder = by_ip.get(server.address)
            if holder is not None:
                traffic[holder.name] = server
        result = []
        for node, host, accepted in rows:
            container = by_host.get(host or "", host) if "database" not in stale else host
            served = traffic.get(container or "")
            result.append(
                SenderRow(
                    node=node,
                    container=container,
                    accepted=accepted,
                    requests=served.requests if served else None,
                    errors=served.errors if served else None,
                )
            )
        # Nodes of replicas that are gone stay in the table with their counts, after the live ones.
        live = {c.name for c in by_ip.values()}
        return sorted(result, key=lambda r: (r.container not in live, r.container or r.node))

    def _resources(self, containers: list[ContainerInfo]) -> list[ContainerRow]:
        rows = []
        for c in containers:
            cpu = memory = None
            if c.state == "running":
                self._samplers.follow(c.id)
                sample = self._samplers.latest(c.id)
                if sample is not None:
                    cpu = parse.cpu_percent(
                        parse.cpu_sample(sample, "precpu_stats"), parse.cpu_sample(sample)
                    )
                    memory = parse.memory_mib(sample)
            rows.append(ContainerRow(c.name, c.service, c.state, c.health, cpu, memory))
        return rows

    def _read_load(self) -> LoadFigures | None:
        path = load_state_file(self.project)
        if not path.exists():
            return None
        state = json.loads(path.read_text())
        try:
            os.kill(int(state["pid"]), 0)
        except (OSError, ValueError):
            return None  # that run is over
        report = Path(state["report_dir"])
        stats_file = report / "locust_stats.csv"
        if not stats_file.exists():
            return LoadFigures(state["run_id"], 0, 0.0, 0, 0, 0.0)
        rows = read_stats_csv(stats_file.read_text())
        total = next((r for r in rows if r.name == "Aggregated"), None)
        history = report / "locust_stats_history.csv"
        users = user_counts(history.read_text())[0] if history.exists() else 0
        if total is None:
            return LoadFigures(state["run_id"], users, 0.0, 0, 0, 0.0)
        return LoadFigures(
            state["run_id"], users, total.rps, total.failures, total.requests, total.p95_ms
        )

    def _read_faults(self) -> tuple[str, ...]:
        path = secrets.project_dir(self.project) / "faults.jsonl"
        if not path.exists():
            return ()
        lines = path.read_text().splitlines()[-5:]
        faults = []
        for line in lines:
            fault = json.loads(line)
            faults.append(f"{fault['at'][11:19]} {fault['action']} {fault['target']}")
        return tuple(faults)


class ResourceSamplers:
    """One background thread per running container, keeping the engine's latest resource
    sample (streamed once a second), so a refresh reads memory and CPU without waiting."""

    def __init__(self, backend: DockerBackend) -> None:
        self._backend = backend
        self._latest: dict[str, dict[str, Any]] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    def follow(self, container_id: str) -> None:
        thread = self._threads.get(container_id)
        if thread is not None and thread.is_alive():
            return
        thread = threading.Thread(target=self._pump, args=(container_id,), daemon=True)
        self._threads[container_id] = thread
        thread.start()

    def _pump(self, container_id: str) -> None:
        for sample in self._backend.stats_stream(container_id):
            with self._lock:
                self._latest[container_id] = sample

    def latest(self, container_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._latest.get(container_id)
