"""Everything the CLI shows, rendered with rich: the only module that imports rich.

Builders return renderables or text (testable without a terminal); the CLI prints them.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.panel import Panel
from rich.status import Status
from rich.table import Table
from rich.text import Text

from mafa_cli.errors import MafaError
from mafa_cli.services.palette import node_colour

if TYPE_CHECKING:  # only named in signatures: `mafa watch --once` need not import them all
    from mafa_cli.ledger import LedgerReport
    from mafa_cli.load.runner import LiveStats, LoadResult
    from mafa_cli.stack.operations import DownResult, StatusRow, UpResult

# What other modules of mafa render with (watch/view.py): rich is imported here only.
__all__ = ["Console", "Group", "Live", "Panel", "RenderableType", "Table", "Text", "box"]


def save_svg(renderable: RenderableType, path: Path, title: str, width: int = 120) -> None:
    """A picture of what the terminal shows, to paste where a screenshot goes."""
    recorder = Console(record=True, width=width, file=io.StringIO(), force_terminal=True)
    recorder.print(renderable)
    recorder.save_svg(str(path), title=title)


def console(stream: TextIO | None = None, soft_wrap: bool = True) -> Console:
    """Lines as long as they are (soft wrap) for messages; the dashboard wraps to the width."""
    return Console(file=stream or sys.stdout, highlight=False, soft_wrap=soft_wrap)


def console_for(as_json: bool) -> Console:
    """Where a command talks to people: stdout, or stderr when stdout carries its --json."""
    return error_console() if as_json else console()


def error_console() -> Console:
    return Console(file=sys.stderr, highlight=False, soft_wrap=True)


class RichReporter:
    """Progress of up/scale/down: a line per step, the build's output on a transient status line."""

    def __init__(self, out: Console) -> None:
        self._out = out
        self._status: Status | None = None

    def step(self, message: str) -> None:
        self._out.print(f"[green]•[/] {escape(message)}")

    def build_output(self, line: str) -> None:
        if self._status is not None:
            self._status.update(f"[dim]{escape(line[:100])}[/]")

    @contextmanager
    def live(self) -> Iterator[RichReporter]:
        if self._out.is_terminal:
            with self._out.status("working…") as status:
                self._status = status
                try:
                    yield self
                finally:
                    self._status = None
        else:
            yield self


def show_error(err: Console, error: MafaError) -> None:
    err.print(f"[bold red]error:[/] {escape(error.message)}")
    if error.details:
        err.print(Text(error.details, style="dim"))
    if error.hint:
        err.print(f"[yellow]hint:[/] {escape(error.hint)}")


def up_summary(result: UpResult) -> str:
    lines = [
        f"[bold]Stack {escape(result.project)} is up[/] ({result.seconds:.1f}s: "
        f"{escape(result.plan.summary())})",
        f"  sender page    {result.url}/",
        f"  results page   {result.url}/received",
    ]
    if result.tls_ca_file:
        lines.append(
            f"  TLS CA         {result.tls_ca_file} (curl --cacert it; trust it in a browser)"
        )
    if result.rabbitmq_ui:
        lines.append(f"  RabbitMQ UI    {result.rabbitmq_ui} (user mafa)")
    lines += [
        f"  credentials    {result.secrets_file} (readable by you only)",
        "",
        f"  status: mafa status -p {result.project}    logs: mafa logs receiver -p "
        f"{result.project} --follow",
        f"  scale:  mafa scale -p {result.project} --receivers 5    stop: mafa down -p "
        f"{result.project}",
    ]
    return "\n".join(lines)


def _uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def status_table(project: str, rows: list[StatusRow]) -> Table:
    if any(row.node for row in rows):
        return _task_table(project, rows)
    table = Table(title=f"project {project}", title_justify="left")
    for column in ("service", "#", "container", "state", "health", "ports", "up"):
        table.add_column(column, justify="right" if column in ("#", "up") else "left")
    for row in rows:
        health = row.health or "-"
        style = "green" if row.ok else "red"
        table.add_row(
            row.service,
            str(row.number),
            Text(row.name, style=node_colour(row.name)),
            Text(row.state, style=style),
            Text(health, style=style),
            ", ".join(row.ports) or "-",
            _uptime(row.uptime_s),
        )
    return table


