"""Is the load generator or the stack the bottleneck? Closed-loop users (no think time) sending
messages through the JSON API, 20 s per run, against 1 then 2 senders, with one locust process
and with locust's distributed mode (2 workers). Prints requests/s, p50/p99, failures and the CPU
the locust processes used (100 % = one core).

    .venv/bin/python bench/load.py

Brings up its own stack (project benchload; receivers do no work and never fail, so the
senders' publish path is what is measured) and removes it at the end.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from common import mafa, quick_stack

from mafa_cli.load.plan import read_stats_csv

PROJECT = "benchload"
PORT = "18996"
SECONDS = 20
USERS = 48


def locust_cpu_seconds() -> float:
    """CPU time so far of every locust process mafa started (found by their locustfile)."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes()
            if b"locustfile.py" not in command:
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def run(state: str, label: str, workers: int) -> None:
    report = Path(state) / label.replace(" ", "-")
    args = [
        "load",
        "-p",
        PROJECT,
        "--users",
        str(USERS),
        "--spawn-rate",
        str(USERS),
        "--duration",
        f"{SECONDS}s",
        "--think-time",
        "0",
        "--workers",
        str(workers),
        "--weights",
        "api=1,form=0,results=0,reset=0",
        "--report",
        str(report),
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "mafa_cli", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "MAFA_STATE_DIR": state},
    )
    cpu = 0.0
    last = 0.0
    while process.poll() is None:  # sample often: the processes' CPU is gone once they exit
        current = locust_cpu_seconds()
        cpu, last = (cpu + max(0.0, current - last), current) if current >= last else (cpu, current)
        time.sleep(0.5)
    rows = read_stats_csv((report / "locust_stats.csv").read_text())
    total = next(r for r in rows if r.name == "Aggregated")
    print(
        f"{label:28s} {total.rps:8.1f} req/s  p50 {total.p50_ms:5.0f} ms"
        f"  p99 {total.p99_ms:6.0f} ms  failures {total.failures:5d}"
        f"  locust CPU {cpu / SECONDS * 100:5.0f} %",
        flush=True,
    )


def main() -> None:
    with quick_stack(PROJECT, PORT) as state:
        print(f"{USERS} closed-loop users, {SECONDS} s each, POST /api/messages only")
        run(state, "1 sender, 1 locust process", 0)
        run(state, "1 sender, 2 locust workers", 2)
        mafa(state, "scale", "-p", PROJECT, "--senders", "2")
        run(state, "2 senders, 1 locust process", 0)
        run(state, "2 senders, 2 locust workers", 2)


if __name__ == "__main__":
    main()
