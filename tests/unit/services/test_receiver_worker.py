"""The receiver's health at start: it waits (briefly) for its first consumer's connection, so the
first check after the app loads does not fail by the few milliseconds the connection takes; once
a consumer has connected, a lost broker shows at once."""

from __future__ import annotations

import threading
import time
from typing import Any, cast

from mafa_cli.services.receiver.worker import ReceiverWorker
from tests.unit.services.test_settings import settings


class Loop:
    connected = False


def worker_with(loop: Loop) -> ReceiverWorker:
    worker = ReceiverWorker(settings(), cast(Any, None))
    worker._loops = [cast(Any, loop)]
    return worker


def test_the_first_check_waits_for_the_consumer_to_connect() -> None:
    loop = Loop()
    worker = worker_with(loop)
    threading.Timer(0.1, lambda: setattr(loop, "connected", True)).start()
    assert worker.consuming_at_start(wait_s=5) == 1


def test_a_consumer_that_never_connects_is_reported_after_the_wait() -> None:
    worker = worker_with(Loop())
    started = time.monotonic()
    assert worker.consuming_at_start(wait_s=0.1) == 0
    assert time.monotonic() - started >= 0.1


def test_after_the_first_connection_a_lost_broker_shows_at_once() -> None:
    loop = Loop()
    loop.connected = True
    worker = worker_with(loop)
    assert worker.consuming_at_start() == 1
    loop.connected = False
    started = time.monotonic()
    assert worker.consuming_at_start(wait_s=5) == 0
    assert time.monotonic() - started < 1


def test_a_worker_not_started_does_not_wait() -> None:
    worker = ReceiverWorker(settings(), cast(Any, None))
    started = time.monotonic()
    assert worker.consuming_at_start(wait_s=5) == 0
    assert time.monotonic() - started < 1
