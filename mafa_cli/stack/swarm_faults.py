"""Host faults on a Swarm, for `mafa chaos --node-fault`: a worker node taken away (its engine
killed, drained, or cut from the others' network) and brought back, while messages flow.

What mafa can do by itself is what a manager's API offers on any Swarm: drain a node and make
it active again. Killing a node's engine or cutting its network needs the node's host, which
mafa cannot reach on a real multi-host Swarm: the user names a hook (`--node-hook`), a program
mafa runs as `HOOK VERB HOSTNAME ADDRESS` (verbs kill, start, cut, heal), e.g. a script over
ssh on real hosts; the lab on this machine has its own (`python -m mafa_cli.engine_lab node`).

Only workers are taken away: a manager holds the Swarm's control plane, and the stateful
services and the balancer are pinned to one (compose.yaml's deploy: keys).
"""

from __future__ import annotations

import random
import shlex
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from mafa_cli.config import NodeFault
from mafa_cli.engine.swarm import Node, SwarmEngine, Task
from mafa_cli.errors import MafaError, UsageError

HOOK_TIMEOUT_S = 180.0  # a node's engine starting again inside a busy 2-core machine
POLL_S = 1.0
LAB_HOOK_HINT = "on the lab of this machine: --node-hook 'python -m mafa_cli.engine_lab node'"


@dataclass(frozen=True)
class FaultSteps:
    """A fault's two verbs: what takes the node away, what brings it back. They name the
    recorded events ("node <verb>") and, for faults done by the hook, the hook's verb."""

    take: str
    bring_back: str
    needs_hook: bool


STEPS = {
    NodeFault.KILL: FaultSteps("kill", "start", needs_hook=True),
    NodeFault.DRAIN: FaultSteps("drain", "active", needs_hook=False),
    NodeFault.PARTITION: FaultSteps("cut", "heal", needs_hook=True),
}


def hook_words(hook: str) -> list[str]:
    """The hook's command line (shell quoting, no shell), refused when it is empty or
    unbalanced."""
    try:
        words = shlex.split(hook)
    except ValueError as exc:
        raise UsageError(f"--node-hook {hook!r}: {exc}", hint="quote it as for a shell") from None
    if not words:
        raise UsageError("--node-hook is empty", hint=LAB_HOOK_HINT)
    return words


def check_hook(fault: NodeFault, hook: str | None) -> None:
    """A fault that needs the node's host is refused without a hook to reach it."""
    if STEPS[fault].needs_hook and hook is None:
        raise UsageError(
            f"--node-fault {fault} needs --node-hook: mafa cannot reach a node's host by itself",
            hint="a program run as HOOK kill|start|cut|heal HOSTNAME ADDRESS (e.g. over ssh); "
            + LAB_HOOK_HINT,
        )
    if hook is not None:
        hook_words(hook)


def pick_node(nodes: Sequence[Node], wanted: str | None, rng: random.Random) -> Node:
    """The node to take away: `wanted` (a host name) or a random one of the workers that are
    ready and active. Refused on a Swarm with no worker (one node, or managers only)."""
    workers = [n for n in nodes if n.role == "worker"]
    if not workers:
        raise UsageError(
            f"this Swarm has no worker node to take away ({len(nodes)} node(s), all managers)",
            hint="join a worker (`docker swarm join-token worker` on the manager prints how)",
        )
    if wanted is not None:
        named = [n for n in workers if n.hostname == wanted]
        if not named:
            raise UsageError(
                f"--node {wanted!r} is not a worker of this Swarm",
                hint=f"workers: {', '.join(n.hostname for n in workers)}",
            )
        workers = named
    ready = [n for n in workers if n.state == "ready" and n.availability == "active"]
    if not ready:
        raise MafaError(
            "no worker is ready and active now",
            hint="`docker node ls` on the manager; a node brought back takes a few seconds",
        )
    return rng.choice(ready)


@dataclass(frozen=True)
class ReplicaCount:
    service: str
    wanted: int
    running: int

    @property
    def back(self) -> bool:
        return self.running == self.wanted


def replica_counts(tasks: Sequence[Task], wanted: Mapping[str, int]) -> list[ReplicaCount]:
    """Each service's running tasks (meant to run, and running) against its count."""
    running: dict[str, int] = {}
    for task in tasks:
        if task.state == "running" and task.desired_state == "running":
            running[task.service] = running.get(task.service, 0) + 1
    return [ReplicaCount(s, count, running.get(s, 0)) for s, count in sorted(wanted.items())]


def replicas_line(counts: Sequence[ReplicaCount]) -> str:
    return ", ".join(f"{c.service} {c.running}/{c.wanted}" for c in counts)


class NodeFaults:
    """Takes a node away and brings it back: through the manager's API (drain) or the hook."""

    def __init__(
        self,
        engine: SwarmEngine,
        hook: str | None,
        run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
    ) -> None:
        self._engine = engine
        self._hook = hook_words(hook) if hook is not None else None
        self._run = run

    def take(self, fault: NodeFault, node: Node) -> None:
        self._do(fault, STEPS[fault].take, node)

    def bring_back(self, fault: NodeFault, node: Node) -> None:
        self._do(fault, STEPS[fault].bring_back, node)

    def _do(self, fault: NodeFault, verb: str, node: Node) -> None:
        if not STEPS[fault].needs_hook:
            self._engine.set_availability(node.id, verb)
            return
        if self._hook is None:
            raise MafaError(f"--node-fault {fault} needs --node-hook")
        command = [*self._hook, verb, node.hostname, node.address]
        try:
            done = self._run(
                command, capture_output=True, text=True, timeout=HOOK_TIMEOUT_S, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise MafaError(
                f"the node hook failed to {verb} {node.hostname}: {exc}",
                hint="check --node-hook (run it by hand with the same words)",
            ) from None
        if done.returncode != 0:
            last = (done.stderr or done.stdout or "").strip().splitlines()[-1:] or ["no output"]
            raise MafaError(
                f"the node hook failed to {verb} {node.hostname} "
                f"(exit {done.returncode}): {last[0]}",
                hint=f"run it by hand: {shlex.join(command)}",
            )

    def wait_back(self, node: Node, timeout_s: float) -> Node:
        """Until the manager sees the node ready and active again."""
        deadline = time.monotonic() + timeout_s
        while True:
            now = self._engine.node(node.id)
            if now.state == "ready" and now.availability == "active":
                return now
            if time.monotonic() > deadline:
                raise MafaError(
                    f"{node.hostname} is {now.state}/{now.availability} "
                    f"{timeout_s:.0f}s after it was brought back",
                    hint="`docker node ls` on the manager",
                )
            time.sleep(POLL_S)


def wait_replicas(
    engine: SwarmEngine,
    project: str,
    wanted: Mapping[str, int],
    timeout_s: float,
    on_wait: Callable[[str], None],
) -> list[ReplicaCount]:
    """Each service's running tasks, read from the manager's task listing until every count
    is back (or the time is up: the counts as they are then)."""
    deadline = time.monotonic() + timeout_s
    while True:
        counts = replica_counts(engine.tasks(project), wanted)
        if all(c.back for c in counts) or time.monotonic() > deadline:
            return counts
        on_wait(f"replicas coming back: {replicas_line(counts)}")
        time.sleep(POLL_S)
