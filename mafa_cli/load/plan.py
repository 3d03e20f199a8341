"""Pure parts of a load run: task weights, load shapes, thresholds, and reading locust's CSV
statistics. No locust import here (the CLI process uses this module)."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from enum import StrEnum

DEFAULT_WEIGHTS = {"api": 10, "form": 2, "results": 1, "reset": 1, "page": 0}


class Shape(StrEnum):
    """How the user count moves over a run (locust LoadTestShape classes in locustfile.py)."""

    RAMP = "ramp"
    STEP = "step"
    SPIKE = "spike"


SHAPES = tuple(Shape)


def parse_weights(text: str) -> dict[str, int]:
    """ "api=10,form=2" -> weights, others from the defaults; ValueError naming a bad part."""
    weights = dict(DEFAULT_WEIGHTS)
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep or name not in DEFAULT_WEIGHTS or not value.isdigit():
            raise ValueError(
                f"bad weight {part!r}: use name=integer with names {', '.join(DEFAULT_WEIGHTS)}"
            )
        weights[name] = int(value)
    if not any(weights.values()):
        raise ValueError("every weight is 0: the users would do nothing")
    return weights


def parse_think_time(text: str) -> tuple[float, float]:
    """ "0.5-2" -> (0.5, 2.0) seconds between a user's actions; "1" -> (1, 1); "0": no pause."""
    low, _, high = text.strip().removesuffix("s").partition("-")
    try:
        bounds = (float(low), float(high or low))
    except ValueError:
        raise ValueError(f"bad think time {text!r}: use seconds like 0.5-2, 1 or 0") from None
    if not 0 <= bounds[0] <= bounds[1] <= 3600:
        raise ValueError(f"bad think time {text!r}: 0 <= low <= high <= 3600 seconds")
    return bounds


def shape_users(
    shape: str, elapsed_s: float, duration_s: float, users: int
) -> tuple[int, float] | None:
    """(users wanted now, spawn rate) for a shape, None once the run is over.

    ramp: 1 -> users linearly over the first 80 % of the run, then held.
    step: four equal steps of users/4.
    spike: a fifth of the users, all of them in the middle fifth of the run, then back.
    """
    if elapsed_s >= duration_s:
        return None
    share = elapsed_s / duration_s
    fast = float(max(users, 1))
    if shape == "ramp":
        return max(1, math.ceil(users * min(1.0, share / 0.8))), fast
    if shape == "step":
        return max(1, math.ceil(users * (math.floor(share * 4) + 1) / 4)), fast
    if shape == "spike":
        base = max(1, users // 5)
        return (users if 0.4 <= share < 0.6 else base), fast
    raise ValueError(f"unknown shape {shape!r}: use one of {', '.join(SHAPES)}")


@dataclass(frozen=True)
class EndpointStats:
    name: str
    requests: int
    failures: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def fail_ratio(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


def _number(value: str | None) -> float:
    try:
        return float(value) if value not in (None, "", "N/A") else 0.0
    except ValueError:
        return 0.0


def read_stats_csv(text: str) -> list[EndpointStats]:
    """Rows of locust's <prefix>_stats.csv (the last one, 'Aggregated', is the total)."""
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        name = f"{row.get('Type', '')} {row.get('Name', '')}".strip()
        rows.append(
            EndpointStats(
                name=name if row.get("Name") != "Aggregated" else "Aggregated",
                requests=int(_number(row.get("Request Count"))),
                failures=int(_number(row.get("Failure Count"))),
                rps=_number(row.get("Requests/s")),
                p50_ms=_number(row.get("50%")),
                p95_ms=_number(row.get("95%")),
                p99_ms=_number(row.get("99%")),
            )
        )
    return rows


def user_counts(history_csv: str) -> tuple[int, int]:
    """(newest, highest) user count in <prefix>_stats_history.csv."""
    counts = [int(_number(r.get("User Count"))) for r in csv.DictReader(io.StringIO(history_csv))]
    return (counts[-1], max(counts)) if counts else (0, 0)


def broken_thresholds(
    total: EndpointStats | None, max_fail_ratio: float | None, max_p95_ms: float | None
) -> list[str]:
    """What the run broke, one sentence each; empty when it passed."""
    if total is None or total.requests == 0:
        return ["no request was made"]
    broken = []
    if max_fail_ratio is not None and total.fail_ratio > max_fail_ratio:
        broken.append(
            f"failure ratio {total.fail_ratio:.4f} is above --max-fail-ratio {max_fail_ratio:g}"
        )
    if max_p95_ms is not None and total.p95_ms > max_p95_ms:
        broken.append(f"p95 {total.p95_ms:.0f} ms is above --max-p95-ms {max_p95_ms:g}")
    return broken


MESSAGE_POSTS = ("POST /api/messages", "POST / (form)")  # the endpoints that submit a message


def messages_accepted(rows: list[EndpointStats]) -> int:
    """Message submissions locust saw succeed (API and form)."""
    return sum(r.requests - r.failures for r in rows if r.name in MESSAGE_POSTS)
