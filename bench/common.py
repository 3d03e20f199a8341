"""What the benchmark scripts share: running the real CLI with a state directory of their own,
and a stack whose receivers do no work and never fail (so the senders are what is measured)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from mafa_cli.engine.protocol import Replica
from mafa_cli.stack.access import StackClient


def mafa(state: str, *args: str, cpu: str | None = None) -> subprocess.CompletedProcess[str]:
    """`mafa ARGS` (pinned to CPU `cpu` if given), with MAFA_STATE_DIR=state."""
    prefix = ["taskset", "-c", cpu] if cpu else []
    return subprocess.run(
        [*prefix, sys.executable, "-m", "mafa_cli", *args],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "MAFA_STATE_DIR": state},
    )


@contextmanager
def quick_stack(project: str, port: str, state: str | None = None) -> Iterator[str]:
    """A stack with instant, never-failing receivers; yields its state directory."""
    state = state or tempfile.mkdtemp(prefix=f"mafa-{project}-")
    flags = ["--senders", "1", "--receivers", "2", "--max-delay", "0", "--fail-rate", "0"]
    up = mafa(state, "up", "-p", project, "--port", port, *flags)
    if up.returncode != 0:
        sys.exit(up.stderr)
    try:
        yield state
    finally:
        mafa(state, "down", "-p", project, "--volumes")


def pin(containers: Iterable[Replica], measured_service: str) -> None:
    """The measured service's replicas on CPU 1, everything else on CPU 0."""
    for info in containers:
        cpus = "1" if info.service == measured_service else "0"
        subprocess.run(
            ["docker", "update", "--cpuset-cpus", cpus, info.name], check=True, capture_output=True
        )


def resident_mib(sample: dict[str, Any]) -> float:
    """A container's memory in use from an engine stats sample, page cache left out (as
    `docker stats` shows it)."""
    memory = sample.get("memory_stats", {})
    stats = memory.get("stats", {})
    cache = stats.get("inactive_file", stats.get("total_inactive_file", 0))
    return float(memory.get("usage", 0) - cache) / 2**20


def commits(client: StackClient, run_id: str) -> tuple[int, int, float]:
    """A run's commits by the receivers: (rows, distinct messages, messages/s). The rate is from
    the commits' own times, the middle 80 %: without start-up and the last stragglers."""
    row = client.database().execute(
        "SELECT count(*) AS n, count(DISTINCT message_id) AS distinct_ids,"
        " percentile_disc(0.1) WITHIN GROUP (ORDER BY finished_at) AS t10,"
        " percentile_disc(0.9) WITHIN GROUP (ORDER BY finished_at) AS t90"
        " FROM receiver.processed WHERE run_id = %s",
        (run_id,),
    )[0]
    window_s = max(1e-6, (row["t90"] - row["t10"]).total_seconds())
    return int(row["n"]), int(row["distinct_ids"]), 0.8 * row["n"] / window_s
