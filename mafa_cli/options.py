"""The options the `mafa` commands share, declared once: one help text, one environment variable,
one range (said in the help; checked by the settings objects in config.py and friends).

Light on purpose: `mafa --help` imports this module, so nothing heavy may be imported here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mafa_cli import state, units
from mafa_cli.config import (
    MAX_REPLICAS,
    ChaosAction,
    ChaosTarget,
    ImageSet,
    check_project,
)
from mafa_cli.errors import UsageError
from mafa_cli.load.plan import Shape


class BadValue(typer.BadParameter):
    """A value typer's parsing refuses, with mafa's hint (the CLI prints both, one line each)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


def _project(value: str) -> str:
    """The one check of --project, for every command (the rule itself is config.check_project)."""
    try:
        return check_project(value)
    except UsageError as error:
        raise BadValue(error.message, error.hint) from None


def _known_projects(incomplete: str) -> list[str]:
    """Completion of -p: the projects mafa brought up here (their state directories)."""
    return [name for name in state.known_projects() if name.startswith(incomplete)]


def complete_service(ctx: typer.Context, incomplete: str) -> list[str]:
    """Completion of `logs SERVICE`: the services of the compose file the project was brought up
    with (the shipped one before that)."""
    from mafa_cli.config import default_compose_file
    from mafa_cli.stack.compose_model import service_names

    saved = state.ProjectState(str(ctx.params.get("project") or "mafa")).settings()
    path = Path(saved["compose_file"]) if saved else default_compose_file()
    return [name for name in service_names(path) if name.startswith(incomplete)]


def _duration(value: str | float) -> float:
    """The one duration parser of every option (units.parse_duration: also the compose file's)."""
    try:
        return units.parse_duration(value)
    except ValueError as exc:
        raise BadValue(str(exc), hint="e.g. 90 (seconds), 90s, 1m30s, 3m or 500ms") from None


def duration_option(help: str, *names: str) -> Any:
    """An option taking a duration: `90`, `90s`, `1m30s`, `3m`, `500ms` (seconds as a float)."""
    return typer.Option(*names, parser=_duration, metavar="DURATION", help=help)


Project = Annotated[
    str,
    typer.Option(
        "--project",
        "-p",
        envvar="MAFA_PROJECT",
        callback=_project,
        autocompletion=_known_projects,
        help="Stack name (several can run at once): 1-50 of a-z, 0-9, '-', '_'.",
    ),
]
_REPLICAS = f"0..{MAX_REPLICAS}"
Senders = Annotated[int, typer.Option(help=f"Sender replicas ({_REPLICAS}).")]
Receivers = Annotated[int, typer.Option(help=f"Receiver replicas ({_REPLICAS}).")]
MaybeSenders = Annotated[
    int | None, typer.Option("--senders", help=f"Sender replicas ({_REPLICAS}).")
]
MaybeReceivers = Annotated[
    int | None, typer.Option("--receivers", help=f"Receiver replicas ({_REPLICAS}).")
]
Port = Annotated[int, typer.Option(envvar="MAFA_PORT", help="Balancer port (1..65535).")]
Bind = Annotated[
    str, typer.Option(envvar="MAFA_BIND", help="Address the balancer is published on.")
]
Images = Annotated[
    ImageSet,
    typer.Option(
        envvar="MAFA_IMAGES",
        help="official, offline (built from Debian packages), or auto: offline when built.",
    ),
]
MaxDelay = Annotated[float, typer.Option(help="Receiver work: random 0..S seconds (0..3600).")]
FailRate = Annotated[float, typer.Option(help="Chance a delivery attempt fails (0..1).")]
Wait = Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until healthy.")]
Tls = Annotated[
    bool,
    typer.Option(
        "--tls", help="HTTPS on the balancer, with a certificate from a local CA mafa makes."
    ),
]
AsJson = Annotated[
    bool,
    typer.Option("--json", help="Print the result as JSON (its schema: mafa_cli/schemas)."),
]


DrainTimeout = Annotated[float, duration_option("How long the queue may take to drain, e.g. 2m.")]
LoadShape = Annotated[Shape | None, typer.Option(help="How the user count moves over --duration.")]
Target = Annotated[ChaosTarget, typer.Option("--kill", help="The service whose replicas fail.")]
Action = Annotated[
    ChaosAction,
    typer.Option("--action", help="kill (SIGKILL, then start) or restart (graceful)."),
]
ReportDir = Annotated[Path | None, typer.Option(help="Report directory.")]
HtmlReport = Annotated[
    Path | None,
    typer.Option(
        "--report",
        help="Write the run's HTML report here (works offline; its snapshots go beside it).",
    ),
]
