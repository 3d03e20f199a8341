"""Drives locust in processes of its own: one standalone process, or one master and K workers
(locust's distributed mode, the same that spans machines). Reads its CSV statistics while it
runs, for the live view, and once more at the end for the summary and the thresholds."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from mafa_cli import http_client
from mafa_cli.errors import Conflict, MafaError, NotFound, UsageError
from mafa_cli.load import locustfile_path
from mafa_cli.load.plan import (
    EndpointStats,
    broken_thresholds,
    read_stats_csv,
    user_counts,
)
from mafa_cli.state import ProjectState, RunningLoad

REFRESH_S = 1.0
WORKERS_ELSEWHERE_WAIT_S = 180
PREFIX = "locust"
HTML_REPORT = "report.html"  # locust's own report, beside its CSV files


@dataclass(frozen=True)
class LoadSettings:
    host: str
    users: int
    spawn_rate: float
    duration_s: float
    rate: float | None
    shape: str | None
    report_dir: Path
    max_fail_ratio: float | None
    max_p95_ms: float | None
    workers: int
    message_bytes: int
    weights: str
    run_id: str
    project: str | None = None  # when set, `mafa watch -p PROJECT` shows this run
    think_time: str = "0.5-2"  # seconds a user waits between actions; "0" for a closed loop
    # When set, locust serves its web API on 127.0.0.1:control_port instead of running headless,
    # so `set_users` can change the users of the running test (what `]` and `[` in the dashboard
    # do). Its own API, not a shape reading a file: locust then spawns and stops users itself,
    # at the spawn rate, in standalone and distributed mode alike.
    control_port: int | None = None
    ca_file: Path | None = None  # a stack up --tls: its CA, which every client here verifies with


@dataclass(frozen=True)
class LiveStats:
    elapsed_s: float
    users: int
    peak_users: int
    rows: list[EndpointStats]

    @property
    def total(self) -> EndpointStats | None:
        return next((r for r in self.rows if r.name == "Aggregated"), None)


@dataclass
class LoadResult:
    settings: LoadSettings
    stats: LiveStats
    broken: list[str]
    interrupted: bool
    files: list[Path] = field(default_factory=list)


class WorkersElsewhere(Protocol):
    """locust workers this process does not start (on a Swarm: stack/swarm_load.py). The master
    listens for them on `bind_host`:`port`; the test starts once `count` of them are there."""

    count: int
    bind_host: str
    port: int

    def start(self) -> None: ...

    def stop(self) -> None: ...


def check_reachable(host: str, ca_file: Path | None = None) -> None:
    try:
        with http_client.session(ca_file) as client:
            answer = client.get(f"{host.rstrip('/')}/healthz", timeout=5)
    except http_client.HttpError as exc:
        raise NotFound(
            f"no stack answers at {host} ({http_client.reason(exc)})",
            hint="bring one up first with `mafa up`, or point --host at it",
        ) from None
    if answer.status_code != 200:
        raise NotFound(
            f"the stack at {host} is not healthy ({answer.status_code})",
            hint="see `mafa status`",
        )


def prepare_report_dir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".mafa-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UsageError(
            f"cannot write the report to {path}: {exc.strerror}",
            hint="choose a directory you can write with --report",
        ) from None
    return path


def _free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def _commands(
    settings: LoadSettings, master_port: int, master_bind: str = "127.0.0.1", local: bool = True
) -> list[list[str]]:
    """locust's command lines: the standalone process, or the master then its `local` workers
    (none when the workers run elsewhere, reaching the master on `master_bind`)."""
    base = [sys.executable, "-m", "locust", "-f", str(locustfile_path()), "--loglevel", "WARNING"]
    csv_prefix = str(settings.report_dir / PREFIX)
    if settings.control_port is None:
        mode = ["--headless"]
    else:  # the web API on the loopback only; autostart runs the test as --headless would
        mode = ["--autostart", "--autoquit", "0", "--web-host", "127.0.0.1"]
        mode += ["--web-port", str(settings.control_port)]
    head = [
        *base,
        *mode,
        "--host",
        settings.host,
        "--users",
        str(settings.users),
        "--spawn-rate",
        f"{settings.spawn_rate:g}",
        "--run-time",
        f"{max(1, round(settings.duration_s))}s",
        "--stop-timeout",
        "5",
        "--csv",
        csv_prefix,
        "--csv-full-history",
        "--html",
        str(settings.report_dir / HTML_REPORT),
        "--only-summary",
        "--logfile",
        str(settings.report_dir / "locust.log"),
        "--exit-code-on-error",
        "0",
    ]
    if settings.workers == 0:
        return [head]
    master = [
        *head,
        "--master",
        "--master-bind-host",
        master_bind,
        "--master-bind-port",
        str(master_port),
        "--expect-workers",
        str(settings.workers),
        "--expect-workers-max-wait",
        # Workers elsewhere first pull their image on every node.
        "60" if local else f"{WORKERS_ELSEWHERE_WAIT_S}",
    ]
    if not local:
        return [master]
    worker = [*base, "--worker", "--master-host", master_bind, "--master-port", str(master_port)]
    return [master] + [worker] * settings.workers


def free_port(address: str = "127.0.0.1") -> int:
    """A port for a locust web API (`LoadSettings.control_port`), or for a master's workers."""
    return _free_port(address)


