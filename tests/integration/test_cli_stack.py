"""`mafa up / scale / status / logs / down` against the real engine, through the real CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mafa_cli.status import ExitStatus
from tests.integration.stack import COMPOSE_FILE, ComposeStack, free_port, mafa, mafa_stack

INFRASTRUCTURE = ("rabbitmq", "postgres", "redis", "haproxy")


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mafa-state")


@pytest.fixture(scope="module")
def cli_stack(state: Path, workdir: Path) -> Iterator[ComposeStack]:
    """A stack brought up by `mafa up` (2 senders, 3 receivers), for checking through its parts."""
    with mafa_stack("mafacli", state, workdir, *FLAGS) as stack:
        yield stack


FLAGS = ("--senders", "2", "--receivers", "3", "--max-delay", "1", "--fail-rate", "0.2")


def up_again(stack: ComposeStack, state: Path, *extra: str) -> str:
    """`mafa up` once more with the stack's own flags (plus `extra`); its output."""
    return mafa(
        "up", "-p", stack.project, "--port", str(stack.port), *FLAGS, *extra, state=state
    ).stdout


def ids(stack: ComposeStack, services: tuple[str, ...] | None = None) -> dict[str, str]:
    return {
        c["Name"].lstrip("/"): c["Id"]
        for c in stack.containers()
        if services is None or c["Config"]["Labels"]["com.docker.compose.service"] in services
    }


def test_up_from_nothing_is_healthy_and_plain_compose_sees_it(
    cli_stack: ComposeStack, state: Path
) -> None:
    project = cli_stack.project
    names = set(ids(cli_stack))
    assert names == {
        f"{project}-{service}-{n}"
        for service, count in (
            ("rabbitmq", 1),
            ("postgres", 1),
            ("redis", 1),
            ("haproxy", 1),
            ("sender", 2),
            ("receiver", 3),
        )
        for n in range(1, count + 1)
    }
    page = requests.get(f"{cli_stack.url}/", timeout=10)
    assert page.status_code == 200
    assert "Submit Message" in page.text

    status = mafa("status", "-p", project, "--json", state=state)
    rows = json.loads(status.stdout)
    assert len(rows) == 9
    assert all(r["ok"] for r in rows)

    listed = subprocess.run(
        ["docker-compose", "-p", project, "-f", str(COMPOSE_FILE), "ps", "-q"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **cli_stack.settings},
    ).stdout.split()
    assert set(listed) == set(ids(cli_stack).values())

    # Secrets: a file only its owner can read; the same values are in the containers' env only.
    secrets_file = state / project / "secrets.env"
    assert secrets_file.stat().st_mode & 0o777 == 0o600


def test_up_again_changes_nothing(cli_stack: ComposeStack, state: Path) -> None:
    before = ids(cli_stack)
    again = up_again(cli_stack, state)
    assert "nothing to change" in again
    assert ids(cli_stack) == before


def test_scale_under_a_trickle_loses_nothing(cli_stack: ComposeStack, state: Path) -> None:
    project = cli_stack.project
    infrastructure = ids(cli_stack, INFRASTRUCTURE)
    sent: list[str] = []
    statuses: list[int] = []
    stop = threading.Event()

    def trickle() -> None:
        client = requests.Session()
        while not stop.is_set():
            answer = client.post(f"{cli_stack.url}/api/messages", json={"message": "trickle"})
            statuses.append(answer.status_code)
            if answer.status_code == 202:
                sent.append(answer.json()["id"])
            time.sleep(0.1)

    sender = threading.Thread(target=trickle)
    sender.start()
    try:
        time.sleep(3)
        mafa("scale", "-p", project, "--receivers", "1", state=state)
        assert len(cli_stack.containers("receiver")) == 1
        time.sleep(3)
        mafa("scale", "-p", project, "--receivers", "4", state=state)
        assert len(cli_stack.containers("receiver")) == 4
        time.sleep(3)
    finally:
        stop.set()
        sender.join()

    assert ids(cli_stack, INFRASTRUCTURE) == infrastructure, "infrastructure was restarted"
    assert statuses.count(202) == len(statuses), f"answers during scaling: {set(statuses)}"
    cli_stack.wait_drained(180)
    processed = {
        r[0]
        for r in cli_stack.query(
            "SELECT message_id::text FROM receiver.processed WHERE message_id = ANY(%s::uuid[])",
            sent,
        )
    }
    parked = cli_stack.dead_lettered_ids()
    assert set(sent) <= processed | parked, f"{len(set(sent) - processed - parked)} lost"
    # Receivers removed while working handed their message back (recorded, then redelivered).
    interrupted = cli_stack.query(
        "SELECT count(*) FROM receiver.attempts WHERE outcome = 'interrupted'"
    )[0][0]
    print(f"{len(sent)} messages, {interrupted} interrupted by the scale-down")


def test_logs_are_prefixed_by_replica(cli_stack: ComposeStack, state: Path) -> None:
    result = mafa("logs", "sender", "-p", cli_stack.project, "--tail", "5", state=state)
    prefixes = {line.split(" | ")[0] for line in result.stdout.splitlines() if " | " in line}
    assert prefixes == {f"{cli_stack.project}-sender-1", f"{cli_stack.project}-sender-2"}


