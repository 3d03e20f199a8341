"""stack/readiness.py: the probe command taken from a compose health check, and when a replica
counts as answering (on the in-memory engine)."""

from __future__ import annotations

import time

from mafa_cli.stack.compose_model import Healthcheck, Service
from mafa_cli.stack.readiness import Readiness, probe_command
from tests.unit.fakes import FakeEngine


def test_probe_command_runs_the_health_checks_test_as_docker_does() -> None:
    assert probe_command(Healthcheck(("CMD", "pg_isready", "-h", "127.0.0.1"))) == (
        "pg_isready",
        "-h",
        "127.0.0.1",
    )
    assert probe_command(Healthcheck(("CMD-SHELL", "redis-cli ping | grep -q PONG"))) == (
        "/bin/sh",
        "-c",
        "redis-cli ping | grep -q PONG",
    )
    assert probe_command(Healthcheck(("NONE",))) is None
    assert probe_command(None) is None


def _service(name: str) -> Service:
    return Service(
        name=name,
        image="img",
        build=None,
        command=(),
        environment=(),
        ports=(),
        mounts=(),
        depends_on=(),
        healthcheck=Healthcheck(("CMD", "true")),
        restart="no",
        hostname=None,
        stop_grace_period_s=1.0,
    )


def _wait_for(check: Readiness, replica_id: str, engine: FakeEngine, tries: int = 1000) -> bool:
    for _ in range(tries):
        (replica,) = [r for r in engine.replicas("unit") if r.id == replica_id]
        check.poll([replica])
        if check.answers(replica):
            return True
        time.sleep(0.01)
    return False


def test_a_replica_answers_when_its_probe_passes_before_dockers_health() -> None:
    engine = FakeEngine(slow={"db": 10_000}, answers_early={"db"})
    replica_id = engine.create("unit", _service("db"), 1, "hash", "net", {})
    check = Readiness(engine, {"db": ("true",)})
    try:
        assert _wait_for(check, replica_id, engine)
        (replica,) = engine.replicas("unit")
        assert replica.health == "starting", "Docker's health is left as Docker has it"
    finally:
        check.close()


def test_a_replica_that_fails_its_probe_or_stops_does_not_answer() -> None:
    engine = FakeEngine(slow={"db": 10_000}, answers_early={"db"})
    failing = FakeEngine(slow={"db": 10_000}, never_healthy={"db"})
    failing_id = failing.create("unit", _service("db"), 1, "hash", "net", {})
    refused = Readiness(failing, {"db": ("true",)})
    replica_id = engine.create("unit", _service("db"), 1, "hash", "net", {})
    check = Readiness(engine, {"db": ("true",)})
    try:
        assert not _wait_for(refused, failing_id, failing, tries=60)
        assert _wait_for(check, replica_id, engine)
        engine.stop(replica_id)
        (stopped,) = engine.replicas("unit")
        assert not check.answers(stopped)
    finally:
        check.close()
        refused.close()


def test_a_replica_created_but_not_started_is_not_probed() -> None:
    engine = FakeEngine()
    engine.create("unit", _service("db"), 1, "hash", "net", {}, start=False)
    check = Readiness(engine, {"db": ("true",)})
    try:
        (replica,) = engine.replicas("unit")
        check.poll([replica])
        assert not check.answers(replica)
        assert replica.state == "created"
    finally:
        check.close()
