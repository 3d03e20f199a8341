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
CREATE TABLE IF NOT EXISTS sender.nodes (
    node             text PRIMARY KEY,
    host             text,
    accepted         bigint NOT NULL DEFAULT 0,
    last_accepted_at timestamptz,
    started_at       timestamptz NOT NULL DEFAULT now()
);
"""


@dataclass(frozen=True)
class NodeStats:
    accepted: int
    last_accepted_at: datetime | None


@dataclass(frozen=True)
class MessageRow:
    seq: int
    node: str
    accepted_at: datetime
    body: str


class SenderStore(NodeStore):
    schema = "sender"

    # The two writes of every message go through group commit (services/batching.py): the
    # messages of concurrent requests are written by one statement and one commit. Each batch
    # statement is idempotent, so Database.execute may retry it.

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._begins: Batcher[tuple[Envelope, str | None], None] = Batcher(
            self._begin_batch, name="sender-begin"
        )
        self._marks: Batcher[tuple[UUID, str], datetime | None] = Batcher(
            self._mark_batch, name="sender-mark"
        )

    def begin(self, envelope: Envelope, session_id: str | None) -> None:
        """The message's row, as 'publishing', committed when this returns."""
        self._begins.submit((envelope, session_id))

    def mark_accepted(self, message_id: UUID, node: str) -> datetime:
        """The row becomes 'accepted' and the node's counter counts it, committed together when
        this returns; the time it was marked."""
        accepted_at = self._marks.submit((message_id, node))
        if accepted_at is None:
            raise LookupError(f"message {message_id} has no 'publishing' row: begin() not called")
        return accepted_at

    def _begin_batch(self, items: list[tuple[Envelope, str | None]]) -> list[None]:
        self._db.execute(
            "INSERT INTO sender.messages (id, body, node, session_id, run_id, status)"
            " SELECT id, body, node, session_id, run_id, 'publishing'"
            " FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::text[], %s::text[])"
            "   AS m(id, body, node, session_id, run_id)"
            " ON CONFLICT (id) DO NOTHING",
            (
                [e.id for e, _ in items],
                [e.body for e, _ in items],
                [e.sender for e, _ in items],
                [sid for _, sid in items],
                [e.run_id for e, _ in items],
            ),
        )
        return [None] * len(items)

    def _mark_batch(self, items: list[tuple[UUID, str]]) -> list[datetime | None]:
        marked: dict[UUID, datetime] = {}
        for node in {node for _, node in items}:  # one node per process, in practice
            ids = [message_id for message_id, n in items if n == node]
            # Only 'publishing' rows change and the counter adds what changed: a retried
            # statement counts nothing twice.
            rows = self._db.execute(
                "WITH marked AS ("
                "  UPDATE sender.messages SET status = 'accepted', accepted_at = now()"
                "  WHERE id = ANY(%s::uuid[]) AND status = 'publishing'"
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
            "SELECT seq, node, accepted_at, body FROM sender.messages"
            " WHERE status = 'accepted' ORDER BY seq DESC LIMIT %s",
            (limit,),
        )
        return [MessageRow(**r) for r in rows]

    @staticmethod
    def _stats(row: dict[str, Any] | None) -> NodeStats:
        if row is None:
            return NodeStats(0, None)
        return NodeStats(int(row["accepted"]), row["last_accepted_at"])
