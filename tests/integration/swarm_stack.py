"""A mafa stack deployed on the lab's 3-node Swarm (`mafa up --swarm`, mafa_cli/engine_lab.py),
for the Swarm test modules: each makes one with `swarm_stack_on` in a module-scoped fixture and
shares it between its tests (an up on the lab costs minutes on 2 cores)."""

from __future__ import annotations

import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from mafa_cli.engine.swarm import SwarmEngine, Task
from mafa_cli.engine_lab import SwarmLab
from mafa_cli.stack.access import StackClient
from tests.integration.stack import free_port, mafa

STACK_FLAGS = ("--images", "offline", "--max-delay", "0.2", "--fail-rate", "0.2")


@dataclass(frozen=True)
class SwarmStack:
    project: str
    port: int
    state: Path
    lab: SwarmLab
    client: StackClient  # open while the tests run: it holds the forwards

    def running_tasks(self, service: str | None = None) -> list[Task]:
        """The tasks running (and meant to), from the manager's own task listing."""
        tasks = SwarmEngine.connect(self.lab.docker_host).tasks(self.project, service)
        return [t for t in tasks if t.state == "running" and t.desired_state == "running"]

    def tasks_running(self, service: str | None = None) -> dict[str, int]:
        """Running tasks per node."""
        return dict(Counter(task.node for task in self.running_tasks(service)))

    def running_task_ids(self, service: str) -> set[str]:
        return {task.id for task in self.running_tasks(service)}

    def up_again(self, *flags: str) -> subprocess.CompletedProcess[str]:
        """`mafa up --swarm` again with the stack's settings and the replicas running now, plus
        `flags`: a user's second `up`."""
        senders, receivers = (sum(self.tasks_running(s).values()) for s in ("sender", "receiver"))
        return _up(self.lab, self.state, self.project, self.port, senders, receivers, *flags)

    def balancer(self) -> str:
        """The balancer's URL from here: a forward through the manager's API (the lab's nodes
        publish nothing on this host)."""
        return self.client.balancer_url(f"http://127.0.0.1:{self.port}")


def _up(
    lab: SwarmLab, state: Path, project: str, port: int, senders: int, receivers: int, *flags: str
) -> subprocess.CompletedProcess[str]:
    return mafa(
        "up", "-p", project, "--swarm", "--registry", lab.registry,
        "--senders", str(senders), "--receivers", str(receivers), "--port", str(port),
        "--timeout", "600", *STACK_FLAGS, *flags, state=state,
    )  # fmt: skip


@contextmanager
def swarm_stack_on(
    lab: SwarmLab, state: Path, project: str, senders: int = 3, receivers: int = 6
) -> Iterator[SwarmStack]:
    """`mafa up --swarm` on the lab through its registry, removed (with its volumes) at the end;
    the CLI and this process both talk to the manager (DOCKER_HOST) with one state directory."""
    port = free_port()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DOCKER_HOST", lab.docker_host)
        env.setenv("MAFA_STATE_DIR", str(state))
        try:
            _up(lab, state, project, port, senders, receivers)
            with StackClient(project) as client:
                yield SwarmStack(project, port, state, lab, client)
        finally:
            mafa("down", "-p", project, "--volumes", state=state, check=False)
