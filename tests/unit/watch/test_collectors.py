"""The collectors on fakes (tests/unit/fakes.py): every panel filled from its source, and a
failing source marks only its panel stale, with the reason, keeping its last values."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mafa_cli.engine.protocol import Host, Replica
from mafa_cli.state import ProjectState, RunningLoad
from mafa_cli.watch import collectors, parse
from mafa_cli.watch.collectors import Collector
from tests.unit.fakes import FakeEngine, FakeStackClient

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAFA_STATE_DIR", str(tmp_path / "state"))


def stack(engine: FakeEngine) -> dict[str, str]:
    """Two senders, one receiver, running on the fake engine; their names by service."""
    from mafa_cli.stack.compose_model import parse

    model = parse(
        "services:\n  sender:\n    image: x\n  receiver:\n    image: x\n", {}, base_dir=Path()
    )
    return {
        "sender-1": engine.create("fake", model.services["sender"], 1, "h", "n", {}),
        "sender-2": engine.create("fake", model.services["sender"], 2, "h", "n", {}),
        "receiver-1": engine.create("fake", model.services["receiver"], 1, "h", "n", {}),
    }


def client_with_figures(engine: FakeEngine, ids: dict[str, str]) -> FakeStackClient:
    replicas = {r.name: r for r in engine.replicas("fake")}
    sender1 = replicas["fake-sender-1"]
    receivers: list[dict[str, Any]] = [
        {
            "node": "receiver-a",
            "host": ids["receiver-1"][:12],
            "handled": 40,
            "duplicates": 0,
            "failed": 3,
            "interrupted": 0,
            "redelivered": 3,
            "redelivered_elsewhere": 1,
            "last_seen_at": NOW,
            "slot": 2,
        }
    ]
    return FakeStackClient(
        backend=engine,
        queues={
            "messages": {"messages_ready": 5, "messages_unacknowledged": 2, "consumers": 4},
            "messages.dead": {"messages": 1},
        },
        rabbit_answers={
            "connections": [{"name": "c1", "client_properties": {"connection_name": "receiver-a"}}],
            "channels": [{"connection_details": {"name": "c1"}, "messages_unacknowledged": 2}],
        },
        db_answers={
            "FROM receiver.nodes": receivers,
            "FROM receiver.attempts": [{"mean_ms": 120.0, "p95_ms": 300.0}],
            "FROM sender.nodes": [
                {"node": "sender-a", "host": ids["sender-1"][:12], "accepted": 30, "slot": 0},
                # sender-b holds no colour slot (Redis was away when it started): NULL
                {"node": "sender-b", "host": ids["sender-2"][:12], "accepted": 18, "slot": None},
            ],
        },
        active_sessions=7,
        haproxy_csv=(
            "# pxname,svname,req_tot,hrsp_5xx,status,addr,stot\n"
            f"senders,s1,61,2,UP,{sender1.ip}:8000,61\n"
            "senders,BACKEND,61,2,UP,,61\n"
        ),
    )


class MeetingStackClient(FakeStackClient):
    """A fake whose four sources answer only when all four are being read at the same moment
    (a barrier): read one after the other, the first would wait out the barrier and fail."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.meeting = threading.Barrier(4, timeout=10)

    def queue_depths(self) -> dict[str, tuple[int, int]]:
        self.meeting.wait()
        return super().queue_depths()

    def database(self) -> Any:
        self.meeting.wait()
        return super().database()

    def sessions(self) -> Any:
        self.meeting.wait()
        return super().sessions()

    def balancer_stats(self) -> str:
        self.meeting.wait()
        return super().balancer_stats()


def test_the_sources_are_read_at_the_same_time() -> None:
    """One refresh costs the slowest source, not the sum (each is a forward over the API)."""
    engine = FakeEngine()
    ids = stack(engine)
    figures = client_with_figures(engine, ids)
    client = MeetingStackClient(**{f: getattr(figures, f) for f in figures.__dataclass_fields__})
    collector = Collector("fake", client)  # type: ignore[arg-type]
    try:
        snapshot = collector.collect()
    finally:
        collector.close()
    assert snapshot.stale == {}, "a source waited for the others: they were read in turn"
    assert snapshot.queue.ready == 5
    assert snapshot.receivers[0].handled == 40


