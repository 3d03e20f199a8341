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
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mafa_cli.config import LOOPBACK
from mafa_cli.errors import Conflict, UsageError
from mafa_cli.watch.snapshot import Snapshot

Labelled = GaugeMetricFamily | CounterMetricFamily
Family = type[GaugeMetricFamily] | type[CounterMetricFamily]
DEFAULT_PORT = 9464  # the port OpenTelemetry's Prometheus exporters use by convention

# Field of QueueFigures -> help. Gauges: what the queue holds now.
QUEUE_GAUGES = {
    "ready": "Messages ready in the work queue (read exactly, by a passive declare).",
    "unacked": "Messages delivered to a receiver and not yet settled.",
    "consumers": "Consumers of the work queue.",
    "dead_letters": "Messages parked in the dead-letter queue.",
}
# The broker's running totals, by operation (a counter each: use rate() on them).
QUEUE_TOTALS = {
    "published": "published",
    "delivered": "delivered",
    "acked": "acked",
    "redelivered": "redelivered",
}
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


def families(snapshot: Snapshot, sequence: int) -> list[Metric]:
    """The snapshot as metric families (pure: what a scrape renders)."""
    p = snapshot.project
    found: list[Metric] = []

    def gauge(name: str, doc: str, value: float) -> None:
        family = GaugeMetricFamily(name, doc, labels=["project"])
        family.add_metric([p], value)
        found.append(family)

    def per(kind: Family, name: str, doc: str, label: str) -> Labelled:
        family = kind(name, doc, labels=["project", label])
        found.append(family)
        return family

    counter = CounterMetricFamily(
        "mafa_snapshots", "Snapshots this mafa watch has taken.", labels=["project"]
    )
    counter.add_metric([p], sequence)
    found.append(counter)
    gauge(
        "mafa_snapshot_timestamp_seconds",
        "When the snapshot served was taken (Unix time).",
        snapshot.taken_at.timestamp(),
    )
    stale = per(
        GaugeMetricFamily, "mafa_source_stale", "1: this source's last read failed.", "source"
    )
    for source in sorted(snapshot.stale):
        stale.add_metric([p, source], 1)

    q = snapshot.queue
    for field, doc in QUEUE_GAUGES.items():
        gauge(f"mafa_queue_{field}", doc, getattr(q, field))
    totals = per(CounterMetricFamily, "mafa_queue_messages", "The broker's totals.", "operation")
    for operation, field in QUEUE_TOTALS.items():
        totals.add_metric([p, operation], getattr(q, field))
    rates = per(
        GaugeMetricFamily,
        "mafa_queue_messages_per_second",
        "Rates as the dashboard shows them (over at least 5 s).",
        "operation",
    )
    for operation, field in QUEUE_RATES.items():
        rates.add_metric([p, operation], getattr(q, field))

    for field, doc in RECEIVER_TOTALS.items():
        family = per(CounterMetricFamily, f"mafa_receiver_{field}", doc, "node")
        for r in snapshot.receivers:
            family.add_metric([p, r.node], getattr(r, field))
    in_flight = per(GaugeMetricFamily, "mafa_receiver_in_flight", "Deliveries held now.", "node")
    mean = per(
        GaugeMetricFamily,
        "mafa_receiver_handling_mean_seconds",
        "Mean handling time of the node's latest 200 attempts.",
        "node",
    )
    p95 = per(
        GaugeMetricFamily,
        "mafa_receiver_handling_p95_seconds",
        "95th percentile handling time of the node's latest 200 attempts.",
        "node",
    )
    for r in snapshot.receivers:
        in_flight.add_metric([p, r.node], r.in_flight)
        if r.mean_ms is not None:
            mean.add_metric([p, r.node], r.mean_ms / 1000)
        if r.p95_ms is not None:
            p95.add_metric([p, r.node], r.p95_ms / 1000)

    accepted = per(CounterMetricFamily, "mafa_sender_accepted", "Messages accepted.", "node")
    requests = per(
        CounterMetricFamily, "mafa_sender_requests", "Requests through the balancer.", "node"
    )
    errors = per(
        CounterMetricFamily, "mafa_sender_errors", "5xx answers through the balancer.", "node"
    )
    for s in snapshot.senders:
        accepted.add_metric([p, s.node], s.accepted)
        if s.requests is not None:
            requests.add_metric([p, s.node], s.requests)
        if s.errors is not None:
            errors.add_metric([p, s.node], s.errors)

    gauge("mafa_sessions_active", "Active sessions (Redis).", snapshot.active_sessions)

    if snapshot.ledger is not None:
        ledger = snapshot.ledger
        for field, doc in LEDGER_FIGURES.items():
            gauge(f"mafa_ledger_{field}", doc, getattr(ledger, field))
        gauge("mafa_ledger_at_rest", "1: nothing moves, so `lost` is claimed.", ledger.at_rest)
        if ledger.lost is not None:  # only at rest: while messages move, nothing is claimed
            gauge("mafa_ledger_lost", "Messages lost (claimed only at rest).", ledger.lost)

    if snapshot.load is not None:
        load = snapshot.load
        labels = ["project", "run_id"]
        for kind, name, doc, value in (
            (GaugeMetricFamily, "mafa_load_users", "Simulated users now.", load.users),
            (GaugeMetricFamily, "mafa_load_requests_per_second", "Requests/s.", load.rps),
            (CounterMetricFamily, "mafa_load_requests", "Requests sent.", load.requests),
            (CounterMetricFamily, "mafa_load_failures", "Requests failed.", load.failures),
            (GaugeMetricFamily, "mafa_load_p95_seconds", "p95 response time.", load.p95_ms / 1000),
        ):
            family = kind(name, doc, labels=labels)
            family.add_metric([p, load.run_id], value)
            found.append(family)

    up = per(GaugeMetricFamily, "mafa_container_running", "1: the container runs.", "container")
    cpu = per(GaugeMetricFamily, "mafa_container_cpu_percent", "CPU, % of one core.", "container")
    memory = per(GaugeMetricFamily, "mafa_container_memory_bytes", "Memory used.", "container")
    for c in snapshot.containers:
        up.add_metric([p, c.name], c.state == "running")
        if c.cpu_percent is not None:
            cpu.add_metric([p, c.name], c.cpu_percent)
        if c.memory_mib is not None:
            memory.add_metric([p, c.name], c.memory_mib * 1024 * 1024)
    return found


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
