"""An app's start: it asks PostgreSQL, Redis and RabbitMQ at the same time, returns once all three
answer, and names the one that never does."""

from __future__ import annotations

import time
from typing import Any, cast

import pytest

from mafa_cli.services import startup
from mafa_cli.services.policy import DependencyTimeout
from tests.unit.services.test_settings import settings


class Slow:
    """Answers after `seconds` (or never)."""

    def __init__(self, seconds: float | None) -> None:
        self._at = None if seconds is None else time.monotonic() + seconds

    def __call__(self, *args: object) -> bool:
        return self._at is not None and time.monotonic() >= self._at


class Dependency:
    def __init__(self, answers: Slow) -> None:
        self.reachable = self.ping = answers


def test_the_three_are_asked_at_the_same_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(startup, "broker_reachable", Slow(0.5))
    started = time.monotonic()
    startup.wait_for_dependencies(
        settings(), cast(Any, Dependency(Slow(0.5))), cast(Any, Dependency(Slow(0.5)))
    )
    assert 0.5 <= time.monotonic() - started < 1.2, "0.5 s each, at once: not 1.5 s"


def test_the_one_that_never_answers_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(startup, "broker_reachable", Slow(None))
    with pytest.raises(DependencyTimeout, match="RabbitMQ did not answer"):
        startup.wait_for_dependencies(
            settings(MAFA_STARTUP_TIMEOUT="1"),
            cast(Any, Dependency(Slow(0))),
            cast(Any, Dependency(Slow(0))),
        )
