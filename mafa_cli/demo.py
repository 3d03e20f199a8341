"""`mafa demo`: the whole story in one command. The stack comes up, load arrives, the queue grows
while slow receivers fail and redeliver, the receivers are scaled up half-way so the queue drains,
then the ledger's verdict and a report with charts. The stack is left running."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

from mafa_cli import report as charts
from mafa_cli.config import MAX_REPLICAS, ImageSet, UpSettings
from mafa_cli.errors import UsageError
from mafa_cli.ledger import LedgerReport
from mafa_cli.load.runner import LoadResult, LoadSettings
from mafa_cli.load.runner import run as run_load
from mafa_cli.load.settings import new_run_id
from mafa_cli.proof import verdict
from mafa_cli.stack import operations
from mafa_cli.stack.access import StackClient
from mafa_cli.stack.scheduler import Reporter
from mafa_cli.state import ProjectState
from mafa_cli.ui import Console
from mafa_cli.watch.live import watch

LOAD_SHARE = 0.7  # load for the first 70 % of the run, then the queue drains while watched
RECEIVERS_GROWTH = 3  # receivers are multiplied by this half-way
MAX_DEMO_RECEIVERS = MAX_REPLICAS // RECEIVERS_GROWTH  # so the grown count stays in range


@dataclass(frozen=True)
class DemoSettings:
    project: str
    senders: int
    receivers: int
    duration_s: float
    report_dir: Path
    port: int
    images: ImageSet
    users: int = 10

    def __post_init__(self) -> None:
        if self.duration_s < 20:
            raise UsageError("--duration must be at least 20s", hint="e.g. --duration 90s")
        if not 1 <= self.receivers <= MAX_DEMO_RECEIVERS or not 1 <= self.senders <= MAX_REPLICAS:
            raise UsageError(
                f"use 1..{MAX_REPLICAS} senders and 1..{MAX_DEMO_RECEIVERS} receivers",
                hint=f"receivers are multiplied by {RECEIVERS_GROWTH} half-way",
            )


@dataclass(frozen=True)
class DemoResult:
    url: str
    load: LoadResult | None
    ledger: LedgerReport | None
    report: charts.Report | None
    interrupted: bool


def demo(settings: DemoSettings, out: Console, reporter: Reporter) -> DemoResult:
    up = UpSettings.for_run(
        settings.project,
        settings.senders,
        settings.receivers,
        settings.port,
        settings.images,
        max_delay_s=2.0,
        fail_rate=0.2,
    )
    stack = operations.up(up, reporter)
    try:
        settings.report_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot write the report to {settings.report_dir}: {exc.strerror}"
        ) from None
    record = settings.report_dir / "watch.jsonl"
    record.unlink(missing_ok=True)
    load_settings = LoadSettings(
        host=stack.url,
        users=settings.users,
        spawn_rate=float(settings.users),
        duration_s=round(settings.duration_s * LOAD_SHARE),
        rate=None,
        shape=None,
        report_dir=settings.report_dir / "load",
        max_fail_ratio=None,
        max_p95_ms=None,
        workers=0,
        message_bytes=64,
        weights="",
        run_id=new_run_id(),
        project=settings.project,
    )
    state = ProjectState(settings.project)
    loaded: list[LoadResult] = []
    stop = threading.Event()

    def load() -> None:
        loaded.append(run_load(load_settings, lambda _: None, stop))

    def scale_up() -> None:
        if not stop.wait(settings.duration_s / 2):
            wanted = settings.receivers * RECEIVERS_GROWTH
            state.record_event("scale", f"receivers {settings.receivers}->{wanted}")
            operations.scale(settings.project, None, wanted, reporter)

    reporter.step(
        f"{settings.users} users for {load_settings.duration_s:.0f}s ({load_settings.run_id}); "
        f"receivers x{RECEIVERS_GROWTH} at {settings.duration_s / 2:.0f}s"
    )
    threads = [threading.Thread(target=load), threading.Thread(target=scale_up, daemon=True)]
    for thread in threads:
        thread.start()
    interrupted = False
    try:
        watch(
            settings.project,
            out,
            1.0,
            once=False,
            as_json=False,
            record=record,
            duration_s=settings.duration_s,
            stop_on_interrupt=False,
        )
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if interrupted:
            stop.set()  # locust stops cleanly and keeps what ran in its report
        threads[0].join()
    result = loaded[0] if loaded else None
    ledger = None
    if not interrupted:
        reporter.step("waiting for the queue to drain")
        with StackClient(settings.project) as client:
            ledger = verdict(client, load_settings.run_id, 180.0, reporter.build_output)
        # A few more snapshots, so the charts show the drained end.
        watch(settings.project, out, 1.0, once=False, as_json=False, record=record, duration_s=3)
    built = None
    load_report = load_settings.report_dir
    if record.exists():
        built = charts.build(
            record,
            settings.report_dir / "report.html",
            load_report if (load_report / "locust_stats_history.csv").exists() else None,
            ledger,
            title=f"mafa demo · {settings.project} · {load_settings.run_id}",
            settings=[
                ("load as set", f"{settings.users} users for {load_settings.duration_s:.0f}s"),
                ("scaling", f"receivers {settings.receivers} x{RECEIVERS_GROWTH} half-way"),
            ],
        )
        (settings.report_dir / "verdict.json").write_text(
            json.dumps(ledger.to_json() if ledger else None, indent=2)
        )
    return DemoResult(stack.url, result, ledger, built, interrupted)
