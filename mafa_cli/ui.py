"""Everything the CLI shows, rendered with rich: the only module that imports rich.

Builders return renderables or text (testable without a terminal); the CLI prints them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.status import Status
from rich.table import Table
from rich.text import Text

from mafa_cli.errors import MafaError
from mafa_cli.services.nodes import colour_of
from mafa_cli.stack.operations import DownResult, StatusRow, UpResult


def console(stream: TextIO | None = None) -> Console:
    return Console(file=stream or sys.stdout, highlight=False)


def error_console() -> Console:
    return Console(file=sys.stderr, highlight=False)


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
    if result.rabbitmq_ui:
        lines.append(
            f"  RabbitMQ UI    {result.rabbitmq_ui} (on the stack network only; user mafa)"
        )
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
    table = Table(title=f"project {project}", title_justify="left")
    for column in ("service", "#", "container", "state", "health", "ports", "up"):
        table.add_column(column, justify="right" if column in ("#", "up") else "left")
    for row in rows:
        health = row.health or "-"
        style = "green" if row.ok else "red"
        table.add_row(
            row.service,
            str(row.number),
            Text(row.name, style=colour_of(row.name)),
            Text(row.state, style=style),
            Text(health, style=style),
            ", ".join(row.ports) or "-",
            _uptime(row.uptime_s),
        )
    return table


def log_line(container: str, line: str) -> Text:
    text = Text(f"{container} | ", style=colour_of(container))
    text.append(line)
    return text


def down_summary(project: str, result: DownResult) -> str:
    return (
        f"Stack {escape(project)} removed: {result.containers} containers, "
        f"{result.networks} networks, {result.volumes} volumes"
    )
