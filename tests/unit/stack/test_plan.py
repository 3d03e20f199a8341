"""The reconcile plan on plain data: only what differs changes."""

from mafa_cli.stack.plan import Existing, Wanted, compute


def running(service: str, number: int, config_hash: str = "h", up: bool = True) -> Existing:
    return Existing(f"{service}{number}", service, number, config_hash, up)


def test_from_nothing_creates_every_replica() -> None:
    plan = compute({"sender": Wanted(2, "h"), "redis": Wanted(1, "r")}, [])
    assert plan.create == [("sender", 1), ("sender", 2), ("redis", 1)]
    assert plan.remove == plan.recreate == plan.start == []


def test_same_again_changes_nothing() -> None:
    existing = [running("sender", 1), running("sender", 2)]
    plan = compute({"sender": Wanted(2, "h")}, existing)
    assert plan.changes_nothing
    assert plan.keep == existing
    assert plan.summary() == "nothing to change"


def test_scale_down_removes_highest_numbers_first() -> None:
    existing = [running("receiver", n) for n in (1, 2, 3, 4)]
    plan = compute({"receiver": Wanted(1, "h")}, existing)
    assert [c.number for c in plan.remove] == [4, 3, 2]
    assert [c.number for c in plan.keep] == [1]


def test_scale_up_fills_the_gaps_in_numbering() -> None:
    existing = [running("receiver", 1), running("receiver", 3)]
    plan = compute({"receiver": Wanted(4, "h")}, existing)
    assert plan.create == [("receiver", 2), ("receiver", 4)]


def test_changed_config_recreates_and_stopped_ones_start() -> None:
    existing = [running("receiver", 1, "old"), running("receiver", 2, "h", up=False)]
    plan = compute({"receiver": Wanted(2, "h")}, existing)
    assert [c.number for c in plan.recreate] == [1]
    assert [c.number for c in plan.start] == [2]
    assert "recreate receiver-1" in plan.summary()


def test_other_services_are_left_alone() -> None:
    plan = compute({"receiver": Wanted(1, "h")}, [running("postgres", 1, "x")])
    assert plan.create == [("receiver", 1)]


def test_duplicate_numbers_are_removed() -> None:
    a, b = running("sender", 1), Existing("other", "sender", 1, "h", True)
    plan = compute({"sender": Wanted(1, "h")}, [a, b])
    assert plan.keep == [a]
    assert plan.remove == [b]
