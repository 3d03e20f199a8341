"""The `mafa` command line: parse, call the library, turn errors into exit codes. No logic here.

Each command imports what it uses when it runs: `mafa --help` and `mafa --version` then load
typer and the option types only (the Docker SDK, psycopg, redis and rich cost most of a second).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from typer._click.exceptions import NoArgsIsHelpError  # typer ships click inside it
from typer.core import TyperGroup

from mafa_cli import __version__
from mafa_cli.config import LOOPBACK, ChaosAction, ChaosTarget, ImageSet, check_output
from mafa_cli.errors import MafaError, UsageError
from mafa_cli.options import (
    Action,
    AsJson,
    Bind,
    DrainTimeout,
    FailRate,
    HtmlReport,
    Images,
    LoadShape,
    MaxDelay,
    MaybeReceivers,
    MaybeSenders,
    NodeFaultOption,
    NodeHook,
    NodeName,
    Port,
    Project,
    Receivers,
    Registry,
    Senders,
    Swarm,
    Target,
    Tls,
    Wait,
    blame_defaults_file,
    click_context,
    complete_service,
    duration_option,
    file_defaults,
    from_defaults_file,
    usage_message,
)
from mafa_cli.status import ExitStatus

if TYPE_CHECKING:
    from mafa_cli.demo import DemoResult
    from mafa_cli.ledger import LedgerReport
    from mafa_cli.load.runner import LoadResult
    from mafa_cli.proof import ProofResult
    from mafa_cli.report import Report
    from mafa_cli.stack.operations import UpResult
    from mafa_cli.ui import Console


class ConventionalGroup(TyperGroup):
    """typer's command group, with typer's own errors (a bad value, an unknown command or
    option, a missing argument) shown the way mafa shows its own: one line, a hint, the code."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            # Not standalone: typer then hands its errors here instead of printing them itself.
            outcome = super().main(
                args, prog_name, complete_var, False, windows_expand_args, **extra
            )
        except NoArgsIsHelpError as error:  # `mafa` alone: the help is the answer, not an error
            error.show()
            sys.exit(error.exit_code)
        except typer.TyperException as error:  # click's usage errors, as typer ships them
            from mafa_cli import ui

            ui.show_error(ui.error_console(), _usage_error(error))
            sys.exit(getattr(error, "exit_code", int(ExitStatus.USAGE)))
        except typer.Abort:
            sys.exit(int(ExitStatus.INTERRUPTED))
        if not standalone_mode:
            return outcome
        # An exit code from typer.Exit, or whatever a command returned (None: success).
        sys.exit(outcome if isinstance(outcome, int) else 0)


def _usage_error(error: typer.TyperException) -> MafaError:
    """typer's message on one line, and where to read what is accepted."""
    message = usage_message(error)
    hint = getattr(error, "hint", None)  # options.BadValue carries mafa's own hint
    context = getattr(error, "ctx", None)
    command = context.command_path if context is not None else "mafa"
    return UsageError(message, hint=hint or f"see `{command} --help`")


app = typer.Typer(
    name="mafa",
    cls=ConventionalGroup,
    help="Stand up, load and watch an asynchronous, failure-prone microservice stack.\n\n"
    "Defaults a team pins go in ./mafa.toml or [tool.mafa] of ./pyproject.toml (see the README).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain help and usage errors: typer's rich formatting imports rich and markdown-it for
    # every --help (60 ms of the 0.3 s budget); the commands themselves render with rich.
    rich_markup_mode=None,
)
T = TypeVar("T")
_debug = {"on": False}


def call(action: Callable[[], T]) -> T:
    """Call the library; a MafaError becomes its message, hint and exit code, never a traceback
    (unless --debug)."""
    from mafa_cli import ui

    err = ui.error_console()
    try:
        return action()
    except MafaError as error:
        if _debug["on"]:
            _traceback()  # --debug shows more, never changes the exit code
        if isinstance(error, UsageError):
            error = blame_defaults_file(click_context(), error)
        ui.show_error(err, error)
        raise typer.Exit(int(error.status)) from None
    except KeyboardInterrupt:
        err.print("interrupted")
        raise typer.Exit(int(ExitStatus.INTERRUPTED)) from None
    except Exception as error:
        if _debug["on"]:
            _traceback()
        err.print(f"[bold red]internal error:[/] {type(error).__name__}: {error}")
        err.print(
            "[yellow]hint:[/] run again as `mafa --debug <command> ...` for the traceback, "
            "and report it"
        )
        raise typer.Exit(int(ExitStatus.ERROR)) from None


