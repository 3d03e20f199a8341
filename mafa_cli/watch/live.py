"""The watch loop: collect, keep history, render (or print a line, or JSON), record, repeat."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mafa_cli.errors import UsageError
from mafa_cli.resources import monitoring_dir
from mafa_cli.ui import Console, Live, error_console, save_svg
from mafa_cli.watch.collectors import Collector
from mafa_cli.watch.snapshot import History, Snapshot
from mafa_cli.watch.view import plain_line, render

if TYPE_CHECKING:
    from mafa_cli.watch.metrics import ListenAddress, MetricsServer

SVG_WIDTH = 120  # columns of the picture `--svg` saves (wide: every panel)
MIN_INTERVAL_S, MAX_INTERVAL_S = 0.2, 3600.0
ONCE_READINGS = 7  # at most ~7 s for --once to see whether the stack is at rest


def _record(path: Path | None, snapshot: Snapshot) -> None:
    if path is None:
        return
    try:
        with path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(snapshot.to_json(), separators=(",", ":")) + "\n")
    except OSError as exc:
        raise UsageError(
            f"cannot write the record to {path}: {exc.strerror}",
            hint="choose a file you can write, on a disk with room, with --record",
        ) from None


def _at_rest(snapshot: Snapshot) -> bool:
    return snapshot.ledger is not None and snapshot.ledger.at_rest


def check_record_path(path: Path | None) -> None:
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.open("a").close()
    except OSError as exc:
        raise UsageError(
            f"cannot write the record to {path}: {exc.strerror}",
            hint="choose a file you can write with --record",
        ) from None


def watch(
    project: str,
    out: Console,
    interval_s: float,
    once: bool,
    as_json: bool,
    record: Path | None,
    duration_s: float | None = None,
    stop_on_interrupt: bool = True,
    svg: Path | None = None,
    collector: Collector | None = None,
    metrics: str | None = None,
) -> Snapshot:
    """Run until Ctrl-C (or `duration_s`, or after one snapshot with `once`); return the last.
    With `stop_on_interrupt` False, Ctrl-C is raised to the caller instead. On a terminal, the
    dashboard you drive with keys (with a duration, as `mafa demo` runs it, the view only);
    else plain lines, or JSON lines. With `metrics` ([HOST:]PORT), every snapshot is also
    served to Prometheus there (watch/metrics.py)."""
    if not MIN_INTERVAL_S <= interval_s <= MAX_INTERVAL_S:
        raise UsageError(f"--interval {interval_s:g}s is out of range", hint="use 200ms..1h")
    if svg is not None and not once:
        raise UsageError("--svg goes with --once", hint="mafa watch --once --svg dash.svg")
    if metrics is not None and once:
        raise UsageError("--metrics serves a running watch", hint="leave out --once")
    check_record_path(record)
    listen = _metrics_address(metrics)  # a bad address is refused before anything starts
    collector = collector or Collector(project)
    server: MetricsServer | None = None

    def keep(snapshot: Snapshot) -> None:
        """What every snapshot taken becomes besides the view: a record line, the metrics."""
        _record(record, snapshot)
        if server is not None:
            server.update(snapshot)

    history = History()
    try:
        if listen is not None:
            server = _serve_metrics(listen)
        if once:
            # Readings for a few seconds: rates and CPU shares compare samples taken seconds
            # apart (the broker's totals move in 5 s steps), and "lost" is only claimed at rest,
            # once nothing has moved for longer than that. A quiet stack (everything accepted
            # is processed or parked, nothing queued) is at rest at once and answers at once.
            # No wait for the engine's resource samples: a new stream's first comes at the
            # engine's next 1 s tick (0.95-1.0 s after the reading began, measured), so waiting
            # would double a quiet answer, and no stream is even started unless a second
            # reading follows; CPU and memory read "-" until a running watch has them.
            snapshot = collector.collect(follow_resources=False)
            history.add(snapshot)
            for _ in range(ONCE_READINGS if not _at_rest(snapshot) else 0):
                time.sleep(1.0)
                snapshot = collector.collect()
                history.add(snapshot)
                if _at_rest(snapshot):
                    break
            _record(record, snapshot)
            if as_json:
                out.print_json(json.dumps(snapshot.to_json()))
            else:
                out.print(render(snapshot, history, out.width))
            if svg is not None:
                save_svg(render(snapshot, history, SVG_WIDTH), svg, f"mafa watch · {project}")
            return snapshot
        if out.is_terminal and not as_json and duration_s is None:  # `mafa demo` gives a duration
            return _drive(project, collector, interval_s, keep)
        started = time.monotonic()
        live = Live(console=out, auto_refresh=False, screen=False) if out.is_terminal else None
        if live is not None:
            live.start()
        try:
            while True:
                tick = time.monotonic()
                snapshot = collector.collect()
                history.add(snapshot)
                keep(snapshot)
                if as_json:
                    out.print(json.dumps(snapshot.to_json()), soft_wrap=True)
                elif live is not None:
                    live.update(render(snapshot, history, out.width), refresh=True)
                else:
                    out.print(plain_line(snapshot))
                if duration_s is not None and time.monotonic() - started >= duration_s:
                    return snapshot
                time.sleep(max(0.0, interval_s - (time.monotonic() - tick)))
        except KeyboardInterrupt:
            if not stop_on_interrupt:
                raise
            return snapshot
        finally:
            if live is not None:
                live.stop()
    finally:
        collector.close()
        if server is not None:
            server.close()


def _metrics_address(address: str | None) -> ListenAddress | None:
    if address is None:
        return None
    from mafa_cli.watch.metrics import parse_address  # prometheus_client: only with --metrics

    return parse_address(address)


def _serve_metrics(listen: ListenAddress) -> MetricsServer:
    from mafa_cli.watch.metrics import MetricsServer

    server = MetricsServer(listen)
    # On stderr: stdout may be JSON lines; the dashboard takes the screen after this.
    err = error_console()
    if not listen.loopback:
        err.print(f"[yellow]warning:[/] metrics on {listen.host}, not only on this machine")
    examples = monitoring_dir()
    err.print(f"metrics: {server.url} (Prometheus config, Grafana dashboard: {examples})")
    return server


def _drive(
    project: str, collector: Collector, interval_s: float, keep: Callable[[Snapshot], None]
) -> Snapshot:
    """The interactive dashboard (Textual, imported only here: `mafa --help` stays fast)."""
    from mafa_cli.watch.app import run
    from mafa_cli.watch.control import StackActions

    last: list[Snapshot] = []

    def next_snapshot() -> Snapshot:
        snapshot = collector.collect()
        keep(snapshot)
        last[:] = [snapshot]
        return snapshot

    actions = StackActions(project, collector.client)
    try:
        run(next_snapshot, actions, interval_s)
    finally:
        actions.close()
    return last[0] if last else collector.collect()
