"""When a replica answers: mafa probes it itself, from the moment it runs, instead of waiting for
Docker's next health check (the check's interval, 2-3 s, otherwise sets the pace of `mafa up`).

The probe is the service's own compose health check, run inside the replica through the engine
(an exec, 70-140 ms): the same test Docker runs, so "answers" means what "healthy" means, and the
CLI needs no route to the container's address. Docker's own health checks still run and are what
`mafa status` shows. A probe that succeeded counts until the replica stops running.

Probes run on daemon threads: a probe still running when the answer is no longer needed (the
command is done) must not hold the CLI's exit (a pool's threads are joined at exit: up to a
second on a loaded engine, measured after `mafa scale` printed its result).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping

from mafa_cli.engine.protocol import Engine, Replica
from mafa_cli.stack.compose_model import Healthcheck

MAX_PROBES_AT_ONCE = 4
# Between the end of one probe of a replica and the next: often enough that a dependant starts
# within a fraction of a second, rarely enough that probing costs the booting stack little CPU
# (each exec is a runc process in the engine: on a loaded 2-core host, probes of five booting
# app replicas every 0.25 s, 130 execs in one `mafa up`, slowed the engine and their boot).
PROBE_EVERY_S = 0.4
# A probe waits for its check's answer this long. An app started early holds a probe's request in
# its listen queue until it serves, and answers it then: the probe ends the moment the app
# answers, so no poll interval is added; the bound only caps a probe of a wedged replica.
PROBE_PATIENCE_S = 60.0


def probe_command(healthcheck: Healthcheck | None) -> tuple[str, ...] | None:
    """The health check's test as a command to exec, as Docker runs it; None without one."""
    if healthcheck is None or not healthcheck.test or healthcheck.test[0] == "NONE":
        return None
    kind, *args = healthcheck.test
    if kind == "CMD-SHELL":
        return ("/bin/sh", "-c", " ".join(args))
    return tuple(args)


def passes_now(engine: Engine, replica_id: str, healthcheck: Healthcheck | None) -> bool:
    """One probe now, waiting as long as Docker would (the check's own timeout)."""
    command = probe_command(healthcheck)
    return (
        healthcheck is not None
        and command is not None
        and engine.run_in(replica_id, command, healthcheck.timeout_s) == 0
    )


class Readiness:
    """Which replicas answer: running, and healthy by Docker or by a probe of ours. `poll` starts
    a probe (in the background) of each running replica not known to answer yet."""

    def __init__(self, engine: Engine, probes: Mapping[str, tuple[str, ...] | None]) -> None:
        self._engine = engine
        self._probes = probes  # service name -> command
        self._answered: set[str] = set()
        self._in_flight: set[str] = set()
        self._last_probe: dict[str, float] = {}  # replica id -> when its last probe ended
        self._lock = threading.Lock()
        self._closed = False

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
                or now - self._last_probe.get(replica.id, 0.0) < PROBE_EVERY_S
            ):
                continue
            with self._lock:
                if (
                    self._closed
                    or replica.id in self._in_flight
                    or len(self._in_flight) >= MAX_PROBES_AT_ONCE
                ):
                    continue
                self._in_flight.add(replica.id)
            threading.Thread(
                target=self._probe, args=(replica.id, command), name="probe", daemon=True
            ).start()

    def _probe(self, replica_id: str, command: tuple[str, ...]) -> None:
        code = -1
        try:
            code = self._engine.run_in(replica_id, command, PROBE_PATIENCE_S)
        except Exception:  # noqa: S110 (the engine went away mid-probe: simply not an answer)
            pass
        finally:
            with self._lock:
                if code == 0:
                    self._answered.add(replica_id)
                self._last_probe[replica_id] = time.monotonic()
                self._in_flight.discard(replica_id)

    def close(self) -> None:
        """Start no more probes, and do not wait for those still running."""
        with self._lock:
            self._closed = True