def check_port_free(port: int) -> None:
    """Refuse a taken web port before locust starts (locust would only log it and exit)."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise Conflict(
                f"port {port} on 127.0.0.1 is already in use: {exc.strerror}",
                hint="another --web-port, or leave it out for any free port",
            ) from None


def set_users(control_port: int, users: int, spawn_rate: float) -> None:
    """Change the users of the test running under the locust web API on `control_port`."""
    form = {"user_count": users, "spawn_rate": f"{spawn_rate:g}"}
    url = f"http://127.0.0.1:{control_port}/swarm"
    try:
        with http_client.session() as client:
            reply = client.post(url, data=form, timeout=5).json()
    except (http_client.HttpError, ValueError) as exc:
        raise MafaError(
            f"the load did not take the new user count: {http_client.reason(exc)}"
        ) from None
    if not reply.get("success", False):
        raise MafaError(f"locust refused {users} users: {reply.get('message', reply)}")


def load_environment(settings: LoadSettings) -> dict[str, str]:
    """What locustfile.py reads, in every locust process of the run (workers elsewhere too)."""
    return {
        "MAFA_RUN_ID": settings.run_id,
        "MAFA_LOAD_WEIGHTS": settings.weights,
        "MAFA_LOAD_MESSAGE_BYTES": str(settings.message_bytes),
        "MAFA_LOAD_RATE": f"{settings.rate or 0:g}",
        "MAFA_LOAD_USERS": str(settings.users),
        "MAFA_LOAD_SHAPE": settings.shape or "",
        "MAFA_LOAD_DURATION": f"{settings.duration_s:g}",
        "MAFA_LOAD_THINK": settings.think_time,
        "MAFA_LOAD_CA": str(settings.ca_file or ""),
    }


def _environment(settings: LoadSettings) -> dict[str, str]:
    return {**os.environ, **load_environment(settings), "PYTHONUNBUFFERED": "1"}


def read_live(settings: LoadSettings, started: float) -> LiveStats:
    stats_file = settings.report_dir / f"{PREFIX}_stats.csv"
    history_file = settings.report_dir / f"{PREFIX}_stats_history.csv"
    rows = read_stats_csv(stats_file.read_text()) if stats_file.exists() else []
    users, peak = user_counts(history_file.read_text()) if history_file.exists() else (0, 0)
    return LiveStats(time.monotonic() - started, users, peak, rows)


def _announce(settings: LoadSettings) -> ProjectState | None:
    """Tell `mafa watch` which run is going on for the project, and where its figures are."""
    if settings.project is None:
        return None
    state = ProjectState(settings.project)
    running = RunningLoad(
        settings.run_id, os.getpid(), settings.report_dir.resolve(), settings.control_port
    )
    return state if state.announce_load(running) else None


def run(
    settings: LoadSettings,
    on_tick: Callable[[LiveStats], None],
    stop: threading.Event | None = None,
    elsewhere: WorkersElsewhere | None = None,
) -> LoadResult:
    """Run the load to its end (or Ctrl-C, or `stop` set from another thread: locust is then
    stopped cleanly and its report keeps what ran). With `elsewhere`, the master runs here and
    those workers are started once it listens, and stopped when it ends, whatever happens."""
    if elsewhere is None:  # else the workers' target is theirs to reach (checked by their maker)
        check_reachable(settings.host, settings.ca_file)
    prepare_report_dir(settings.report_dir)
    if settings.control_port is not None:
        check_port_free(settings.control_port)
    if elsewhere is None:
        master_port = _free_port()
        commands = _commands(settings, master_port)
    else:
        commands = _commands(settings, elsewhere.port, elsewhere.bind_host, local=False)
    env = _environment(settings)
    started = time.monotonic()
    announce = _announce(settings)
    # Own process group: a Ctrl-C in the terminal reaches mafa, which then stops locust in order
    # (master first, so it writes its report), instead of killing everything at once.
    # locust's own console output goes to a file in the report: the live view is ours.
    output = (settings.report_dir / "locust.out").open("w")
    processes = [
        subprocess.Popen(  # noqa: S603 (our own argv)
            command, env=env, start_new_session=True, stdout=output, stderr=subprocess.STDOUT
        )
        for command in commands
    ]
    master = processes[0]
    interrupted = False
    failed: Exception | None = None
    try:
        if elsewhere is not None:
            elsewhere.start()
        while master.poll() is None:
            if stop is not None and stop.wait(REFRESH_S):
                raise KeyboardInterrupt
            if stop is None:
                time.sleep(REFRESH_S)
            on_tick(read_live(settings, started))
    except KeyboardInterrupt:
        interrupted = True
        # SIGINT, as a Ctrl-C of its own: locust then writes its HTML report before it stops
        # (on SIGTERM it writes its CSV files only).
        master.send_signal(signal.SIGINT)
    except Exception as exc:  # e.g. the workers elsewhere did not start: no test to wait for
        # Any error, not only ours: the cleanup below (the workers' service, the announcement)
        # must run before it goes on up.
        failed = exc
        master.kill()
    try:
        master.wait(timeout=60)
    finally:
        for process in processes[1:]:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        output.close()
        if elsewhere is not None:
            elsewhere.stop()
        if announce is not None:
            announce.load_finished()
    if failed is not None:
        raise failed
    if master.returncode not in (0, None) and not interrupted:
        log = settings.report_dir / "locust.out"
        tail = log.read_text().splitlines()[-10:] if log.exists() else []
        raise MafaError(
            f"locust exited with code {master.returncode}",
            hint=f"see {log}",
            details="\n".join(tail),
        )
    stats = read_live(settings, started)
    broken = broken_thresholds(stats.total, settings.max_fail_ratio, settings.max_p95_ms)
    files = sorted(p for p in settings.report_dir.iterdir() if p.is_file())
    return LoadResult(settings, stats, broken, interrupted, files)
