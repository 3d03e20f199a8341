"""One sender replica on one CPU: requests/s, p50/p95/p99, failures and the sender's CPU time per
request, for (a) the page `GET /` with 1,000 messages stored, (b) a message through the JSON
API, (c) a message through the HTML form. 32 closed-loop users, 5 s warm-up, 30 s measured,
three runs each, medians. After each message run, every message locust saw accepted is checked
to be in the database (so no silent drop makes the figures look good).

    .venv/bin/python bench/sender.py

The sender is pinned to CPU 1 (`docker update --cpuset-cpus`), everything else (infrastructure,
receivers, balancer, locust) to CPU 0. Brings up its own stack (project benchsender) and removes
it at the end.
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
from pathlib import Path

from common import mafa as run_mafa
from common import quick_stack

from mafa_cli.load.plan import messages_accepted, read_stats_csv
from mafa_cli.stack.docker_backend import DockerBackend

STATE = tempfile.mkdtemp(prefix="mafa-bench-sender-")
PROJECT = "benchsender"
PORT = "18995"
USERS = 32
SECONDS = 30
WARM_UP = 5
RUNS = 3
CASES = {
    "page GET /": "api=0,form=0,results=0,reset=0,page=1",
    "submit JSON API": "api=1,form=0,results=0,reset=0,page=0",
    "submit HTML form": "api=0,form=1,results=0,reset=0,page=0",
}


def mafa(*args: str, cpu: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_mafa(STATE, *args, cpu=cpu)


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout


def cpu_ns(container: str) -> int:
    """The container's total CPU time so far (the engine's counter, exact)."""
    sample = next(DockerBackend.connect().stats_stream(container))
    return int(sample["cpu_stats"]["cpu_usage"]["total_usage"])


def accepted_in_database(run_id: str) -> int:
    password = dict(
        line.split("=", 1)
        for line in (Path(STATE) / PROJECT / "secrets.env").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )["MAFA_POSTGRES_PASSWORD"]
    out = docker(
        "exec",
        "-e",
        f"PGPASSWORD={password}",
        f"{PROJECT}-postgres-1",
        "psql",
        "-h",
        "127.0.0.1",
        "-U",
        "postgres",
        "-d",
        "mafa",
        "-tAc",
        # run_id is mafa's own (run-<time>-<hex>), read from its output: no quoting needed.
        f"SELECT count(*) FROM sender.messages WHERE status = 'accepted' AND "  # noqa: S608
        f"(run_id = '{run_id}' OR body LIKE '{run_id} #%')",
    )
    return int(out.strip())


def one_run(name: str, weights: str, number: int, sender: str) -> dict[str, float]:
    report = Path(STATE) / f"{name.replace(' ', '-').replace('/', '')}-{number}"
    common = [
        "-p",
        PROJECT,
        "--users",
        str(USERS),
        "--spawn-rate",
        str(USERS),
        "--think-time",
        "0",
        "--weights",
        weights,
    ]
    mafa("load", *common, "--duration", f"{WARM_UP}s", "--report", str(report) + "-warm", cpu="0")
    before = cpu_ns(sender)
    result = mafa("load", *common, "--duration", f"{SECONDS}s", "--report", str(report), cpu="0")
    used_ns = cpu_ns(sender) - before
    run_id = next(
        line.split()[2] for line in result.stdout.splitlines() if line.startswith("load run ")
    )
    rows = read_stats_csv((report / "locust_stats.csv").read_text())
    total = next(r for r in rows if r.name == "Aggregated")
    figures = {
        "rps": total.rps,
        "p50": total.p50_ms,
        "p95": total.p95_ms,
        "p99": total.p99_ms,
        "failures": float(total.failures),
        "cpu_ms_per_request": used_ns / 1e6 / max(1, total.requests),
    }
    if weights != CASES["page GET /"]:
        seen = messages_accepted(rows)
        stored = accepted_in_database(run_id)
        # locust counted every 202/303 it got; the database must hold at least those (a few
        # more may have been in flight when locust stopped its users).
        figures["dropped"] = float(max(0, seen - stored))
    return figures


def main() -> None:
    with quick_stack(PROJECT, PORT, STATE):
        measure()


def measure() -> None:
    containers = docker(
        "ps",
        "--format",
        "{{.Names}}",
        "--filter",
        f"label=com.docker.compose.project={PROJECT}",
    ).split()
    sender = f"{PROJECT}-sender-1"
    for name in containers:
        docker("update", "--cpuset-cpus", "1" if name == sender else "0", name)
    # 1,000 messages stored, for the page case.
    mafa(
        "load",
        "-p",
        PROJECT,
        "--users",
        "8",
        "--spawn-rate",
        "8",
        "--think-time",
        "0",
        "--weights",
        CASES["submit JSON API"],
        "--duration",
        "8s",
        "--report",
        str(Path(STATE) / "fill"),
        cpu="0",
    )
    print(f"one sender on CPU 1; {USERS} closed-loop users; {SECONDS}s x {RUNS} runs; medians")
    for name, weights in CASES.items():
        runs = [one_run(name, weights, n, sender) for n in range(RUNS)]
        median = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        print(
            f"{name:18s} {median['rps']:7.0f} req/s  p50 {median['p50']:4.0f}  "
            f"p95 {median['p95']:4.0f}  p99 {median['p99']:4.0f} ms  "
            f"failures {median['failures']:.0f}  sender CPU {median['cpu_ms_per_request']:.2f} "
            f"ms/request" + (f"  dropped {median['dropped']:.0f}" if "dropped" in median else ""),
            flush=True,
        )


if __name__ == "__main__":
    main()
