"""How long `mafa watch --once` takes to answer on a quiet stack (issue 17: under 1 s), as a user
runs it (a new interpreter each time, so Python's imports count), plus `--once --json`.

    .venv/bin/python bench/once.py [--runs 10]

A quick stack (1 sender, 2 receivers, no delay, no failures) is brought up, 20 messages are sent
through the balancer and left to be processed, then each form is timed `--runs` times; the
median and the slowest are printed. The stack is removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import time
import urllib.request

from common import mafa, quick_stack

MESSAGES = 20
BUDGET_S = 1.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def send(port: int, count: int) -> None:
    for i in range(count):
        body = json.dumps({"message": f"once-{i}"}).encode()
        request = urllib.request.Request(  # our own stack on the loopback
            f"http://127.0.0.1:{port}/api/messages",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            assert answer.status == 202


def timed(state: str, project: str, *flags: str) -> tuple[float, str]:
    started = time.perf_counter()
    result = mafa(state, "watch", "-p", project, "--once", *flags)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"mafa watch --once failed: {result.stderr}")
    return elapsed, result.stdout


def in_process(state: str, project: str, runs: int) -> list[float]:
    """The same answer without a new interpreter: what the reading itself costs."""
    import io
    import os

    os.environ["MAFA_STATE_DIR"] = state
    from mafa_cli import ui
    from mafa_cli.watch.live import watch

    times = []
    for _ in range(runs):
        started = time.perf_counter()
        watch(project, ui.console(io.StringIO()), 1.0, True, True, None)
        times.append(time.perf_counter() - started)
    return times


def report(label: str, times: list[float]) -> None:
    median = statistics.median(times)
    print(
        f"{label}: median {median:.2f} s, fastest {min(times):.2f} s, slowest {max(times):.2f} s"
        f" over {len(times)} runs ({'within' if median < BUDGET_S else 'over'} {BUDGET_S:g} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    options = parser.parse_args()
    project, port = "benchonce", free_port()
    with quick_stack(project, str(port)) as state:
        send(port, MESSAGES)
        for _ in range(60):  # until processed: the stack is quiet from here on
            _, out = timed(state, project, "--json")
            ledger = json.loads(out)["ledger"]
            if ledger["processed"] >= MESSAGES and ledger["at_rest"]:
                break
            time.sleep(1)
        for flags in ((), ("--json",)):
            times = [timed(state, project, *flags)[0] for _ in range(options.runs)]
            report(" ".join(("mafa watch --once", *flags)), times)
        report("in process (no interpreter start)", in_process(state, project, options.runs))
        started = time.perf_counter()
        mafa(state, "--version")
        print(f"for scale: `mafa --version` took {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
