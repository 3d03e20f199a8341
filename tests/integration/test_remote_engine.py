"""The Docker Desktop case on this machine: the stack runs on an engine inside a container, whose
container addresses and published ports the CLI cannot reach; only its API answers (a unix socket,
DOCKER_HOST). Everything must still work: the images build from archives sent through the API, no
file of this host is mounted, and the CLI reaches the stack's parts through port forwards."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from xml.etree import ElementTree

import pytest

from mafa_cli.engine_lab import EngineLab
from tests.integration.stack import free_port, mafa

FLAGS = ("--images", "offline", "--senders", "1", "--receivers", "2", "--max-delay", "0.2")


def test_mafa_works_against_an_engine_it_cannot_route_into(
    engine_in_container: EngineLab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", engine_in_container.docker_host)
    state = tmp_path / "state"
    project = "remote"
    port = str(free_port())
    try:
        mafa("up", "-p", project, "--port", port, *FLAGS, state=state)

        # The stack is on the inner engine, not on this host's.
        inner = subprocess.run(
            ["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={project}"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert len(inner.stdout.split()) == 7  # 4 infrastructure, 1 sender, 2 receivers
        outer = subprocess.run(
            ["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={project}"],
            capture_output=True,
            text=True,
            check=True,
            env={"PATH": "/usr/bin:/bin"},
        )
        assert outer.stdout.strip() == ""

        snapshot = json.loads(mafa("watch", "--once", "--json", "-p", project, state=state).stdout)
        assert snapshot["stale"] == {}, "every source answered through the forwards"
        assert snapshot["queue"]["consumers"] >= 2
        assert len(snapshot["senders"]) == 1
        assert len(snapshot["receivers"]) == 2

        assert "nothing lost" in mafa("ledger", "-p", project, state=state).stdout

        junit = tmp_path / "smoke.xml"
        smoke = mafa(
            "smoke", "-p", project, "--port", port, "--keep", "--messages", "200",
            "--junit", str(junit), *FLAGS[2:], state=state,
        )  # fmt: skip
        sending = next(line for line in smoke.stdout.splitlines() if "messages through" in line)
        assert f"127.0.0.1:{port} " not in sending, "published ports are not reachable: forwarded"
        suite = ElementTree.parse(junit).getroot()
        assert suite.find(".//failure") is None
        assert suite.find(".//error") is None
    finally:
        down = mafa("down", "-p", project, "--volumes", state=state, check=False)
    assert down.returncode == 0, down.stderr
    left = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={project}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert left.stdout.strip() == ""
