"""Every --json output against the JSON Schema the package ships for it: up, scale and status
through the CLI on the in-memory engine (tests/unit/fakes.py stands in for Docker), ledger, load,
smoke/chaos and watch from figures built here. (smoke, chaos and load on a real stack:
tests/integration/test_json_outputs.py.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, ValidationError
from referencing import Registry, Resource
from typer.testing import CliRunner

from mafa_cli import outputs, resources
from mafa_cli.cli import app
from mafa_cli.load.plan import EndpointStats
from mafa_cli.load.runner import LiveStats, LoadResult, LoadSettings
from mafa_cli.proof import ProofResult
from mafa_cli.report import Report
from mafa_cli.stack import operations, scheduler
from mafa_cli.stack.operations import OFFLINE_MARKER_IMAGE
from mafa_cli.stack.swarm_faults import ReplicaCount
from mafa_cli.state import Event
from mafa_cli.traffic import TrafficCounts
from tests.unit.fakes import FakeEngine
from tests.unit.test_proof import result as proof_result
from tests.unit.watch.fakes import stack_snapshot, swarm_snapshot

SCHEMA_DIR = resources.package_dir() / "schemas"
runner = CliRunner()


def registry() -> Registry[Any]:
    """Every shipped schema by its $id: proof's verdict refers to the ledger's."""
    resources_ = [
        Resource.from_contents(json.loads(path.read_text()))
        for path in SCHEMA_DIR.glob("*.schema.json")
    ]
    return Registry().with_resources((r.contents["$id"], r) for r in resources_)


def validate(name: str, document: Any) -> None:
    """Raises jsonschema.ValidationError naming the path of what does not fit."""
    Draft202012Validator(outputs.schema(name), registry=registry()).validate(document)


def test_every_schema_is_a_valid_schema_and_every_one_is_used() -> None:
    shipped = {path.name.removesuffix(".schema.json") for path in SCHEMA_DIR.iterdir()}
    assert shipped == set(outputs.SCHEMA_OF.values())
    for name in shipped:
        Draft202012Validator.check_schema(outputs.schema(name))


def test_a_schema_refuses_what_does_not_fit() -> None:
    """The schemas are strict: a missing, an unknown or a mistyped field fails (else the
    validations below would prove nothing)."""
    document = outputs.ledger_json(proof_result().report)
    validate("ledger", document)
    for broken in (
        {k: v for k, v in document.items() if k != "lost"},
        {**document, "surprise": 1},
        {**document, "lost": "none"},
    ):
        with pytest.raises(ValidationError):
            validate("ledger", broken)


# ---- through the CLI, on the in-memory engine ---------------------------------------------------


@pytest.fixture
def fake_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    engine = FakeEngine(images={OFFLINE_MARKER_IMAGE: {}})
    monkeypatch.setenv("MAFA_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(scheduler, "POLL_S", 0.001)
    monkeypatch.setattr(operations, "connect_engine", lambda: engine)
    return engine


def cli_json(args: list[str]) -> Any:
    """The command's stdout, which with --json is one JSON document and nothing else."""
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_up_scale_and_status_print_what_their_schemas_say(fake_engine: FakeEngine) -> None:
    up = cli_json(["up", "-p", "unit", "--port", "18999", "--json"])
    validate("up", up)
    assert up["project"] == "unit"
    assert {"service": "receiver", "number": 3} in up["plan"]["create"]
    scaled = cli_json(["scale", "-p", "unit", "--receivers", "5", "--json"])
    validate("scale", scaled)
    assert scaled["plan"]["create"] == [
        {"service": "receiver", "number": 4},
        {"service": "receiver", "number": 5},
    ]
    rows = cli_json(["status", "-p", "unit", "--json"])
    validate("status", rows)
    assert sum(row["service"] == "receiver" for row in rows) == 5


# ---- from figures -------------------------------------------------------------------------------


def test_the_ledger_and_the_proof_of_smoke_and_chaos() -> None:
    base = proof_result()
    validate("ledger", outputs.ledger_json(base.report))
    faults = [Event("2026-11-30T05:00:00+00:00", "SIGKILL", "unit-receiver-2")]
    html = Report(Path("chaos.html"), charts_with_data=[], warnings=[])
    traffic = TrafficCounts(accepted=9, refused=1)
    replicas = (ReplicaCount("receiver", 4, 4), ReplicaCount("sender", 2, 1))
    chaos = ProofResult(
        "run-2", traffic, base.report, 61.2, faults, html_report=html, replicas=replicas
    )
    for command, result in (("smoke", base), ("chaos", chaos)):
        document = outputs.proof_json(command, result)
        validate("proof", document)
        assert document["command"] == command
    assert outputs.proof_json("chaos", chaos)["faults"][0]["action"] == "SIGKILL"
    assert outputs.proof_json("chaos", chaos)["report"] == "chaos.html"
    assert outputs.proof_json("smoke", base)["report"] is None
    assert outputs.proof_json("chaos", chaos)["replicas"][1] == {
        "service": "sender",
        "wanted": 2,
        "running": 1,
    }
    assert not chaos.replicas_back
    assert outputs.proof_json("smoke", base)["replicas"] == []


def test_load() -> None:
    settings = LoadSettings(
        host="http://127.0.0.1:8080",
        users=10,
        spawn_rate=5.0,
        duration_s=60.0,
        rate=None,
        shape=None,
        report_dir=Path("mafa-reports/run-1"),
        max_fail_ratio=0.01,
        max_p95_ms=None,
        workers=0,
        message_bytes=64,
        weights="",
        run_id="run-1",
    )
    rows = [
        EndpointStats("POST /api/messages", 900, 3, 15.0, 12.0, 40.0, 80.0),
        EndpointStats("Aggregated", 1200, 3, 20.0, 10.0, 35.0, 70.0),
    ]
    result = LoadResult(settings, LiveStats(60.2, 0, 10, rows), ["failures 0.3 %"], False)
    document = outputs.load_json(result)
    validate("load", document)
    assert document["ok"] is False
    assert document["endpoints"][1]["fail_ratio"] == pytest.approx(0.0025)


@pytest.mark.parametrize("load", [False, True])
def test_a_watch_snapshot(load: bool) -> None:
    snapshot = stack_snapshot(faults=2, gone=1, load=load)
    validate("watch", snapshot.to_json())
    validate("watch", type(snapshot)(project="empty", taken_at=datetime.now(UTC)).to_json())


def test_a_watch_snapshot_on_a_swarm_carries_its_hosts() -> None:
    document = swarm_snapshot(drained=True).to_json()
    validate("watch", document)
    assert [h["availability"] for h in document["hosts"]] == ["active", "active", "drain"]
    assert document["hosts"][0]["tasks"]["rabbitmq"] == 1
    assert {r["host"] for r in document["receivers"]} == {
        "mafa-engine-sb571ac-1",
        "mafa-engine-sb571ac-2",
    }
