"""What the dashboard shows at one moment: immutable, pure data, turned into JSON as it is.

A panel whose collector failed keeps its last good values and carries the reason in `stale`,
so one broken source (the broker restarting, say) never blanks the whole view.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class QueueFigures:
    ready: int = 0
    unacked: int = 0
    consumers: int = 0
    dead_letters: int = 0
    publish_rate: float = 0.0
    deliver_rate: float = 0.0
    ack_rate: float = 0.0
    redeliver_rate: float = 0.0
    # The broker's running totals: rates are computed from them between two snapshots.
    published: int = 0
    delivered: int = 0
    acked: int = 0
    redelivered: int = 0

    @property
    def total(self) -> int:
        return self.ready + self.unacked


@dataclass(frozen=True)
class ReceiverRow:
    node: str
    container: str | None
    handled: int
    failed: int
    interrupted: int
    redelivered: int
    redelivered_elsewhere: int
    duplicates: int
    in_flight: int
    mean_ms: float | None
    p95_ms: float | None
    last_seen: datetime | None
    slot: int | None = None  # the node's colour slot, once nodes claim one (watch/palette.py)
    host: str | None = None  # the Swarm node it runs (or last ran) on; None on one engine


@dataclass(frozen=True)
class SenderRow:
    node: str
    container: str | None
    accepted: int
    requests: int | None  # through the balancer (HAProxy's count); None when unknown
    errors: int | None  # 5xx answers through the balancer
    slot: int | None = None  # the node's colour slot, once nodes claim one (watch/palette.py)
    host: str | None = None  # the Swarm node it runs (or last ran) on; None on one engine


@dataclass(frozen=True)
class ContainerRow:
    name: str
    service: str
    state: str
    health: str | None
    cpu_percent: float | None
    memory_mib: float | None


@dataclass(frozen=True)
class HostRow:
    """A Swarm node: what its manager says of it, and the project's tasks running on it."""

    name: str
    role: str  # manager, worker
    state: str  # ready, down, unknown, disconnected
    availability: str  # active, pause, drain
    reachability: str | None  # a manager's: reachable, unreachable; None for a worker
    leader: bool
    tasks: dict[str, int] = field(default_factory=dict)  # service -> its running tasks here

    @property
    def up(self) -> bool:
        """Ready, and (a manager) reachable: able to run tasks and to be told to."""
        return self.state == "ready" and self.reachability in (None, "reachable")


@dataclass(frozen=True)
class LoadFigures:
    run_id: str
    users: int
    rps: float
    failures: int
    requests: int
    p95_ms: float


@dataclass(frozen=True)
class LiveBalance:
    """The running account. `lost` is only claimed at rest (nothing queued, in flight or being
    published): while messages move, the broker's figures and the database's are read at
    slightly different moments, so their difference is in transit, not lost. `mafa ledger`
    proves it message by message."""

    accepted: int
    processed: int
    in_queue: int
    in_flight: int
    parked: int
    at_rest: bool

    @property
    def unaccounted(self) -> int:
        return self.accepted - self.processed - self.in_queue - self.in_flight - self.parked

    @property
    def lost(self) -> int | None:
        return max(0, self.unaccounted) if self.at_rest else None


@dataclass(frozen=True)
class Snapshot:
    project: str
    taken_at: datetime
    queue: QueueFigures = field(default_factory=QueueFigures)
    receivers: tuple[ReceiverRow, ...] = ()
    senders: tuple[SenderRow, ...] = ()
    active_sessions: int = 0
    ledger: LiveBalance | None = None
    containers: tuple[ContainerRow, ...] = ()
    hosts: tuple[HostRow, ...] = ()  # a Swarm's nodes, managers first; () on one engine
    load: LoadFigures | None = None
    faults: tuple[str, ...] = ()
    stale: dict[str, str] = field(default_factory=dict)  # panel -> why it is not fresh
    read_at: dict[str, datetime] = field(default_factory=dict)  # source -> its last good read

    @property
    def redeliveries(self) -> int:
        return sum(r.redelivered for r in self.receivers)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["redeliveries"] = self.redeliveries
        if self.ledger is not None:
            data["ledger"].update(lost=self.ledger.lost, unaccounted=self.ledger.unaccounted)
        data["queue"]["total"] = self.queue.total
        converted: dict[str, Any] = _jsonable(data)
        return converted


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


class History:
    """The last `size` values of the series the charts draw, with the time of each."""

    SERIES = ("depth", "publish", "deliver", "ack", "redeliver", "sessions")

    def __init__(self, size: int = 720) -> None:
        self._series: dict[str, deque[float]] = {name: deque(maxlen=size) for name in self.SERIES}
        self._times: deque[datetime] = deque(maxlen=size)

    def add(self, snapshot: Snapshot) -> None:
        q = snapshot.queue
        for name, value in (
            ("depth", q.total),
            ("publish", q.publish_rate),
            ("deliver", q.deliver_rate),
            ("ack", q.ack_rate),
            ("redeliver", q.redeliver_rate),
            ("sessions", snapshot.active_sessions),
        ):
            self._series[name].append(float(value))
        self._times.append(snapshot.taken_at)

    def series(self, name: str) -> list[float]:
        return list(self._series[name])

    def points(self, name: str, now: datetime) -> list[tuple[float, float]]:
        """(seconds before `now`, value) of every reading kept: what a chart plots."""
        return [
            ((now - at).total_seconds(), value)
            for at, value in zip(self._times, self._series[name], strict=True)
        ]


BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Iterable[float], width: int) -> str:
    """The last `width` values as block characters, scaled to the largest of them."""
    tail = list(values)[-width:]
    if not tail:
        return ""
    top = max(tail)
    if top <= 0:
        return BARS[0] * len(tail)
    return "".join(BARS[min(len(BARS) - 1, int(v / top * (len(BARS) - 1) + 0.5))] for v in tail)
