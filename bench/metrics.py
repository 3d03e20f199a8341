"""What a scrape of `mafa watch --metrics` costs, at the largest stack mafa makes (32 senders, 32
receivers, their containers, a load running): the time to answer one scrape over HTTP on the
loopback, in Prometheus' text format and in OpenMetrics, and the size of the answer. No stack is
needed: a scrape renders the snapshot the watch took last and never reads the stack.

    .venv/bin/python bench/metrics.py [--scrapes 200]
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

import requests

from mafa_cli.config import LOOPBACK
from mafa_cli.watch.metrics import ListenAddress, MetricsServer
from mafa_cli.watch.snapshot import (
    ContainerRow,
    LiveBalance,
    LoadFigures,
    QueueFigures,
    ReceiverRow,
    SenderRow,
    Snapshot,
)

NODES = 32
OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def largest_snapshot() -> Snapshot:
    now = datetime.now(UTC)
    receivers = tuple(
        ReceiverRow(
            f"receiver-{i:04x}", f"demo-receiver-{i}", 1000, 50, 1, 60, 40, 0, 2, 2.5, 4.8, now
        )
        for i in range(NODES)
    )
    senders = tuple(
        SenderRow(f"sender-{i:04x}", f"demo-sender-{i}", 1100, 2300, 0) for i in range(NODES)
    )
    containers = tuple(
        ContainerRow(row.container or "", "receiver", "running", "healthy", 12.5, 61.0)
        for row in (*receivers, *senders)
    )
    return Snapshot(
        project="demo",
        taken_at=now,
        queue=QueueFigures(12, 3, NODES * 2, 2, 41.5, 38.25, 30.0, 8.5, 9000, 8000, 7000, 600),
        receivers=receivers,
        senders=senders,
        active_sessions=17,
        ledger=LiveBalance(2223, 2221, 15, 3, 2, at_rest=False),
        containers=containers,
        load=LoadFigures("run-1", 200, 550.0, 3, 40000, 120.0),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scrapes", type=int, default=200)
    args = parser.parse_args()
    server = MetricsServer(ListenAddress(LOOPBACK, 0))
    server.update(largest_snapshot())
    session = requests.Session()
    try:
        for name, accept in (("text", "text/plain"), ("OpenMetrics", OPENMETRICS)):
            times, size = [], 0
            for _ in range(args.scrapes):
                started = time.perf_counter()
                answer = session.get(server.url, headers={"Accept": accept}, timeout=10)
                times.append(time.perf_counter() - started)
                size = len(answer.content)
            lines = sum(1 for line in answer.text.splitlines() if not line.startswith("#"))
            print(
                f"{name}: {lines} samples, {size / 1024:.1f} KiB; scrape median "
                f"{statistics.median(times) * 1000:.1f} ms, slowest {max(times) * 1000:.1f} ms "
                f"({args.scrapes} scrapes)"
            )
    finally:
        server.close()


if __name__ == "__main__":
    main()
