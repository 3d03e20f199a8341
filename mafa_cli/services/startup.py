"""An app's start: it waits for PostgreSQL, Redis and RabbitMQ itself, after its own imports.

mafa starts the apps while those boot (compose.yaml's `x-mafa-start-early`): the interpreter, the
imports and gunicorn's fork then overlap the broker's boot instead of following it. gunicorn's
worker serves nothing until this returns, so the health check passes only with every dependency
reachable: the same meaning as when the apps started after their dependencies were healthy.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from mafa_cli.services.amqp import broker_reachable
from mafa_cli.services.db import Database
from mafa_cli.services.policy import wait_for
from mafa_cli.services.sessions import SessionCounts
from mafa_cli.services.settings import ServiceSettings

log = logging.getLogger(__name__)


def wait_for_dependencies(settings: ServiceSettings, db: Database, sessions: SessionCounts) -> None:
    """Return once all three answer; DependencyTimeout after settings.startup_timeout_s. The
    three are asked at the same time: a replica started into a running stack (`mafa scale`)
    finds them all up, and one after the other its first answers took 0.7 s (a login each)."""
    started = time.monotonic()
    checks = (
        ("PostgreSQL", db.reachable),
        ("Redis", sessions.ping),
        ("RabbitMQ", partial(broker_reachable, settings)),
    )
    with ThreadPoolExecutor(len(checks), thread_name_prefix="startup") as pool:
        waits = [
            pool.submit(wait_for, what, answers, settings.startup_timeout_s)
            for what, answers in checks
        ]
        for waited in waits:
            waited.result()  # re-raises DependencyTimeout
    log.info("dependencies answer (%.1fs after the app's start)", time.monotonic() - started)
