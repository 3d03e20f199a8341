"""Start each service as soon as what it depends on is ready, then wait until all answer.

Not level by level: a slow service holds back only its own dependents (`depends_on` with
`condition: service_healthy` waits for its health check to pass, any other condition only for
the start). Every replica is created up front, while the first services boot; dependants are
only started when their dependencies answer. "Answers" is stack/readiness.py: Docker's health,
or the same check run by mafa from the moment the replica runs.

A service marked `x-mafa-start-early` waits for its dependencies itself, so it is started as soon
as they are started (its own boot overlaps theirs). Its answer then stands for theirs: its health
check passes only once it has reached each of them (services/startup.py), so those dependencies
are not probed at all. Until they answer, one replica of it (the scout) is probed, not all; its
probe waits in the app's listen queue and returns the moment the app serves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from mafa_cli.engine.protocol import Engine, Replica
from mafa_cli.errors import Unhealthy
from mafa_cli.stack.compose_model import ComposeModel, Service
from mafa_cli.stack.readiness import Readiness, passes_now, probe_command

POLL_S = 0.2
LOG_LINES_ON_FAILURE = 15

Task = Callable[[], object]


class Reporter(Protocol):
    def step(self, message: str) -> None: ...

    def build_output(self, line: str) -> None: ...


def standing_in(model: ComposeModel, wanted: Mapping[str, int]) -> dict[str, set[str]]:
    """Dependency -> its start-early dependants (being started, with replicas) whose answer
    stands for its own: such an app answers only once it has reached the dependency."""
    found: dict[str, set[str]] = {}
    for name, replicas in wanted.items():
        service = model.services[name]
        if not service.start_early or replicas == 0:
            continue
        for dep, condition in service.depends_on:
            if condition == "service_healthy" and dep in wanted:
                found.setdefault(dep, set()).add(name)
    return found


def _started_after(dependant: Replica, dependency: str, current: list[Replica]) -> bool:
    """Did `dependant` start after every replica of `dependency` did? Only then was its own
    check at start made against them (a broker recreated under running apps is not vouched for
    by their old answer)."""
    ours = [r for r in current if r.service == dependency]
    return (
        dependant.started_at is not None
        and bool(ours)
        and all(r.started_at is not None and r.started_at <= dependant.started_at for r in ours)
    )


def _vouched_for(
    dependency: str,
    current: list[Replica],
    wanted: Mapping[str, int],
    readiness: Readiness,
    stood_in: Mapping[str, set[str]],
) -> bool:
    """Does a dependant that started after it answer, with its wanted replicas all running?"""
    ours = [r for r in current if r.service == dependency and r.state == "running"]
    return len(ours) == wanted[dependency] and any(
        r.service in stood_in.get(dependency, set())
        and readiness.answers(r)
        and _started_after(r, dependency, current)
        for r in current
    )


def _ready_services(
    current: list[Replica],
    model: ComposeModel,
    wanted: Mapping[str, int],
    readiness: Readiness,
    stood_in: Mapping[str, set[str]],
) -> set[str]:
    """Services with their wanted number of replicas answering (or a dependant answering for
    them), plus those not being changed."""
    ready = {
        name
        for name, replicas in wanted.items()
        if sum(1 for r in current if r.service == name and readiness.answers(r)) == replicas
        or _vouched_for(name, current, wanted, readiness, stood_in)
    }
    return ready | {name for name in model.services if name not in wanted}


def _left_to_dependants(
    dependency: str, current: list[Replica], stood_in: Mapping[str, set[str]]
) -> bool:
    """Is probing `dependency` left to its dependants' answers? Not while one of them runs that
    started before it (recreated under running apps: their answers say nothing of it)."""
    return dependency in stood_in and not any(
        r.service in stood_in[dependency]
        and r.state == "running"
        and not _started_after(r, dependency, current)
        for r in current
    )


def _dependencies_met(service: Service, ready: set[str], started: set[str]) -> bool:
    """May `service` be started now? `started`: services whose replicas' starts are done."""
    return all(
        dep in ready
        if condition == "service_healthy" and not service.start_early
        else dep in started | ready
        for dep, condition in service.depends_on
    )


def _worth_probing(service: Service | None, ready: set[str]) -> bool:
    return service is not None and all(
        dep in ready for dep, condition in service.depends_on if condition == "service_healthy"
    )


def _to_probe(
    current: list[Replica],
    model: ComposeModel,
    ready: set[str],
    stood_in: Mapping[str, set[str]],
) -> list[Replica]:
    """Replicas worth a probe now: those whose dependencies answer; of a service that answers
    for its dependencies, its first running replica (the scout) while they do not yet; never a
    dependency that a dependant answers for."""
    chosen: list[Replica] = []
    scouts: set[str] = set()
    for replica in current:
        service = model.services.get(replica.service)
        if service is None or _left_to_dependants(replica.service, current, stood_in):
            continue
        if _worth_probing(service, ready):
            chosen.append(replica)
        elif (
            replica.state == "running"
            and replica.service not in scouts
            and _worth_probing(service, ready | _stood_in_by(service.name, stood_in))
        ):
            scouts.add(replica.service)
            chosen.append(replica)
    return chosen