def test_port_in_use_is_refused_before_anything_starts(state: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        project = f"mafaport{uuid.uuid4().hex[:6]}"
        result = mafa("up", "-p", project, "--port", str(port), state=state, check=False)
    try:
        assert result.returncode == ExitStatus.CONFLICT, result.stderr
        assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
        assert "--port" in result.stderr
        assert "Traceback" not in result.stderr
        assert not (state / project).exists(), "a failed first up left secrets or settings"
    finally:
        mafa("down", "-p", project, "--volumes", state=state, check=False)


def test_unhealthy_within_timeout_names_the_service_and_leaves_the_stack(state: Path) -> None:
    project = f"mafaslow{uuid.uuid4().hex[:6]}"
    result = mafa(
        "up", "-p", project, "--port", str(free_port()), "--timeout", "1", state=state, check=False
    )
    try:
        assert result.returncode == ExitStatus.UNHEALTHY, result.stderr
        assert "did not become healthy within 1s" in result.stderr
        assert "mafa logs" in result.stderr
        left = subprocess.run(
            ["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={project}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert left, "the stack is left for inspection"
    finally:
        mafa("down", "-p", project, "--volumes", state=state, check=False)


def test_down_removes_only_its_project(state: Path, stack: ComposeStack, workdir: Path) -> None:
    other_before = {c["Id"] for c in stack.containers()}
    project = f"mafadown{uuid.uuid4().hex[:6]}"
    mafa(
        "up",
        "-p",
        project,
        "--port",
        str(free_port()),
        "--senders",
        "1",
        "--receivers",
        "1",
        state=state,
    )
    volumes_cmd = [
        "docker",
        "volume",
        "ls",
        "-q",
        "--filter",
        f"label=com.docker.compose.project={project}",
    ]
    assert subprocess.run(volumes_cmd, capture_output=True, text=True, check=True).stdout.split()

    mafa("down", "-p", project, state=state)
    label = f"label=com.docker.compose.project={project}"
    for kind in ("ps -a", "network ls"):
        out = subprocess.run(
            ["docker", *kind.split(), "-q", "--filter", label],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert out.strip() == "", f"{kind} still lists the project"
    assert subprocess.run(volumes_cmd, capture_output=True, text=True, check=True).stdout.split(), (
        "volumes are kept without --volumes"
    )
    mafa("down", "-p", project, "--volumes", state=state)
    assert not subprocess.run(
        volumes_cmd, capture_output=True, text=True, check=True
    ).stdout.split()
    # --volumes forgot the project whole (its state directory too): it is unknown now
    again = mafa("down", "-p", project, state=state, check=False)
    assert again.returncode == ExitStatus.NOT_FOUND, again.stderr
    assert not (state / project).exists()
    assert {c["Id"] for c in stack.containers()} == other_before, "another project was touched"

    unknown = mafa("down", "-p", "neverheardof", state=state, check=False)
    assert unknown.returncode == ExitStatus.NOT_FOUND
    assert "no stack named 'neverheardof'" in unknown.stderr


def test_rabbitmq_ui_is_published_only_when_asked(cli_stack: ComposeStack, state: Path) -> None:
    before = ids(cli_stack, ("postgres", "redis"))
    ui_port = free_port()
    output = up_again(cli_stack, state, "--rabbitmq-ui-port", str(ui_port))
    assert f"http://127.0.0.1:{ui_port}" in output
    password = cli_stack.settings["MAFA_RABBITMQ_PASSWORD"]
    url = f"http://127.0.0.1:{ui_port}/api/overview"
    assert requests.get(url, auth=("mafa", password), timeout=10).status_code == 200
    assert requests.get(url, timeout=10).status_code == 401
    (rabbit,) = cli_stack.containers("rabbitmq")
    bindings = rabbit["NetworkSettings"]["Ports"]["15672/tcp"]
    assert [(b["HostIp"], b["HostPort"]) for b in bindings] == [("127.0.0.1", str(ui_port))]
    assert ids(cli_stack, ("postgres", "redis")) == before, "only the broker was recreated"


def test_ledger_of_an_unknown_run_is_not_found(cli_stack: ComposeStack, state: Path) -> None:
    """A mistyped run id must not pass CI as "nothing lost": exit 8, the real runs in the hint."""
    run_id = f"run-known-{uuid.uuid4().hex[:8]}"
    answer = requests.post(
        f"{cli_stack.url}/api/messages",
        json={"message": "ledger"},
        headers={"X-Mafa-Run": run_id},
        timeout=30,
    )
    assert answer.status_code == 202, answer.text
    known = mafa(
        "ledger", "-p", cli_stack.project, "--run", run_id, "--json", state=state, check=False
    )
    assert json.loads(known.stdout)["accepted"] == 1, known.stdout + known.stderr
    unknown = mafa("ledger", "-p", cli_stack.project, "--run", "run-typo", state=state, check=False)
    assert unknown.returncode == ExitStatus.NOT_FOUND, unknown.stdout + unknown.stderr
    assert "no message of run 'run-typo'" in unknown.stderr
    assert run_id in unknown.stderr


def test_looking_at_the_stack_never_disturbs_it(cli_stack: ComposeStack, state: Path) -> None:
    """The CLI reads PostgreSQL, Redis, RabbitMQ and HAProxy through relays exec'd in their
    containers; a relay that left a process behind made PostgreSQL (the container's first
    process, which adopts it) restart every connection when that process died."""
    (postgres,) = cli_stack.containers("postgres")
    since = str(int(time.time()) - 1)
    for _ in range(4):
        mafa("ledger", "-p", cli_stack.project, "--json", state=state, check=False)
        mafa("watch", "-p", cli_stack.project, "--once", "--json", state=state, check=False)
    time.sleep(2)  # an orphaned relay would be killed by now, and its death logged
    logs = subprocess.run(
        ["docker", "logs", "--since", since, postgres["Id"]],
        capture_output=True,
        text=True,
        check=True,
    )
    text = logs.stdout + logs.stderr
    assert "terminated by signal" not in text
    assert "automatic recovery" not in text
