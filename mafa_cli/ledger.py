"""The end-to-end account of a run (or of everything): what was accepted, processed, parked,
still pending, lost or unexpected, and how many deliveries it took. Modelled on the total-queue
check of RabbitMQ's own Jepsen tests: every message the senders answered "accepted" must end
processed exactly once in effect, or parked in the dead-letter queue.

`compute` is pure (figures in, verdict out); `collect` runs the queries, O(messages of the run)
with indexes; `read` is what commands call: the queries plus the broker's figures (the pending
count and the dead-letter queue's message ids from the management API).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from mafa_cli.errors import NotFound, UsageError
from mafa_cli.services.db import Cursor
from mafa_cli.services.messages import RUN_ID_PATTERN
from mafa_cli.stack.access import StackClient

COUNTS_SQL = """
SELECT count(*) FILTER (WHERE status = 'accepted')    AS accepted,
       count(*) FILTER (WHERE status = 'publishing')  AS publishing,
       count(*) FILTER (WHERE status = 'failed')      AS refused,
       count(*) FILTER (WHERE status = 'unconfirmed') AS unconfirmed,
       (SELECT count(*) FROM sender.repeats r JOIN sender.messages k ON k.id = r.message_id
        WHERE %(run)s::text IS NULL OR k.run_id = %(run)s) AS deduplicated
FROM sender.messages WHERE (%(run)s::text IS NULL OR run_id = %(run)s)
"""
# Accepted (or confirmed but not yet marked: 'publishing') and with no effect: candidates for
# lost, unless parked or still pending.
MISSING_SQL = """
SELECT m.id::text AS id, m.status
FROM sender.messages m
LEFT JOIN receiver.processed p ON p.message_id = m.id
WHERE m.status IN ('accepted', 'publishing') AND p.message_id IS NULL
  AND (%(run)s::text IS NULL OR m.run_id = %(run)s)
"""
# Effects with no accepted message behind them: never sent, or answered "not accepted".
PROCESSED_SQL = """
SELECT count(*) AS processed,
       count(*) - count(DISTINCT p.message_id) AS duplicate_effects,
       count(*) FILTER (WHERE m.id IS NULL OR m.status = 'failed') AS unexpected,
       count(*) FILTER (WHERE m.status = 'publishing') AS late_accepted,
       count(*) FILTER (WHERE m.status = 'unconfirmed') AS unconfirmed_processed
FROM receiver.processed p
LEFT JOIN sender.messages m ON m.id = p.message_id
WHERE (%(run)s::text IS NULL OR p.run_id = %(run)s)
"""
ATTEMPTS_SQL = """
WITH run_attempts AS (
    SELECT a.message_id, a.attempt, a.outcome, a.node,
           lag(a.node) OVER (PARTITION BY a.message_id ORDER BY a.attempt) AS previous_node
    FROM receiver.attempts a
    WHERE %(run)s::text IS NULL OR a.message_id IN (
        SELECT id FROM sender.messages WHERE run_id = %(run)s)
), per_message AS (
    SELECT message_id, max(attempt) AS deliveries, count(*) AS recorded
    FROM run_attempts GROUP BY message_id
)
SELECT
    (SELECT coalesce(sum(deliveries), 0) FROM per_message) AS deliveries,
    (SELECT coalesce(sum(deliveries - recorded), 0) FROM per_message) AS unrecorded,
    count(*) FILTER (WHERE outcome = 'failed') AS failed,
    count(*) FILTER (WHERE outcome = 'interrupted') AS interrupted,
    count(*) FILTER (WHERE outcome = 'duplicate') AS duplicate_deliveries,
    count(*) FILTER (WHERE previous_node IS NOT NULL AND previous_node <> node) AS elsewhere
