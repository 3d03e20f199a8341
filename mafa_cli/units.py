"""Durations as people write them ("90s", "1m30s", "500ms", "2h", or plain seconds): the one
parser of every duration option (options.duration_option) and of the compose file's durations.

Kept rather than locust's `parse_timespan`: importing anything of locust monkey-patches the CLI
process with gevent (design.md: never import locust in the CLI), and it has no `ms`/`us`, which
Compose durations use. 20 lines, no dependency.
"""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 0.000001}


def parse_duration(value: object) -> float:
    """Seconds; ValueError with a readable reason for anything else."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = str(value).strip()
        try:
            seconds = float(text)
        except ValueError:
            parts = _PART.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text:
                raise ValueError(f"{value!r} is not a duration like 90s, 1m30s or 500ms") from None
            seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds < 0:
        raise ValueError(f"{value!r} is negative")
    return seconds
