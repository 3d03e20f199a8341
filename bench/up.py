"""Where people wait: `mafa up` against Debian's docker-compose (v1) on the same compose file,
`mafa scale` 3 -> 6 receivers, and `mafa smoke` end to end, all on warm images.

    .venv/bin/python bench/up.py [--runs 5] [--skip-smoke]

mafa and docker-compose run alternately in one run (mafa, compose, mafa, compose, ...), each
from no containers and no volumes to every service answering, 2 senders + 3 receivers:
- mafa: until `mafa up` returns (it waits until every service answers) and the balancer serves
  the sender page;
- docker-compose: until every container reports healthy (compose v1 has no `--wait`; this is the
  earliest moment a compose user can know) and the balancer serves the sender page.
Scale: `mafa scale --receivers 6` until the broker lists every new receiver's consumers (read
from the broker itself by a passive declare, as `mafa watch` does: the management API's figure
lags it by 2-7 s, measured side by side on a loaded host), and until the command returned.
Smoke: `mafa smoke` with its defaults, the whole command. Prints each run (with the host's load
average after it), then the medians, the ratio of the medians and the median of the per-run
ratios (the machine is noisy: compare ratios taken in one run, not times across runs).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from functools import partial
from pathlib import Path

from common import mafa

from mafa_cli.services.amqp import BrokerUnavailable, QueueProbe
from mafa_cli.services.names import WORK_QUEUE
from mafa_cli.state import SECRET_NAMES as NAMES

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "compose" / "compose.yaml"
SENDERS, RECEIVERS, SCALED = 2, 3, 6
CONSUMERS_PER_RECEIVER = 2  # MAFA_CONSUMERS' default in compose.yaml
# Names and ports of this run's own: other people's benchmarks may run on the same engine.
RUN = os.getpid()
MAFA_PROJECT, COMPOSE_PROJECT, SMOKE_PROJECT = f"bmafa{RUN}", f"bcompose{RUN}", f"bsmoke{RUN}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


MAFA_PORT, COMPOSE_PORT, SMOKE_PORT, WARM_PORT = (free_port() for _ in range(4))
POLL_S = 0.1


def wait(what: str, ready: Callable[[], bool], timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if time.monotonic() > deadline:
            sys.exit(f"gave up waiting for {what}")
        time.sleep(POLL_S)


def inspect(project: str) -> list[dict[str, object]]:
    ids = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={project}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if not ids:
        return []
    found = subprocess.run(["docker", "inspect", *ids], capture_output=True, text=True, check=True)
    return list(json.loads(found.stdout))


def all_healthy(project: str, expected: int) -> bool:
    containers = inspect(project)
    return len(containers) == expected and all(
        c["State"].get("Health", {}).get("Status") == "healthy"  # type: ignore[attr-defined]
        for c in containers
    )


def page_answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def broker_probe(project: str, state: str) -> QueueProbe:
    """A reader of the work queue as the broker has it now (a passive declare, one kept
    connection; this benchmark runs on the engine's host, so it reaches the broker at its
    container address)."""
    rabbit = next(c for c in inspect(project) if "-rabbitmq-" in str(c["Name"]))
    networks = rabbit["NetworkSettings"]["Networks"]  # type: ignore[index]
    address = next(iter(networks.values()))["IPAddress"]
    values = dict(
        line.split("=", 1)
        for line in (Path(state) / project / "secrets.env").read_text().splitlines()
        if "=" in line
    )
    return QueueProbe(address, 5672, "mafa", values["MAFA_RABBITMQ_PASSWORD"])


def queue_consumers(probe: QueueProbe) -> int:
    try:
        return probe.read((WORK_QUEUE,))[WORK_QUEUE][1]
    except BrokerUnavailable:
        return -1


def all_consuming(probe: QueueProbe, consumers: int) -> bool:
    return queue_consumers(probe) >= consumers


def checked(result: subprocess.CompletedProcess[str]) -> None:
    if result.returncode != 0:
        sys.exit(f"{' '.join(result.args)} failed ({result.returncode}):\n{result.stderr}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-smoke", action="store_true")
    options = parser.parse_args()
    expected = 4 + SENDERS + RECEIVERS
    state = tempfile.mkdtemp(prefix="mafa-bench-")
    env_file = Path(state) / "compose.env"
    values = {name: secrets.token_hex(16) for name in NAMES}
    values.update(
        MAFA_IMAGE_NS="mafa-offline",
        MAFA_PIP_ARGS="--no-index",
        MAFA_PORT=str(COMPOSE_PORT),
        MAFA_APP_TAG=os.environ.get("MAFA_APP_TAG", "latest"),
    )
    env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    compose = ["docker-compose", "-p", COMPOSE_PROJECT, "-f", str(COMPOSE), "--env-file"]
    compose.append(str(env_file))
    results: dict[str, list[float]] = {
        "mafa up": [],
        "docker-compose up": [],
        "scale: consuming": [],
        "scale: returned": [],
    }
    if not options.skip_smoke:
        results["mafa smoke"] = []
    # Warm: the app image is built (or found up to date) before anything is timed.
    checked(mafa(state, "up", "-p", f"bwarm{RUN}", "--port", str(WARM_PORT)))
    checked(mafa(state, "down", "-p", f"bwarm{RUN}", "--volumes"))
    up_flags = ["--port", str(MAFA_PORT), "--senders", str(SENDERS), "--receivers", str(RECEIVERS)]
    try:
        for run in range(1, options.runs + 1):
            started = time.monotonic()
            checked(mafa(state, "up", "-p", MAFA_PROJECT, *up_flags))
            wait("the balancer (mafa)", lambda: page_answers(MAFA_PORT))
            results["mafa up"].append(time.monotonic() - started)

            probe = broker_probe(MAFA_PROJECT, state)
            scale_command = ["scale", "-p", MAFA_PROJECT, "--receivers", str(SCALED)]
            started = time.monotonic()
            scaling = subprocess.Popen(
                [sys.executable, "-m", "mafa_cli", *scale_command],
                env={**os.environ, "MAFA_STATE_DIR": state},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            wait(
                "every new receiver consuming",
                partial(all_consuming, probe, SCALED * CONSUMERS_PER_RECEIVER),
            )
            probe.close()
            results["scale: consuming"].append(time.monotonic() - started)
            if scaling.wait() != 0:
                sys.exit(f"mafa scale failed:\n{scaling.stderr.read() if scaling.stderr else ''}")
            results["scale: returned"].append(time.monotonic() - started)
            checked(mafa(state, "down", "-p", MAFA_PROJECT, "--volumes"))

            started = time.monotonic()
            scale = ["--scale", f"sender={SENDERS}", "--scale", f"receiver={RECEIVERS}"]
            subprocess.run([*compose, "up", "-d", *scale], check=True, capture_output=True)
            wait("docker-compose's stack", lambda: all_healthy(COMPOSE_PROJECT, expected))
            wait("the balancer (compose)", lambda: page_answers(COMPOSE_PORT))
            results["docker-compose up"].append(time.monotonic() - started)
            subprocess.run([*compose, "down", "-v"], check=True, capture_output=True)

            if not options.skip_smoke:
                started = time.monotonic()
                checked(mafa(state, "smoke", "-p", SMOKE_PROJECT, "--port", str(SMOKE_PORT)))
                results["mafa smoke"].append(time.monotonic() - started)
            load = "/".join(f"{x:.0f}" for x in os.getloadavg())
            print(
                f"run {run}: " + ", ".join(f"{k} {v[-1]:.1f}s" for k, v in results.items()),
                f"(load average {load})",
            )
            sys.stdout.flush()
    finally:  # an interrupted run leaves nothing behind
        mafa(state, "down", "-p", MAFA_PROJECT, "--volumes")
        subprocess.run([*compose, "down", "-v"], check=False, capture_output=True)
    print("medians (warm images):")
    for name, values_s in results.items():
        print(f"  {name:20s} {statistics.median(values_s):6.1f}s")
    ratio = statistics.median(results["mafa up"]) / statistics.median(results["docker-compose up"])
    per_run = [m / c for m, c in zip(results["mafa up"], results["docker-compose up"], strict=True)]
    print(f"  mafa up / docker-compose up = {ratio:.2f} (medians)")
    print(
        f"  per run: {' / '.join(f'{r:.2f}' for r in per_run)}, "
        f"median {statistics.median(per_run):.2f}"
    )
    print(f"load average at the end {'/'.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