FROM run_attempts
"""


RUN_EXISTS_SQL = "SELECT EXISTS (SELECT 1 FROM sender.messages WHERE run_id = %(run)s) AS found"
# Only when the run is not there (the run_id index covers the lookup above; this one scans).
RECENT_RUNS_SQL = """
SELECT run_id FROM sender.messages WHERE run_id IS NOT NULL
GROUP BY run_id ORDER BY max(seq) DESC LIMIT %(limit)s
"""
RECENT_RUNS_SHOWN = 5


@dataclass(frozen=True)
class LedgerReport:
    run_id: str | None
    accepted: int  # answered "accepted" (broker-confirmed), plus confirmed-but-unmarked ones
    processed: int  # distinct message ids with a committed effect
    parked: int  # accepted messages in the dead-letter queue
    pending: int  # messages still in the work queue or in flight (whole queue)
    missing: int  # accepted, not processed, not parked
    lost: int  # missing beyond what is still pending: must be 0
    unexpected: int  # effects of messages never accepted: must be 0
    duplicate_effects: int  # a message's effect committed twice: must be 0
    refused: int  # answered "not accepted" (503): not expected anywhere
    unconfirmed: int  # answered 503 "outcome unknown": the connection broke before the confirm
    unconfirmed_processed: int  # ... of which the broker did have and a receiver processed
    deliveries: int  # delivery attempts (the highest attempt number of each message)
    failed_attempts: int
    interrupted_attempts: int  # a receiver stopped mid-work and handed it back
    unrecorded_deliveries: int  # deliveries that left no record: a receiver killed mid-work
    duplicate_deliveries: int  # deliveries of a message whose effect already existed
    elsewhere: int  # attempts that followed an attempt on another node
    # requests that repeated an Idempotency-Key (client retries): answered with the first
    # request's message, never a second one
    deduplicated: int = 0

    @property
    def conclusive(self) -> bool:
        """Nothing pending: every accepted message is accounted for, one way or the other."""
        return self.pending == 0

    @property
    def ok(self) -> bool:
        return (
            self.conclusive
            and self.lost == 0
            and self.unexpected == 0
            and self.duplicate_effects == 0
            and self.accepted == self.processed_of_accepted + self.parked
        )

    @property
    def processed_of_accepted(self) -> int:
        return self.accepted - self.missing - self.parked

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "conclusive": self.conclusive,
            "ok": self.ok,
            "processed_of_accepted": self.processed_of_accepted,
        }

    @classmethod
    def from_json(cls, data: object) -> LedgerReport:
        """Back from `to_json` (a `mafa ledger --json` file); derived keys are recomputed.
        ValueError names what is missing or not a count."""
        if not isinstance(data, dict):
            raise ValueError("not a ledger verdict (a JSON object)")
        counts = [f.name for f in fields(cls) if f.name != "run_id"]
        missing = [name for name in counts if name not in data and name != "deduplicated"]
        wrong = [name for name in counts if name in data and type(data[name]) is not int]
        if missing or wrong:
            raise ValueError(
                f"not a ledger verdict: {', '.join(missing)} missing"
                if missing
                else f"not a ledger verdict: {', '.join(wrong)} not a count"
            )
        return cls(
            run_id=data.get("run_id"), **{name: data[name] for name in counts if name in data}
        )


@dataclass(frozen=True)
class VerdictRow:
    """One line of the verdict, the same wherever it is shown (terminal, JUnit, HTML report)."""

    label: str
    value: int
    passed: bool | None  # None: a figure to read, not a check


def verdict_rows(report: LedgerReport) -> list[VerdictRow]:
    """The verdict's lines, labelled for people: what `mafa ledger` and the report both show."""
    return [
        VerdictRow("accepted (broker-confirmed)", report.accepted, None),
        VerdictRow("processed (effect committed once)", report.processed_of_accepted, None),
        VerdictRow("parked (dead-lettered)", report.parked, None),
        VerdictRow("pending (queued or in flight)", report.pending, report.conclusive),
        VerdictRow("lost", report.lost, report.lost == 0),
        VerdictRow(
            "unexpected (effect, never accepted)", report.unexpected, report.unexpected == 0
        ),
        VerdictRow("duplicate effects", report.duplicate_effects, report.duplicate_effects == 0),
        VerdictRow("refused (503, not accepted)", report.refused, None),
        VerdictRow("unconfirmed (503, outcome unknown)", report.unconfirmed, None),
        VerdictRow("  of which processed", report.unconfirmed_processed, None),
        VerdictRow("deduplicated (key repeated, no 2nd message)", report.deduplicated, None),
        VerdictRow("deliveries", report.deliveries, None),
        VerdictRow("  failed attempts", report.failed_attempts, None),
        VerdictRow("  interrupted (handed back)", report.interrupted_attempts, None),
        VerdictRow("  unrecorded (receiver killed)", report.unrecorded_deliveries, None),
        VerdictRow("  duplicate deliveries (no 2nd effect)", report.duplicate_deliveries, None),
        VerdictRow("  went to another node", report.elsewhere, None),
    ]


def verdict_headline(report: LedgerReport) -> tuple[str, str, str]:
    """(kind, headline, why): kind is "ok", "inconclusive" or "failed"."""
    if report.ok:
        return "ok", "nothing lost", "every accepted message processed or parked"
    if not report.conclusive:
        return "inconclusive", "not conclusive", f"{report.pending} still pending"
    return "failed", "NOT PROVEN", "see the FAIL rows"


