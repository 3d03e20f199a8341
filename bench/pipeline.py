"""End-to-end processing rate when the work itself is free (MAX_DELAY=0, FAIL_RATE=0): messages/s
committed by the receivers, with 1, 2 and 4 receivers.

    .venv/bin/python bench/pipeline.py [--messages 6000] [--runs 3]

For each receiver count: with the receivers paused (`docker pause`), messages are sent through
the JSON API until the queue holds about --messages of them; then the receivers are thawed and
the commit times of the middle 80 % of them (10 % -> 90 %, so start-up and the last stragglers
do not count) give the rate. The receivers run on CPU 1, everything else on CPU 0 (the same split as
bench/sender.py). Also printed: the receivers' CPU time per message, and that every message of
the run was committed exactly once (no loss, no duplicate effect).

Brings up its own stack (project benchpipe) and removes it at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from common import commits, mafa, pin, resident_mib

from mafa_cli.engine.local import DockerEngine
from mafa_cli.stack.access import StackClient

PROJECT = "benchpipe"
PORT = "18994"


class Pipeline:
    def __init__(self, state: str) -> None:
        self.state = state
        self.client = StackClient(PROJECT)
        self.docker = DockerEngine.connect()

    def mafa(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = mafa(self.state, *args, cpu="0")
        if result.returncode != 0:
            raise SystemExit(f"mafa {args[0]} failed: {result.stderr}")
        return result

    def pin(self) -> None:
        pin(self.client.refresh(), "receiver")

    def receivers_samples(self) -> list[dict[str, Any]]:
        return [
            next(self.docker.stats_stream(info.name))
            for info in self.client.refresh()
            if info.service == "receiver" and info.state in ("running", "paused")
        ]

    def receivers_cpu_ns(self) -> int:
        return sum(
            int(s["cpu_stats"]["cpu_usage"]["total_usage"]) for s in self.receivers_samples()
        )

    def count(self, sql: str, run_id: str) -> int:
        return int(self.client.database().execute(sql, (run_id,))[0]["n"])

    def receivers(self, action: str) -> None:
        names = [c.name for c in self.client.refresh() if c.service == "receiver"]
        subprocess.run(["docker", action, *names], check=True, capture_output=True)

    def fill(self, messages: int) -> tuple[str, int]:
        """Send about `messages` messages while the receivers are paused; (run id, accepted)."""
        seconds = 20
        report = Path(self.state) / f"fill-{time.monotonic_ns()}"
        result = self.mafa(
            "load", "-p", PROJECT, "--users", "32", "--spawn-rate", "32", "--think-time", "0",
            "--weights", "api=1,form=0,results=0,reset=0,page=0", "--rate", str(messages / seconds),
            "--duration", f"{seconds}s", "--report", str(report),
        )  # fmt: skip
        run_id = next(
            line.split()[2] for line in result.stdout.splitlines() if line.startswith("load run ")
        )
        time.sleep(1)
        accepted = self.count(
            "SELECT count(*) AS n FROM sender.messages WHERE run_id = %s AND status = 'accepted'",
            run_id,
        )
        return run_id, accepted

    def one_run(self, messages: int) -> dict[str, float]:
        # The receivers are up and pinned but frozen (docker pause) while the queue fills, so
        # the drain starts at once and on the right CPU when they are thawed.
        self.receivers("pause")
        try:
            run_id, accepted = self.fill(messages)
        finally:
            cpu_before = self.receivers_cpu_ns()
            self.receivers("unpause")
        processed_sql = "SELECT count(*) AS n FROM receiver.processed WHERE run_id = %s"
        deadline = time.monotonic() + 600
        while self.count(processed_sql, run_id) < accepted:
            if time.monotonic() > deadline:
                raise SystemExit(f"the receivers did not drain {run_id} in time")
            time.sleep(0.5)
        cpu_used = self.receivers_cpu_ns() - cpu_before
        memory = max(resident_mib(sample) for sample in self.receivers_samples())
        rows, distinct, rate = commits(self.client, run_id)
        return {
            "rate": rate,
            "cpu_ms": cpu_used / 1e6 / max(1, accepted),
            "missing": float(accepted - distinct),
            "duplicates": float(rows - distinct),
            "memory_mib": memory,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=6000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--receivers", default="1,2,4")
    args = parser.parse_args()
    state = tempfile.mkdtemp(prefix="mafa-bench-pipeline-")
    os.environ["MAFA_STATE_DIR"] = state
    flags = ["--senders", "1", "--receivers", "0", "--max-delay", "0", "--fail-rate", "0"]
    if mafa(state, "up", "-p", PROJECT, "--port", PORT, *flags).returncode != 0:
        raise SystemExit("mafa up failed")
    try:
        pipeline = Pipeline(state)
        pipeline.pin()
        print(f"receivers on CPU 1, the rest on CPU 0; ~{args.messages} queued messages per run")
        for receivers in (int(n) for n in args.receivers.split(",")):
            pipeline.mafa("scale", "-p", PROJECT, "--receivers", str(receivers))
            pipeline.pin()
            runs = [pipeline.one_run(args.messages) for _ in range(args.runs)]
            rate = statistics.median(r["rate"] for r in runs)
            cpu = statistics.median(r["cpu_ms"] for r in runs)
            missing = max(r["missing"] for r in runs)
            duplicates = max(r["duplicates"] for r in runs)
            memory = max(r["memory_mib"] for r in runs)
            print(
                f"{receivers} receiver(s): {rate:6.0f} messages/s committed"
                f"  receivers' CPU {cpu:.2f} ms/message  missing {missing:.0f}"
                f"  duplicate effects {duplicates:.0f}  receiver memory {memory:.0f} MiB",
                flush=True,
            )
    finally:
        mafa(state, "down", "-p", PROJECT, "--volumes")


if __name__ == "__main__":
    main()
