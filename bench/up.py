"""How long `mafa up` takes to a healthy stack with images already built (warm), against Debian's
docker-compose (v1) on the same compose file in the same run, and how long a scale change takes.

    .venv/bin/python bench/up.py [--runs 3]

Prints one line per run and the medians. Each run starts from no containers (volumes removed),
with the images already present; "healthy" means every container reports healthy.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mafa_cli.state import SECRET_NAMES as NAMES

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "compose" / "compose.yaml"
SENDERS, RECEIVERS = 2, 3


def all_healthy(project: str, expected: int) -> bool:
    ids = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={project}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if len(ids) != expected:
        return False
    data = json.loads(
        subprocess.run(
            ["docker", "inspect", *ids], capture_output=True, text=True, check=True
        ).stdout
    )
    return all(c["State"].get("Health", {}).get("Status") == "healthy" for c in data)


def wait_healthy(project: str, expected: int) -> None:
    deadline = time.monotonic() + 300
    while not all_healthy(project, expected):
        if time.monotonic() > deadline:
            sys.exit(f"{project} never became healthy")
        time.sleep(0.2)


def mafa(state: str, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "mafa_cli", *args],
        check=True,
        capture_output=True,
        env={**os.environ, "MAFA_STATE_DIR": state},
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    expected = 4 + SENDERS + RECEIVERS
    state = tempfile.mkdtemp(prefix="mafa-bench-")
    env_file = Path(state) / "compose.env"
    values = {name: secrets.token_hex(16) for name in NAMES}
    values.update(MAFA_IMAGE_NS="mafa-offline", MAFA_PIP_ARGS="--no-index", MAFA_PORT="18990")
    env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    compose = [
        "docker-compose",
        "-p",
        "benchcompose",
        "-f",
        str(COMPOSE),
        "--env-file",
        str(env_file),
    ]
    results: dict[str, list[float]] = {
        "mafa up": [],
        "docker-compose up": [],
        "mafa scale 3->6": [],
    }
    mafa(state, "up", "-p", "benchwarm", "--port", "18991")  # builds the app image if missing
    mafa(state, "down", "-p", "benchwarm", "--volumes")
    for run in range(1, runs + 1):
        started = time.monotonic()
        mafa(
            state,
            "up",
            "-p",
            "benchmafa",
            "--port",
            "18992",
            "--senders",
            str(SENDERS),
            "--receivers",
            str(RECEIVERS),
        )
        wait_healthy("benchmafa", expected)
        results["mafa up"].append(time.monotonic() - started)

        started = time.monotonic()
        mafa(state, "scale", "-p", "benchmafa", "--receivers", "6")
        results["mafa scale 3->6"].append(time.monotonic() - started)
        mafa(state, "down", "-p", "benchmafa", "--volumes")

        started = time.monotonic()
        subprocess.run(
            [
                *compose,
                "up",
                "-d",
                "--scale",
                f"sender={SENDERS}",
                "--scale",
                f"receiver={RECEIVERS}",
            ],
            check=True,
            capture_output=True,
        )
        wait_healthy("benchcompose", expected)
        results["docker-compose up"].append(time.monotonic() - started)
        subprocess.run([*compose, "down", "-v"], check=True, capture_output=True)
        print(
            f"run {run}: " + ", ".join(f"{k} {v[-1]:.1f}s" for k, v in results.items()), flush=True
        )
    print("medians (warm images, from no containers to all healthy):")
    for name, values_s in results.items():
        print(f"  {name:20s} {statistics.median(values_s):6.1f}s")
    ratio = statistics.median(results["mafa up"]) / statistics.median(results["docker-compose up"])
    print(f"  mafa up / docker-compose up = {ratio:.2f}")


if __name__ == "__main__":
    main()
