"""Every --json output on one real stack, each validated against the schema the package ships
(tests/unit/test_outputs.py validates them from figures and on the in-memory engine too). smoke
brings the stack up and keeps it; up (the same settings), scale, status, chaos, ledger, watch
and load then run on it; stdout is the JSON document alone."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.stack import free_port, mafa
from tests.unit.test_outputs import validate


def json_of(*args: str, state: Path) -> Any:
    result = mafa(*args, "--json", state=state)  # exit 0: healthy, balanced, within thresholds
    return json.loads(result.stdout)


def settled_ledger(project: str, run_id: str, state: Path, timeout_s: float = 60) -> Any:
    """`mafa ledger --json` once the queue reads empty. chaos's verdict ends when every accepted
    message has its effect; a redelivery of a message whose receiver was killed after its commit
    (deduplicated, no second effect) can still be queued then, and ledger says so with exit 11
    (pending, not conclusive) until it is acknowledged. Any other exit fails the test."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = mafa("ledger", "-p", project, "--run", run_id, "--json", state=state, check=False)
        if result.returncode == 0:
            return json.loads(result.stdout)
        assert result.returncode == 11, f"ledger: {result.returncode}\n{result.stdout}"
        assert json.loads(result.stdout)["lost"] == 0
        assert time.monotonic() < deadline, f"still pending after {timeout_s}s\n{result.stdout}"
        time.sleep(1)


def test_every_command_prints_what_its_schema_says(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    state = tmp_path_factory.mktemp("json-state")
    project, port = f"mafajson{free_port()}", str(free_port())
    try:
        # The stack's settings given to both smoke and up (not left to smoke's defaults, which
        # are tuned for a fast CI smoke and may change), so up finds nothing to change.
        stack_flags = ("--port", port, "--max-delay", "0.2", "--fail-rate", "0.2")
        smoke = json_of(
            "smoke", "-p", project, *stack_flags, "--messages", "100", "--keep", state=state
        )
        validate("proof", smoke)
        assert (smoke["command"], smoke["traffic"]["accepted"]) == ("smoke", 100)
        assert smoke["ledger"]["ok"] is True

        # smoke's stack settings: up changes nothing
        up = json_of("up", "-p", project, *stack_flags, state=state)
        validate("up", up)
        assert up["plan"]["changes_nothing"] is True
        scaled = json_of("scale", "-p", project, "--receivers", "4", state=state)
        validate("scale", scaled)
        assert scaled["plan"]["create"] == [{"service": "receiver", "number": 4}]
        status = json_of("status", "-p", project, state=state)
        validate("status", status)
        assert all(row["ok"] for row in status)

        chaos = json_of(
            "chaos", "-p", project, "--every", "4s", "--duration", "9s", "--rate", "10",
            state=state,
        )  # fmt: skip
        validate("proof", chaos)
        assert chaos["command"] == "chaos"
        assert len(chaos["faults"]) >= 2
        assert chaos["ledger"]["lost"] == 0
        ledger = settled_ledger(project, chaos["run_id"], state)
        validate("ledger", ledger)
        assert ledger["accepted"] == chaos["ledger"]["accepted"]
        snapshot = json_of("watch", "-p", project, "--once", state=state)
        validate("watch", snapshot)
        assert len(snapshot["faults"]) >= 2

        load = json_of(
            "load", "-p", project, "--users", "3", "--duration", "8s",
            "--report", str(tmp_path / "load"), state=state,
        )  # fmt: skip
        validate("load", load)
        total = next(row for row in load["endpoints"] if row["name"] == "Aggregated")
        assert total["requests"] > 0
        assert load["ok"] is True
    finally:
        mafa("down", "-p", project, "-v", state=state, check=False)