def compute(
    run_id: str | None,
    counts: dict[str, Any],
    missing_ids: set[str],
    processed: dict[str, Any],
    attempts: dict[str, Any],
    parked_ids: set[str],
    pending: int,
) -> LedgerReport:
    """The verdict from the figures. A missing message is lost only beyond what is pending."""
    parked = missing_ids & parked_ids
    missing = len(missing_ids - parked)
    return LedgerReport(
        run_id=run_id,
        accepted=int(counts["accepted"]) + int(processed["late_accepted"]),
        processed=int(processed["processed"]),
        parked=len(parked),
        pending=pending,
        missing=missing,
        lost=max(0, missing - pending),
        unexpected=int(processed["unexpected"]),
        duplicate_effects=int(processed["duplicate_effects"]),
        refused=int(counts["refused"]),
        unconfirmed=int(counts["unconfirmed"]),
        unconfirmed_processed=int(processed["unconfirmed_processed"]),
        deliveries=int(attempts["deliveries"]),
        failed_attempts=int(attempts["failed"]),
        interrupted_attempts=int(attempts["interrupted"]),
        unrecorded_deliveries=int(attempts["unrecorded"]),
        duplicate_deliveries=int(attempts["duplicate_deliveries"]),
        elsewhere=int(attempts["elsewhere"]),
        deduplicated=int(counts.get("deduplicated", 0)),
    )


def collect(cur: Cursor, run_id: str | None, parked_ids: set[str], pending: int) -> LedgerReport:
    params = {"run": run_id}
    # One snapshot for every query below: messages accepted or processed meanwhile must not be
    # counted by one query and missed by the next.
    cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
    cur.execute(COUNTS_SQL, params)
    counts = cur.fetchone() or {}
    cur.execute(MISSING_SQL, params)
    rows = cur.fetchall()
    # 'publishing' rows with no effect were never confirmed (or not yet): not accepted.
    missing_ids = {r["id"] for r in rows if r["status"] == "accepted"}
    cur.execute(PROCESSED_SQL, params)
    processed = cur.fetchone() or {}
    cur.execute(ATTEMPTS_SQL, params)
    attempts = cur.fetchone() or {}
    return compute(run_id, counts, missing_ids, processed, attempts, parked_ids, pending)


def check_run(cur: Cursor, run_id: str) -> None:
    """A run id no message carries is a typo, not a run that lost nothing: NotFound, with the
    most recent run ids in the hint. One that no sender would take is a usage error."""
    if not RUN_ID_PATTERN.match(run_id):
        raise UsageError(
            f"{run_id!r} is not a run id",
            hint="run ids are 1-64 letters, digits and _.:- (mafa load and smoke print theirs)",
        )
    cur.execute(RUN_EXISTS_SQL, {"run": run_id})
    if (cur.fetchone() or {}).get("found"):
        return
    cur.execute(RECENT_RUNS_SQL, {"limit": RECENT_RUNS_SHOWN})
    recent = [row["run_id"] for row in cur.fetchall()]
    raise NotFound(
        f"no message of run {run_id!r} in this stack",
        hint=f"recent runs: {', '.join(recent)}" if recent else "no run has sent messages yet",
    )


def queue_pending(client: StackClient) -> int | None:
    """Messages ready or unacknowledged in the work queue; None while the broker has no
    figures for it (a missing figure is not a zero)."""
    queue = client.queue()
    ready = queue.get("messages_ready")
    unacked = queue.get("messages_unacknowledged")
    if ready is None or unacked is None:
        return None
    return int(ready) + int(unacked)


def read(client: StackClient, run_id: str | None, known_run: bool = False) -> LedgerReport:
    """The account of a run (or of everything) as the stack has it now. While the broker has no
    figure for the queue and a message is unaccounted for, one counts as pending (inconclusive).
    known_run: a run id the user typed must name a run that sent messages (see check_run)."""
    if known_run and run_id is not None:
        with client.database().transaction() as cur:
            check_run(cur, run_id)
    pending = queue_pending(client)
    with client.database().transaction() as cur:
        parked = set(client.dead_lettered())
        if pending is None:
            # No broker figure yet (a queue's first seconds): when every accepted message is
            # accounted for, nothing that could still be queued matters to the verdict; else
            # one message counts as pending, so the verdict stays inconclusive.
            report = collect(cur, run_id, parked, 0)
            return report if report.lost == 0 else collect(cur, run_id, parked, 1)
        return collect(cur, run_id, parked, pending)
