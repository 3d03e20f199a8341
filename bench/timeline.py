"""Where `mafa up` and `mafa scale` spend their time: a timeline per container, from the engine's
events and the containers' own logs, against what mafa printed and when.

    .venv/bin/python bench/timeline.py [--receivers-after 6] [--smoke]

One stack (2 senders, 3 receivers, project `timeline`): `mafa up`, then `mafa scale --receivers
6` until the work queue lists every receiver's consumers, then `mafa down --volumes`. For each
command, every container's create / start / first and last probe (exec) / healthy, and its log
lines that mark the app's boot, in seconds from the command's start; then mafa's own lines.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from up import CONSUMERS_PER_RECEIVER, broker_probe, queue_consumers

PROJECT = "timeline"
# Log lines that mark an app's way to answering (gunicorn's, services/startup.py's, the broker's).
MARKERS = (
    "Starting gunicorn",
    "Booting worker",
    "dependencies answer",
    "Server startup complete",
    "started TCP listener",
    "database system is ready",
    "Ready to accept connections",
)


@dataclass
class Recorder:
    """The engine's events for the project, as they come, on the wall clock."""

    events: list[tuple[float, str, str]] = field(default_factory=list)  # (time, name, action)

    def start(self) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [
                "docker",
                "events",
                "--format",
                "{{json .}}",
                "--filter",
                f"label=com.docker.compose.project={PROJECT}",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                event = json.loads(line)
                name = event.get("Actor", {}).get("Attributes", {}).get("name", "?")
                self.events.append((event["timeNano"] / 1e9, name, event.get("Action", "")))

        threading.Thread(target=read, daemon=True).start()
        return process


def run_timed(state: str, *args: str) -> tuple[float, list[tuple[float, str]]]:
    """Runs `mafa ARGS`; returns its start time and its output lines with their arrival times."""
    started = time.time()
    process = subprocess.Popen(
        [sys.executable, "-m", "mafa_cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "MAFA_STATE_DIR": state, "COLUMNS": "200"},
    )
    lines: list[tuple[float, str]] = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append((time.time(), line.rstrip()))
    if process.wait() != 0:
        sys.exit("\n".join(text for _, text in lines))
    lines.append((time.time(), "(command returned)"))
    return started, lines


def log_marks(name: str, since: float) -> list[tuple[float, str]]:
    found = subprocess.run(
        ["docker", "logs", "--timestamps", name], capture_output=True, text=True, check=False
    )
    marks = []
    for line in (found.stdout + found.stderr).splitlines():
        stamp, _, text = line.partition(" ")
        if any(marker in text for marker in MARKERS):
            at = datetime.fromisoformat(stamp[:26] + "+00:00").timestamp()
            if at >= since:
                marks.append((at, text[:90]))
    return marks


def report(
    title: str,
    started: float,
    events: list[tuple[float, str, str]],
    lines: list[tuple[float, str]],
    extra: list[tuple[float, str]],
) -> None:
    print(f"\n== {title} (seconds from the command's start)")
    per: dict[str, list[tuple[float, str]]] = defaultdict(list)
    execs: dict[str, list[float]] = defaultdict(list)
    for at, name, action in events:
        if at < started:
            continue
        if action.startswith("exec_start"):
            execs[name].append(at)
        elif action in ("create", "start", "kill", "die", "destroy") or "health_status" in action:
            per[name].append((at, action.replace("health_status: ", "")))
    for name in sorted(per):
        marks = sorted(per[name] + log_marks(name, started))
        if execs[name]:
            marks.append((execs[name][0], f"first probe ({len(execs[name])} execs)"))
            marks.sort()
        print(f"  {name}")
        for at, what in marks:
            print(f"    {at - started:6.2f}  {what}")
    print("  mafa:")
    for at, text in sorted(lines + extra):
        print(f"    {at - started:6.2f}  {text}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--receivers-after", type=int, default=6)
    options = parser.parse_args()
    state = tempfile.mkdtemp(prefix="mafa-timeline-")
    recorder = Recorder()
    watcher = recorder.start()
    try:
        started, lines = run_timed(
            state, "up", "-p", PROJECT, "--port", "18994", "--senders", "2", "--receivers", "3"
        )
        time.sleep(1)
        report("mafa up", started, recorder.events, lines, [])
        started, lines = run_timed(
            state, "scale", "-p", PROJECT, "--receivers", str(options.receivers_after)
        )
        probe = broker_probe(PROJECT, state)
        wanted = options.receivers_after * CONSUMERS_PER_RECEIVER
        consumers: list[tuple[float, str]] = []
        seen = -1
        while seen < wanted and time.time() - started < 120:
            now = queue_consumers(probe)
            if now != seen:
                consumers.append((time.time(), f"queue lists {now} consumers"))
                seen = now
            time.sleep(0.1)
        probe.close()
        report("mafa scale", started, recorder.events, lines, consumers)
    finally:
        subprocess.run(
            [sys.executable, "-m", "mafa_cli", "down", "-p", PROJECT, "--volumes"],
            env={**os.environ, "MAFA_STATE_DIR": state},
            capture_output=True,
            check=False,
        )
        watcher.terminate()
    print(f"\nload average {'/'.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
