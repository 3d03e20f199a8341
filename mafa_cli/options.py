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
    NodeFault,
    check_project,
    read_defaults_file,
)
from mafa_cli.errors import ConfigError, UsageError
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
Swarm = Annotated[
    bool,
    typer.Option("--swarm", help="As services on the Swarm whose manager is DOCKER_HOST (kept)."),
]
Registry = Annotated[
    str | None,
    typer.Option(
        metavar="HOST:PORT",
        help="With --swarm: push the images the nodes need here; they pull them from it.",
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
NodeFaultOption = Annotated[
    NodeFault | None,
    typer.Option(
        "--node-fault",
        help="On a Swarm: take a worker node away instead (kill its engine, drain it, or cut "
        "its network), then bring it back.",
    ),
]
NodeName = Annotated[
    str | None,
    typer.Option("--node", help="With --node-fault: the worker's host name (default: any)."),
]
NodeHook = Annotated[
    str | None,
    typer.Option(
        "--node-hook",
        envvar="MAFA_NODE_HOOK",
        help="With --node-fault kill|partition: a program run as HOOK kill|start|cut|heal "
        "HOSTNAME ADDRESS on the node's host (mafa cannot reach it by itself).",
    ),
]
ReportDir = Annotated[Path | None, typer.Option(help="Report directory.")]
HtmlReport = Annotated[
    Path | None,
    typer.Option(
        "--report",
        help="Write the run's HTML report here (works offline; its snapshots go beside it).",
    ),
]


def usage_message(error: typer.TyperException) -> str:
    """typer's message for a value, option or command it refuses, on one line (without the
    "Value error, " its choice checks put before their reason)."""
    return " ".join(error.format_message().replace("Value error, ", "").split())


def file_defaults(ctx: typer.Context) -> dict[str, dict[str, Any]] | None:
    """The defaults file's values (config.read_defaults_file) as click's default map, per
    command: click reads it after the flags and the MAFA_* variables, before the built-in
    defaults. Each key must be a long flag of the command; each value is checked as that flag's
    would be, so a mistake is reported now, naming the key, not as a flag the user never gave."""
    found = read_defaults_file(Path.cwd())
    if found is None:
        return None
    where, shared, per_command = found
    commands = getattr(ctx.command, "commands", {})
    unknown = sorted(set(per_command) - set(commands))
    if unknown:
        raise ConfigError(
            f"{where}: [{unknown[0]}] is not a mafa command",
            hint=f"tables are commands: {', '.join(sorted(commands))}",
        )
    flags = {name: _long_flags(command) for name, command in commands.items()}
    unused = sorted(set(shared) - {flag for known in flags.values() for flag in known})
    if unused:
        raise ConfigError(
            f"{where}: {unused[0]} is not an option of any command",
            hint='top-level keys are options several commands share, e.g. project = "shop"',
        )
    defaults: dict[str, dict[str, Any]] = {}
    for name, by_flag in flags.items():
        values = {k: v for k, v in shared.items() if k in by_flag} | per_command.get(name, {})
        defaults[name] = {}
        for key, value in values.items():
            if (name, key) in NOT_PINNABLE:
                raise ConfigError(
                    f"{where}: {name}.{key} cannot be pinned",
                    hint=f"give --{key} on the command line each time it is meant",
                )
            if key not in by_flag:
                raise ConfigError(
                    f"{where}: {name}.{key} is not an option of `mafa {name}`",
                    hint=f"see `mafa {name} --help` (keys are flag names without --)",
                )
            param = by_flag[key]
            label = f"{name}.{key}" if key in per_command.get(name, {}) else key
            try:
                param.process_value(ctx, value)
            except typer.TyperException as error:
                raise ConfigError(
                    f"{where}: {label}: {usage_message(error)}",
                    hint=getattr(error, "hint", None) or f"see `mafa {name} --help`",
                ) from None
            defaults[name][param.name or key] = value
    return defaults


# Flags a defaults file may not pin: each must be asked for every time it is meant (a pinned
# `down --volumes` would delete a stack's data and secrets on a plain `mafa down`).
NOT_PINNABLE = {("down", "volumes")}


def click_context() -> Any:
    """The running command's click context (None outside one)."""
    from typer._click.globals import get_current_context  # typer ships click inside it

    return get_current_context(silent=True)


def from_defaults_file(ctx: Any, flag: str) -> bool:
    """Whether the value of `--flag` in this command came from the defaults file."""
    from typer._click.core import ParameterSource  # typer ships click inside it

    for param in getattr(getattr(ctx, "command", None), "params", []):
        if flag in getattr(param, "opts", ()) and param.name:
            return bool(ctx.get_parameter_source(param.name) is ParameterSource.DEFAULT_MAP)
    return False


def blame_defaults_file(ctx: Any, error: UsageError) -> ConfigError | UsageError:
    """A command's own check (a range, a combination) that refused a value the defaults file
    gave: named as the file's key, exit 3, not as a flag the user never typed."""
    flag = error.message.split(" ", 1)[0]
    if ctx is None or not flag.startswith("--") or not from_defaults_file(ctx, flag):
        return error
    found = read_defaults_file(Path.cwd())
    where = found[0] if found is not None else "the defaults file"
    return ConfigError(
        f"{where}: {ctx.info_name}.{flag[2:]}: {error.message}",
        hint=f"change or remove {flag[2:]} in {where} ({error.hint or 'see the README'})",
    )


def _long_flags(command: Any) -> dict[str, Any]:
    """A command's options by their long flags without `--` (`project`, `max-delay`)."""
    return {
        opt[2:]: param
        for param in command.params
        if param.param_type_name == "option"
        for opt in param.opts
        if opt.startswith("--")
    }