def test_every_panel_is_filled_from_its_source() -> None:
    engine = FakeEngine()
    ids = stack(engine)
    client = client_with_figures(engine, ids)
    collector = Collector("fake", client)  # type: ignore[arg-type]
    snapshot = collector.collect()
    assert snapshot.stale == {}
    assert (snapshot.queue.ready, snapshot.queue.unacked, snapshot.queue.dead_letters) == (5, 2, 1)
    (receiver,) = snapshot.receivers
    assert (receiver.container, receiver.handled, receiver.in_flight) == ("fake-receiver-1", 40, 2)
    assert (receiver.mean_ms, receiver.p95_ms) == (120.0, 300.0)
    by_container = {s.container: s for s in snapshot.senders}
    assert by_container["fake-sender-1"].requests == 61
    assert by_container["fake-sender-1"].errors == 2
    assert by_container["fake-sender-2"].requests is None, "not in the balancer's figures"
    # Each node's colour slot, as it claimed it (services/slots.py), from its row.
    assert (receiver.slot, by_container["fake-sender-1"].slot) == (2, 0)
    assert by_container["fake-sender-2"].slot is None
    assert snapshot.active_sessions == 7
    assert snapshot.ledger is not None
    assert (snapshot.ledger.accepted, snapshot.ledger.processed) == (48, 40)
    assert not snapshot.ledger.at_rest, "messages are queued"
    assert {row.name for row in snapshot.containers} == {
        "fake-sender-1",
        "fake-sender-2",
        "fake-receiver-1",
    }
    collector.close()
    assert client.closed


@pytest.mark.parametrize(
    ("source", "panel"),
    [
        ("queue", "queue"),
        ("database", "database"),
        ("sessions", "sessions"),
        ("balancer", "balancer"),
        ("containers", "containers"),
    ],
)
def test_a_failing_source_marks_its_panel_stale_and_keeps_its_last_values(
    source: str, panel: str
) -> None:
    engine = FakeEngine()
    ids = stack(engine)
    client = client_with_figures(engine, ids)
    collector = Collector("fake", client)  # type: ignore[arg-type]
    before = collector.collect()
    client.broken = {source}
    after = collector.collect()
    assert set(after.stale) == {panel}
    assert "ConnectionError" in after.stale[panel]
    if panel == "queue":
        assert after.queue.ready == before.queue.ready
        assert after.ledger is not None
        assert not after.ledger.at_rest
    if panel == "database":
        assert [r.handled for r in after.receivers] == [r.handled for r in before.receivers]
        assert [s.accepted for s in after.senders] == [s.accepted for s in before.senders]
    if panel == "sessions":
        assert after.active_sessions == 7
    if panel == "balancer":
        assert all(s.requests is None for s in after.senders)
    client.broken = set()
    assert collector.collect().stale == {}, "a source that answers again is fresh again"


