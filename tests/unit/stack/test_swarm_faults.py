import random
import subprocess
from typing import Any

import pytest

from mafa_cli.config import NodeFault
from mafa_cli.engine.swarm import Node, Task
from mafa_cli.errors import MafaError, UsageError
from mafa_cli.stack import swarm_faults
from mafa_cli.stack.swarm_faults import NodeFaults, ReplicaCount, pick_node, replica_counts


def node(hostname: str, role: str = "worker", state: str = "ready", avail: str = "active") -> Node:
    return Node(f"id-{hostname}", hostname, role, state, avail, f"10.0.0.{len(hostname)}", False)


MANAGER = node("m", role="manager")


def test_only_a_ready_active_worker_is_taken_away() -> None:
    nodes = [MANAGER, node("w1"), node("w2", avail="drain"), node("w3", state="down")]
    picked = {pick_node(nodes, None, random.Random(seed)).hostname for seed in range(20)}
    assert picked == {"w1"}


def test_a_named_worker_is_the_one_taken_away() -> None:
    nodes = [MANAGER, node("w1"), node("w2")]
    assert {pick_node(nodes, "w2", random.Random(s)).hostname for s in range(10)} == {"w2"}


@pytest.mark.parametrize(
    ("nodes", "wanted", "message"),
    [
        ([MANAGER], None, r"no worker node to take away \(1 node\(s\), all managers\)"),
        ([MANAGER, node("w1")], "m", "--node 'm' is not a worker of this Swarm"),
        ([MANAGER, node("w1")], "w9", "--node 'w9' is not a worker"),
    ],
)
def test_a_swarm_without_that_worker_is_refused(
    nodes: list[Node], wanted: str | None, message: str
) -> None:
    with pytest.raises(UsageError, match=message) as refused:
        pick_node(nodes, wanted, random.Random())
    assert refused.value.hint


def test_no_worker_ready_now_is_an_error_not_a_usage_error() -> None:
    with pytest.raises(MafaError, match="no worker is ready and active now") as failed:
        pick_node([MANAGER, node("w1", state="down")], None, random.Random())
    assert not isinstance(failed.value, UsageError)


def test_kill_and_partition_need_a_hook_drain_does_not() -> None:
    swarm_faults.check_hook(NodeFault.DRAIN, None)
    for fault in (NodeFault.KILL, NodeFault.PARTITION):
        with pytest.raises(UsageError, match=f"--node-fault {fault} needs --node-hook") as e:
            swarm_faults.check_hook(fault, None)
        assert "engine_lab node" in (e.value.hint or "")
    with pytest.raises(UsageError, match="No closing quotation"):
        swarm_faults.check_hook(NodeFault.KILL, "ssh 'host")
    with pytest.raises(UsageError, match="--node-hook is empty"):
        swarm_faults.check_hook(NodeFault.KILL, "  ")


def task(service: str, state: str = "running", desired: str = "running") -> Task:
    return Task("t", service, 1, "n", state, desired, "", None, None, "")


def test_replicas_count_only_tasks_meant_to_run_and_running() -> None:
    tasks = [
        task("receiver"),
        task("receiver"),
        task("receiver", state="starting"),
        task("receiver", state="running", desired="shutdown"),  # on a node coming back
        task("sender"),
    ]
    counts = replica_counts(tasks, {"receiver": 3, "sender": 1, "redis": 1})
    assert counts == [
        ReplicaCount("receiver", 3, 2),
        ReplicaCount("redis", 1, 0),
        ReplicaCount("sender", 1, 1),
    ]
    assert [c.back for c in counts] == [False, False, True]
    assert swarm_faults.replicas_line(counts) == "receiver 2/3, redis 0/1, sender 1/1"


