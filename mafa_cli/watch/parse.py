"""Pure readers of what the stack's parts report: HAProxy's stats CSV, RabbitMQ's queue JSON,
Docker's one-shot container stats, a Swarm's nodes with the tasks on each. Unit-tested on
sample payloads."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from mafa_cli.engine.protocol import Host, Replica
from mafa_cli.watch.snapshot import HostRow, QueueFigures


@dataclass(frozen=True)
class BalancerServer:
    address: str  # container IP
    requests: int
    errors: int  # 5xx
    status: str  # UP, DOWN, MAINT, no check


def haproxy_servers(csv_text: str, backend: str) -> list[BalancerServer]:
    """Servers of one backend in HAProxy's `stats;csv` output (empty slots left out)."""
    text = csv_text.lstrip("# ")
    servers = []
    for row in csv.DictReader(io.StringIO(text)):
        if row.get("pxname") != backend or row.get("svname") in ("FRONTEND", "BACKEND"):
            continue
        address = (row.get("addr") or "").rsplit(":", 1)[0]
        if address in ("", "0.0.0.0", "-"):  # noqa: S104  (an unused server-template slot)
            continue
        servers.append(
            BalancerServer(
                address=address,
                requests=int(row.get("req_tot") or row.get("stot") or 0),
                errors=int(row.get("hrsp_5xx") or 0),
                status=row.get("status") or "",
            )
        )
    return servers


def _rate(stats: Mapping[str, Any], key: str) -> float:
    details = stats.get(f"{key}_details") or {}
    return float(details.get("rate") or 0.0)


def queue_figures(work: Mapping[str, Any], dead: Mapping[str, Any]) -> QueueFigures:
    """The work queue's and the dead-letter queue's figures from the management API."""
    stats = work.get("message_stats") or {}
    return QueueFigures(
        ready=int(work.get("messages_ready") or 0),
        unacked=int(work.get("messages_unacknowledged") or 0),
        consumers=int(work.get("consumers") or 0),
        dead_letters=int(dead.get("messages") or 0),
        publish_rate=_rate(stats, "publish"),
        deliver_rate=_rate(stats, "deliver_get"),
        ack_rate=_rate(stats, "ack"),
        redeliver_rate=_rate(stats, "redeliver"),
        published=int(stats.get("publish") or 0),
        delivered=int(stats.get("deliver_get") or 0),
        acked=int(stats.get("ack") or 0),
        redelivered=int(stats.get("redeliver") or 0),
    )


def with_rates(now: QueueFigures, before: QueueFigures | None, seconds: float) -> QueueFigures:
    """Rates from the change of the broker's totals since the previous snapshot (the management
    API's own rates are sampled coarsely and often read 0 on a busy queue)."""
    if before is None or seconds <= 0:
        return now

    def rate(current: int, previous: int) -> float:
        return max(0, current - previous) / seconds

    return replace(
        now,
        publish_rate=rate(now.published, before.published),
        deliver_rate=rate(now.delivered, before.delivered),
        ack_rate=rate(now.acked, before.acked),
        redeliver_rate=rate(now.redelivered, before.redelivered),
    )


def unacked_by_node(
    connections: list[Mapping[str, Any]], channels: list[Mapping[str, Any]]
) -> dict[str, int]:
    """Messages delivered and not yet settled, per node (the connection name the services set)."""
    node_of = {
        c.get("name"): (c.get("client_properties") or {}).get("connection_name")
        for c in connections
    }
    counts: dict[str, int] = {}
    for channel in channels:
        node = node_of.get((channel.get("connection_details") or {}).get("name"))
        if node:
            counts[node] = counts.get(node, 0) + int(channel.get("messages_unacknowledged") or 0)
    return counts


@dataclass(frozen=True)
class CpuSample:
    container_ns: int
    system_ns: int
    cpus: int


def cpu_sample(stats: Mapping[str, Any], key: str = "cpu_stats") -> CpuSample | None:
    """The CPU counters of a stats sample (`precpu_stats`: those of the sample before)."""
    cpu = stats.get(key) or {}
    usage = (cpu.get("cpu_usage") or {}).get("total_usage")
    system = cpu.get("system_cpu_usage")
    if usage is None or system is None:
        return None
    cpus = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or [1])
    return CpuSample(int(usage), int(system), int(cpus))


def cpu_percent(before: CpuSample | None, after: CpuSample | None) -> float | None:
    """Share of one core used between two samples (100 = one full core), as `docker stats`."""
    if before is None or after is None or after.system_ns <= before.system_ns:
        return None
    used = after.container_ns - before.container_ns
    return max(0.0, used / (after.system_ns - before.system_ns) * after.cpus * 100.0)


def memory_mib(stats: Mapping[str, Any]) -> float | None:
    memory = stats.get("memory_stats") or {}
    usage = memory.get("usage")
    if usage is None:
        return None
    # As `docker stats`: page cache that can be dropped does not count.
    cache = (memory.get("stats") or {}).get("inactive_file") or 0
    return (int(usage) - int(cache)) / (1024 * 1024)


def host_rows(hosts: list[Host], replicas: list[Replica]) -> tuple[HostRow, ...]:
    """Each host with the replicas running on it counted by service (the manager's task
    listing, read for the replicas already); hosts with none are listed too."""
    tasks: dict[str, dict[str, int]] = {host.name: {} for host in hosts}
    for replica in replicas:
        if replica.node is not None and replica.state == "running":
            on_host = tasks.setdefault(replica.node, {})
            on_host[replica.service] = on_host.get(replica.service, 0) + 1
    # A host's own fields as the engine gave them, and its tasks.
    return tuple(HostRow(**asdict(h), tasks=dict(sorted(tasks[h.name].items()))) for h in hosts)