def _task_table(project: str, rows: list[StatusRow]) -> Table:
    """A stack on a Swarm: its tasks per node, what each should be doing and why it is not."""
    table = Table(title=f"project {project} (Swarm tasks)", title_justify="left")
    for column in ("service", "#", "node", "state", "desired", "error", "up"):
        table.add_column(column, justify="right" if column in ("#", "up") else "left")
    for row in sorted(rows, key=lambda r: (r.node or "", r.service, r.number)):
        style = "green" if row.state == row.desired_state else "red"
        table.add_row(
            row.service,
            str(row.number),
            Text(row.node or "-", style=node_colour(row.node or "")),
            Text(row.state, style=style),
            row.desired_state or "-",
            Text(row.error or "-", style="red" if row.error else ""),
            _uptime(row.uptime_s),
        )
    return table


def log_line(container: str, line: str) -> Text:
    text = Text(f"{container} | ", style=node_colour(container))
    text.append(line)
    return text


def down_summary(project: str, result: DownResult) -> str:
    return (
        f"Stack {escape(project)} removed: {result.containers} containers, "
        f"{result.networks} networks, {result.volumes} volumes"
    )


def load_table(live: LiveStats, title: str, final: bool = False) -> Table:
    total = live.total
    users = f"{live.peak_users} users at most" if final else f"{live.users} users"
    caption = (
        f"{users} · {live.elapsed_s:.0f}s · "
        f"{(total.rps if total else 0):.1f} req/s · {(total.failures if total else 0)} failures"
    )
    table = Table(title=title, caption=caption, title_justify="left")
    for column in ("endpoint", "requests", "fails", "req/s", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(column, justify="left" if column == "endpoint" else "right")
    for row in live.rows:
        style = "bold" if row.name == "Aggregated" else ""
        table.add_row(
            row.name,
            str(row.requests),
            Text(str(row.failures), style="red" if row.failures else ""),
            f"{row.rps:.1f}",
            f"{row.p50_ms:.0f}",
            f"{row.p95_ms:.0f}",
            f"{row.p99_ms:.0f}",
            style=style,
        )
    return table


def load_line(live: LiveStats) -> str:
    total = live.total
    if total is None:
        return f"{live.elapsed_s:.0f}s: starting, {live.users} users"
    return (
        f"{live.elapsed_s:.0f}s: {live.users} users, {total.requests} requests, "
        f"{total.rps:.1f} req/s, {total.failures} failures, p95 {total.p95_ms:.0f} ms"
    )


class LoadView:
    """Live view of a load run: a rich table on a terminal, a plain line every 5 s elsewhere."""

    def __init__(self, out: Console, title: str) -> None:
        self._out = out
        self._title = title
        self._live: Live | None = None
        self._last_line = 0.0

    def __enter__(self) -> LoadView:
        if self._out.is_terminal:
            self._live = Live(console=self._out, refresh_per_second=2, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)

    def update(self, live: LiveStats) -> None:
        if self._live is not None:
            self._live.update(load_table(live, self._title))
        elif live.elapsed_s - self._last_line >= 5:
            self._last_line = live.elapsed_s
            self._out.print(load_line(live))


def load_summary(out: Console, result: LoadResult) -> None:
    out.print(load_table(result.stats, f"load run {result.settings.run_id}", final=True))
    if result.interrupted:
        out.print("[yellow]interrupted: the report covers what ran[/]")
    out.print(f"report: {result.settings.report_dir}/ ({', '.join(p.name for p in result.files)})")
    for reason in result.broken:
        out.print(f"[bold red]threshold broken:[/] {escape(reason)}")


def verdict_table(report: LedgerReport, title: str) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("check")
    table.add_column("value", justify="right")
    table.add_column("")

    def mark(ok: bool) -> Text:
        return Text("ok", style="green") if ok else Text("FAIL", style="bold red")

    from mafa_cli.ledger import verdict_rows  # when a verdict is shown (see the imports above)

    for row in verdict_rows(report):
        table.add_row(row.label, f"{row.value:,}", "" if row.passed is None else mark(row.passed))
    return table


def verdict_line(report: LedgerReport) -> str:
    from mafa_cli.ledger import verdict_headline

    kind, headline, why = verdict_headline(report)
    style = {"ok": "bold green", "inconclusive": "bold yellow"}.get(kind, "bold red")
    return f"[{style}]verdict: {headline}[/] ({why})"


def warning(text: str) -> str:
    return f"[yellow]warning:[/] {escape(text)}"
