"""Errors the `mafa` library raises for the CLI to show: a one-line message, a hint, an exit code.

MafaError                   (ExitStatus.ERROR)
├── UsageError              bad flag values                    (USAGE)
├── ConfigError             compose file / settings problems   (CONFIG)
│   └── UnsupportedKey      a Compose key mafa does not apply  (CONFIG)
├── EngineError             Docker engine unreachable/denied   (ENGINE)
├── BuildFailed             an image build failed              (BUILD)
├── Conflict                port or name already in use        (CONFLICT)
├── Unhealthy               a service never became healthy     (UNHEALTHY)
└── NotFound                unknown project or service         (NOT_FOUND)
"""

from __future__ import annotations

from mafa_cli.status import ExitStatus


class MafaError(Exception):
    status = ExitStatus.ERROR

    def __init__(self, message: str, hint: str | None = None, details: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details  # extra lines worth showing (log tails), may be None


class UsageError(MafaError):
    status = ExitStatus.USAGE


class ConfigError(MafaError):
    status = ExitStatus.CONFIG


class UnsupportedKey(ConfigError):
    pass


class EngineError(MafaError):
    status = ExitStatus.ENGINE


class BuildFailed(MafaError):
    status = ExitStatus.BUILD


class Conflict(MafaError):
    status = ExitStatus.CONFLICT


class Unhealthy(MafaError):
    status = ExitStatus.UNHEALTHY


class NotFound(MafaError):
    status = ExitStatus.NOT_FOUND
