"""`mafa watch --metrics`: the dashboard's latest snapshot served to Prometheus (text format, or
OpenMetrics when the scraper asks for it), with prometheus_client (imported here only).

A scrape never reads the stack: it renders the snapshot the watch loop took last, so what
Prometheus stores is exactly what the dashboard, `--json` and `--record` show (the snapshot's
time is `mafa_snapshot_timestamp_seconds`, its number `mafa_snapshots_total`), and scraping
often costs the stack nothing. Names follow Prometheus' conventions: counters end in `_total`,
durations are in seconds, every sample carries the project.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mafa_cli.config import LOOPBACK
from mafa_cli.errors import Conflict, UsageError
from mafa_cli.watch.snapshot import (
    ContainerRow,
    LiveBalance,
    LoadFigures,
    QueueFigures,
    ReceiverRow,
    SenderRow,
    Snapshot,
)

Gauge, Counter = GaugeMetricFamily, CounterMetricFamily
Family = type[GaugeMetricFamily] | type[CounterMetricFamily]
Sample = tuple[str, float | None]  # a label's value, the sample's value
DEFAULT_PORT = 9464  # the port OpenTelemetry's Prometheus exporters use by convention

# Field of QueueFigures -> help. Gauges: what the queue holds now.
QUEUE_GAUGES = {
    "ready": "Messages ready in the work queue (read exactly, by a passive declare).",
    "unacked": "Messages delivered to a receiver and not yet settled.",
    "consumers": "Consumers of the work queue.",
    "dead_letters": "Messages parked in the dead-letter queue.",
}
# The broker's running totals, by operation (a counter each: use rate() on them).
QUEUE_TOTALS = ("published", "delivered", "acked", "redelivered")
# The dashboard's own rates, as it shows them (over at least 5 s: the broker samples that often).
QUEUE_RATES = {
    "publish": "publish_rate",
    "deliver": "deliver_rate",
    "ack": "ack_rate",
    "redeliver": "redeliver_rate",
}
RECEIVER_TOTALS = {
    "handled": "Messages whose effects this receiver committed.",
    "failed": "Attempts that failed on this receiver (the message went back to the queue).",
    "interrupted": "Attempts interrupted on this receiver (it stopped or lost the broker).",
    "redelivered": "Redeliveries this receiver got.",
    "redelivered_elsewhere": "Attempts here that followed a failed attempt on another node.",
    "duplicates": "Deliveries here whose effects were already committed (idempotent: no effect).",
}
LEDGER_FIGURES = {
    "accepted": "Messages accepted (confirmed by the broker).",
    "processed": "Messages processed (effects committed).",
    "in_queue": "Messages ready in the queue.",
    "in_flight": "Messages delivered, not yet settled.",
    "parked": "Messages dead-lettered.",
    "unaccounted": "accepted - processed - queued - in flight - parked (in transit while moving).",
}


@dataclass(frozen=True)
class ListenAddress:
    host: str
    port: int

    @property
    def loopback(self) -> bool:
        return self.host == "localhost" or ipaddress.ip_address(self.host).is_loopback


def parse_address(value: str) -> ListenAddress:
    """`[HOST:]PORT` (IPv6 as `[::1]:9464`); the host 127.0.0.1 unless given; port 0: any free."""
    host, sep, port_text = value.rpartition(":")
    host = host.strip("[]") if sep else LOOPBACK
    hint = f"e.g. --metrics {LOOPBACK}:{DEFAULT_PORT}, or :0 for any free port"
    try:
        port = int(port_text)
        if host != "localhost":
            ipaddress.ip_address(host or LOOPBACK)
    except ValueError:
        raise UsageError(f"--metrics {value!r} is not HOST:PORT", hint=hint) from None
    if not 0 <= port <= 65535:
        raise UsageError(f"--metrics port {port} is out of range", hint=hint)
    return ListenAddress(host or LOOPBACK, port)


class _Families:
    """Metric families being built; every sample is labelled with the project, and a sample
    whose value is None (not known yet: a node with no timings) is left out."""

    def __init__(self, project: str) -> None:
        self.project = project
        self.built: list[Metric] = []

    def add(self, kind: Family, name: str, doc: str, label: str, samples: Iterable[Sample]) -> None:
        family = kind(name, doc, labels=["project", label])
        for label_value, value in samples:
            if value is not None:
                family.add_metric([self.project, label_value], value)
        self.built.append(family)

    def one(self, kind: Family, name: str, doc: str, value: float | None) -> None:
        family = kind(name, doc, labels=["project"])
        if value is not None:
            family.add_metric([self.project], value)
        self.built.append(family)


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000


def families(snapshot: Snapshot, sequence: int) -> list[Metric]:
    """The snapshot as metric families (pure: what a scrape renders)."""
    out = _Families(snapshot.project)
    out.one(Counter, "mafa_snapshots", "Snapshots this mafa watch has taken.", sequence)
    out.one(
        Gauge,
        "mafa_snapshot_timestamp_seconds",
        "When the snapshot served was taken (Unix time).",
        snapshot.taken_at.timestamp(),
    )
    out.add(
        Gauge,
        "mafa_source_stale",
        "1: this source's last read failed (its figures are the last good ones).",
        "source",
        ((source, 1) for source in sorted(snapshot.stale)),
    )
    _queue(out, snapshot.queue)
    _receivers(out, snapshot.receivers)
    _senders(out, snapshot.senders)
    out.one(Gauge, "mafa_sessions_active", "Active sessions (Redis).", snapshot.active_sessions)
    if snapshot.ledger is not None:
        _ledger(out, snapshot.ledger)
    if snapshot.load is not None:
        _load(out, snapshot.load)
    _containers(out, snapshot.containers)
    return out.built


def _queue(out: _Families, queue: QueueFigures) -> None:
    for field, doc in QUEUE_GAUGES.items():
        out.one(Gauge, f"mafa_queue_{field}", doc, getattr(queue, field))
    out.add(
        Counter,
        "mafa_queue_messages",
        "The broker's totals.",
        "operation",
        ((operation, getattr(queue, operation)) for operation in QUEUE_TOTALS),
    )
    out.add(
        Gauge,
        "mafa_queue_messages_per_second",
        "Rates as the dashboard shows them (over at least 5 s).",
        "operation",
        ((operation, getattr(queue, field)) for operation, field in QUEUE_RATES.items()),
    )


def _receivers(out: _Families, rows: tuple[ReceiverRow, ...]) -> None:
    for field, doc in RECEIVER_TOTALS.items():
        out.add(
            Counter,
            f"mafa_receiver_{field}",
            doc,
            "node",
            ((r.node, getattr(r, field)) for r in rows),
        )
    out.add(
        Gauge,
        "mafa_receiver_in_flight",
        "Deliveries this receiver holds now.",
        "node",
        ((r.node, r.in_flight) for r in rows),
    )
    out.add(
        Gauge,
        "mafa_receiver_handling_mean_seconds",
        "Mean handling time of the node's latest 200 attempts.",
        "node",
        ((r.node, _seconds(r.mean_ms)) for r in rows),
    )
    out.add(
        Gauge,
        "mafa_receiver_handling_p95_seconds",
        "95th percentile handling time of the node's latest 200 attempts.",
        "node",
        ((r.node, _seconds(r.p95_ms)) for r in rows),
    )


def _senders(out: _Families, rows: tuple[SenderRow, ...]) -> None:
    for field, doc in (
        ("accepted", "Messages this sender accepted."),
        ("requests", "Requests to this sender through the balancer."),
        ("errors", "5xx answers of this sender through the balancer."),
    ):
        out.add(
            Counter,
            f"mafa_sender_{field}",
            doc,
            "node",
            ((s.node, getattr(s, field)) for s in rows),
        )


def _ledger(out: _Families, ledger: LiveBalance) -> None:
    for field, doc in LEDGER_FIGURES.items():
        out.one(Gauge, f"mafa_ledger_{field}", doc, getattr(ledger, field))
    out.one(Gauge, "mafa_ledger_at_rest", "1: nothing moves, so lost is claimed.", ledger.at_rest)
    if ledger.lost is not None:  # only at rest: while messages move, nothing is claimed
        out.one(Gauge, "mafa_ledger_lost", "Messages lost (claimed only at rest).", ledger.lost)


def _load(out: _Families, load: LoadFigures) -> None:
    for kind, name, doc, value in (
        (Gauge, "mafa_load_users", "Simulated users now.", load.users),
        (Gauge, "mafa_load_requests_per_second", "Requests per second now.", load.rps),
        (Counter, "mafa_load_requests", "Requests sent.", load.requests),
        (Counter, "mafa_load_failures", "Requests that failed.", load.failures),
        (Gauge, "mafa_load_p95_seconds", "95th percentile response time.", load.p95_ms / 1000),
    ):
        out.add(kind, name, doc, "run_id", [(load.run_id, value)])


def _containers(out: _Families, rows: tuple[ContainerRow, ...]) -> None:
    out.add(
        Gauge,
        "mafa_container_running",
        "1: the container runs.",
        "container",
        ((c.name, c.state == "running") for c in rows),
    )
    out.add(
        Gauge,
        "mafa_container_cpu_percent",
        "CPU used, in % of one core.",
        "container",
        ((c.name, c.cpu_percent) for c in rows),
    )
    out.add(
        Gauge,
        "mafa_container_memory_bytes",
        "Memory used.",
        "container",
        ((c.name, None if c.memory_mib is None else c.memory_mib * 2**20) for c in rows),
    )


class SnapshotMetrics(Collector):
    """Serves the latest snapshot it was given (the watch loop gives it every one it takes)."""

    def __init__(self) -> None:
        self._latest: tuple[Snapshot, int] | None = None
        self._lock = threading.Lock()

    def update(self, snapshot: Snapshot) -> None:
        with self._lock:
            sequence = 1 if self._latest is None else self._latest[1] + 1
            self._latest = (snapshot, sequence)

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            latest = self._latest
        if latest is not None:  # before the first snapshot: an empty, valid exposition
            yield from families(*latest)


class MetricsServer:
    """The HTTP endpoint (prometheus_client's own server, in a thread of this process)."""

    def __init__(self, address: ListenAddress) -> None:
        self.metrics = SnapshotMetrics()
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self.metrics)
        try:
            self._server, self._thread = start_http_server(
                address.port, addr=address.host, registry=registry
            )
        except OSError as exc:
            raise Conflict(
                f"cannot serve metrics on {address.host}:{address.port}: {exc.strerror}",
                hint=f"another port (--metrics {address.host}:{DEFAULT_PORT + 1}), or :0 for any",
            ) from None
        host = f"[{address.host}]" if ":" in address.host else address.host
        self.url = f"http://{host}:{self._server.server_port}/metrics"

    def update(self, snapshot: Snapshot) -> None:
        self.metrics.update(snapshot)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
