"""`mafa report`, and the report `smoke --report` and `chaos --report` write: one HTML file that
works offline (plotly.js inline, no request allowed), with interactive charts on one time axis,
events marked and listed, the ledger's verdict in the CLI's own labels, the stack and load
settings, locust's per-endpoint figures and a link to locust's own report.

inputs.py reads (record, load directory, events); charts.py draws (plotly); page.py writes the
HTML (pure). This module ties them together and does the file I/O, plus `recording`: the
snapshots a command takes while it runs, for its report.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from mafa_cli.errors import UsageError
from mafa_cli.ledger import LedgerReport
from mafa_cli.report.inputs import (
    LoadRun,
    RunData,
    RunEvent,
    covered_share,
    merge_events,
    read_load,
    read_record,
)
from mafa_cli.report.page import PageParts, render
from mafa_cli.state import ProjectState

if TYPE_CHECKING:
    from mafa_cli.watch.collectors import Collector

__all__ = ["Report", "RunEvent", "build", "record_beside", "recording"]
RECORD_INTERVAL_S = 1.0
EVENTS_READ = 100_000  # of the project's event stream, the latest (events outside the run drop)
FULL_COVER = 0.9  # below this share of the load run covered by the record, the page says so


@dataclass(frozen=True)
class Report:
    html_file: Path
    charts_with_data: list[str]
    warnings: list[str]


def _read_record(record: Path) -> RunData:
    try:
        data = read_record(record.read_text(encoding="utf-8").splitlines())
    except OSError as exc:
        raise UsageError(
            f"cannot read the record {record}: {exc.strerror}",
            hint="write one with `mafa watch --record FILE.jsonl`",
        ) from None
    except UnicodeDecodeError:
        raise UsageError(
            f"{record} is not a record: not UTF-8 text",
            hint="pass the JSON lines file `mafa watch --record FILE.jsonl` wrote",
        ) from None
    if not data.snapshots:
        raise UsageError(
            f"{record} holds no snapshots", hint="record some with `mafa watch --record`"
        )
    return data


def _overlap_warnings(data: RunData, load: LoadRun | None) -> tuple[list[str], bool]:
    """(warnings, whether the record and the load run share one time axis)."""
    record_span, load_span = data.span(), load.span() if load else None
    share = covered_share(record_span, load_span)
    if share is None or record_span is None or load_span is None:
        return [], True
    where = (
        f"the record runs {record_span[0]:%H:%M:%S} to {record_span[1]:%H:%M:%S} UTC, "
        f"the load {load_span[0]:%H:%M:%S} to {load_span[1]:%H:%M:%S} UTC"
    )
    if share == 0:
        return [
            f"The record and the load run do not overlap in time ({where}): they are not "
            "the same run. The load chart has its own time axis."
        ], False
    if share < FULL_COVER:
        return [f"The record covers only {share:.0%} of the load run ({where})."], True
    return [], True


def _header(data: RunData, load: LoadRun | None) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    if data.project:
        rows.append(("project", data.project))
    span = data.span()
    if span:
        rows.append(
            (
                "record",
                f"{span[0]:%Y-%m-%d %H:%M:%S} to {span[1]:%H:%M:%S} UTC, "
                f"{data.snapshots} snapshots",
            )
        )
    rows.append(("senders, receivers (most seen)", f"{data.most_senders}, {data.most_receivers}"))
    if data.hosts:  # on a Swarm: a node fault's event names one of them
        rows.append(("Swarm nodes", ", ".join(data.hosts)))
    if load is not None:
        load_span = load.span()
        total = next((s for s in load.endpoints if s.name == "Aggregated"), None)
        users = max(load.users.values, default=0)
        text = f"{users:.0f} users at most"
        if load_span:
            text += f", {(load_span[1] - load_span[0]).total_seconds():.0f} s"
        if total:
            text += f", {total.requests:,} requests, {total.failures:,} failed"
        rows.append(("load", text))
    return rows


def _event_stream(data: RunData) -> list[RunEvent]:
    """The project's whole event stream (faults.jsonl), when this machine has it: a snapshot
    carries only the latest few events, so a burst between two snapshots could be missed."""
    if data.project is None:
        return []
    span = data.span()
    fallback = span[0] if span else datetime.now(UTC)
    stream = ProjectState(data.project).recent_events(count=EVENTS_READ)
    return [RunEvent.from_line(event.line(), fallback) for event in stream]


def _live_balance(data: RunData) -> str:
    lost = (data.last.get("ledger") or {}).get("lost")
    return "lost 0 (at rest)" if lost == 0 else f"lost {lost}" if lost else "not at rest"


def build(
    record: Path,
    out: Path,
    load_report: Path | None = None,
    verdict: LedgerReport | None = None,
    title: str = "mafa run",
    settings: Sequence[tuple[str, str]] = (),
    events: Iterable[RunEvent] = (),
) -> Report:
    """The report of a record (and a load run): `out`, one HTML file. `settings` go into the
    header after what the record says; `events` join those the record holds."""
    from mafa_cli.report.charts import build_charts, plotly_js  # plotly: only when drawing

    data = _read_record(record)
    load = read_load(load_report) if load_report is not None else None
    warnings, shared_axis = _overlap_warnings(data, load)
    spans = [s for s in (data.span(), load.span() if load else None) if s]
    x_range = (min(s[0] for s in spans), max(s[1] for s in spans)) if shared_axis else None
    all_events = merge_events(data.events, _event_stream(data), events)
    if x_range is not None:  # an event of another run would stretch the axis: left out
        all_events = [e for e in all_events if x_range[0] <= e.at <= x_range[1]]
    charts = build_charts(data, load, all_events, x_range)
    synced = {c.name for c in charts if shared_axis or c.name != "load"}
    link = None
    if load is not None and load.locust_report is not None:
        link = Path(os.path.relpath(load.locust_report, out.parent.resolve())).as_posix()
    page = render(
        PageParts(
            title=title,
            settings=[*_header(data, load), *settings],
            warnings=warnings,
            verdict=verdict,
            live_balance=_live_balance(data),
            endpoints=load.endpoints if load else [],
            locust_report=link,
            events=all_events,
            charts=charts,
            synced=frozenset(synced),
            plotly_js=plotly_js(),
        )
    )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"cannot write the report to {out}: {exc.strerror}",
            hint="choose a writable path with --out",
        ) from None
    return Report(out, [c.name for c in charts if c.has_data], warnings)


@contextmanager
def recording(
    project: str,
    record: Path,
    interval_s: float = RECORD_INTERVAL_S,
    collector: Collector | None = None,
) -> Iterator[Path]:
    """Snapshots of the project (as `mafa watch --record` takes them) appended to `record` every
    `interval_s` from a thread of its own, while the block runs; one more at its end."""
    if collector is None:
        from mafa_cli.watch.collectors import Collector  # the stack's readers: when recording

        collector = Collector(project)
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text("")
    stop = threading.Event()

    def take() -> None:
        line = json.dumps(collector.collect().to_json(), separators=(",", ":"))
        with record.open("a", encoding="utf-8") as stream:
            stream.write(line + "\n")

    def loop() -> None:
        while not stop.wait(interval_s):
            take()

    take()
    thread = threading.Thread(target=loop, name="report-recording", daemon=True)
    thread.start()
    try:
        yield record
    finally:
        stop.set()
        thread.join(timeout=30)
        take()
        collector.close()


def record_beside(report: Path) -> Path:
    """Where a command keeps the snapshots its report is drawn from: next to the report."""
    return report.with_name(f"{report.stem}.jsonl")
