"""When a replica answers: mafa probes it itself, from the moment it runs, instead of waiting for
Docker's next health check (the check's interval, 2-3 s, otherwise sets the pace of `mafa up`).

The probe is the service's own compose health check, run inside the replica through the engine
(an exec, 70-140 ms): the same test Docker runs, so "answers" means what "healthy" means, and the
CLI needs no route to the container's address. Docker's own health checks still run and are what
`mafa status` shows. A probe that succeeded counts until the replica stops running.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial

from mafa_cli.engine.protocol import Engine, Replica
from mafa_cli.stack.compose_model import Healthcheck

MAX_PROBES_AT_ONCE = 4
# Between the end of one probe of a replica and the next: often enough that a dependant starts
# within a fraction of a second, rarely enough that probing costs the booting stack little CPU
# (each exec is a runc process in the engine: on a loaded 2-core host, probes of five booting
# app replicas every 0.25 s, 130 execs in one `mafa up`, slowed the engine and their boot).
PROBE_EVERY_S = 0.4


def probe_command(healthcheck: Healthcheck | None) -> tuple[str, ...] | None:
    """The health check's test as a command to exec, as Docker runs it; None without one."""
    if healthcheck is None or not healthcheck.test or healthcheck.test[0] == "NONE":
        return None
    kind, *args = healthcheck.test
    if kind == "CMD-SHELL":
        return ("/bin/sh", "-c", " ".join(args))
    return tuple(args)


class Readiness:
    """Which replicas answer: running, and healthy by Docker or by a probe of ours. `poll` starts
    a probe (in the background) of each running replica not known to answer yet."""

    def __init__(self, engine: Engine, probes: Mapping[str, tuple[str, ...] | None]) -> None:
        self._engine = engine
        self._probes = probes  # service name -> command
        self._answered: set[str] = set()
        self._in_flight: dict[str, Future[int]] = {}
        self._last_probe: dict[str, float] = {}  # replica id -> when its last probe ended
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(MAX_PROBES_AT_ONCE, thread_name_prefix="probe")

    def answers(self, replica: Replica) -> bool:
        if replica.state != "running":
            with self._lock:
                self._answered.discard(replica.id)  # a restart must answer again
            return False
        if replica.ready:
            return True
        with self._lock:
            return replica.id in self._answered

    def poll(self, replicas: Iterable[Replica]) -> None:
        now = time.monotonic()
        for replica in replicas:
            command = self._probes.get(replica.service)
            if (
                command is None
                or replica.state != "running"
                or self.answers(replica)
                or replica.id in self._in_flight
                or now - self._last_probe.get(replica.id, 0.0) < PROBE_EVERY_S
            ):
                continue
            future = self._pool.submit(self._engine.run_in, replica.id, command)
            self._in_flight[replica.id] = future
            future.add_done_callback(partial(self._record, replica.id))

    def _record(self, replica_id: str, done: Future[int]) -> None:
        with self._lock:
            if not done.cancelled() and not done.exception() and done.result() == 0:
                self._answered.add(replica_id)
            self._last_probe[replica_id] = time.monotonic()
        self._in_flight.pop(replica_id, None)

    def close(self) -> None:
        """Do not wait for probes still running: their answers are no longer needed."""
        self._pool.shutdown(wait=False, cancel_futures=True)