def test_at_rest_once_nothing_moved_for_a_while(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = FakeEngine()
    client = client_with_figures(engine, stack(engine))
    client.queues["messages"] = {"messages_ready": 0, "messages_unacknowledged": 0}
    monkeypatch.setattr(collectors, "REST_AFTER_S", 0.0)
    collector = Collector("fake", client)  # type: ignore[arg-type]
    collector.collect()
    snapshot = collector.collect()
    assert snapshot.ledger is not None
    assert snapshot.ledger.at_rest


def test_the_projects_events_and_running_load_are_shown(tmp_path: Path) -> None:
    engine = FakeEngine()
    client = client_with_figures(engine, stack(engine))
    state = ProjectState("fake")
    state.secrets_or_create()
    for n in range(7):
        state.record_event("SIGKILL", f"fake-receiver-{n}")
    report = tmp_path / "load"
    report.mkdir()
    assert state.announce_load(RunningLoad("run-1", os.getpid(), report))
    collector = Collector("fake", client)  # type: ignore[arg-type]
    first = collector.collect()
    assert len(first.faults) == 5, "the latest five"
    assert first.faults[-1].endswith("SIGKILL fake-receiver-6")
    assert first.load is not None
    assert first.load.run_id == "run-1"
    (report / "locust_stats.csv").write_text(
        "Type,Name,Request Count,Failure Count,Requests/s,95%\n,Aggregated,100,2,12.5,80\n"
    )
    second = collector.collect()
    assert second.load is not None
    assert second.load.requests == 100
    # Read between locust's truncate and its write: no total in the file. The last one stands
    # (a total falling to 0 would be a counter reset to Prometheus).
    (report / "locust_stats.csv").write_text("Type,Name,Request Count\n")
    assert collector.collect().load == second.load
    state.load_finished()
    assert collector.collect().load is None


def test_a_load_whose_process_is_gone_is_not_shown(tmp_path: Path) -> None:
    state = ProjectState("fake")
    state.secrets_or_create()
    state.announce_load(RunningLoad("run-old", 2**22 + 12345, tmp_path))
    assert state.running_load() is None


def test_resource_samplers_keep_the_latest_sample() -> None:
    engine = FakeEngine()
    ids = stack(engine)
    samplers = collectors.ResourceSamplers(engine)
    samplers.follow(ids["sender-1"])
    samplers.follow(ids["sender-1"])
    deadline = time.monotonic() + 5
    while samplers.latest(ids["sender-1"]) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert samplers.latest(ids["sender-1"]) is not None


def test_a_balanced_stack_is_at_rest_at_its_first_reading() -> None:
    """Nothing ready (read exactly over AMQP) and accepted == processed + parked: at rest at
    once, in flight 0 whatever the management API's sampled unacked says (--once answers fast)."""
    engine = FakeEngine()
    client = client_with_figures(engine, stack(engine))
    client.queues["messages"] = {"messages_ready": 0, "messages_unacknowledged": 3}
    client.queues["messages.dead"] = {"messages": 8}  # 30 + 18 accepted = 40 processed + 8
    snapshot = Collector("fake", client).collect()  # type: ignore[arg-type]
    assert snapshot.ledger is not None
    assert (snapshot.ledger.at_rest, snapshot.ledger.in_flight, snapshot.ledger.lost) == (
        True,
        0,
        0,
    )


def test_an_unbalanced_stack_is_not_at_rest_at_once() -> None:
    engine = FakeEngine()
    client = client_with_figures(engine, stack(engine))
    client.queues["messages"] = {"messages_ready": 0, "messages_unacknowledged": 0}
    snapshot = Collector("fake", client).collect()  # type: ignore[arg-type]
    assert snapshot.ledger is not None
    assert snapshot.ledger.at_rest is False  # 48 accepted, 41 accounted: moving, or lost
    assert snapshot.ledger.lost is None


def test_on_one_engine_no_host_is_read_and_rows_have_none() -> None:
    engine = FakeEngine()
    collector = Collector("fake", client_with_figures(engine, stack(engine)))  # type: ignore[arg-type]
    snapshot = collector.collect()
    collector.close()
    assert engine.host_reads == 0, "one engine: nothing more is read"
    assert snapshot.hosts == ()
    assert [r.host for r in (*snapshot.receivers, *snapshot.senders)] == [None, None, None]


SWARM = [
    Host("node-1", "manager", "ready", "active", "reachable", True),
    Host("node-2", "worker", "ready", "drain", None, False),
]


def test_on_a_swarm_each_row_has_its_host_and_each_host_its_tasks() -> None:
    engine = FakeEngine(nodes=SWARM)  # replica N of a service on node (N-1) mod 2
    collector = Collector("fake", client_with_figures(engine, stack(engine)))  # type: ignore[arg-type]
    snapshot = collector.collect()
    assert snapshot.stale == {}
    assert engine.host_reads == 1
    (receiver,) = snapshot.receivers
    assert receiver.host == "node-1"
    assert {s.container: s.host for s in snapshot.senders} == {
        "fake-sender-1": "node-1",
        "fake-sender-2": "node-2",
    }
    assert [(h.name, h.availability, h.tasks) for h in snapshot.hosts] == [
        ("node-1", "active", {"receiver": 1, "sender": 1}),
        ("node-2", "drain", {"sender": 1}),
    ]

    # The manager's node list fails: its panel goes stale, the hosts last read stay.
    def refuse() -> list[Host]:
        raise ConnectionError("the manager is not answering")

    engine.hosts = refuse  # type: ignore[method-assign]
    after = collector.collect()
    collector.close()
    assert set(after.stale) == {"hosts"}
    assert after.hosts == snapshot.hosts
    assert receiver.host == after.receivers[0].host


def test_host_rows_count_the_running_replicas_of_each_service_on_each_host() -> None:
    replicas = [
        Replica("a", "p_receiver.1", "receiver", 1, "", "running", None, None, (), None, "node-2"),
        Replica("b", "p_receiver.2", "receiver", 2, "", "running", None, None, (), None, "node-2"),
        Replica("c", "p_receiver.3", "receiver", 3, "", "starting", None, None, (), None, "node-1"),
        Replica("d", "p_rabbitmq.1", "rabbitmq", 1, "", "running", None, None, (), None, "node-1"),
    ]
    rows = parse.host_rows(SWARM, replicas)
    assert [(r.name, r.tasks) for r in rows] == [
        ("node-1", {"rabbitmq": 1}),  # a task still starting is not counted
        ("node-2", {"receiver": 2}),
    ]
    assert [r.up for r in rows] == [True, True]
