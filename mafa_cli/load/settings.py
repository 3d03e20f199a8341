"""`mafa load`'s flags checked and turned into LoadSettings (pure but for reading saved state)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path

from mafa_cli import units
from mafa_cli.config import check_project
from mafa_cli.errors import UsageError
from mafa_cli.load.plan import SHAPES, parse_think_time, parse_weights
from mafa_cli.load.runner import LoadSettings, free_port

MAX_USERS = 10_000


def new_run_id(now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")
    return f"run-{stamp}-{secrets.token_hex(4)}"


def project_ca(project: str) -> Path | None:
    """The CA of a project brought up with --tls (what its balancer's certificate chains to)."""
    from mafa_cli.stack.operations import saved_settings
    from mafa_cli.state import ProjectState

    return ProjectState(project).tls_ca_file if saved_settings(project).tls else None


def default_host(project: str) -> str:
    from mafa_cli.stack.operations import saved_settings

    saved = saved_settings(project)
    bind = "127.0.0.1" if saved.bind in ("0.0.0.0", "") else saved.bind  # noqa: S104
    return f"{saved.scheme}://{bind}:{saved.port}"


def load_settings(
    *,
    project: str,
    users: int,
    spawn_rate: float,
    duration: str | float,  # text from the dashboard, seconds from the CLI (units parses both)
    rate: float | None,
    shape: str | None,
    host: str | None,
    report: Path | None,
    max_fail_ratio: float | None,
    max_p95_ms: float | None,
    workers: int,
    message_bytes: int,
    weights: str,
    think_time: str = "0.5-2",
    web: bool = False,
    web_port: int | None = None,
) -> LoadSettings:
    check_project(project)
    try:
        duration_s = units.parse_duration(duration)
    except ValueError as exc:
        raise UsageError(f"--duration: {exc}", hint="e.g. --duration 90s or 2m") from None
    if duration_s < 1:
        raise UsageError("--duration must be at least 1s", hint="e.g. --duration 30s")
    if not 1 <= users <= MAX_USERS:
        raise UsageError(f"--users {users} is out of range", hint=f"use 1..{MAX_USERS}")
    if spawn_rate <= 0:
        raise UsageError("--spawn-rate must be positive", hint="e.g. --spawn-rate 5")
    if rate is not None and rate <= 0:
        raise UsageError(f"--rate {rate:g} must be positive", hint="messages per second in total")
    if shape is not None and shape not in SHAPES:
        raise UsageError(f"--shape {shape!r} is unknown", hint=f"use {', '.join(SHAPES)}")
    if max_fail_ratio is not None and not 0 <= max_fail_ratio <= 1:
        raise UsageError(
            f"--max-fail-ratio {max_fail_ratio:g} makes no sense", hint="a ratio within 0..1"
        )
    if max_p95_ms is not None and max_p95_ms <= 0:
        raise UsageError(f"--max-p95-ms {max_p95_ms:g} makes no sense", hint="milliseconds > 0")
    if not 0 <= workers <= 64:
        raise UsageError(f"--workers {workers} is out of range", hint="use 0..64")
    if not 1 <= message_bytes <= 4096:
        raise UsageError(
            "--message-bytes must be within 1..4096", hint="the stack refuses longer messages"
        )
    try:
        parse_weights(weights)
    except ValueError as exc:
        raise UsageError(f"--weights: {exc}", hint="e.g. --weights api=10,form=2") from None
    try:
        parse_think_time(think_time)
    except ValueError as exc:
        raise UsageError(f"--think-time: {exc}", hint="e.g. --think-time 0.5-2, or 0") from None
    if host is not None and not host.startswith(("http://", "https://")):
        raise UsageError(
            f"--host {host!r} is not an http(s) URL", hint="e.g. http://127.0.0.1:8080"
        )
    if web_port is not None and not web:
        raise UsageError("--web-port goes with --web", hint="mafa load --web --web-port 8089")
    if web_port is not None and not 1 <= web_port <= 65535:
        raise UsageError(f"--web-port {web_port} is out of range", hint="use 1..65535")
    run_id = new_run_id()
    return LoadSettings(
        host=(host or default_host(project)).rstrip("/"),
        users=users,
        spawn_rate=spawn_rate,
        duration_s=duration_s,
        rate=rate,
        shape=shape,
        report_dir=report or Path("mafa-reports") / run_id,
        max_fail_ratio=max_fail_ratio,
        max_p95_ms=max_p95_ms,
        workers=workers,
        message_bytes=message_bytes,
        weights=weights,
        run_id=run_id,
        project=None if host else project,
        think_time=think_time,
        ca_file=None if host else project_ca(project),
        # locust's own web UI (and API) on 127.0.0.1: people change the users there, mafa reads
        # the same statistics files as for a headless run, so its accounting does not change.
        control_port=(web_port or free_port()) if web else None,
    )
