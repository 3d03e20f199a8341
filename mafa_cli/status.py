"""Exit codes of the `mafa` command: one per kind of failure, so scripts can tell them apart."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    SUCCESS = 0
    ERROR = 1  # anything not listed below
    USAGE = 2  # a bad flag value or combination (typer uses 2 for usage errors too)
    CONFIG = 3  # the compose file or a settings file is wrong
    ENGINE = 4  # no Docker engine, or no permission to use it
    BUILD = 5  # an image failed to build
    CONFLICT = 6  # a port or name is already taken
    UNHEALTHY = 7  # a service did not become healthy, or the stack is not healthy
    NOT_FOUND = 8  # no such project or service
    THRESHOLD = 9  # a load run broke a threshold (--max-fail-ratio, --max-p95-ms)
    NOT_PROVEN = 10  # the ledger does not balance: lost, unexpected or duplicate effects
    INCONCLUSIVE = 11  # messages still pending: wait for the queue to drain
    INTERRUPTED = 130  # Ctrl-C


# What each code means, as the README lists it (tests/unit/test_conventions.py keeps the README's
# list equal to this table, and this table complete).
MEANINGS: dict[ExitStatus, str] = {
    ExitStatus.SUCCESS: "ok",
    ExitStatus.ERROR: "any other error (an image pull that failed, an internal error)",
    ExitStatus.USAGE: "bad flag, value, argument or command (typer's own errors too)",
    ExitStatus.CONFIG: "the compose file (missing, not YAML, unsupported key) or mafa.toml",
    ExitStatus.ENGINE: "Docker engine unreachable or denied",
    ExitStatus.BUILD: "image build failed",
    ExitStatus.CONFLICT: "port or name in use",
    ExitStatus.UNHEALTHY: "not healthy",
    ExitStatus.NOT_FOUND: "unknown project or service",
    ExitStatus.THRESHOLD: "load threshold broken",
    ExitStatus.NOT_PROVEN: "ledger does not balance",
    ExitStatus.INCONCLUSIVE: "ledger not conclusive yet (messages pending)",
    ExitStatus.INTERRUPTED: "interrupted (Ctrl-C)",
}


def exit_code_table() -> str:
    """The README's exit-code table, rendered from MEANINGS."""
    rows = [f"| {int(code)} | {meaning} |" for code, meaning in MEANINGS.items()]
    return "\n".join(["| exit code | meaning |", "| --- | --- |", *rows])
