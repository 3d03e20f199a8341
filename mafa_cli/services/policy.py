"""The receiver's simulated work: how long an attempt takes and whether it fails.

Kept pure (the random source is passed in) so tests can seed it and check the distribution.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass


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
