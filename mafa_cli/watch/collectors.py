"""All the I/O of `mafa watch`: one Collector per project reads RabbitMQ's management API,
PostgreSQL's per-node counters, Redis' session count, HAProxy's stats, Docker's container state
and one-shot stats (on a Swarm: its nodes too), and the running load's CSV. Each source is read
in O(nodes), never O(messages). A source that fails marks its panel stale with the reason and
keeps its last values.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from mafa_cli.engine.protocol import Engine, Replica
from mafa_cli.load.plan import read_stats_csv, user_counts
from mafa_cli.services.names import BALANCER_BACKEND, DEAD_LETTER_QUEUE, WORK_QUEUE
from mafa_cli.stack.access import StackClient
from mafa_cli.state import ProjectState
from mafa_cli.watch import parse
from mafa_cli.watch.snapshot import (
    ContainerRow,
    HostRow,
    LiveBalance,
    LoadFigures,
    QueueFigures,
    ReceiverRow,
    SenderRow,
    Snapshot,
)

T = TypeVar("T")
HTTP_TIMEOUT_S = 2.0
RECENT_ATTEMPTS = 200  # mean and p95 handling time are over each node's latest attempts
REST_AFTER_S = 6.0  # longer than the broker's 5 s sampling of queue figures
# A sender's row as read from the database: node, host, accepted, colour slot.
SenderNode = tuple[str, str | None, int, int | None]
RATE_WINDOW_S = 5.0  # rates over at least this long: the broker's totals move in 5 s steps
# The sources are read at the same time, each over its own forward (a Docker exec per new
# connection, 70-140 ms, then the source's own answer): one refresh then costs the slowest
# source, not their sum (1.5-5 s one after the other under load). The queue's AMQP probe runs
# in the pool too while its source waits on it: 4 + 1 workers, never starved.
READERS = 5

RECEIVERS_SQL = """
SELECT node, host, handled, duplicates, failed, interrupted, redelivered, redelivered_elsewhere,
       last_seen_at, slot
FROM receiver.nodes ORDER BY node
"""
# One query per node, with the node as a parameter: PostgreSQL then plans it with that node's
# own figures and walks the (node, id) index. (As one LATERAL join it chose the primary key for
# every node, and read the whole table for an idle one: 0.3-0.5 s at a million attempts.)
RECENT_SQL = """
SELECT avg(duration_ms) AS mean_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_ms
FROM (SELECT duration_ms FROM receiver.attempts
      WHERE node = %s ORDER BY node, id DESC LIMIT %s) latest
