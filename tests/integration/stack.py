"""A real stack for integration tests: compose/compose.yaml brought up with Debian's docker-compose
(v1) on the real engine, plus direct clients to its PostgreSQL and RabbitMQ for checking.

Containers live on the project's private bridge network on this machine; the tests reach the
balancer on 127.0.0.1 and the databases on the containers' own addresses (this machine's own
test hosts), never anything outside.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import requests

from mafa_cli.state import SECRET_NAMES as NAMES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose" / "compose.yaml"
ARTIFACTS = ROOT / "artifacts"
SECRET_NAMES = NAMES  # the secrets compose.yaml requires


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def image_settings() -> dict[str, str]:
    """Offline image set unless told otherwise (this project's machines have no registry)."""
    if os.environ.get("MAFA_TEST_IMAGES", "offline") == "official":
        return {"MAFA_IMAGE_NS": "docker.io/library", "MAFA_PIP_ARGS": ""}
    return {"MAFA_IMAGE_NS": "mafa-offline", "MAFA_PIP_ARGS": "--no-index"}


def wait_for(check: Callable[[], bool], timeout_s: float, what: str, every_s: float = 0.5) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


@dataclass
class ComposeStack:
    project: str
    settings: dict[str, str]
    workdir: Path
    port: int = field(default_factory=free_port)

    @classmethod
    def create(cls, project: str, workdir: Path, **settings: str) -> ComposeStack:
        values = {name: secrets.token_hex(16) for name in SECRET_NAMES}
        values.update(image_settings())
        stack = cls(project=project, settings=values, workdir=workdir)
        values["MAFA_PORT"] = str(stack.port)
        values.update(settings)
        env_file = workdir / f"{project}.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        env_file.chmod(0o600)
        return stack

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def compose(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [
            "docker-compose",
            "-p",
            self.project,
            "-f",
            str(COMPOSE_FILE),
            "--env-file",
            str(self.workdir / f"{self.project}.env"),
            *args,
        ]
        env = {**os.environ, "DOCKER_BUILDKIT": "0"}
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def up(self, senders: int, receivers: int) -> None:
        self.compose("up", "-d", "--scale", f"sender={senders}", "--scale", f"receiver={receivers}")
        wait_for(self.all_healthy, 180, f"{self.project} to be healthy", every_s=1)
        wait_for(self._balancer_ready, 60, "the balancer to reach a sender")

    def down(self) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        logs = self.compose("logs", "--no-color", "--tail", "200", check=False)
        (ARTIFACTS / f"{self.project}.log").write_text(logs.stdout + logs.stderr)
        self.compose("down", "-v", "--remove-orphans", check=False)

    def containers(self, service: str | None = None) -> list[dict[str, Any]]:
        label = f"label=com.docker.compose.project={self.project}"
        args = ["docker", "ps", "-a", "-q", "--filter", label]
        if service:
            args += ["--filter", f"label=com.docker.compose.service={service}"]
        ids = subprocess.run(args, capture_output=True, text=True, check=True).stdout.split()
        if not ids:
            return []
        out = subprocess.run(
            ["docker", "inspect", *ids], capture_output=True, text=True, check=True
        ).stdout
        return list(json.loads(out))

    def all_healthy(self) -> bool:
        found = self.containers()
        return bool(found) and all(
            c["State"].get("Health", {}).get("Status") == "healthy" for c in found
        )

    def _balancer_ready(self) -> bool:
        try:
            return requests.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def ip(self, service: str) -> str:
        (container,) = self.containers(service)[:1]
        networks = container["NetworkSettings"]["Networks"]
        return str(next(iter(networks.values()))["IPAddress"])

    @contextmanager
    def db(self) -> Iterator[psycopg.Connection[Any]]:
        """The stack's database as its superuser (for checking, never used by the services)."""
        with psycopg.connect(
            host=self.ip("postgres"),
            dbname="mafa",
            user="postgres",
            password=self.settings["MAFA_POSTGRES_PASSWORD"],
            autocommit=True,
            connect_timeout=5,
        ) as conn:
            yield conn

    def query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        with self.db() as conn:
            return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]

    def rabbit(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(
            method,
            f"http://{self.ip('rabbitmq')}:15672/api/{path}",
            auth=("mafa", self.settings["MAFA_RABBITMQ_PASSWORD"]),
            timeout=10,
            **kwargs,
        )
        response.raise_for_status()
        return response.json()

    def queue(self, name: str) -> dict[str, Any]:
        return dict(self.rabbit("GET", f"queues/%2F/{name}"))

    def dead_lettered_ids(self) -> set[str]:
        """Message ids parked in the dead-letter queue (read and put back)."""
        got = self.rabbit(
            "POST",
            "queues/%2F/messages.dead/get",
            json={"count": 100000, "ackmode": "ack_requeue_true", "encoding": "auto"},
        )
        return {m["properties"]["message_id"] for m in got}

    def accepted_ids(self) -> set[str]:
        rows = self.query("SELECT id::text FROM sender.messages WHERE status = 'accepted'")
        return {r[0] for r in rows}

    def drained(self) -> bool:
        queue = self.queue("messages")
        return queue.get("messages", 1) == 0 and queue.get("messages_unacknowledged", 1) == 0

    def wait_drained(self, timeout_s: float = 120) -> None:
        # The management API's counts lag by up to its stats interval: require two quiet reads.
        wait_for(lambda: self.drained() and (time.sleep(6) or self.drained()), timeout_s, "drain")


def mafa(*args: str, state: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The real CLI in a child process, with its own state directory."""
    env = {**os.environ, "MAFA_STATE_DIR": str(state), "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, "-m", "mafa_cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"mafa {' '.join(args)}: {result.returncode}\n{result.stdout}\n{result.stderr}"
        )
    return result


@contextmanager
def mafa_stack(prefix: str, state: Path, workdir: Path, *flags: str) -> Iterator[ComposeStack]:
    """A stack brought up by `mafa up FLAGS`, removed with its volumes afterwards."""
    project = f"{prefix}{secrets.token_hex(3)}"
    port = free_port()
    mafa("up", "-p", project, "--port", str(port), *flags, state=state)
    values = {}
    for line in (state / project / "secrets.env").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    stack = ComposeStack(project=project, settings=values, workdir=workdir, port=port)
    try:
        yield stack
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        logs = mafa("logs", "receiver", "-p", project, "--tail", "100", state=state, check=False)
        (ARTIFACTS / f"{project}-receivers.log").write_text(logs.stdout + logs.stderr)
        mafa("down", "-p", project, "--volumes", state=state, check=False)


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    """Debian's headless Chromium, with nothing of its own reaching outside this machine."""
    browser = shutil.which("chromium")
    if browser is None:
        raise AssertionError("chromium is not installed (scripts/setup-host installs it)")
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        # Chromium's own background calls (updates, time, autofill) must not leave the machine:
        # no name resolves except the loopback one the stack is on.
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
