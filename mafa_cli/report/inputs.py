"""What a report is drawn from, read into plain data: the snapshots `mafa watch --record` wrote
(JSON lines), a `mafa load` report directory (locust's CSV files) and events. Pure but for
`read_load`, which reads the directory it is given."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mafa_cli.errors import UsageError
from mafa_cli.load.plan import EndpointStats, read_stats_csv
from mafa_cli.load.runner import HTML_REPORT as LOCUST_REPORT
from mafa_cli.load.runner import PREFIX as LOCUST_PREFIX


@dataclass
class Series:
    times: list[datetime] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def add(self, at: datetime, value: float) -> None:
        self.times.append(at)
        self.values.append(value)


@dataclass(frozen=True, order=True)
class RunEvent:
    """A fault, a scale change or a dashboard action (the project's event stream)."""

    at: datetime
    action: str
    target: str

    @classmethod
    def from_line(cls, line: str, fallback: datetime) -> RunEvent:
        """From the form a snapshot's `faults` holds: "<iso time> <action> <target ...>"."""
        when, _, rest = line.partition(" ")
        action, _, target = rest.partition(" ")
        try:
            at = datetime.fromisoformat(when)
        except ValueError:
            return cls(fallback, "event", line)
        return cls(at if at.tzinfo else at.replace(tzinfo=UTC), action, target)


@dataclass
class RunData:
    series: dict[str, Series] = field(default_factory=dict)
    slots: dict[str, int | None] = field(default_factory=dict)  # each receiver's colour slot
    events: list[RunEvent] = field(default_factory=list)
    project: str | None = None
    snapshots: int = 0
    most_receivers: int = 0
    most_senders: int = 0
    hosts: list[str] = field(default_factory=list)  # a Swarm's nodes, as first seen
    last: dict[str, Any] = field(default_factory=dict)

    def at(self, name: str) -> Series:
        return self.series.setdefault(name, Series())

    @property
    def receivers(self) -> list[str]:
        return sorted(self.slots)

    def span(self) -> tuple[datetime, datetime] | None:
        times = self.series["ready"].times if "ready" in self.series else []
        return (times[0], times[-1]) if times else None


def read_record(lines: Iterable[str]) -> RunData:
    """The series the charts draw, from `mafa watch --record` lines (bad lines are skipped)."""
    data = RunData()
    for line in lines:
        try:
            snap = json.loads(line)
            at = datetime.fromisoformat(snap["taken_at"])
        except (ValueError, KeyError, TypeError):
            continue
        data.snapshots += 1
        data.project = snap.get("project") or data.project
        queue = snap.get("queue") or {}
        data.at("ready").add(at, queue.get("ready", 0))
        data.at("unacked").add(at, queue.get("unacked", 0))
        data.at("dead letters").add(at, queue.get("dead_letters", 0))
        for key in ("publish", "deliver", "ack", "redeliver"):
            data.at(key).add(at, queue.get(f"{key}_rate", 0.0))
        data.at("sessions").add(at, snap.get("active_sessions", 0))
        receivers = snap.get("receivers") or []
        data.most_receivers = max(data.most_receivers, len(receivers))
        data.most_senders = max(data.most_senders, len(snap.get("senders") or []))
        for host in snap.get("hosts") or []:
            if host.get("name") not in data.hosts:
                data.hosts.append(str(host.get("name")))
        for receiver in receivers:
            node = receiver["node"]
            if receiver.get("slot") is not None or node not in data.slots:
                data.slots[node] = receiver.get("slot")
            data.at(f"handled {node}").add(at, receiver.get("handled", 0))
            data.at(f"failed {node}").add(
                at, receiver.get("failed", 0) + receiver.get("interrupted", 0)
            )
        data.events = merge_events(
            data.events, [RunEvent.from_line(f, at) for f in snap.get("faults") or []]
        )
        data.last = snap
    return data


def merge_events(*lists: Iterable[RunEvent]) -> list[RunEvent]:
    """One time-ordered list, each event once (every snapshot repeats the recent ones)."""
    return sorted({event for events in lists for event in events})


@dataclass
class LoadRun:
    directory: Path
    rps: Series = field(default_factory=Series)
    p95_ms: Series = field(default_factory=Series)
    users: Series = field(default_factory=Series)
    endpoints: list[EndpointStats] = field(default_factory=list)

    @property
    def locust_report(self) -> Path | None:
        path = self.directory / LOCUST_REPORT
        return path if path.exists() else None

    def span(self) -> tuple[datetime, datetime] | None:
        times = self.rps.times
        return (times[0], times[-1]) if times else None


def read_history(text: str, run: LoadRun) -> None:
    """Requests/s, p95 and users over time: the aggregated rows of locust's stats history."""
    for row in csv.DictReader(io.StringIO(text)):
        if row.get("Name") != "Aggregated":
            continue
        try:
            at = datetime.fromtimestamp(int(row["Timestamp"]), UTC)
        except (KeyError, ValueError):
            continue
        run.rps.add(at, _number(row.get("Requests/s")))
        run.p95_ms.add(at, _number(row.get("95%")))
        run.users.add(at, _number(row.get("User Count")))


def _number(text: str | None) -> float:
    try:
        return float(text) if text not in (None, "", "N/A") else 0.0
    except ValueError:
        return 0.0


def read_load(directory: Path) -> LoadRun:
    """A `mafa load --report` directory: locust's stats history, its per-endpoint stats."""
    history = directory / f"{LOCUST_PREFIX}_stats_history.csv"
    if not history.exists():
        raise UsageError(
            f"no locust history in {directory}", hint="pass a `mafa load --report` directory"
        )
    run = LoadRun(directory)
    read_history(history.read_text(encoding="utf-8"), run)
    stats = directory / f"{LOCUST_PREFIX}_stats.csv"
    if stats.exists():
        run.endpoints = read_stats_csv(stats.read_text(encoding="utf-8"))
    return run


def covered_share(
    record: tuple[datetime, datetime] | None, load: tuple[datetime, datetime] | None
) -> float | None:
    """How much of the load run the record covers, 0..1 (None: nothing to compare)."""
    if record is None or load is None:
        return None
    overlap = (min(record[1], load[1]) - max(record[0], load[0])).total_seconds()
    length = (load[1] - load[0]).total_seconds()
    if length <= 0:
        return 1.0 if record[0] <= load[0] <= record[1] else 0.0
    return max(0.0, min(1.0, overlap / length))
