"""The receiver's simulated work (how long an attempt takes and whether it fails), and the
services' waiting: backoff between reconnects, and polling a dependency at start.

Kept pure (the random source, the clock and the sleep are passed in) so tests can seed them.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

# How often an app asks a dependency that is still booting whether it answers: a refused
# connection costs next to nothing, and the app goes on within this long of the answer.
STARTUP_POLL_S = 0.1


class DependencyTimeout(RuntimeError):
    """A dependency did not answer within the start-up timeout; the app cannot serve."""


@dataclass(frozen=True)
class Attempt:
    delay_s: float
    fails: bool


@dataclass(frozen=True)
class WorkPolicy:
    max_delay_s: float
    fail_rate: float

    def next_attempt(self, rng: random.Random) -> Attempt:
        """Work for uniform 0..max_delay seconds, then fail with probability fail_rate."""
        delay = rng.uniform(0.0, self.max_delay_s) if self.max_delay_s > 0 else 0.0
        # `<` so that fail_rate 0 never fails and fail_rate 1 always does.
        return Attempt(delay_s=delay, fails=rng.random() < self.fail_rate)


def backoff_delays(first_s: float, cap_s: float) -> Iterator[float]:
    """1x, 2x, 4x ... the first delay, capped: the waits between reconnect attempts."""
    delay = first_s
    while True:
        yield delay
        delay = min(delay * 2, cap_s)


def wait_for(
    what: str,
    answers: Callable[[], bool],
    timeout_s: float,
    *,
    poll_s: float = STARTUP_POLL_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Return once `answers()` is true, asking every `poll_s`; DependencyTimeout after
    `timeout_s`. Not a growing backoff: at start an app waits for a dependency that is booting,
    and must notice the moment it answers (mafa starts the apps while their dependencies boot)."""
    deadline = clock() + timeout_s
    while not answers():
        if clock() >= deadline:
            raise DependencyTimeout(f"{what} did not answer within {timeout_s:.0f}s")
        sleep(poll_s)