def _stood_in_by(name: str, stood_in: Mapping[str, set[str]]) -> set[str]:
    return {dep for dep, dependants in stood_in.items() if name in dependants}


def _replicas_of(
    engine: Engine, project: str, model: ComposeModel, wanted: Mapping[str, int]
) -> list[Replica]:
    """The replicas of the services being changed (`mafa scale` looks at its own service only:
    every replica listed is an inspect call to the engine, each poll)."""
    if set(wanted) >= set(model.services):
        return engine.replicas(project)
    return [r for name in wanted for r in engine.replicas(project, name)]


def _blame(
    engine: Engine,
    project: str,
    model: ComposeModel,
    wanted: Mapping[str, int],
    current: list[Replica],
    ready: set[str],
    readiness: Readiness,
    timeout_s: float,
) -> None:
    """Raise Unhealthy naming the replica to blame: one that runs and does not answer while what
    it needs answers; others wait for it (those started early too). A dependency that was not
    probed (its dependants answer for it) is probed now, once: if it answers, they are to blame."""

    def answers_now(replica: Replica) -> bool:
        return passes_now(engine, replica.id, model.services[replica.service].healthcheck)

    ready = ready | {
        name
        for name in standing_in(model, wanted)
        if name not in ready
        and all(answers_now(r) for r in current if r.service == name)
        and sum(1 for r in current if r.service == name) == wanted[name]
    }
    waiting = [
        r
        for r in current
        if r.service in wanted and r.service not in ready and not readiness.answers(r)
    ]
    waiting.sort(
        key=lambda r: (
            r.state != "running",
            not _worth_probing(model.services.get(r.service), ready),
        )
    )
    if not waiting:
        late = next(n for n in wanted if n not in ready)
        raise Unhealthy(f"{late} did not start within {timeout_s:.0f}s")
    _raise_unhealthy(engine, project, waiting[0], timeout_s)


def _raise_unhealthy(engine: Engine, project: str, late: Replica, timeout_s: float) -> None:
    tail = "\n".join(engine.logs(late.id, tail=LOG_LINES_ON_FAILURE))
    raise Unhealthy(
        f"{late.name} did not become healthy within {timeout_s:.0f}s "
        f"(state {late.state}, health {late.health or 'none'})",
        hint=f"the stack is left as it is: inspect it with `mafa status -p {project}` "
        f"and `mafa logs {late.service} -p {project}`",
        details=tail,
    )


def start_when_ready(
    engine: Engine,
    project: str,
    model: ComposeModel,
    wanted: Mapping[str, int],
    tasks_for: Callable[[str], list[Task]],
    reporter: Reporter,
    timeout_s: float,
    prepare_for: Callable[[str], list[Task]] = lambda name: [],
) -> None:
    """Run each wanted service's `tasks_for` tasks (create and start, or start what was
    created ahead, recreate) once its dependencies answer. Once the first services are started,
    the others' `prepare_for` tasks (creating replicas without starting them) run while those
    boot. Return when every wanted service has `wanted[name]` replicas answering. Raises
    Unhealthy (with the late replica's last log lines) after `timeout_s`, and re-raises a
    failed task."""
    deadline = time.monotonic() + timeout_s
    launched: dict[str, list[Future[object]]] = {}  # service -> its create/start tasks
    readiness = Readiness(
        engine, {name: probe_command(s.healthcheck) for name, s in model.services.items()}
    )
    stood_in = standing_in(model, wanted)
    prepared: dict[str, list[Future[object]]] = {}
    order = [name for level in model.start_order() for name in level if name in wanted]
    with ThreadPoolExecutor(max_workers=8) as pool:
        running: list[Future[object]] = []
        try:
            while True:
                current = _replicas_of(engine, project, model, wanted)
                ready = _ready_services(current, model, wanted, readiness, stood_in)
                started = {n for n, tasks in launched.items() if all(t.done() for t in tasks)}
                readiness.poll(_to_probe(current, model, ready, stood_in))
                for name in order:
                    if name in launched or not all(f.done() for f in prepared.get(name, [])):
                        continue
                    if _dependencies_met(model.services[name], ready, started):
                        tasks = tasks_for(name)
                        if tasks:
                            reporter.step(f"starting {name}")
                        launched[name] = [pool.submit(task) for task in tasks]
                        running += launched[name]
                if not prepared and not running:
                    # The first services are started: create the others now, not before (their
                    # creation competing with the first starts delayed those by up to a second).
                    prepared = {
                        name: [pool.submit(task) for task in prepare_for(name)]
                        for name in order
                        if name not in launched
                    }
                    running += [f for futures in prepared.values() for f in futures]
                for future in [f for f in running if f.done()]:
                    future.result()  # re-raises a failed create or start
                    running.remove(future)
                if not running and set(launched) == set(wanted) and set(wanted) <= ready:
                    return
                if time.monotonic() > deadline:
                    _blame(engine, project, model, wanted, current, ready, readiness, timeout_s)
                time.sleep(POLL_S)
        finally:
            readiness.close()
