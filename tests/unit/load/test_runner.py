"""The locust command lines the runner builds (pure): headless, or with its web API on the
loopback so the users of a running test can change."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from mafa_cli.errors import Conflict
from mafa_cli.load.runner import (
    LoadSettings,
    _commands,
    check_port_free,
    load_environment,
    run,
)


def settings(**changes: object) -> LoadSettings:
    values: dict[str, object] = {
        "host": "http://127.0.0.1:8080",
        "users": 5,
        "spawn_rate": 2.0,
        "duration_s": 60.0,
        "rate": None,
        "shape": None,
        "report_dir": Path("/tmp/r"),
        "max_fail_ratio": None,
        "max_p95_ms": None,
        "workers": 0,
        "message_bytes": 64,
        "weights": "",
        "run_id": "run-x",
    }
    values.update(changes)
    return LoadSettings(**values)  # type: ignore[arg-type]


def test_a_plain_run_is_headless_with_no_web_api() -> None:
    (command,) = _commands(settings(), 5557)
    assert "--headless" in command
    assert "--web-port" not in command
    assert "--autostart" not in command


def test_a_controlled_run_serves_its_api_on_the_loopback_and_quits_at_its_end() -> None:
    (command,) = _commands(settings(control_port=43210), 5557)
    assert "--headless" not in command
    assert command[command.index("--web-host") + 1] == "127.0.0.1"
    assert command[command.index("--web-port") + 1] == "43210"
    assert "--autostart" in command
    assert command[command.index("--autoquit") + 1] == "0"
    assert command[command.index("--run-time") + 1] == "60s"


def test_a_controlled_distributed_run_serves_the_api_on_the_master_only() -> None:
    master, worker = _commands(settings(control_port=43210, workers=1), 5557)
    assert "--web-port" in master
    assert "--master" in master
    assert "--web-port" not in worker


def test_workers_elsewhere_leave_the_master_alone_listening_where_they_reach_it() -> None:
    (master,) = _commands(settings(workers=3), 5557, "10.0.9.1", local=False)
    assert "--master" in master
    assert master[master.index("--master-bind-host") + 1] == "10.0.9.1"
    assert master[master.index("--master-bind-port") + 1] == "5557"
    assert master[master.index("--expect-workers") + 1] == "3"
    # Long enough for every node to pull the workers' image first.
    assert int(master[master.index("--expect-workers-max-wait") + 1]) >= 120


def test_local_workers_reach_their_master_on_the_loopback() -> None:
    master, *workers = _commands(settings(workers=2), 5557)
    assert master[master.index("--master-bind-host") + 1] == "127.0.0.1"
    assert len(workers) == 2
    assert workers[0][workers[0].index("--master-host") + 1] == "127.0.0.1"
    assert workers[0][workers[0].index("--master-port") + 1] == "5557"


def test_the_load_environment_is_only_the_run_settings() -> None:
    environment = load_environment(settings(rate=50.0, users=10))
    assert environment["MAFA_RUN_ID"] == "run-x"
    assert environment["MAFA_LOAD_RATE"] == "50"
    assert all(name.startswith("MAFA_") for name in environment), "nothing of this host's"


def test_a_taken_web_port_is_refused_before_locust_starts() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(Conflict) as caught:
            check_port_free(port)
    assert f"port {port} on 127.0.0.1 is already in use" in caught.value.message
    check_port_free(port)  # free again once closed


class WorkersThatFailToStart:
    """Stands in for the Swarm's workers (stack/swarm_load.py; no Swarm in unit tests): their
    start fails with an error that is not mafa's own (an engine's connection dropping)."""

    count = 2
    bind_host = "127.0.0.1"

    def __init__(self) -> None:
        self.port = free_port()
        self.stopped = False

    def start(self) -> None:
        raise ConnectionError("the manager closed the connection")

    def stop(self) -> None:
        self.stopped = True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_workers_elsewhere_are_stopped_whatever_error_ends_the_run(tmp_path: Path) -> None:
    """A real locust master, as a run starts it; the workers' start fails: the error goes on up
    after the master is ended and the workers' stop has run (their service would else stay)."""
    workers = WorkersThatFailToStart()
    with pytest.raises(ConnectionError, match="manager closed"):
        run(settings(workers=2, report_dir=tmp_path / "report"), lambda stats: None, None, workers)
    assert workers.stopped
