"""One sender replica on one CPU: requests/s, p50/p95/p99, failures and the sender's CPU time per
request, for (a) the page `GET /` with 1,000 messages stored, (b) a message through the JSON
API, (c) a message through the HTML form. 32 closed-loop users, 5 s warm-up, 30 s measured,
three runs each, medians.

    .venv/bin/python bench/sender.py [--runs 3] [--seconds 30] [--project NAME]

The sender is pinned to CPU 1 (`docker update --cpuset-cpus`), everything else (infrastructure,
balancer, locust) to CPU 0. During the message cases the receivers are scaled to 0, so the
sender's work is what is measured and every accepted message must still be in the queue: after
each run the figures say how many messages locust saw accepted but the database does not hold
("dropped") and whether the queue grew by exactly the run's accepted rows ("queue ok"). The
receivers come back at the end and drain the queue.

Brings up its own stack (project benchsender) and removes it at the end; with --project it
measures a running stack instead (MAFA_STATE_DIR must point at its state).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import mafa as run_mafa
from common import pin, quick_stack, resident_mib

from mafa_cli.engine.local import DockerEngine
from mafa_cli.load.plan import messages_accepted, read_stats_csv
from mafa_cli.stack.access import StackClient

USERS = 32
WARM_UP = 5
CASES = {
    "page GET /": "api=0,form=0,results=0,reset=0,page=1",
    "submit JSON API": "api=1,form=0,results=0,reset=0,page=0",
    "submit HTML form": "api=0,form=1,results=0,reset=0,page=0",
}
INFRA = ("postgres", "rabbitmq", "redis", "haproxy")


class Bench:
    def __init__(self, project: str, state: str, seconds: int) -> None:
        self.project, self.state, self.seconds = project, state, seconds
        self.client = StackClient(project)
        self.docker = DockerEngine.connect()

    def mafa(self, *args: str, cpu: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_mafa(self.state, *args, cpu=cpu)

    def container(self, service: str) -> str:
        return f"{self.project}-{service}-1"

    def cpu_ns(self, service: str) -> int:
        """The container's total CPU time so far (the engine's counter, exact)."""
        sample = next(self.docker.stats_stream(self.container(service)))
        return int(sample["cpu_stats"]["cpu_usage"]["total_usage"])

    def pin(self) -> None:
        pin(self.client.refresh(), "sender")

    def queue_depth(self) -> int:
        """Messages in the work queue once the figure holds still: the same three reads in a
        row (a quorum queue's count can trail its last publishes by a moment)."""
        command = ["rabbitmqctl", "-q", "list_queues", "name", "messages"]
        reads: list[int] = []
        deadline = time.monotonic() + 20
        while len(reads) < 3 or len(set(reads[-3:])) > 1:
            out = subprocess.run(
                ["docker", "exec", self.container("rabbitmq"), *command],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            reads.append(
                next(
                    int(n)
                    for name, n in (line.split() for line in out.splitlines())
                    if name == "messages"
                )
            )
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
        return reads[-1]

    def accepted_rows(self, run_id: str | None = None) -> int:
        """Accepted messages of the run (or of all runs)."""
        sql = "SELECT count(*) AS n FROM sender.messages WHERE status = 'accepted'"
        if run_id is None:
            return int(self.client.database().execute(sql)[0]["n"])
        rows = self.client.database().execute(
            sql + " AND (run_id = %s OR body LIKE %s)", (run_id, f"{run_id} #%")
        )
        return int(rows[0]["n"])

    def load(self, weights: str, seconds: int, report: Path, users: int = USERS) -> str:
        result = self.mafa(
            "load",
            "-p",
            self.project,
            "--users",
            str(users),
            "--spawn-rate",
            str(users),
            "--think-time",
            "0",
            "--weights",
            weights,
            "--duration",
            f"{seconds}s",
            "--report",
            str(report),
            cpu="0",
        )
        if result.returncode != 0:
            raise SystemExit(f"mafa load failed: {result.stderr}")
        return next(
            line.split()[2] for line in result.stdout.splitlines() if line.startswith("load run ")
        )

    def one_run(self, name: str, number: int) -> dict[str, float]:
        weights = CASES[name]
        report = Path(self.state) / f"{name.replace(' ', '-').replace('/', '')}-{number}"
        self.load(weights, WARM_UP, Path(f"{report}-warm"))
        is_page = name == "page GET /"
        time.sleep(1)  # the warm-up's last answers settle
        queued_before = 0 if is_page else self.queue_depth()
        accepted_before = 0 if is_page else self.accepted_rows()
        before = {s: self.cpu_ns(s) for s in ("sender", *INFRA)}
        run_id = self.load(weights, self.seconds, report)
        used = {s: self.cpu_ns(s) - before[s] for s in before}
        rows = read_stats_csv((report / "locust_stats.csv").read_text())
        total = next(r for r in rows if r.name == "Aggregated")
        per_request = max(1, total.requests)
        figures = {
            "rps": total.rps,
            "p50": total.p50_ms,
            "p95": total.p95_ms,
            "p99": total.p99_ms,
            "failures": float(total.failures),
            "sender_ms": used["sender"] / 1e6 / per_request,
            **{f"{s}_ms": used[s] / 1e6 / per_request for s in INFRA},
            "sender_mib": resident_mib(next(self.docker.stats_stream(self.container("sender")))),
        }
        if not is_page:
            time.sleep(1)  # the last answers' rows are marked a moment after the confirm
            stored = self.accepted_rows(run_id)
            # locust counted every 202/303 it got; the database must hold at least those (a
            # few more may have been in flight when locust stopped its users) ...
            figures["dropped"] = float(max(0, messages_accepted(rows) - stored))
            # ... and, with no receiver running, the queue must hold every message accepted
            # since the run began (this run's and the warm-up's last few).
            queued = self.queue_depth() - queued_before
            figures["queue_ok"] = float(queued == self.accepted_rows() - accepted_before)
        return figures


def report_line(name: str, runs: list[dict[str, float]]) -> str:
    median = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    line = (
        f"{name:18s} {median['rps']:6.0f} req/s  p50 {median['p50']:4.0f}  "
        f"p95 {median['p95']:4.0f}  p99 {median['p99']:4.0f} ms  "
        f"failures {median['failures']:.0f}  sender CPU {median['sender_ms']:.2f} ms/request"
        f"  sender memory {max(r['sender_mib'] for r in runs):.0f} MiB"
    )
    if "dropped" in median:
        line += f"  dropped {max(r['dropped'] for r in runs):.0f}"
        line += f"  queue ok {sum(int(r['queue_ok']) for r in runs)}/{len(runs)}"
    infra = ", ".join(f"{s} {median[f'{s}_ms']:.2f}" for s in INFRA)
    return line + f"\n{'':18s} other CPU, ms/request: {infra}"


def measure(bench: Bench, cases: list[str], runs: int) -> None:
    bench.pin()
    receivers = sum(1 for c in bench.client.refresh() if c.service == "receiver")
    # 1,000 messages stored, for the page case (receivers up: they are not measured here).
    bench.load(CASES["submit JSON API"], 10, Path(bench.state) / "fill", users=8)
    print(f"one sender on CPU 1; {USERS} closed-loop users; {bench.seconds}s x {runs}; medians")
    for name in cases:
        if name != "page GET /":
            bench.mafa("scale", "-p", bench.project, "--receivers", "0")
        print(report_line(name, [bench.one_run(name, n) for n in range(runs)]), flush=True)
    bench.mafa("scale", "-p", bench.project, "--receivers", str(receivers))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated case names")
    parser.add_argument("--project", help="measure this running stack instead of a new one")
    args = parser.parse_args()
    cases = args.cases.split(",")
    if args.project:
        bench = Bench(args.project, os.environ["MAFA_STATE_DIR"], args.seconds)
        measure(bench, cases, args.runs)
        return
    state = tempfile.mkdtemp(prefix="mafa-bench-sender-")
    os.environ["MAFA_STATE_DIR"] = state  # StackClient finds the stack's secrets there
    with quick_stack("benchsender", "18995", state):
        measure(Bench("benchsender", state, args.seconds), cases, args.runs)


if __name__ == "__main__":
    main()
