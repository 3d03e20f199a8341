"""Pure parts of smoke and chaos: the JUnit file, the chaos flags, reading the queue's figures."""

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from mafa_cli import proof
from mafa_cli.config import ImageSet, UpSettings
from mafa_cli.errors import UsageError
from mafa_cli.ledger import compute, queue_pending
from mafa_cli.proof import ChaosSettings, ProofResult, write_junit
from mafa_cli.stack import operations
from mafa_cli.traffic import TrafficCounts
from tests.unit.stack.test_operations import Steps
from tests.unit.test_ledger import ATTEMPTS, COUNTS, PROCESSED


def result(**processed: int) -> ProofResult:
    report = compute("run-1", COUNTS, set(), {**PROCESSED, **processed}, ATTEMPTS, set(), 0)
    return ProofResult("run-1", TrafficCounts(), report, 12.5, [])


def test_junit_passes_when_the_ledger_balances(tmp_path: Path) -> None:
    path = tmp_path / "out" / "smoke.xml"
    write_junit(path, "mafa smoke", result())
    suite = ET.parse(path).getroot()
    assert (suite.get("tests"), suite.get("failures"), suite.get("time")) == ("5", "0", "12.5")
    assert {p.get("name"): p.get("value") for p in suite.iter("property")}["run_id"] == "run-1"


def test_junit_names_the_failed_checks(tmp_path: Path) -> None:
    path = tmp_path / "smoke.xml"
    write_junit(path, "mafa smoke", result(unexpected=2))
    suite = ET.parse(path).getroot()
    assert suite.get("failures") == "1"
    (failed,) = [c for c in suite.iter("testcase") if c.find("failure") is not None]
    assert failed.get("name") == "nothing unexpected"


def test_junit_unwritable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(UsageError, match="cannot write the JUnit file"):
        write_junit(tmp_path / "file" / "x.xml", "mafa smoke", result())


CHAOS: dict[str, Any] = {
    "project": "p",
    "target": "receiver",
    "action": "kill",
    "every_s": 10.0,
    "duration_s": 60.0,
    "rate": 20.0,
    "timeout_s": 120.0,
}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"target": "database"}, "--kill 'database'"),
        ({"action": "pause"}, "--action 'pause'"),
        ({"every_s": 0.5}, "--every must be at least 1s"),
        ({"duration_s": 5.0, "every_s": 10.0}, "--duration at least --every"),
        ({"rate": 0.0}, "--rate 0 is out of range"),
        ({"node_fault": "reboot"}, "--node-fault 'reboot'"),
        ({"node_fault": "kill"}, "--node-fault kill needs --node-hook"),
        ({"node_fault": "partition"}, "--node-fault partition needs --node-hook"),
        ({"node_fault": "drain", "down_for_s": 0.5}, "--down-for 0.5s is out of range"),
        ({"node_fault": "drain", "down_for_s": 601.0}, "--down-for 601s is out of range"),
        ({"node": "worker-1"}, "--node goes with --node-fault"),
    ],
)
def test_chaos_flags(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        ChaosSettings(**{**CHAOS, **changes})


def test_a_node_hook_set_for_every_run_leaves_a_replica_fault_alone() -> None:
    """MAFA_NODE_HOOK exported once (the README suggests it for the lab) must not refuse
    `mafa chaos --kill receiver`, which takes no node away."""
    settings = ChaosSettings(**{**CHAOS, "node_hook": "python -m mafa_cli.engine_lab node"})
    assert settings.node_fault is None


class QueueFigures:
    """Stands in for the management API's answer (a dict), to test reading it."""

    def __init__(self, queue: dict[str, Any]) -> None:
        self._queue = queue

    def queue(self) -> dict[str, Any]:
        return self._queue


def test_a_missing_figure_is_not_a_zero() -> None:
    assert queue_pending(QueueFigures({"messages_ready": 3, "messages_unacknowledged": 2})) == 5  # type: ignore[arg-type]
    assert queue_pending(QueueFigures({"name": "messages"})) is None  # type: ignore[arg-type]


def _reads(monkeypatch: pytest.MonkeyPatch, *reports: Any) -> list[Any]:
    """ledger.read answers these in turn (the last one for ever); returns what was read."""
    queue = list(reports)
    read: list[Any] = []

    def fake_read(client: Any, run_id: str) -> Any:
        read.append(queue.pop(0) if len(queue) > 1 else queue[0])
        return read[-1]

    monkeypatch.setattr(proof.ledger, "read", fake_read)
    monkeypatch.setattr(proof, "READ_EVERY_S", 0.01)
    return read


def _report(pending: int, missing: int) -> Any:
    missing_ids = {f"m{n}" for n in range(missing)}
    return compute("run-1", COUNTS, missing_ids, PROCESSED, ATTEMPTS, set(), pending)


def test_the_verdict_comes_the_moment_everything_is_accounted_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    read = _reads(monkeypatch, _report(5, 5), _report(2, 2), _report(0, 0))
    report = proof.verdict(None, "run-1", 30, lambda _: None)  # type: ignore[arg-type]
    # The first read with nothing pending and nothing missing ends it: no second empty read.
    assert (report.pending, report.missing, len(read)) == (0, 0, 3)


def test_a_drained_queue_with_messages_missing_waits_then_calls_them_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(proof, "LOST_AFTER_QUIET_S", 0.2)
    read = _reads(monkeypatch, _report(0, 3))
    report = proof.verdict(None, "run-1", 30, lambda _: None)  # type: ignore[arg-type]
    assert (report.lost, report.conclusive) == (3, True)
    assert len(read) > 5, "not on the first empty read: the queue's figure lags"


def test_node_faults_are_refused_on_a_project_that_is_not_on_a_swarm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    one_engine = UpSettings.for_run("p", 2, 3, 8089, ImageSet.OFFLINE, 0.2, 0.2)
    monkeypatch.setattr(proof, "default_host", lambda _project: "http://127.0.0.1:8089")
    monkeypatch.setattr(proof, "StackClient", lambda _project: object())
    monkeypatch.setattr(operations, "saved_settings", lambda _project: one_engine)
    with pytest.raises(UsageError, match="--node-fault needs a stack on a Swarm") as refused:
        proof.chaos(ChaosSettings(**CHAOS, node_fault="drain"), Steps())
    assert "mafa up --swarm" in (refused.value.hint or "")