def _traceback() -> None:
    import traceback

    traceback.print_exc()


def _writable(flag: str, path: Path | None, directory: bool = False) -> None:
    """Check an output path before the command starts anything (see config.check_output)."""
    if path is not None:
        call(lambda: check_output(flag, path, directory))


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mafa {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", "-V", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """mafa: see how an asynchronous, failure-prone microservice stack behaves under load."""
    _debug["on"] = debug
    # Flags > MAFA_* variables > the file > built-in: click reads a default map in that order.
    ctx.default_map = call(lambda: file_defaults(ctx))


@app.command()
def up(
    project: Project = "mafa",
    senders: Senders = 2,
    receivers: Receivers = 3,
    port: Port = 8080,
    bind: Bind = LOOPBACK,
    images: Images = ImageSet.AUTO,
    max_delay: MaxDelay = 5.0,
    fail_rate: FailRate = 0.2,
    build: Annotated[
        bool | None,
        typer.Option("--build/--no-build", help="Rebuild the app image (default: if missing)."),
    ] = None,
    wait: Wait = True,
    timeout: Annotated[float, duration_option("How long to wait for health, e.g. 3m.")] = 180.0,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Compose file (default: the shipped one).")
    ] = None,
    rabbitmq_ui_port: Annotated[
        int | None,
        typer.Option(help="Also publish RabbitMQ's UI on this port (opt-in; --bind applies)."),
    ] = None,
    tls: Tls = False,
    tls_cert: Annotated[
        Path | None,
        typer.Option(help="With --tls: your own server certificate (PEM) instead of mafa's."),
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option(help="With --tls: the unencrypted key of --tls-cert (PEM).")
    ] = None,
    as_json: AsJson = False,
    swarm: Swarm = False,
    registry: Registry = None,
) -> None:
    """Bring the stack up, or change it to match (only what differs changes).

    Example: mafa up --senders 3 --receivers 5
    """
    from mafa_cli import outputs, ui
    from mafa_cli.config import UpSettings, default_compose_file
    from mafa_cli.stack import operations

    out = ui.console_for(as_json)

    def action() -> UpResult:
        settings = UpSettings(
            project=project,
            senders=senders,
            receivers=receivers,
            port=port,
            bind=bind,
            images=images,
            max_delay_s=max_delay,
            fail_rate=fail_rate,
            build=build,
            wait=wait,
            timeout_s=timeout,
            compose_file=(file or default_compose_file()).resolve(),
            rabbitmq_ui_port=rabbitmq_ui_port,
            tls=tls,
            tls_cert=None if tls_cert is None else str(tls_cert.resolve()),
            tls_key=None if tls_key is None else str(tls_key.resolve()),
            swarm=swarm,
            registry=registry,
        )
        if bind != LOOPBACK:
            ui.error_console().print(
                f"[yellow]warning:[/] the balancer will listen on {bind}, not only on this machine"
            )
        reporter = ui.RichReporter(out)
        with reporter.live():
            return operations.up(settings, reporter)

    result = call(action)
    if as_json:
        _print_json(outputs.up_json(result))
    else:
        out.print(ui.up_summary(result))


@app.command()
def scale(
    project: Project = "mafa",
    senders: MaybeSenders = None,
    receivers: MaybeReceivers = None,
    wait: Wait = True,
    as_json: AsJson = False,
) -> None:
    """Change the number of senders and/or receivers, live; nothing else restarts.

    Example: mafa scale --receivers 5
    """
    from mafa_cli import outputs, ui
    from mafa_cli.stack import operations

    out = ui.console_for(as_json)
    reporter = ui.RichReporter(out)
    plan = call(lambda: operations.scale(project, senders, receivers, reporter, wait))
    if as_json:
        _print_json(outputs.scale_json(project, plan))
    else:
        out.print(f"scaled: {plan.summary()}")


@app.command()
def status(project: Project = "mafa", as_json: AsJson = False) -> None:
    """Every container of the stack; exits non-zero when any is not running and answering.

    Example: mafa status --json
    """
    from mafa_cli import outputs, ui
    from mafa_cli.stack import operations

    rows = call(lambda: operations.status(project))
    if as_json:
        _print_json(outputs.status_json(rows))
    else:
        ui.console().print(ui.status_table(project, rows))
    if not all(r.ok for r in rows):
        raise typer.Exit(int(ExitStatus.UNHEALTHY))


@app.command()
def logs(
    service: Annotated[
        str,
        typer.Argument(
            help="sender, receiver, rabbitmq, postgres, ...", autocompletion=complete_service
        ),
    ],
    project: Project = "mafa",
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep following.")] = False,
    tail: Annotated[int, typer.Option(help="Lines from the end of each replica's log.")] = 100,
) -> None:
    """Logs of every replica of a service, each line prefixed by its container, in its colour.

    Example: mafa logs receiver --follow --tail 20
    """
    from mafa_cli import ui
    from mafa_cli.stack import operations

    out = ui.console()

    def action() -> None:
        if tail < 0:
            raise UsageError(f"--tail {tail} is negative", hint="lines to show: 0 or more")
        for container, line in operations.logs(project, service, tail, follow):
            out.print(ui.log_line(container, line), soft_wrap=True)

    call(action)


@app.command()
def load(
    project: Project = "mafa",
    users: Annotated[int, typer.Option(help="Simulated users (sessions), 1..10000.")] = 10,
    spawn_rate: Annotated[float, typer.Option(help="Users started per second.")] = 5.0,
    duration: Annotated[float, duration_option("How long, e.g. 60s, 2m.")] = 60.0,
    rate: Annotated[
        float | None, typer.Option(help="Hold this many messages/s in total (users only send).")
    ] = None,
    shape: LoadShape = None,
    host: Annotated[str | None, typer.Option(help="Balancer URL (default: the project's).")] = None,
    report: Annotated[Path | None, typer.Option(help="Report directory.")] = None,
    max_fail_ratio: Annotated[
        float | None, typer.Option(help="Fail (exit 9) above this failure ratio, 0..1.")
    ] = None,
    max_p95_ms: Annotated[float | None, typer.Option(help="Fail (exit 9) above this p95.")] = None,
    workers: Annotated[
        int,
        typer.Option(
            help="locust workers, 0..64 (0: one process, no master); on a project up --swarm, "
            "a service spread over the nodes, else processes here."
        ),
    ] = 0,
    master_host: Annotated[
        str | None,
        typer.Option(
            help="With --workers on a Swarm: this host's address the nodes reach the locust "
            "master at (default: this host's address on the route to the manager)."
        ),
    ] = None,
    message_bytes: Annotated[int, typer.Option(help="Size of each message text, 1..4096.")] = 64,
    weights: Annotated[
        str, typer.Option(help="Task weights, e.g. api=10,form=2,results=1,reset=1.")
    ] = "",
    think_time: Annotated[
        str, typer.Option(help="Seconds a user waits between actions: 0.5-2, 1, or 0 (none).")
    ] = "0.5-2",
    as_json: AsJson = False,
    web: Annotated[
        bool, typer.Option("--web", help="locust's web UI on 127.0.0.1: change users live there.")
    ] = False,
    web_port: Annotated[
        int | None, typer.Option(help="With --web: the UI's port (default: any free one).")
    ] = None,
) -> None:
    """Fire sessions and messages at the stack with locust; report and thresholds at the end.

    Example: mafa load --users 20 --duration 2m --max-p95-ms 500 --report reports/run1
    """
    from mafa_cli import outputs, ui
    from mafa_cli.load.runner import run as run_load
    from mafa_cli.load.settings import load_settings
    from mafa_cli.stack import swarm_load

    _writable("--report", report, directory=True)
    out = ui.console_for(as_json)

    def action() -> LoadResult:
        settings = load_settings(
            project=project,
            users=users,
            spawn_rate=spawn_rate,
            duration=duration,
            rate=rate,
            shape=shape,
            host=host,
            report=report,
            max_fail_ratio=max_fail_ratio,
            max_p95_ms=max_p95_ms,
            workers=workers,
            message_bytes=message_bytes,
            weights=weights,
            think_time=think_time,
            web=web,
            web_port=web_port,
        )
        reporter = ui.RichReporter(out)
        with reporter.live():
            settings, elsewhere = swarm_load.prepare_run(settings, master_host, reporter)
        out.print(f"load run {settings.run_id} against {settings.host}")
        if elsewhere is not None:
            out.print(
                f"{elsewhere.count} locust workers on the Swarm, master on "
                f"{elsewhere.bind_host}:{elsewhere.port}; a host outside the Swarm joins with:"
            )
            out.print(elsewhere.join_command(), soft_wrap=True, markup=False, highlight=False)
        if web:
            out.print(
                f"locust web UI: http://127.0.0.1:{settings.control_port}/ (users: edit there)"
            )
        with ui.LoadView(out, f"load run {settings.run_id}") as view:
            return run_load(settings, view.update, elsewhere=elsewhere)

    result = call(action)
    if as_json:
        _print_json(outputs.load_json(result))
    else:
        ui.load_summary(out, result)
    if result.broken:
        raise typer.Exit(int(ExitStatus.THRESHOLD))
    if result.interrupted:
        raise typer.Exit(int(ExitStatus.INTERRUPTED))


@app.command()
def watch(
    project: Project = "mafa",
    interval: Annotated[float, duration_option("Refresh interval, 200ms..1h, e.g. 1s.")] = 1.0,
    once: Annotated[bool, typer.Option("--once", help="One snapshot, then exit.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Snapshots as JSON.")] = False,
    record: Annotated[
        Path | None, typer.Option(help="Append every snapshot as a JSON line to this file.")
    ] = None,
    svg: Annotated[
        Path | None, typer.Option(help="With --once: also save the dashboard as an SVG picture.")
    ] = None,
    metrics: Annotated[
        str | None,
        typer.Option(
            metavar="[HOST:]PORT",
            help="Also serve every snapshot to Prometheus, e.g. 127.0.0.1:9464 (:0: any port).",
        ),
    ] = None,
) -> None:
    """The live dashboard: queue, receivers, senders, sessions, ledger, containers, load.

    On a terminal you drive it with keys (? lists them: scale, kill, restart the broker, start a
    load and change its users, node detail, q quits); without one, one plain line a refresh.
    Example: mafa watch --interval 2s --record run.jsonl --metrics 127.0.0.1:9464
    """
    from mafa_cli import ui
    from mafa_cli.watch.live import watch as live_watch

    _writable("--record", record)
    _writable("--svg", svg)
    if once and from_defaults_file(click_context(), "--metrics"):
        metrics = None  # a team's pinned endpoint is for running watches, not one snapshot
    out = ui.console(soft_wrap=as_json)
    call(
        lambda: live_watch(project, out, interval, once, as_json, record, svg=svg, metrics=metrics)
    )


@app.command("ledger")
def ledger_command(
    project: Project = "mafa",
    run_id: Annotated[str | None, typer.Option("--run", help="Only this run's messages.")] = None,
    as_json: AsJson = False,
) -> None:
    """The end-to-end account: accepted, processed, parked, pending, lost, unexpected.

    Exit 0 when it balances, 10 when it does not, 11 while messages are still pending.
    Example: mafa ledger --run run-20261129T120000-ab12
    """
    from mafa_cli import ledger, outputs, ui
    from mafa_cli.stack.access import StackClient

    def action() -> LedgerReport:
        with StackClient(project) as client:
            try:
                return ledger.read(client, run_id, known_run=True)
            except (OSError, RuntimeError) as exc:
                raise MafaError(
                    f"cannot read the stack's figures: {exc}",
                    hint=f"is it up? `mafa status -p {project}`",
                ) from None

    report = call(action)
    if as_json:
        _print_json(outputs.ledger_json(report))
    _show_verdict(ui.console(), report, f"ledger of {run_id or 'all messages'}", as_json)


def _print_json(document: object) -> None:
    """The one JSON document of a --json run, on stdout (built by outputs.py, which also holds
    its schema)."""
    typer.echo(json.dumps(document, indent=2))


def _show_verdict(out: Console, report: LedgerReport, title: str, as_json: bool) -> None:
    """The verdict for people (unless --json printed it), then its exit code."""
    from mafa_cli import ui

    if not as_json:
        out.print(ui.verdict_table(report, title))
        out.print(ui.verdict_line(report))
    if not report.conclusive:
        raise typer.Exit(int(ExitStatus.INCONCLUSIVE))
    if not report.ok:
        raise typer.Exit(int(ExitStatus.NOT_PROVEN))


@app.command()
def smoke(
    project: Project = "mafasmoke",
    senders: Senders = 2,
    receivers: Receivers = 3,
    # 200 messages at fail rate 0.2 make ~50 failed attempts to redeliver (none at all: 0.8^200,
    # about 1e-19), and 0..0.05 s of work each drains in ~1 s on 6 consumers, where 500 at
    # 0..0.2 s waited ~10 s on simulated work (bench/README.md, issue 19).
    messages: Annotated[int, typer.Option(help="Messages to send, 1..1000000.")] = 200,
    fail_rate: FailRate = 0.2,
    max_delay: MaxDelay = 0.05,
    timeout: DrainTimeout = 120.0,
    keep: Annotated[bool, typer.Option("--keep", help="Leave the stack running.")] = False,
    junit: Annotated[Path | None, typer.Option(help="Write a JUnit XML result here.")] = None,
    port: Port = 8089,
    images: Images = ImageSet.AUTO,
    tls: Tls = False,
    report: HtmlReport = None,
    as_json: AsJson = False,
    swarm: Swarm = False,
    registry: Registry = None,
) -> None:
    """For CI: a stack, messages through the balancer, a drained queue, the ledger's verdict.

    Exit 0 only when nothing was lost, nothing unexpected, no effect twice.
    Example: mafa smoke --messages 1000 --junit smoke.xml
    """
    from mafa_cli import outputs, ui
    from mafa_cli.proof import SmokeSettings
    from mafa_cli.proof import smoke as run_smoke

    _writable("--junit", junit)
    _writable("--report", report)
    out = ui.console_for(as_json)

    def action() -> ProofResult:
        settings = SmokeSettings(
            project=project,
            senders=senders,
            receivers=receivers,
            messages=messages,
            fail_rate=fail_rate,
            max_delay_s=max_delay,
            timeout_s=timeout,
            keep=keep,
            junit=junit,
            port=port,
            images=images,
            tls=tls,
            report=report,
            swarm=swarm,
            registry=registry,
        )
        reporter = ui.RichReporter(out)
        with reporter.live():
            return run_smoke(settings, reporter)

    result = call(action)
    out.print(f"smoke run {result.run_id}: {result.seconds:.0f}s")
    if junit is not None:
        out.print(f"JUnit result: {junit}")
    if result.html_report is not None:
        _show_report(out, result.html_report)
    if as_json:
        _print_json(outputs.proof_json("smoke", result))
    _show_verdict(out, result.report, f"smoke {result.run_id}", as_json)


@app.command()
def chaos(
    project: Project = "mafa",
    kill: Target = ChaosTarget.RECEIVER,
    action_: Action = ChaosAction.KILL,
    every: Annotated[float, duration_option("Time between faults, at least 1s.")] = 10.0,
    duration: Annotated[float, duration_option("How long faults are injected.")] = 60.0,
    rate: Annotated[float, typer.Option(help="Messages/s sent meanwhile, up to 2000.")] = 20.0,
    timeout: DrainTimeout = 120.0,
    report: HtmlReport = None,
    as_json: AsJson = False,
    node_fault: NodeFaultOption = None,
    node: NodeName = None,
    node_hook: NodeHook = None,
    down_for: Annotated[
        float, duration_option("With --node-fault: how long the node stays away.")
    ] = 20.0,
) -> None:
    """Kill or restart a service's containers on a schedule while messages flow; then the verdict.

    On a Swarm, --node-fault takes a worker node away instead, and the verdict also asks for
    every service's replicas back to their count. Faults are recorded (`mafa watch` shows them).
    Exit 0 only when nothing was lost.
    Example: mafa chaos --kill receiver --every 10s --duration 60s
    Example: mafa chaos --node-fault drain --every 30s --duration 60s --down-for 20s
    """
    from mafa_cli import outputs, ui
    from mafa_cli.proof import ChaosSettings
    from mafa_cli.proof import chaos as run_chaos
    from mafa_cli.stack.swarm_faults import replicas_line

    _writable("--report", report)
    out = ui.console_for(as_json)

    def action() -> ProofResult:
        settings = ChaosSettings(
            project=project,
            target=kill,
            action=action_,
            every_s=every,
            duration_s=duration,
            rate=rate,
            timeout_s=timeout,
            report=report,
            node_fault=node_fault,
            node=node,
            node_hook=node_hook,
            down_for_s=down_for,
        )
        reporter = ui.RichReporter(out)
        with reporter.live():
            return run_chaos(settings, reporter)

    result = call(action)
    out.print(f"chaos run {result.run_id}: {len(result.faults)} faults in {result.seconds:.0f}s")
    if result.html_report is not None:
        _show_report(out, result.html_report)
    if as_json:
        _print_json(outputs.proof_json("chaos", result))
    elif result.replicas:
        back = "back to their count" if result.replicas_back else "NOT back to their count"
        out.print(f"replicas {back}: {replicas_line(result.replicas)}")
    _show_verdict(out, result.report, f"chaos {result.run_id}", as_json)
    if not result.replicas_back:
        raise typer.Exit(int(ExitStatus.NOT_PROVEN))


@app.command()
def report(
    record: Annotated[Path, typer.Option(help="Snapshots from `mafa watch --record`.")],
    load_report: Annotated[
        Path | None, typer.Option(help="A `mafa load --report` directory, for the load chart.")
    ] = None,
    verdict_file: Annotated[
        Path | None, typer.Option("--verdict", help="A `mafa ledger --json` file.")
    ] = None,
    out: Annotated[Path, typer.Option(help="The HTML file to write.")] = Path("report.html"),
) -> None:
    """One HTML file that works offline: interactive charts, events, verdict, load figures.

    Example: mafa report --record run.jsonl --load-report mafa-reports/run-1 --out run.html
    """
    from mafa_cli import ui

    _writable("--out", out)
    console = ui.console()

    def action() -> Report:
        from mafa_cli.ledger import LedgerReport
        from mafa_cli.report import build as build_report  # plotly: only when drawing

        verdict = None
        if verdict_file is not None:
            try:
                verdict = LedgerReport.from_json(json.loads(verdict_file.read_text()))
            except (OSError, ValueError) as exc:
                raise UsageError(
                    f"cannot read the verdict {verdict_file}: {exc}",
                    hint="write one with `mafa ledger --json > verdict.json`",
                ) from None
        return build_report(record, out, load_report, verdict, title=f"mafa run · {record.name}")

    _show_report(console, call(action))


def _show_report(out: Console, built: Report) -> None:
    from mafa_cli import ui

    out.print(f"report: {built.html_file} ({len(built.charts_with_data)} charts with data)")
    for warning in built.warnings:
        out.print(ui.warning(warning))


@app.command()
def demo(
    project: Project = "demo",
    senders: Annotated[int, typer.Option(help="Sender replicas (1..32).")] = 3,
    receivers: Annotated[
        int, typer.Option(help="Receiver replicas (1..10: tripled half-way).")
    ] = 2,
    duration: Annotated[float, duration_option("How long the story runs, at least 20s.")] = 90.0,
    report_dir: Annotated[
        Path, typer.Option("--report", help="Where the record, load report and charts go.")
    ] = Path("mafa-reports/demo"),
    port: Port = 8080,
    images: Images = ImageSet.AUTO,
) -> None:
    """The whole story: stack up, load, the queue grows, scaling drains it, verdict, report.

    Example: mafa demo --duration 2m
    """
    from mafa_cli import ui
    from mafa_cli.demo import DemoSettings
    from mafa_cli.demo import demo as run_demo

    _writable("--report", report_dir, directory=True)
    out = ui.console(soft_wrap=False)

    def action() -> DemoResult:
        settings = DemoSettings(
            project=project,
            senders=senders,
            receivers=receivers,
            duration_s=duration,
            report_dir=report_dir,
            port=port,
            images=images,
        )
        return run_demo(settings, out, ui.RichReporter(out))

    result = call(action)
    if result.ledger is not None:
        out.print(ui.verdict_table(result.ledger, "demo verdict"))
        out.print(ui.verdict_line(result.ledger))
    if result.report is not None:
        out.print(f"report: {result.report.html_file}")
    out.print(
        f"The stack is still running at {result.url}/ — watch it: mafa watch -p {project}; "
        f"remove it: mafa down -p {project} --volumes"
    )
    if result.interrupted:
        raise typer.Exit(int(ExitStatus.INTERRUPTED))
    if result.ledger is not None and not result.ledger.ok:
        raise typer.Exit(int(ExitStatus.NOT_PROVEN))


@app.command()
def down(
    project: Project = "mafa",
    volumes: Annotated[
        bool,
        typer.Option("--volumes", "-v", help="Also remove the data and the project's state."),
    ] = False,
) -> None:
    """Remove the stack's containers and network (and its volumes with --volumes).

    Example: mafa down --volumes
    """
    from mafa_cli import ui
    from mafa_cli.stack import operations

    out = ui.console()
    result = call(lambda: operations.down(project, volumes, ui.RichReporter(out)))
    out.print(ui.down_summary(project, result))


@app.command()
def images() -> None:
    """Build the offline image set (from Debian packages) and the app image's wheels.

    For hosts with no registry; needs root, debootstrap and a Debian mirror. Safe to run again.
    Then: mafa up --images offline
    """
    from mafa_cli import ui
    from mafa_cli.stack.images import build_offline_images

    out = ui.console()
    reporter = ui.RichReporter(out)
    wheels = call(lambda: build_offline_images(reporter.build_output))
    out.print(f"offline image set built; the app image's wheels are in {wheels}")


def main() -> None:
    app()
