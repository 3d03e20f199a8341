"""The dashboard's real Actions where they need no stack: each action's event goes to the
project's event stream, the watch snapshot carries it, and `mafa report` marks it like a fault;
a user count for a load without a web API, or no load, is refused with the reason."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mafa_cli.report.inputs import read_record
from mafa_cli.state import ProjectState, RunningLoad
from mafa_cli.watch.actions import ActionFailed, Event
from mafa_cli.watch.collectors import Collector
from mafa_cli.watch.control import StackActions
from tests.unit.fakes import FakeEngine, FakeStackClient

AT = datetime(2026, 11, 30, 2, 40, tzinfo=UTC)


@pytest.fixture
def actions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StackActions:
    monkeypatch.setenv("MAFA_STATE_DIR", str(tmp_path / "state"))
    ProjectState("fake").secrets_or_create()
    client = FakeStackClient(backend=FakeEngine())
    return StackActions("fake", client)  # type: ignore[arg-type]


def test_actions_reach_the_event_stream_the_snapshot_and_the_report(
    actions: StackActions,
) -> None:
    actions.record(Event(AT, "kill", "receiver-a", "SIGKILL"))
    actions.record(Event(AT, "scale", "receiver", "2 -> 3", failed=True))
    stream = [(e.action, e.target) for e in ProjectState("fake").recent_events()]
    assert stream == [("kill", "receiver-a SIGKILL"), ("scale", "receiver 2 -> 3 FAILED")]

    snapshot = Collector("fake", FakeStackClient(backend=FakeEngine())).collect()  # type: ignore[arg-type]
    assert [line.split(" ", 1)[1] for line in snapshot.faults] == [
        "kill receiver-a SIGKILL",
        "scale receiver 2 -> 3 FAILED",
    ]
    report = read_record([json.dumps(snapshot.to_json())])
    assert [(e.action, e.target) for e in report.events] == [
        ("kill", "receiver-a SIGKILL"),
        ("scale", "receiver 2 -> 3 FAILED"),
    ]


def test_users_change_only_for_a_load_with_a_web_api(actions: StackActions, tmp_path: Path) -> None:
    with pytest.raises(ActionFailed, match="no load is running"):
        actions.set_users(20)
    # A `mafa load` from another terminal (this process stands in for it): no web API.
    ProjectState("fake").announce_load(RunningLoad("run-x", os.getpid(), tmp_path))
    with pytest.raises(ActionFailed, match="started by `mafa load`"):
        actions.set_users(20)
    with pytest.raises(ActionFailed, match="already running"):
        actions.start_load(5)
