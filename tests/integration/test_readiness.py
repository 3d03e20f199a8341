"""The probe readiness runs through the real engine (engine/local.py `run_in`): the check's exit
code once it ends, and -1 when it is still running at the timeout; a probe waiting for an answer
(an app's probe in its listen queue while it boots) ends the moment the answer comes."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest

from mafa_cli.engine.local import DockerEngine

IMAGE = "mafa-offline/base:bookworm"


@pytest.fixture
def container() -> Iterator[str]:
    name = f"mafa-probe-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["docker", "run", "-d", "--name", name, IMAGE, "sleep", "300"],
        check=True,
        capture_output=True,
    )
    try:
        yield name
    finally:
        subprocess.run(["docker", "rm", "-f", name], check=False, capture_output=True)


def test_a_probe_reports_the_checks_exit_code_once_it_ends(container: str) -> None:
    engine = DockerEngine.connect()
    assert engine.run_in(container, ["true"], 10) == 0
    assert engine.run_in(container, ["sh", "-c", "exit 3"], 10) == 3
    started = time.monotonic()
    # Still running after the start call returns: waited for, not read as a failure.
    assert engine.run_in(container, ["sh", "-c", "sleep 1; exit 0"], 10) == 0
    assert time.monotonic() - started >= 1


def test_a_check_still_running_at_the_timeout_is_not_an_answer(container: str) -> None:
    engine = DockerEngine.connect()
    started = time.monotonic()
    assert engine.run_in(container, ["sleep", "30"], 1) == -1
    assert time.monotonic() - started < 10


def test_a_replica_that_is_gone_is_not_an_answer() -> None:
    assert DockerEngine.connect().run_in("mafa-probe-no-such-container", ["true"], 5) == -1
