"""The ledger's verdict from figures: what counts as lost, unexpected, conclusive."""

from io import StringIO
from typing import Any

import pytest

from mafa_cli import ui
from mafa_cli.errors import NotFound, UsageError
from mafa_cli.ledger import RUN_EXISTS_SQL, check_run, compute
from mafa_cli.status import ExitStatus

COUNTS = {"accepted": 10, "publishing": 0, "refused": 2, "unconfirmed": 1}
PROCESSED = {
    "processed": 10,
    "duplicate_effects": 0,
    "unexpected": 0,
    "late_accepted": 0,
    "unconfirmed_processed": 1,
}
ATTEMPTS = {
    "deliveries": 14,
    "unrecorded": 1,
    "failed": 3,
    "interrupted": 0,
    "duplicate_deliveries": 0,
    "elsewhere": 2,
}


def test_everything_processed_is_ok() -> None:
    report = compute("r", COUNTS, set(), {**PROCESSED, "processed": 11}, ATTEMPTS, set(), 0)
    assert report.ok
    assert report.conclusive
    assert (report.accepted, report.lost, report.processed_of_accepted) == (10, 0, 10)
    assert report.unconfirmed_processed == 1
    assert report.to_json()["ok"] is True


def test_parked_messages_balance_the_account() -> None:
    report = compute("r", COUNTS, {"a", "b"}, {**PROCESSED, "processed": 8}, ATTEMPTS, {"b"}, 0)
    assert report.parked == 1
    assert report.missing == 1
    assert report.lost == 1
    assert not report.ok


def test_pending_messages_are_not_lost_yet() -> None:
    report = compute("r", COUNTS, {"a", "b"}, PROCESSED, ATTEMPTS, set(), pending=5)
    assert report.lost == 0
    assert not report.conclusive
    assert not report.ok


def test_only_what_pending_cannot_cover_is_lost() -> None:
    report = compute("r", COUNTS, {"a", "b", "c"}, PROCESSED, ATTEMPTS, set(), pending=1)
    assert report.lost == 2


def test_unexpected_and_duplicate_effects_fail_the_verdict() -> None:
    assert not compute("r", COUNTS, set(), {**PROCESSED, "unexpected": 1}, ATTEMPTS, set(), 0).ok
    duplicate = {**PROCESSED, "duplicate_effects": 1}
    assert not compute("r", COUNTS, set(), duplicate, ATTEMPTS, set(), 0).ok


def test_confirmed_but_unmarked_messages_count_as_accepted() -> None:
    late = {**PROCESSED, "late_accepted": 2}
    report = compute("r", COUNTS, set(), late, ATTEMPTS, set(), 0)
    assert report.accepted == 12


class RunsCursor:
    """Stands in for a psycopg cursor over sender.messages holding messages of `runs`."""

    def __init__(self, runs: list[str]) -> None:
        self.runs = runs
        self.rows: list[dict[str, Any]] = []

    def execute(self, sql: str, params: dict[str, Any]) -> None:
        if sql == RUN_EXISTS_SQL:
            self.rows = [{"found": params["run"] in self.runs}]
        else:
            self.rows = [{"run_id": run} for run in self.runs[: params["limit"]]]

    def fetchone(self) -> dict[str, Any] | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[dict[str, Any]]:
        return self.rows


def test_a_known_run_passes() -> None:
    check_run(RunsCursor(["run-a"]), "run-a")  # type: ignore[arg-type]


def test_an_unknown_run_is_not_found_with_the_recent_runs_in_the_hint() -> None:
    with pytest.raises(NotFound) as caught:
        check_run(RunsCursor(["run-b", "run-a"]), "run-x")  # type: ignore[arg-type]
    assert caught.value.status == ExitStatus.NOT_FOUND
    assert "run-x" in caught.value.message
    assert caught.value.hint == "recent runs: run-b, run-a"


def test_a_run_id_no_sender_would_take_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as caught:
        check_run(RunsCursor(["run-a"]), "bad id!")  # type: ignore[arg-type]
    assert caught.value.status == ExitStatus.USAGE
    assert "is not a run id" in caught.value.message


def test_the_verdict_table_shows_the_deduplicated_requests() -> None:
    report = compute(None, {**COUNTS, "deduplicated": 7}, set(), PROCESSED, ATTEMPTS, set(), 0)
    stream = StringIO()
    ui.console(stream).print(ui.verdict_table(report, "run"))
    row = next(line for line in stream.getvalue().splitlines() if "deduplicated" in line)
    assert row.split()[-1] == "7"
