"""The scheduler on the fake engine: a service starts as soon as its own dependencies are ready
(not level by level), and a timeout names the late replica."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mafa_cli.errors import Unhealthy
from mafa_cli.stack import scheduler
from mafa_cli.stack.compose_model import ComposeModel, parse
from tests.unit.fakes import FakeEngine

HEALTH = "    healthcheck:\n      test: [CMD, 'true']\n"
# slow <- after_slow ; fast <- after_fast (healthy) ; fast <- started_with_fast (started only)
COMPOSE = (
    "services:\n"
    "  slow:\n    image: x\n" + HEALTH + "  fast:\n    image: x\n" + HEALTH + "  after_slow:\n"
    "    image: x\n    depends_on:\n      slow:\n        condition: service_healthy\n"
    "  after_fast:\n"
    "    image: x\n    depends_on:\n      fast:\n        condition: service_healthy\n"
    "  started_with_fast:\n"
    "    image: x\n    depends_on:\n      fast:\n        condition: service_started\n"
)


class Quiet:
    def step(self, message: str) -> None:
        pass

    def build_output(self, line: str) -> None:
        pass


@pytest.fixture
def model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ComposeModel:
    monkeypatch.setattr(scheduler, "POLL_S", 0.001)
    return parse(COMPOSE, {}, base_dir=tmp_path)


def tasks(engine: FakeEngine, model: ComposeModel) -> Callable[[str], list[scheduler.Task]]:
    def tasks_for(name: str) -> list[scheduler.Task]:
        service = model.services[name]
        return [lambda: engine.create("p", service, 1, "h", "p_default", {})]

    return tasks_for


def test_a_slow_service_holds_back_only_its_dependents(model: ComposeModel) -> None:
    engine = FakeEngine(slow={"slow": 50, "fast": 5})
    wanted = dict.fromkeys(model.services, 1)
    scheduler.start_when_ready(engine, "p", model, wanted, tasks(engine, model), Quiet(), 30)
    order = [name for call, name in engine.calls if call == "create"]
    assert order.index("p-after_fast-1") < order.index("p-after_slow-1")
    # service_started: launched with `fast`, before `fast` is healthy
    assert order.index("p-started_with_fast-1") < order.index("p-after_fast-1")
    assert all(r.ready for r in engine.replicas("p"))


def test_service_started_waits_for_the_start_only(model: ComposeModel) -> None:
    engine = FakeEngine(never_healthy={"fast", "slow"})
    wanted = {"fast": 1, "started_with_fast": 1}
    with pytest.raises(Unhealthy, match="p-fast-1 did not become healthy"):
        # 1 s, not less: a loaded host can take longer than 0.1 s to run the fake create, and
        # the deadline would then pass before any replica exists to blame.
        scheduler.start_when_ready(engine, "p", model, wanted, tasks(engine, model), Quiet(), 1.0)
    created = [name for call, name in engine.calls if call == "create"]
    assert created == ["p-fast-1", "p-started_with_fast-1"]


def test_a_service_with_no_replicas_that_never_starts_times_out(model: ComposeModel) -> None:
    engine = FakeEngine()
    wanted = {"fast": 1}
    with pytest.raises(Unhealthy, match="fast did not start within"):
        scheduler.start_when_ready(engine, "p", model, wanted, lambda name: [], Quiet(), 0.05)


EARLY = (
    "services:\n  slow:\n    image: x\n"
    + HEALTH
    + "  early:\n    image: x\n"
    + HEALTH
    + "    x-mafa-start-early: true\n"
    "    depends_on:\n      slow:\n        condition: service_healthy\n"
)


def test_a_service_marked_start_early_runs_while_its_dependency_boots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scheduler, "POLL_S", 0.001)
    model = parse(EARLY, {}, base_dir=tmp_path)
    assert model.services["early"].start_early
    # Started while `slow` boots; its check cannot pass without `slow`, so when `slow` never
    # answers, the one named at the timeout is `slow`.
    engine = FakeEngine(never_healthy={"slow", "early"})
    wanted = dict.fromkeys(model.services, 1)
    with pytest.raises(Unhealthy, match="p-slow-1 did not become healthy"):
        scheduler.start_when_ready(engine, "p", model, wanted, tasks(engine, model), Quiet(), 0.2)
    assert engine.calls.index(("create", "p-early-1")) < engine.calls.index(("probe", "p-slow-1"))


def test_a_start_early_service_answers_for_its_dependency(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scheduler, "POLL_S", 0.001)
    model = parse(EARLY, {}, base_dir=tmp_path)
    assert scheduler.standing_in(model, {"slow": 1, "early": 1}) == {"slow": {"early"}}
    assert scheduler.standing_in(model, {"slow": 1, "early": 0}) == {}
    # Docker's health of `slow` never comes: `early` answering is enough, `slow` is not probed.
    engine = FakeEngine(slow={"slow": 10_000, "early": 10_000}, answers_early={"early"})
    wanted = dict.fromkeys(model.services, 1)
    scheduler.start_when_ready(engine, "p", model, wanted, tasks(engine, model), Quiet(), 5)
    assert ("probe", "p-early-1") in engine.calls
    assert ("probe", "p-slow-1") not in engine.calls


def start_slow(
    engine: FakeEngine, model: ComposeModel, wanted: dict[str, int], timeout_s: float
) -> None:
    """The scheduler with only `slow` to create and start (`early` is left as it is)."""
    slow_only = tasks(engine, model)
    scheduler.start_when_ready(
        engine,
        "p",
        model,
        wanted,
        lambda name: slow_only(name) if name == "slow" else [],
        Quiet(),
        timeout_s,
    )


def test_a_start_early_service_with_no_replicas_leaves_its_dependency_probed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scheduler, "POLL_S", 0.001)
    model = parse(EARLY, {}, base_dir=tmp_path)
    engine = FakeEngine(slow={"slow": 10_000}, answers_early={"slow"})
    start_slow(engine, model, {"slow": 1, "early": 0}, 5)
    assert ("probe", "p-slow-1") in engine.calls


def test_a_dependency_recreated_under_running_dependants_is_probed_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `early` started (and answered) before `slow` was recreated: its answer was about the old
    # `slow`, so the new one must answer by itself (here it never does, and is named).
    monkeypatch.setattr(scheduler, "POLL_S", 0.001)
    model = parse(EARLY, {}, base_dir=tmp_path)
    engine = FakeEngine(never_healthy={"slow"})
    engine.create("p", model.services["early"], 1, "h", "p_default", {})
    engine.replicas("p")  # a poll: `early` is healthy
    with pytest.raises(Unhealthy, match="p-slow-1 did not become healthy"):
        start_slow(engine, model, {"slow": 1, "early": 1}, 0.3)
    assert ("probe", "p-slow-1") in engine.calls
