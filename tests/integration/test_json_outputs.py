"""smoke, chaos and load with --json on one real stack, each output validated against the schema
the package ships (the other commands' outputs: tests/unit/test_outputs.py). smoke brings the
stack up and keeps it; chaos and load then run on it; stdout is the JSON document alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.stack import free_port, mafa
from tests.unit.test_outputs import validate


def json_of(*args: str, state: Path) -> Any:
    result = mafa(*args, "--json", state=state)  # exit 0: the verdict balanced
    return json.loads(result.stdout)


def test_smoke_chaos_and_load_print_what_their_schemas_say(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    state = tmp_path_factory.mktemp("json-state")
    project = f"mafajson{free_port()}"
    try:
        smoke = json_of(
            "smoke", "-p", project, "--port", str(free_port()), "--messages", "100", "--keep",
            state=state,
        )  # fmt: skip
        validate("proof", smoke)
        assert (smoke["command"], smoke["traffic"]["accepted"]) == ("smoke", 100)
        assert smoke["ledger"]["ok"] is True

        chaos = json_of(
            "chaos", "-p", project, "--every", "4s", "--duration", "9s", "--rate", "10",
            state=state,
        )  # fmt: skip
        validate("proof", chaos)
        assert chaos["command"] == "chaos"
        assert len(chaos["faults"]) >= 2
        assert chaos["ledger"]["lost"] == 0

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
