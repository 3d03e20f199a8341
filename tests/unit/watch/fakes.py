"""Fakes for the dashboard's two seams (named as such): a snapshot source that hands out prepared
snapshots, and an Actions that records what it was asked and changes the fake stack accordingly,
so the next reading shows the effect the way the real stack would."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from mafa_cli.watch.actions import Attempt, Event, NodeDetail, Service
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

NOW = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)


def receiver(i: int, container: str | None = "") -> ReceiverRow:
    return ReceiverRow(
        node=f"receiver-{i:04x}beef",
        container=f"demo-receiver-{i + 1}" if container == "" else container,
        handled=1000 + i,
        failed=50,
        interrupted=1,
        redelivered=60,
        redelivered_elsewhere=40,
        duplicates=0,
        in_flight=2,
        mean_ms=2500.0,
        p95_ms=4800.0,
        last_seen=NOW - timedelta(seconds=2),
    )


def sender(i: int) -> SenderRow:
    return SenderRow(f"sender-{i:04x}cafe", f"demo-sender-{i + 1}", 1100 + i, 2300 + i, 0)


def stack_snapshot(
    receivers: int = 3, senders: int = 2, faults: int = 0, gone: int = 0, load: bool = False
) -> Snapshot:
    """A stack with `receivers` running receivers (plus `gone` whose containers went)."""
    rows = tuple(receiver(i) for i in range(receivers))
    rows += tuple(receiver(receivers + i, container=None) for i in range(gone))
    containers = tuple(
        ContainerRow(r.container, "receiver", "running", "healthy", 12.5, 61.0)
        for r in rows
        if r.container
    ) + tuple(
        ContainerRow(f"demo-sender-{i + 1}", "sender", "running", "healthy", 8.0, 55.0)
        for i in range(senders)
    )
    return Snapshot(
        project="demo",
        taken_at=NOW,
        queue=QueueFigures(12, 3, receivers, 2, 41.5, 38.25, 30.0, 8.5),
        receivers=rows,
        senders=tuple(sender(i) for i in range(senders)),
        active_sessions=17,
        ledger=LiveBalance(2223, 2221, 15, 3, 2, at_rest=False),
        containers=containers,
        load=LoadFigures("run-1", 20, 55.2, 3, 4000, 120.0) if load else None,
        faults=tuple(
            f"2026-11-29T11:{50 + i}:00+00:00 kill receiver-{i:04x}beef" for i in range(faults)
        ),
    )


SWARM_HOSTS = ("mafa-engine-sb571ac-1", "mafa-engine-sb571ac-2", "mafa-engine-sb571ac-3")


def swarm_snapshot(
    receivers: int = 32, senders: int = 3, faults: int = 8, drained: bool = False
) -> Snapshot:
    """The demo's worst case on a 3-node Swarm: every row on a host (round robin, as the spread
    placement gives), the stateful services on the manager; with `drained`, the last node
    drained and its tasks moved off (its rows on the others)."""
    base = stack_snapshot(receivers=receivers, senders=senders, faults=faults)
    usable = SWARM_HOSTS[:2] if drained else SWARM_HOSTS
    rows = tuple(replace(r, host=usable[i % len(usable)]) for i, r in enumerate(base.receivers))
    sends = tuple(replace(s, host=usable[i % len(usable)]) for i, s in enumerate(base.senders))
    hosts = []
    for number, name in enumerate(SWARM_HOSTS):
        tasks = {
            "receiver": sum(r.host == name for r in rows),
            "sender": sum(s.host == name for s in sends),
        }
        if number == 0:
            tasks.update(haproxy=1, postgres=1, rabbitmq=1, redis=1)
        hosts.append(
            HostRow(
                name=name,
                role="manager" if number == 0 else "worker",
                state="ready",
                availability="drain" if drained and number == 2 else "active",
                reachability="reachable" if number == 0 else None,
                leader=number == 0,
                tasks={k: v for k, v in sorted(tasks.items()) if v},
            )
        )
    return replace(base, receivers=rows, senders=sends, hosts=tuple(hosts))


class FakeSnapshots:
    """The snapshot source: the current state of the fake stack, one tick later each call."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.current = snapshot
        self.reads = 0
        self._lock = threading.Lock()

    def __call__(self) -> Snapshot:
        with self._lock:
            self.reads += 1
            return replace(self.current, taken_at=NOW + timedelta(seconds=self.reads))


class FakeActions:
    """Records every call; scale, kill and load change the fake stack the next reading shows."""

    def __init__(self, snapshots: FakeSnapshots, fail: str = "") -> None:
        self.snapshots = snapshots
        self.calls: list[tuple[object, ...]] = []
        self.recorded: list[Event] = []
        self.fail = fail  # the name of a method that raises, to test failures

    def _call(self, *call: object) -> None:
        self.calls.append(call)
        if call[0] == self.fail:
            raise RuntimeError("the engine said no")

    def scale(self, service: Service, replicas: int) -> None:
        self._call("scale", service, replicas)
        snap = self.snapshots.current
        if service == "receiver":  # the engine starts (or removes) the containers
            rows = tuple(receiver(i) for i in range(replicas))
            running = tuple(
                ContainerRow(r.container or "", "receiver", "running", "healthy", 1.0, 50.0)
                for r in rows
            )
            others = tuple(c for c in snap.containers if c.service != "receiver")
            self.snapshots.current = replace(snap, receivers=rows, containers=running + others)

    def kill(self, node: str) -> None:
        self._call("kill", node)
        snap = self.snapshots.current
        rows = tuple(replace(r, container=None) if r.node == node else r for r in snap.receivers)
        self.snapshots.current = replace(snap, receivers=rows)

    def restart_broker(self) -> None:
        self._call("restart_broker")

    def start_load(self, users: int) -> None:
        self._call("start_load", users)
        load = LoadFigures("run-2", users, 10.0, 0, 10, 50.0)
        self.snapshots.current = replace(self.snapshots.current, load=load)

    def stop_load(self) -> None:
        self._call("stop_load")
        self.snapshots.current = replace(self.snapshots.current, load=None)

    def set_users(self, users: int) -> None:
        self._call("set_users", users)

    def node_detail(self, node: str) -> NodeDetail:
        self._call("node_detail", node)
        return NodeDetail(
            node,
            attempts=(
                Attempt(NOW, "0f3c9a1e-aaaa", 1, "failed", 1234.0, "receiver-0002beef"),
                Attempt(NOW, "7b2d4c5f-bbbb", 1, "ok", 812.0),
            ),
            redeliveries_received=7,
            failed_went_to={"receiver-0002beef": 3},
        )

    def record(self, event: Event) -> None:
        self.recorded.append(event)
