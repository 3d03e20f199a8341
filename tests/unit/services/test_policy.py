"""The receiver's simulated work, with a seeded random source."""

import random
from itertools import islice

import pytest

from mafa_cli.services.policy import DependencyTimeout, WorkPolicy, backoff_delays, wait_for


def test_rates_and_delays_follow_the_settings() -> None:
    policy = WorkPolicy(max_delay_s=2.0, fail_rate=0.2)
    rng = random.Random(1234)
    attempts = [policy.next_attempt(rng) for _ in range(10_000)]
    failure_share = sum(a.fails for a in attempts) / len(attempts)
    assert 0.18 < failure_share < 0.22
    delays = [a.delay_s for a in attempts]
    assert min(delays) >= 0.0
    assert max(delays) <= 2.0
    assert 0.95 < sum(delays) / len(delays) < 1.05


def test_same_seed_same_attempts() -> None:
    policy = WorkPolicy(1.0, 0.5)
    first = [policy.next_attempt(random.Random(7)) for _ in range(3)]
    again = [policy.next_attempt(random.Random(7)) for _ in range(3)]
    assert first == again


def test_extremes() -> None:
    rng = random.Random(0)
    assert not any(WorkPolicy(0.0, 0.0).next_attempt(rng).fails for _ in range(1000))
    assert all(WorkPolicy(0.0, 1.0).next_attempt(rng).fails for _ in range(1000))
    assert WorkPolicy(0.0, 0.5).next_attempt(rng).delay_s == 0.0


def test_backoff_doubles_up_to_the_cap() -> None:
    assert list(islice(backoff_delays(0.25, 1.5), 5)) == [0.25, 0.5, 1.0, 1.5, 1.5]


class FakeClock:
    """Time that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_wait_for_polls_at_a_steady_pace_until_the_dependency_answers() -> None:
    clock = FakeClock()
    answers = iter([False] * 30 + [True])
    wait_for("broker", lambda: next(answers), 10.0, clock=lambda: clock.now, sleep=clock.sleep)
    # Never a growing backoff: the answer is noticed within one poll, even after 3 s of waiting.
    assert clock.sleeps == [0.1] * 30


def test_wait_for_gives_up_after_the_timeout_naming_the_dependency() -> None:
    clock = FakeClock()
    with pytest.raises(DependencyTimeout, match="PostgreSQL did not answer within 2s"):
        wait_for("PostgreSQL", lambda: False, 2.0, clock=lambda: clock.now, sleep=clock.sleep)
    assert clock.now == pytest.approx(2.0, abs=0.11)
