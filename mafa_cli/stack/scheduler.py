"""Start each service as soon as what it depends on is ready, then wait until all are healthy.

Not level by level: a slow service holds back only its own dependents (`depends_on` with
`condition: service_healthy` waits for health, any other condition only for the start).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from mafa_cli.engine.protocol import Engine, Replica
from mafa_cli.errors import Unhealthy
from mafa_cli.stack.compose_model import ComposeModel

POLL_S = 0.25
LOG_LINES_ON_FAILURE = 15

Task = Callable[[], object]


class Reporter(Protocol):
    def step(self, message: str) -> None: ...

    def build_output(self, line: str) -> None: ...


def _ready_services(
    current: list[Replica], model: ComposeModel, wanted: Mapping[str, int]
) -> set[str]:
    """Services with their wanted number of ready replicas, plus those not being changed."""
    ready = {
        name
        for name, replicas in wanted.items()
        if sum(1 for r in current if r.service == name and r.ready) == replicas
    }
    return ready | {name for name in model.services if name not in wanted}


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
) -> None:
    """Run each wanted service's tasks (create, recreate, start) once its dependencies are
    ready; return when every wanted service has `wanted[name]` ready replicas. Raises Unhealthy
    (with the late replica's last log lines) after `timeout_s`, and re-raises a failed task."""
    deadline = time.monotonic() + timeout_s
    launched: set[str] = set()
    running: list[Future[object]] = []
    with ThreadPoolExecutor(max_workers=8) as pool:
        while True:
            current = engine.replicas(project)
            ready = _ready_services(current, model, wanted)
            for name, service in model.services.items():
                if name in launched or name not in wanted:
                    continue
                if all(
                    dep in ready if condition == "service_healthy" else dep in launched | ready
                    for dep, condition in service.depends_on
                ):
                    launched.add(name)
                    tasks = tasks_for(name)
                    if tasks:
                        reporter.step(f"starting {name}")
                    running += [pool.submit(task) for task in tasks]
            for future in [f for f in running if f.done()]:
                future.result()  # re-raises a failed create or start
                running.remove(future)
            if not running and launched == set(wanted) and set(wanted) <= ready:
                return
            if time.monotonic() > deadline:
                waiting = [r for r in current if r.service in wanted and not r.ready]
                if not waiting:
                    late = next(n for n in wanted if n not in ready)
                    raise Unhealthy(f"{late} did not start within {timeout_s:.0f}s")
                _raise_unhealthy(engine, project, waiting[0], timeout_s)
            time.sleep(POLL_S)
