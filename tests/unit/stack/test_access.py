"""StackClient's own logic on the fake engine: where each part answers, the management API's
answers read, the project's secrets required; no network (the HTTP call is replaced)."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any, ClassVar

import pytest

from mafa_cli.errors import NotFound
from mafa_cli.services import db as db_module
from mafa_cli.services.db import DatabaseUnavailable
from mafa_cli.stack.access import StackClient
from mafa_cli.stack.compose_model import parse
from mafa_cli.state import ProjectState
from tests.unit.fakes import FakeEngine


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    monkeypatch.setenv("MAFA_STATE_DIR", str(tmp_path / "state"))
    ProjectState("p").secrets_or_create()
    engine = FakeEngine()
    model = parse("services:\n  rabbitmq:\n    image: x\n", {}, base_dir=tmp_path)
    engine.create("p", model.services["rabbitmq"], 1, "h", "n", {})
    return engine


def test_an_unknown_project_is_refused(engine: FakeEngine) -> None:
    with pytest.raises(NotFound, match="no stack named 'ghost'"):
        StackClient("ghost", engine)


def fetch(host: str, port: int) -> bytes:
    with socket.create_connection((host, port), timeout=5) as connection:
        connection.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := connection.recv(4096):
            received += chunk
        return received


def test_parts_are_reached_through_forwards_and_a_stopped_one_gives_nothing(
    engine: FakeEngine,
) -> None:
    engine.exec_answer = b"from rabbitmq"
    with StackClient("p", engine) as client:
        host, port = client.endpoint("rabbitmq", 15672)
        assert host == "127.0.0.1"
        assert client.endpoint("rabbitmq", 15672) == (host, port), "one forward, kept"
        assert fetch(host, port) == b"from rabbitmq"
        assert ("exec", "p-rabbitmq-1") in engine.calls
        assert fetch(*client.endpoint("redis", 6379)) == b"", "redis is not running"


def test_the_balancer_is_forwarded_only_when_the_engine_is_elsewhere(engine: FakeEngine) -> None:
    with StackClient("p", engine) as client:
        assert client.balancer_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
        engine.local = False
        assert client.balancer_url("http://127.0.0.1:8080") != "http://127.0.0.1:8080"


def test_management_api_answers(engine: FakeEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[str, Any]] = []
    answers = {
        "queues/%2F/messages": {"messages_ready": 3},
        "queues/%2F/messages.dead/get": [
            {"properties": {"message_id": "m1", "headers": {"x-death": [{"reason": "rejected"}]}}},
            {"properties": {"message_id": "m2"}},
        ],
    }

    def http_text(url: str, auth: tuple[str, str] | None = None, body: Any = None) -> str:
        asked.append((url, auth))
        return json.dumps(answers[url.split("/api/")[1]])

    client = StackClient("p", engine)
    monkeypatch.setattr(client, "http_text", http_text)
    assert client.queue()["messages_ready"] == 3
    assert client.dead_lettered() == {"m1": "rejected", "m2": "unknown"}
    # The monitoring user, never the administrator: the CLI only reads the broker.
    assert {auth[0] if auth else None for _, auth in asked} == {"mafa_monitor"}
    client.close()


def test_exact_queue_depths_are_read_as_the_monitor_too(
    engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = []

    class RecordingProbe:  # stands in for the AMQP connection (no broker in unit tests)
        def __init__(self, host: str, port: int, user: str, password: str) -> None:
            users.append(user)

        def read(self, queues: tuple[str, ...]) -> dict[str, tuple[int, int]]:
            return dict.fromkeys(queues, (0, 0))

    monkeypatch.setattr("mafa_cli.services.amqp.QueueProbe", RecordingProbe)
    client = StackClient("p", engine)
    monkeypatch.setattr(client, "endpoint", lambda service, port: ("127.0.0.1", port))
    assert client.queue_depths() == {"messages": (0, 0), "messages.dead": (0, 0)}
    assert users == ["mafa_monitor"]


class FirstOpenTimesOut:
    """Stands in for services.db.Database (no PostgreSQL in unit tests): the first pool made
    times out waiting for its first connection, as psycopg_pool's does when the server is down
    (and then closes itself for good); the next ones open."""

    made: ClassVar[list[FirstOpenTimesOut]] = []

    def __init__(self, conninfo: str, *, max_size: int, timeout_s: float) -> None:
        self.closed = False
        FirstOpenTimesOut.made.append(self)

    def open(self, wait: bool = False) -> None:
        if len(FirstOpenTimesOut.made) == 1:
            self.closed = True
            raise DatabaseUnavailable("database unavailable: pool initialization incomplete")

    def close(self) -> None:
        self.closed = True


def test_a_database_pool_that_timed_out_is_replaced_at_the_next_read(
    engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_module, "Database", FirstOpenTimesOut)
    FirstOpenTimesOut.made.clear()
    with StackClient("p", engine) as client:
        with pytest.raises(DatabaseUnavailable):
            client.database()
        second = client.database()
        assert second is FirstOpenTimesOut.made[1], "a new pool, not the closed one"
        assert not second.closed  # type: ignore[attr-defined]
        assert client.database() is second, "kept once open"
