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
