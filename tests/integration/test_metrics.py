"""`mafa watch --metrics` during a load on a real stack, scraped and parsed with prometheus_client's
parsers (tests/exposition.py), compared with `mafa watch --json` two ways:

- exactly: the scrape and the JSON line of the same snapshot (the same `taken_at`, which the
  endpoint serves as `mafa_snapshot_timestamp_seconds`) hold the same figures, every one;
- within one refresh: an independent `mafa watch --once --json` (its own process and readings)
  run between two scrapes, the second taken from a snapshot that began after it ended. Every
  figure that only grows (counters, accepted, processed) then lies between the two scrapes, and
  the figures that hold still under a steady load (consumers, users, containers) are equal.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from tests import exposition
from tests.integration.stack import ComposeStack, mafa, wait_for

USERS = 4
STEADY = ("mafa_queue_consumers", "mafa_load_users", "mafa_container_running")


def cli(*args: str, state: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mafa_cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "MAFA_STATE_DIR": str(state), "COLUMNS": "200"},
    )


class Watch:
    """A running `mafa watch --json --metrics 127.0.0.1:0`: its URL (from its stderr) and its
    JSON lines (read in a thread, so a silent watch fails the test instead of hanging it)."""

    def __init__(self, project: str, state: Path) -> None:
        self.process = cli(
            "watch", "-p", project, "--json", "--metrics", "127.0.0.1:0", state=state
        )
        assert self.process.stderr is not None
        first = self.process.stderr.readline()
        assert first.startswith("metrics: http://127.0.0.1:"), first
        self.url = first.split()[1]
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout or []:
            self.lines.put(json.loads(line))

    def scrape(self) -> exposition.Samples:
        answer = requests.get(self.url, timeout=10)
        answer.raise_for_status()
        return exposition.parsed(answer.text)

    def snapshot_begun_after(self, moment: float) -> exposition.Samples:
        """The first snapshot whose every reading began after `moment`: the one after the
        first taken after it (a snapshot's time is stamped halfway through its readings)."""
        found: list[exposition.Samples] = []

        def taken_after(when: float) -> bool:
            found[:] = [self.scrape()]
            return timestamp(found[0]) > when

        wait_for(lambda: taken_after(moment), 30, "a snapshot taken after the moment")
        first = timestamp(found[0])
        wait_for(lambda: taken_after(first), 30, "the snapshot after that")
        return found[0]

    def line_taken_at(self, timestamp: float) -> dict[str, Any]:
        while True:
            snapshot = self.lines.get(timeout=30)
            taken = datetime.fromisoformat(snapshot["taken_at"]).timestamp()
            if abs(taken - timestamp) < 1e-3:
                return snapshot
            assert taken < timestamp, "the scraped snapshot was never printed"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture
def loaded(
    load_stack: tuple[ComposeStack, Path], tmp_path: Path
) -> Iterator[tuple[ComposeStack, Path, Watch]]:
    """The shared stack under a steady load of USERS users, watched with --metrics."""
    stack, state = load_stack
    load = cli(
        *("load", "-p", stack.project, "--users", str(USERS), "--spawn-rate", "20"),
        *("--duration", "120s", "--report", str(tmp_path / "load")),
        state=state,
    )
    watch = Watch(stack.project, state)
    try:
        yield stack, state, watch
    finally:
        watch.stop()
        load.send_signal(2)  # Ctrl-C: locust stops and writes its report; done with the load
        load.communicate(timeout=120)


def timestamp(samples: exposition.Samples) -> float:
    return samples[exposition.key("mafa_snapshot_timestamp_seconds", project=project_of(samples))]


def project_of(samples: exposition.Samples) -> str:
    return next(dict(labels)["project"] for _, labels in samples)


def test_metrics_during_a_load_equal_watch_json(
    loaded: tuple[ComposeStack, Path, Watch],
) -> None:
    stack, state, watch = loaded

    def load_running() -> bool:
        samples = watch.scrape()
        running = [v for (name, _), v in samples.items() if name == "mafa_load_users"]
        processed = samples.get(exposition.key("mafa_ledger_processed", project=stack.project))
        return running == [USERS] and (processed or 0) > 0

    wait_for(load_running, 90, f"the load's {USERS} users and processed messages in the metrics")

    # Exactly: one snapshot, scraped and printed.
    scraped = watch.scrape()
    assert scraped.pop(exposition.key("mafa_snapshots_total", project=stack.project)) >= 1
    printed = watch.line_taken_at(timestamp(scraped))
    assert scraped == exposition.from_json(printed)
    assert printed["load"] is not None
    assert any(r["handled"] > 0 for r in printed["receivers"])

    # Within one refresh: an independent reading between two scrapes.
    before = watch.scrape()
    once = exposition.from_json(
        json.loads(mafa("watch", "-p", stack.project, "--once", "--json", state=state).stdout)
    )
    ended = time.time()
    after = watch.snapshot_begun_after(ended)
    assert [v for (name, _), v in once.items() if name == "mafa_load_users"] == [USERS]
    sequence = exposition.key("mafa_snapshots_total", project=stack.project)
    assert before.pop(sequence) < after.pop(sequence)  # counts this watch's snapshots only
    growing = {k for k in once if exposition.growing(k[0])}
    assert growing == {k for k in after if exposition.growing(k[0])}, "the same series"
    out_of_bounds = {
        k: (before.get(k), once[k], after[k])
        for k in growing
        if not before.get(k, 0) <= once[k] <= after[k]
    }
    assert not out_of_bounds
    moved = [k for k in growing if after[k] > before.get(k, 0) and k[0].endswith("_total")]
    assert moved, "the load moved the counters between the scrapes"
    for name in STEADY:
        for k in (k for k in once if k[0] == name):
            assert before[k] == once[k] == after[k], k
