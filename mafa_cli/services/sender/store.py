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

from mafa_cli.services.db import NodeStore
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

    # Each write is one idempotent statement (one round trip, safe for Database.execute to retry).

    def begin(self, envelope: Envelope, session_id: str | None) -> None:
        self._db.execute(
            "INSERT INTO sender.messages (id, body, node, session_id, run_id, status)"
            " VALUES (%s, %s, %s, %s, %s, 'publishing') ON CONFLICT (id) DO NOTHING",
            (envelope.id, envelope.body, envelope.sender, session_id, envelope.run_id),
        )

    def mark_accepted(self, message_id: UUID, node: str) -> datetime:
        """The row becomes 'accepted' and the node's counter counts it, in one statement; only
        a 'publishing' row changes, so a retried statement does not count a message twice."""
        rows = self._db.execute(
            "WITH marked AS ("
            "  UPDATE sender.messages SET status = 'accepted', accepted_at = now()"
            "  WHERE id = %s AND status = 'publishing' RETURNING accepted_at)"
            " INSERT INTO sender.nodes AS n (node, accepted, last_accepted_at)"
            " SELECT %s, 1, accepted_at FROM marked ON CONFLICT (node) DO UPDATE"
            " SET accepted = n.accepted + 1, last_accepted_at = excluded.last_accepted_at"
            " RETURNING last_accepted_at",
            (message_id, node),
        )
        if rows:
            accepted_at: datetime = rows[0]["last_accepted_at"]
            return accepted_at
        # Nothing changed: marked already (by a first try whose answer was lost), or no row.
        done = self._db.execute(
            "SELECT accepted_at FROM sender.messages WHERE id = %s AND status = 'accepted'",
            (message_id,),
        )
        if not done:
            raise LookupError(f"message {message_id} has no 'publishing' row: begin() not called")
        marked_at: datetime = done[0]["accepted_at"]
        return marked_at

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
