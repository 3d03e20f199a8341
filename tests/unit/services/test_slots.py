"""The colour slot claim (services/slots.py): lowest free, kept by renewal, freed on release or
expiry, back after a Redis restart, a fallback when none can be had, never a dead heartbeat."""

from __future__ import annotations

import time

import pytest

from mafa_cli.services.palette import PALETTE, fallback_slot, slot_or_fallback
from mafa_cli.services.slots import LEASE_S, SlotKeeper


class FakeSlotLeases:
    """A fake of sessions.RedisSlotLeases (no Redis in unit tests): the same rules as its Lua
    script, in Python, with a clock the test moves instead of Redis' expiry."""

    def __init__(self, count: int = len(PALETTE)) -> None:
        self.count = count
        self.now = 0.0
        self.held: dict[int, tuple[str, float]] = {}  # slot -> (node, expires at)
        self.down = False

    def _free(self, slot: int) -> bool:
        holder = self.held.get(slot)
        return holder is None or holder[1] <= self.now

    def claim(self, node: str, preferred: int | None, lease_s: int) -> int | None:
        if self.down:
            raise ConnectionError("redis is down")
        for slot, (holder, expires) in self.held.items():
            if holder == node and expires > self.now:
                self.held[slot] = (node, self.now + lease_s)
                return slot
        candidates = ([preferred] if preferred is not None else []) + list(range(self.count))
        for slot in candidates:
            if self._free(slot):
                self.held[slot] = (node, self.now + lease_s)
                return slot
        return None

    def release(self, node: str, slot: int) -> None:
        if self.held.get(slot, ("",))[0] == node:
            del self.held[slot]


def keeper(leases: FakeSlotLeases, node: str, stored: list[int | None] | None = None) -> SlotKeeper:
    return SlotKeeper(node, leases, (stored if stored is not None else []).append)


def test_each_node_takes_the_lowest_free_slot() -> None:
    leases = FakeSlotLeases()
    nodes = [keeper(leases, f"node-{i}") for i in range(5)]
    for node in nodes:
        node.beat()
    assert [n.slot for n in nodes] == [0, 1, 2, 3, 4]


def test_a_renewed_slot_is_kept_past_its_first_lease() -> None:
    leases = FakeSlotLeases()
    stored: list[int | None] = []
    first = keeper(leases, "a", stored)
    first.beat()
    for _ in range(10):  # beats every 10 s keep it well past one 30 s lease
        leases.now += 10
        first.beat()
    assert first.slot == 0
    assert stored == [0], "an unchanged slot is not written again"
    late = keeper(leases, "b")
    late.beat()
    assert late.slot == 1


def test_a_released_slot_goes_to_the_next_node() -> None:
    leases = FakeSlotLeases()
    a, b = keeper(leases, "a"), keeper(leases, "b")
    a.beat()
    b.beat()
    a.stop()
    c = keeper(leases, "c")
    c.beat()
    assert (b.slot, c.slot) == (1, 0)


def test_a_killed_nodes_slot_is_free_after_its_lease() -> None:
    leases = FakeSlotLeases()
    killed = keeper(leases, "killed")
    killed.beat()  # and never again: SIGKILL
    newcomer = keeper(leases, "new")
    newcomer.beat()
    assert newcomer.slot == 1
    leases.now += LEASE_S + 1
    later = keeper(leases, "later")
    later.beat()
    assert later.slot == 0


def test_after_a_redis_restart_a_node_gets_its_slot_back() -> None:
    leases = FakeSlotLeases()
    nodes = [keeper(leases, f"n{i}") for i in range(3)]
    for node in nodes:
        node.beat()
    leases.held.clear()  # Redis restarted without its data
    nodes[2].beat()  # the third beats first: it asks for its own slot, not the lowest
    nodes[0].beat()
    nodes[1].beat()
    assert [n.slot for n in nodes] == [0, 1, 2]


def test_no_free_slot_means_the_names_colour() -> None:
    leases = FakeSlotLeases(count=2)
    stored: list[int | None] = []
    nodes = [keeper(leases, "a"), keeper(leases, "b"), keeper(leases, "c", stored)]
    for node in nodes:
        node.beat()
    assert nodes[2].slot is None
    assert stored == [None], "its row says it holds none"
    assert slot_or_fallback("c", nodes[2].slot) == fallback_slot("c")


def test_redis_away_keeps_the_slot_and_the_heartbeat() -> None:
    leases = FakeSlotLeases()
    node = keeper(leases, "a")
    node.beat()
    leases.down = True
    node.beat()  # logged, not raised: the thread must live on
    assert node.slot == 0
    starting = keeper(leases, "b")
    starting.beat()  # a node starting while Redis is away starts, with its name's colour
    assert starting.slot is None


def test_a_slot_the_database_refused_is_stored_at_the_next_beat() -> None:
    leases = FakeSlotLeases()
    written: list[int | None] = []
    database_up = False

    def store(slot: int | None) -> None:
        if not database_up:
            raise RuntimeError("database unavailable")
        written.append(slot)

    node = SlotKeeper("a", leases, store)
    node.beat()
    assert written == []
    database_up = True
    node.beat()
    assert written == [0]


def test_the_heartbeat_thread_claims_and_stop_releases() -> None:
    leases = FakeSlotLeases()
    node = SlotKeeper("a", leases, lambda _slot: None, beat_s=0.01)
    node.start()
    try:
        deadline = time.monotonic() + 10
        while node.slot is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert node.slot == 0
    finally:
        node.stop()
    assert leases.held == {}


@pytest.mark.parametrize("slot", [0, 31])
def test_a_claimed_slot_wins_over_the_name(slot: int) -> None:
    assert slot_or_fallback("any", slot) == slot