"""
# slot: the colour slot each node claimed (services/slots.py), NULL while it holds none.
SENDERS_SQL = "SELECT node, host, accepted, slot FROM sender.nodes ORDER BY node"


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


class Collector:
    def __init__(self, project: str, client: StackClient | None = None) -> None:
        self.project = project
        self._client = client or StackClient(project)
        self._state = ProjectState(project)
        self._samplers = ResourceSamplers(self._client.backend)
        self._last = Snapshot(project=project, taken_at=datetime.now(UTC))
        self._counts_before: tuple[int, int] | None = None
        self._changed_at = datetime.now(UTC)
        self._queue_readings: deque[tuple[datetime, QueueFigures]] = deque(maxlen=30)
        self._readers = ThreadPoolExecutor(READERS, thread_name_prefix="mafa-watch-read")
        self._client.prepare_sources()  # the engine opens their relays while we import

    @property
    def client(self) -> StackClient:
        """The way into the stack, shared with the dashboard's actions."""
        return self._client

    def close(self) -> None:
        self._readers.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    def collect(self, follow_resources: bool = True) -> Snapshot:
        """One snapshot; never raises for a failing source (that panel goes stale).
        `follow_resources=False` starts no resource streams: for a one-off reading, which would
        end before their first sample (the engine's next 1 s tick) and only pay their cost."""
        previous = self._last
        stale: dict[str, str] = {}

        def attempt(panel: str, read: Callable[[], T], fallback: T) -> T:
            try:
                return read()
            except Exception as exc:  # any failure of one source only marks its panel stale
                stale[panel] = f"{type(exc).__name__}: {str(exc)[:120]}"
                return fallback

        no_containers: list[Replica] = []
        containers = attempt("containers", self._client.refresh, no_containers)
        by_ip = {c.ip: c for c in containers if c.ip}
        by_host = {c.id[:12]: c.name for c in containers}
        if follow_resources:
            self._follow(containers)  # resource samples stream in while the sources are read

        def later(panel: str, read: Callable[[], T], fallback: T) -> Future[T]:
            return self._readers.submit(attempt, panel, read, fallback)

        nothing_in_flight: dict[str, int] = {}
        queue_read = later("queue", self._read_queue, (previous.queue, nothing_in_flight))
        nodes_read = later(
            "database",
            self._read_nodes,
            (
                list(previous.receivers),
                [(s.node, s.container, s.accepted, s.slot) for s in previous.senders],
            ),
        )
        balancer_read = later("balancer", self._read_balancer, None)
        # The hosts only where replicas run on several (a Swarm's tasks name their node): one
        # engine reads nothing more. A failed container read keeps the hosts last shown.
        hosts_read = None
        if any(c.node for c in containers):
            hosts_read = later(
                "hosts",
                lambda: parse.host_rows(self._client.backend.hosts(), containers),
                previous.hosts,
            )
        sessions_read = later(
            "sessions", lambda: self._client.sessions().active(), previous.active_sessions
        )
        queue, in_flight = queue_read.result()
        receivers, senders_db = nodes_read.result()
        balancer = balancer_read.result()
        sessions = sessions_read.result()
        hosts: tuple[HostRow, ...] = previous.hosts if "containers" in stale else ()
        if hosts_read is not None:
            hosts = hosts_read.result()
        now = datetime.now(UTC)
        if "queue" not in stale:
            queue = self._rates(now, queue)
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
        receiver_rows, sender_rows = _with_hosts(receiver_rows, sender_rows, containers, previous)
        previous_rows = list(previous.containers)
        container_rows = tuple(
            attempt("resources", lambda: self._resources(containers), previous_rows)
        )
        accepted = sum(row.accepted for row in sender_rows)
        processed = sum(r.handled for r in receiver_rows)
        if (accepted, processed) != self._counts_before:
            self._counts_before, self._changed_at = (accepted, processed), now
        # At rest: nothing queued, and no message accepted or processed for longer than the
        # broker's figures lag (they are aggregated in 5 s samples): only then do the database's
        # and the broker's figures describe the same moment, and `lost` can be claimed.
        read_both = not {"queue", "database"} & stale.keys()
        quiet = queue.total == 0 and (now - self._changed_at).total_seconds() >= REST_AFTER_S
        # Or balanced now: nothing ready (read exactly over AMQP) and every accepted message
        # processed or parked, so nothing can be in flight whatever the sampled unacked says.
        # A quiet stack is then at rest at its first reading: `--once` answers at once.
        balanced = queue.ready == 0 and accepted == processed + queue.dead_letters
        at_rest = read_both and (quiet or balanced)
        ledger = LiveBalance(
            accepted=accepted,
            processed=processed,
            in_queue=queue.ready,
            in_flight=0 if read_both and balanced else queue.unacked,
            parked=queue.dead_letters,
            at_rest=at_rest,
        )
        snapshot = Snapshot(
            project=self.project,
            taken_at=now,
            queue=queue,
            receivers=receiver_rows,
            senders=sender_rows,
            active_sessions=sessions,
            ledger=ledger,
            containers=container_rows,
            hosts=hosts,
            load=attempt("load", lambda: self._read_load(previous.load), previous.load),
            faults=attempt("faults", self._read_faults, previous.faults),
            stale=stale,
        )
        self._last = snapshot
        return snapshot

    def _rates(self, now: datetime, queue: QueueFigures) -> QueueFigures:
        """Rates from the change of the broker's totals over the last RATE_WINDOW_S or more."""
        self._queue_readings.append((now, queue))
        base = None
        for at, figures in self._queue_readings:
            if (now - at).total_seconds() >= RATE_WINDOW_S:
                base = (at, figures)
        if base is None:
            base = self._queue_readings[0]
        elapsed = (now - base[0]).total_seconds()
        return parse.with_rates(queue, base[1] if elapsed > 0 else None, elapsed)

    def _read_queue(self) -> tuple[QueueFigures, dict[str, int]]:
        """Totals (for rates) and per-node unacked counts from the management API; the queue's
        depth and consumers exact from AMQP, so the depth chart moves at every refresh."""
        # The exact depths over AMQP meanwhile; the management API's four answers one after
        # the other over its one kept connection (faster than four new ones: access.py).
        exact = self._readers.submit(self._client.queue_depths)
        try:
            work = self._client.queue(WORK_QUEUE)
            dead = self._client.queue(DEAD_LETTER_QUEUE)
            connections = self._client.rabbit("connections?columns=name,client_properties")
            channels = self._client.rabbit(
                "channels?columns=connection_details,messages_unacknowledged"
            )
        except Exception:
            # The probe's one connection serves one reader at a time (pika): let this read end
            # before the next refresh can start another.
            wait([exact])
            raise
        figures = parse.queue_figures(work, dead)
        depths = exact.result()
        figures = replace(
            figures,
            ready=depths[WORK_QUEUE][0],
            consumers=depths[WORK_QUEUE][1],
            dead_letters=depths[DEAD_LETTER_QUEUE][0],
        )
        return figures, parse.unacked_by_node(connections, channels)

    def _read_nodes(self) -> tuple[list[ReceiverRow], list[SenderNode]]:
        with self._client.database().transaction() as cur:
            cur.execute(RECEIVERS_SQL)
            nodes = cur.fetchall()
            receivers = []
            for r in nodes:
                cur.execute(RECENT_SQL, (r["node"], RECENT_ATTEMPTS))
                recent = cur.fetchone() or {}
                receivers.append(
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
                        mean_ms=_float(recent.get("mean_ms")),
                        p95_ms=_float(recent.get("p95_ms")),
                        last_seen=r["last_seen_at"],
                        slot=r["slot"],
                    )
                )
            cur.execute(SENDERS_SQL)
            senders = [
                (r["node"], r["host"], int(r["accepted"]), r["slot"]) for r in cur.fetchall()
            ]
        return receivers, senders

    def _read_balancer(self) -> list[parse.BalancerServer]:
        return parse.haproxy_servers(self._client.balancer_stats(), BALANCER_BACKEND)

    @staticmethod
    def _senders(
        rows: list[SenderNode],
        by_host: dict[str, str],
        by_ip: dict[str, Replica],
        balancer: list[parse.BalancerServer] | None,
        stale: dict[str, str],
    ) -> list[SenderRow]:
        traffic: dict[str, parse.BalancerServer] = {}
        for server in balancer or []:
            holder = by_ip.get(server.address)
            if holder is not None:
                traffic[holder.name] = server
        result = []
        for node, host, accepted, slot in rows:
            container = by_host.get(host or "", host) if "database" not in stale else host
            served = traffic.get(container or "")
            result.append(
                SenderRow(
                    node=node,
                    container=container,
                    accepted=accepted,
                    requests=served.requests if served else None,
                    errors=served.errors if served else None,
                    slot=slot,
                )
            )
        # Nodes of replicas that are gone stay in the table with their counts, after the live ones.
        live = {c.name for c in by_ip.values()}
        return sorted(result, key=lambda r: (r.container not in live, r.container or r.node))

    def _follow(self, containers: list[Replica]) -> None:
        for c in containers:
            if c.state == "running":
                self._samplers.follow(c.id)

    def _resources(self, containers: list[Replica]) -> list[ContainerRow]:
        rows = []
        for c in containers:
            cpu = memory = None
            if c.state == "running":
                sample = self._samplers.latest(c.id)
                if sample is not None:
                    cpu = parse.cpu_percent(
                        parse.cpu_sample(sample, "precpu_stats"), parse.cpu_sample(sample)
                    )
                    memory = parse.memory_mib(sample)
            rows.append(ContainerRow(c.name, c.service, c.state, c.health, cpu, memory))
        return rows

    def _read_load(self, previous: LoadFigures | None) -> LoadFigures | None:
        running = self._state.running_load()
        if running is None:
            return None
        stats_file = running.report_dir / "locust_stats.csv"
        if not stats_file.exists():
            return LoadFigures(running.run_id, 0, 0.0, 0, 0, 0.0)
        rows = read_stats_csv(stats_file.read_text())
        total = next((r for r in rows if r.name == "Aggregated"), None)
        history = running.report_dir / "locust_stats_history.csv"
        users = user_counts(history.read_text())[0] if history.exists() else 0
        if total is None and previous is not None and previous.run_id == running.run_id:
            # locust rewrites the file in place: read between its truncate and its write, it
            # holds no total. The last one stands (a total falling to 0 would be a counter
            # reset to Prometheus, and a dip on the dashboard).
            return previous
        if total is None:
            return LoadFigures(running.run_id, users, 0.0, 0, 0, 0.0)
        return LoadFigures(
            running.run_id, users, total.rps, total.failures, total.requests, total.p95_ms
        )

    def _read_faults(self) -> tuple[str, ...]:
        return tuple(event.line() for event in self._state.recent_events())


def _with_hosts(
    receivers: tuple[ReceiverRow, ...],
    senders: tuple[SenderRow, ...],
    replicas: list[Replica],
    previous: Snapshot,
) -> tuple[tuple[ReceiverRow, ...], tuple[SenderRow, ...]]:
    """Each row's host: its replica's node, or, for a replica gone, the host it was last seen
    on (where a node fault took it). Nothing changes on one engine (no replica has a node)."""
    node_of = {c.name: c.node for c in replicas if c.node}
    if not node_of and not previous.hosts:
        return receivers, senders
    known = {r.node: r.host for r in previous.receivers if r.host}
    known.update((s.node, s.host) for s in previous.senders if s.host)

    def host(node: str, container: str | None) -> str | None:
        return node_of.get(container or "", known.get(node))

    return (
        tuple(replace(r, host=host(r.node, r.container)) for r in receivers),
        tuple(replace(s, host=host(s.node, s.container)) for s in senders),
    )


class ResourceSamplers:
    """One background thread per running container, keeping the engine's latest resource
    sample (streamed once a second), so a refresh reads memory and CPU without waiting."""

    def __init__(self, backend: Engine) -> None:
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
