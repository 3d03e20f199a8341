"""The sender's rows (schema `sender`): every message it was asked to publish, with its fate.

A row is written as 'publishing' before the publish and becomes 'accepted' once the broker has
confirmed it; 'failed' when the broker surely does not have it (no connection, nack, unroutable);
'unconfirmed' when the connection broke between handing it over and the confirm (it may be in the
queue: nobody can know). So no message is ever in the queue without a row naming it, and the
ledger can tell accepted messages from ones that never made it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from mafa_cli.services.batching import Batcher
from mafa_cli.services.db import Database, NodeStore
from mafa_cli.services.messages import Envelope

SCHEMA = """
CREATE TABLE IF NOT EXISTS sender.messages (
    seq         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    id          uuid PRIMARY KEY,
    body        text NOT NULL,
    node        text NOT NULL,
    session_id  text,
    run_id      text,
    status      text NOT NULL
                CHECK (status IN ('publishing', 'accepted', 'failed', 'unconfirmed')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    accepted_at timestamptz
);
CREATE INDEX IF NOT EXISTS messages_accepted_recent
    ON sender.messages (seq DESC) WHERE status = 'accepted';
CREATE INDEX IF NOT EXISTS messages_run ON sender.messages (run_id) WHERE run_id IS NOT NULL;
-- Idempotency: a client's key names one message, whatever happens to Redis or the senders; a
-- request that repeats a key is answered with that message (and recorded in `repeats`).
ALTER TABLE sender.messages ADD COLUMN IF NOT EXISTS idempotency_key text;
CREATE UNIQUE INDEX IF NOT EXISTS messages_idempotency_key
    ON sender.messages (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS sender.repeats (
    request_id uuid PRIMARY KEY,
    message_id uuid NOT NULL,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS repeats_message ON sender.repeats (message_id);
CREATE TABLE IF NOT EXISTS sender.nodes (
    node             text PRIMARY KEY,
    host             text,
    accepted         bigint NOT NULL DEFAULT 0,
    last_accepted_at timestamptz,
    started_at       timestamptz NOT NULL DEFAULT now()
);
-- The node's colour slot (services/slots.py), NULL while it holds none.
ALTER TABLE sender.nodes ADD COLUMN IF NOT EXISTS slot integer;
"""


@dataclass(frozen=True)
class NodeStats:
    accepted: int
    last_accepted_at: datetime | None


@dataclass(frozen=True)
class KeyedMessage:
    """The message an idempotency key already names, as a repeated request finds it."""

    id: UUID
    body: str
    run_id: str | None
    status: str
    accepted_at: datetime | None


@dataclass(frozen=True)
class MessageRow:
    seq: int
    node: str
    accepted_at: datetime
    body: str
    slot: int | None  # the node's colour slot


class SenderStore(NodeStore):
    schema = "sender"

    # The two writes of every message go through group commit (services/batching.py): the
    # messages of concurrent requests are written by one statement and one commit. Each batch
    # statement is idempotent, so Database.execute may retry it.

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._begins: Batcher[tuple[Envelope, str | None, str | None], KeyedMessage | None] = (
            Batcher(self._begin_batch, name="sender-begin")
        )
        self._marks: Batcher[tuple[UUID, str], datetime | None] = Batcher(
            self._mark_batch, name="sender-mark"
        )

    def begin(
        self, envelope: Envelope, session_id: str | None, key: str | None = None
    ) -> KeyedMessage | None:
        """The message's row, as 'publishing', committed when this returns; None. With an
        idempotency `key` that a message has already: no row, that message instead."""
        return self._begins.submit((envelope, session_id, key))

    def repeat(self, message: KeyedMessage, request_id: UUID) -> KeyedMessage:
        """Record request `request_id` as a repeat of `message`; a message the broker surely or
        maybe does not have ('failed', 'unconfirmed') goes back to 'publishing', to be published
        again under its own id (the receivers' effect is once per id, so never twice). Idempotent:
        a retried statement records and changes nothing more."""
        rows = self._db.execute(
            "WITH repeat AS (INSERT INTO sender.repeats (request_id, message_id) VALUES (%s, %s)"
            "  ON CONFLICT DO NOTHING)"
            " UPDATE sender.messages SET status = CASE WHEN status IN ('failed', 'unconfirmed')"
            "  THEN 'publishing' ELSE status END"
            " WHERE id = %s RETURNING status, accepted_at",
            (request_id, message.id, message.id),
        )
        row = rows[0]
        return KeyedMessage(
            message.id, message.body, message.run_id, row["status"], row["accepted_at"]
        )

    def mark_accepted(self, message_id: UUID, node: str) -> datetime:
        """The row becomes 'accepted' and the node's counter counts it, committed together when
        this returns; the time it was marked."""
        accepted_at = self._marks.submit((message_id, node))
        if accepted_at is None:
            raise LookupError(f"message {message_id} has no 'publishing' row: begin() not called")
        return accepted_at

    def _begin_batch(
        self, items: list[tuple[Envelope, str | None, str | None]]
    ) -> list[KeyedMessage | None]:
        # A row whose key is taken is not inserted (ON CONFLICT: any unique index); only those
        # are looked up below, so a batch without a taken key costs one statement. A retried
        # statement inserts nothing and finds its own rows by their keys.
        inserted = self._db.execute(
            "INSERT INTO sender.messages"
            " (id, body, node, session_id, run_id, status, idempotency_key)"
            " SELECT id, body, node, session_id, run_id, 'publishing', idempotency_key"
            " FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[])"
            "   AS m(id, body, node, session_id, run_id, idempotency_key)"
            " ON CONFLICT DO NOTHING RETURNING id",
            (
                [e.id for e, _, _ in items],
                [e.body for e, _, _ in items],
                [e.sender for e, _, _ in items],
                [sid for _, sid, _ in items],
                [e.run_id for e, _, _ in items],
                [key for _, _, key in items],
            ),
        )
        inserted_ids = {row["id"] for row in inserted}
        keys = [key for e, _, key in items if key is not None and e.id not in inserted_ids]
        if not keys:
            return [None] * len(items)
        rows = self._db.execute(
            "SELECT id, body, run_id, status, accepted_at, idempotency_key FROM sender.messages"
            " WHERE idempotency_key = ANY(%s::text[])",
            (keys,),
        )
        by_key = {row.pop("idempotency_key"): KeyedMessage(**row) for row in rows}
        results: list[KeyedMessage | None] = []
        for envelope, _, key in items:
            found = by_key.get(key) if key is not None else None
            results.append(None if found is None or found.id == envelope.id else found)
        return results

    def _mark_batch(self, items: list[tuple[UUID, str]]) -> list[datetime | None]:
        marked: dict[UUID, datetime] = {}
        for node in {node for _, node in items}:  # one node per process, in practice
            ids = [message_id for message_id, n in items if n == node]
            # Only rows not accepted yet change and the counter adds what changed: a retried
            # statement counts nothing twice. (A keyed message may be 'failed' by a first
            # request by the time its repeat's publish is confirmed: confirmed wins.)
            rows = self._db.execute(
                "WITH marked AS ("
                "  UPDATE sender.messages SET status = 'accepted', accepted_at = now()"
                "  WHERE id = ANY(%s::uuid[]) AND status <> 'accepted'"
                "  RETURNING id, accepted_at),"
                " counted AS ("
                "  INSERT INTO sender.nodes AS n (node, accepted, last_accepted_at)"
                "  SELECT %s, count(*), max(accepted_at) FROM marked HAVING count(*) > 0"
                "  ON CONFLICT (node) DO UPDATE SET accepted = n.accepted + excluded.accepted,"
                "  last_accepted_at = excluded.last_accepted_at)"
                " SELECT id, accepted_at FROM marked",
                (ids, node),
            )
            marked.update((row["id"], row["accepted_at"]) for row in rows)
        missing = [message_id for message_id, _ in items if message_id not in marked]
        if missing:  # marked already, by a first try whose answer was lost
            rows = self._db.execute(
                "SELECT id, accepted_at FROM sender.messages"
                " WHERE id = ANY(%s::uuid[]) AND status = 'accepted'",
                (missing,),
            )
            marked.update((row["id"], row["accepted_at"]) for row in rows)
        return [marked.get(message_id) for message_id, _ in items]

    def mark_failed(self, message_id: UUID, uncertain: bool = False) -> None:
        status = "unconfirmed" if uncertain else "failed"
        self._db.execute(
            "UPDATE sender.messages SET status = %s WHERE id = %s AND status = 'publishing'",
            (status, message_id),
        )

    def node_stats(self, node: str) -> NodeStats:
        rows = self._db.execute(
            "SELECT accepted, last_accepted_at FROM sender.nodes WHERE node = %s", (node,)
        )
        return self._stats(rows[0] if rows else None)

    def latest(self, limit: int = 20) -> list[MessageRow]:
        """The latest accepted messages of all nodes (an index scan, whatever the table's size)."""
        rows = self._db.execute(
            "SELECT m.seq, m.node, m.accepted_at, m.body, n.slot"
            " FROM (SELECT seq, node, accepted_at, body FROM sender.messages"
            "  WHERE status = 'accepted' ORDER BY seq DESC LIMIT %s) AS m"
            " LEFT JOIN sender.nodes AS n USING (node) ORDER BY m.seq DESC",
            (limit,),
        )
        return [MessageRow(**r) for r in rows]

    @staticmethod
    def _stats(row: dict[str, Any] | None) -> NodeStats:
        if row is None:
            return NodeStats(0, None)
        return NodeStats(int(row["accepted"]), row["last_accepted_at"])