class Manager:
    """Stands in for SwarmEngine: records availability changes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def set_availability(self, node_id: str, availability: str) -> None:
        self.calls.append((node_id, availability))


def test_drain_goes_through_the_managers_api() -> None:
    manager = Manager()
    faults = NodeFaults(manager, None)  # type: ignore[arg-type]
    faults.take(NodeFault.DRAIN, node("w1"))
    faults.bring_back(NodeFault.DRAIN, node("w1"))
    assert manager.calls == [("id-w1", "drain"), ("id-w1", "active")]


def test_kill_and_partition_run_the_hook_with_verb_host_and_address() -> None:
    ran: list[list[str]] = []

    def run(command: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        ran.append(command)
        return subprocess.CompletedProcess(command, 0, "", "")

    faults = NodeFaults(Manager(), "ssh -o 'BatchMode yes' ops@bastion", run)  # type: ignore[arg-type]
    w1 = node("w1")
    for fault in (NodeFault.KILL, NodeFault.PARTITION):
        faults.take(fault, w1)
        faults.bring_back(fault, w1)
    hook = ["ssh", "-o", "BatchMode yes", "ops@bastion"]
    assert ran == [[*hook, verb, "w1", w1.address] for verb in ("kill", "start", "cut", "heal")]


def test_a_failing_hook_says_what_it_said_and_how_to_run_it_by_hand() -> None:
    def run(command: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(command, 3, "", "warming up\nno route to host w1\n")

    faults = NodeFaults(Manager(), "/opt/hook", run)  # type: ignore[arg-type]
    with pytest.raises(MafaError, match=r"failed to kill w1 \(exit 3\): no route to host w1") as e:
        faults.take(NodeFault.KILL, node("w1"))
    assert e.value.hint == f"run it by hand: /opt/hook kill w1 {node('w1').address}"


def test_a_hook_that_cannot_run_is_an_error_with_a_hint() -> None:
    faults = NodeFaults(Manager(), "/nonexistent/hook")  # type: ignore[arg-type]
    with pytest.raises(MafaError, match="the node hook failed to cut w1") as e:
        faults.take(NodeFault.PARTITION, node("w1"))
    assert "--node-hook" in (e.value.hint or "")


class Coming:
    """Stands in for SwarmEngine: a node and tasks that come back after a few reads."""

    def __init__(self, reads_away: int) -> None:
        self.reads = 0
        self.reads_away = reads_away

    def node(self, node_id: str) -> Node:
        self.reads += 1
        away = self.reads <= self.reads_away
        return node(node_id.removeprefix("id-"), state="down" if away else "ready")

    def tasks(self, project: str) -> list[Task]:
        self.reads += 1
        receivers = 1 if self.reads <= self.reads_away else 2
        return [task("receiver") for _ in range(receivers)]


def test_a_node_is_waited_for_until_ready_and_active(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(swarm_faults, "POLL_S", 0)
    engine = Coming(reads_away=3)
    back = NodeFaults(engine, None).wait_back(node("w1"), timeout_s=5)  # type: ignore[arg-type]
    assert (back.state, back.availability, engine.reads) == ("ready", "active", 4)
    with pytest.raises(MafaError, match=r"w1 is down/active 0s after it was brought back"):
        NodeFaults(Coming(reads_away=10**6), None).wait_back(node("w1"), timeout_s=0)  # type: ignore[arg-type]


def test_replicas_are_waited_for_until_back_or_the_time_is_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(swarm_faults, "POLL_S", 0)
    waits: list[str] = []
    engine = Coming(reads_away=2)
    counts = swarm_faults.wait_replicas(engine, "p", {"receiver": 2}, 5, waits.append)  # type: ignore[arg-type]
    assert counts == [ReplicaCount("receiver", 2, 2)]
    assert waits == ["replicas coming back: receiver 1/2"] * 2
    late = swarm_faults.wait_replicas(Coming(10**6), "p", {"receiver": 2}, 0, waits.append)  # type: ignore[arg-type]
    assert late == [ReplicaCount("receiver", 2, 1)]
