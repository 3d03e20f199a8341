"""Sender.accept with an idempotency key, with in-memory stand-ins for its store (PostgreSQL),
broker and session counts (none of them can run in unit tests; the SQL itself is exercised by
tests/integration/test_faults.py on a real stack)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from uuid import UUID

import pytest

from mafa_cli.services.amqp import BrokerUnavailable
from mafa_cli.services.messages import Envelope, InvalidInput
from mafa_cli.services.sender.app import Sender
from mafa_cli.services.sender.store import KeyedMessage
from mafa_cli.services.settings import ServiceSettings

NOW = datetime(2026, 11, 30, tzinfo=UTC)


class FakeStore:
    """What SenderStore promises, in a dict: one row per key, repeats recorded."""

    def __init__(self) -> None:
        self.rows: dict[UUID, KeyedMessage] = {}
        self.keys: dict[str, UUID] = {}
        self.repeats: list[UUID] = []

    def begin(self, envelope: Envelope, sid: str | None, key: str | None) -> KeyedMessage | None:
        if key is not None and key in self.keys:
            return self.rows[self.keys[key]]
        self.rows[envelope.id] = KeyedMessage(envelope.id, envelope.body, None, "publishing", None)
        if key is not None:
            self.keys[key] = envelope.id
        return None

    def repeat(self, message: KeyedMessage, request_id: UUID) -> KeyedMessage:
        self.repeats.append(request_id)
        row = self.rows[message.id]
        if row.status in ("failed", "unconfirmed"):
            row = self.rows[message.id] = replace(row, status="publishing")
        return row

    def mark_accepted(self, message_id: UUID, node: str) -> datetime:
        self.rows[message_id] = replace(self.rows[message_id], status="accepted", accepted_at=NOW)
        return NOW

    def mark_failed(self, message_id: UUID, uncertain: bool = False) -> None:
        self.rows[message_id] = replace(self.rows[message_id], status="failed")


class FakeBroker:
    def __init__(self) -> None:
        self.published: list[str] = []
        self.down = False

    def publish(self, message_id: str, body: bytes, run_id: str | None) -> None:
        if self.down:
            raise BrokerUnavailable("broker stopped")
        self.published.append(message_id)


class FakeSessions:
    counted = 0

    def count_message(self, sid: str, renew: bool = True) -> int:
        self.counted += 1
        return self.counted


Parts = tuple[Sender, FakeStore, FakeBroker, FakeSessions]


@pytest.fixture
def parts() -> Parts:
    settings = ServiceSettings.from_env(
        {
            "MAFA_ROLE": "sender",
            "MAFA_NODE_NAME": "sender-1",
            **{f"MAFA_{n}": "x" for n in ("SECRET_KEY", "DB_PASSWORD", "AMQP_PASSWORD")},
            "MAFA_REDIS_PASSWORD": "x",
        }
    )
    store, broker, sessions = FakeStore(), FakeBroker(), FakeSessions()
    return Sender(settings, store, broker, sessions), store, broker, sessions  # type: ignore[arg-type]


def test_a_repeated_key_gets_the_first_answer_and_no_second_message(parts: Parts) -> None:
    sender, store, broker, sessions = parts
    first = sender.accept("hello", None, "sid", False, key="k1")
    again = sender.accept("hello", None, "sid", False, key="k1")
    assert again.envelope.id == first.envelope.id
    assert again.repeated
    assert not first.repeated
    assert broker.published == [str(first.envelope.id)]
    assert len(store.rows) == 1
    assert len(store.repeats) == 1
    assert sessions.counted == 1  # the session counts the message once


def test_a_key_whose_publish_failed_is_published_again_under_the_same_id(parts: Parts) -> None:
    sender, store, broker, _ = parts
    broker.down = True
    with pytest.raises(BrokerUnavailable):
        sender.accept("hello", None, "sid", False, key="k1")
    broker.down = False
    retried = sender.accept("hello", None, "sid", False, key="k1")
    assert broker.published == [str(retried.envelope.id)]
    assert list(store.rows) == [retried.envelope.id]
    assert store.rows[retried.envelope.id].status == "accepted"


def test_a_key_reused_for_another_message_is_refused(parts: Parts) -> None:
    sender, _, broker, _ = parts
    sender.accept("hello", None, "sid", False, key="k1")
    with pytest.raises(InvalidInput) as caught:
        sender.accept("something else", None, "sid", False, key="k1")
    assert caught.value.status == 422
    assert len(broker.published) == 1


def test_without_keys_every_request_is_a_message(parts: Parts) -> None:
    sender, _, broker, _ = parts
    sender.accept("hello", None, "sid", False)
    sender.accept("hello", None, "sid", False)
    assert len(broker.published) == 2


def test_a_key_reused_for_another_run_is_refused(parts: Parts) -> None:
    sender, _, broker, _ = parts
    sender.accept("hello", "run-a", "sid", False, key="k1")
    with pytest.raises(InvalidInput) as caught:
        sender.accept("hello", "run-b", "sid", False, key="k1")
    assert caught.value.status == 422
    assert len(broker.published) == 1
