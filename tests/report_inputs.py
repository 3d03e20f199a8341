"""Inputs for the report's tests: a recorded `mafa demo` run (fixtures/report-demo: the record
`mafa watch --record` wrote, locust's CSV files, the ledger's verdict, taken from a real run) and
a record made here from the dashboard's own Snapshot model, with as many receivers as wanted."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mafa_cli.ledger import LedgerReport
from mafa_cli.watch.snapshot import QueueFigures, ReceiverRow, Snapshot

DEMO = Path(__file__).parent / "fixtures" / "report-demo"
START = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)


def demo_copy(into: Path, locust_report: bool = True) -> Path:
    """The recorded demo run, copied (tests add or change files); with a stand-in for locust's
    own report.html (the real one is 1 MB), so the report has something to link to."""
    target = into / "demo"
    shutil.copytree(DEMO, target)
    if locust_report:
        (target / "load" / "report.html").write_text("<p>stand-in for locust's report</p>")
    return target


def demo_verdict() -> LedgerReport:
    return LedgerReport.from_json(json.loads((DEMO / "verdict.json").read_text()))


def receiver_row(node: str, handled: int, failed: int, slot: int) -> ReceiverRow:
    return ReceiverRow(
        node=node,
        container=None,
        handled=handled,
        failed=failed,
        interrupted=0,
        redelivered=0,
        redelivered_elsewhere=0,
        duplicates=0,
        in_flight=0,
        mean_ms=None,
        p95_ms=None,
        last_seen=None,
        slot=slot,
    )


def many_receivers_record(path: Path, receivers: int = 14, seconds: int = 40) -> Path:
    """A record of `receivers` receivers over `seconds` snapshots; ready = 2 x the second, and
    one fault at second 5."""
    fault = f"{(START + timedelta(seconds=5)).isoformat()} SIGKILL demo-receiver-1"
    lines = []
    for second in range(seconds):
        snapshot = Snapshot(
            project="many",
            taken_at=START + timedelta(seconds=second),
            queue=QueueFigures(
                ready=second * 2,
                unacked=3,
                publish_rate=5.0,
                deliver_rate=4.0,
                ack_rate=3.5,
                redeliver_rate=1.0,
            ),
            receivers=tuple(
                receiver_row(f"receiver-{n:02d}abcdef", second * (n + 1), second // 4, n)
                for n in range(receivers)
            ),
            active_sessions=7,
            faults=(fault, "2020-01-01T00:00:00+00:00 restart long-ago-1"),
        )
        lines.append(json.dumps(snapshot.to_json()))
    path.write_text("\n".join(lines) + "\n")
    return path
