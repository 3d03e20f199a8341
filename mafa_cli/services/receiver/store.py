"""The receiver's rows (schema `receiver`): the effect of each message (once, by message id) and
every delivery attempt, whatever its outcome, so redeliveries can be seen and counted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from mafa_cli.services.db import Cursor, NodeStore
from mafa_cli.services.messages import Envelope

Outcome = Literal["processed", "duplicate", "failed", "interrupted"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS receiver.processed (
    seq         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    message_id  uuid PRIMARY KEY,
    body        text NOT NULL,
    sent_by     text NOT NULL,
    handled_by  text NOT NULL,
    attempt     integer NOT NULL,
    run_id      text,
    duration_ms double precision NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS processed_run ON receiver.processed (run_id) WHERE run_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS receiver.attempts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id  uuid NOT NULL,
    node        text NOT NULL,
    attempt     integer NOT NULL,
    outcome     text NOT NULL
                CHECK (outcome IN ('processed', 'duplicate', 'failed', 'interrupted')),
    redelivered boolean NOT NULL,
    duration_ms double precision NOT NULL,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS attempts_message ON receiver.attempts (message_id);
CREATE INDEX IF NOT EXISTS attempts_node_recent ON receiver.attempts (node, id DESC);
-- Per-node counters, so the dashboard reads O(nodes) rows whatever the number of messages.
--   handled: effects committed here; duplicates: deliveries whose effect already existed;
--   redelivered: deliveries flagged redelivered by the broker; redelivered_elsewhere: attempts
--   that followed a failed or interrupted attempt on another node.
CREATE TABLE IF NOT EXISTS receiver.nodes (
    node                  text PRIMARY KEY,
    host                  text,
    handled               bigint NOT NULL DEFAULT 0,
    duplicates            bigint NOT NULL DEFAULT 0,
    failed                bigint NOT NULL DEFAULT 0,
    interrupted           bigint NOT NULL DEFAULT 0,
    redelivered           bigint NOT NULL DEFAULT 0,
    redelivered_elsewhere bigint NOT NULL DEFAULT 0,
    last_handled_at       timestamptz,
    last_seen_at          timestamptz NOT NULL DEFAULT now(),
    started_at            timestamptz NOT NULL DEFAULT now()
);
-- The node's colour slot (services/slots.py), NULL while it holds none.
ALTER TABLE receiver.nodes ADD COLUMN IF NOT EXISTS slot integer;
"""

# Which per-node counter each outcome adds to (the dashboard reads these: O(nodes) per refresh).
_COUNTER: dict[Outcome, str] = {
    "processed": "handled",
    "duplicate": "duplicates",
    "failed": "failed",
    "interrupted": "interrupted",
}


@dataclass(frozen=True)
class NodeStats:
    handled: int
    last_handled_at: datetime | None


@dataclass(frozen=True)
class ProcessedRow:
    seq: int
    handled_by: str
    finished_at: datetime
    duration_ms: float
    body: str
    slot: int | None  # the handling node's colour slot


class ReceiverStore(NodeStore):
    schema = "receiver"

    def commit_effect(
        self, envelope: Envelope, node: str, attempt: int, redelivered: bool, duration_ms: float
    ) -> Outcome:
        """Write the message's effect once: a second delivery of a message whose effect is already
        committed (its ack was lost) is recorded as a 'duplicate' attempt and changes nothing."""
        with self._db.transaction() as cur:
            cur.execute(
                "INSERT INTO receiver.processed"
                " (message_id, body, sent_by, handled_by, attempt, run_id, duration_ms)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (message_id) DO NOTHING RETURNING seq",
                (
                    envelope.id,
                    envelope.body,
                    envelope.sender,
                    node,
                    attempt,
                    envelope.run_id,
                    duration_ms,
                ),
            )
            outcome: Outcome = "processed" if cur.fetchone() is not None else "duplicate"
            self._record(cur, envelope, node, attempt, redelivered, duration_ms, outcome)
        return outcome

    def record_attempt(
        self,
        envelope: Envelope,
        node: str,
        attempt: int,
        redelivered: bool,
        duration_ms: float,
        outcome: Outcome,
    ) -> None:
        with self._db.transaction() as cur:
            self._record(cur, envelope, node, attempt, redelivered, duration_ms, outcome)

    @staticmethod
    def _record(
        cur: Cursor,
        envelope: Envelope,
        node: str,
        attempt: int,
        redelivered: bool,
        duration_ms: float,
        outcome: Outcome,
    ) -> None:
        cur.execute(
            "INSERT INTO receiver.attempts"
            " (message_id, node, attempt, outcome, redelivered, duration_ms)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (envelope.id, node, attempt, outcome, redelivered, duration_ms),
        )
        elsewhere = 0
        if attempt > 1:
            # Did the broker hand this message to another node than the attempt before? (The
            # original demo claimed failures were "reassigned to another node": count the truth.)
            cur.execute(
                "SELECT node FROM receiver.attempts WHERE message_id = %s AND attempt = %s LIMIT 1",
                (envelope.id, attempt - 1),
            )
            previous = cur.fetchone()
            elsewhere = int(previous is not None and previous["node"] != node)
        counter = _COUNTER[outcome]
        last = ", last_handled_at = now()" if outcome == "processed" else ""
        cur.execute(
            f"INSERT INTO receiver.nodes AS n (node, {counter}, redelivered, redelivered_elsewhere)"  # noqa: S608 (counter is one of four constants)
            " VALUES (%s, 1, %s, %s)"
            f" ON CONFLICT (node) DO UPDATE SET {counter} = n.{counter} + 1,"
            " redelivered = n.redelivered + excluded.redelivered,"
            " redelivered_elsewhere = n.redelivered_elsewhere + excluded.redelivered_elsewhere,"
            f" last_seen_at = now(){last}",
            (node, int(redelivered), elsewhere),
        )

    def page(self, node: str, limit: int = 20) -> tuple[NodeStats, list[ProcessedRow]]:
        with self._db.transaction() as cur:
            cur.execute(
                "SELECT handled, last_handled_at FROM receiver.nodes WHERE node = %s", (node,)
            )
            stats_row = cur.fetchone()
            cur.execute(
                "SELECT p.seq, p.handled_by, p.finished_at, p.duration_ms, p.body, n.slot"
                " FROM (SELECT seq, handled_by, finished_at, duration_ms, body"
                "  FROM receiver.processed ORDER BY seq DESC LIMIT %s) AS p"
                " LEFT JOIN receiver.nodes AS n ON n.node = p.handled_by ORDER BY p.seq DESC",
                (limit,),
            )
            rows = [ProcessedRow(**r) for r in cur.fetchall()]
        if stats_row is None:
            return NodeStats(0, None), rows
        return NodeStats(int(stats_row["handled"]), stats_row["last_handled_at"]), rows
