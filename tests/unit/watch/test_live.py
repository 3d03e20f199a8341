"""The watch loop on a collector over fakes: --once, --json, --record, --svg, a timed run."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from mafa_cli import ui
from mafa_cli.errors import UsageError
from mafa_cli.watch import live
from mafa_cli.watch.collectors import Collector
from tests.unit.fakes import FakeEngine, FakeStackClient


@pytest.fixture
def collector(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Collector:
    monkeypatch.setenv("MAFA_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(live.time, "sleep", lambda _: None)
    client = FakeStackClient(backend=FakeEngine(), broken={"database"})
    return Collector("fake", client)  # type: ignore[arg-type]


def test_once_renders_the_dashboard_and_records(collector: Collector, tmp_path: Path) -> None:
    out = io.StringIO()
    record = tmp_path / "run.jsonl"
    svg = tmp_path / "dash.svg"
    snapshot = live.watch(
        "fake", ui.console(out), 1.0, True, False, record, svg=svg, collector=collector
    )
    assert "database" in snapshot.stale
    assert "fake" in out.getvalue()
    assert json.loads(record.read_text().splitlines()[-1])["project"] == "fake"
    assert svg.read_text().startswith("<svg")


def test_once_as_json(collector: Collector) -> None:
    out = io.StringIO()
    live.watch("fake", ui.console(out), 1.0, True, True, None, collector=collector)
    assert json.loads(out.getvalue())["project"] == "fake"


def test_a_timed_run_prints_a_line_per_snapshot(collector: Collector) -> None:
    out = io.StringIO()
    live.watch("fake", ui.console(out), 0.2, False, False, None, duration_s=0, collector=collector)
    assert out.getvalue().strip()


@pytest.mark.parametrize(
    ("interval", "once", "svg", "message"),
    [(0.05, False, None, "--interval 0.05s is out of range"), (1, False, "x.svg", "--svg")],
)
def test_bad_watch_settings(
    collector: Collector, interval: float, once: bool, svg: str | None, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        live.watch(
            "fake",
            ui.console(io.StringIO()),
            interval,
            once,
            False,
            None,
            svg=Path(svg) if svg else None,
            collector=collector,
        )


def test_a_terminal_gets_the_dashboard_you_drive_and_json_or_a_duration_do_not(
    collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    driven: list[str] = []

    def drive(project: str, given: Collector, *_: object) -> object:
        driven.append(project)
        return given.collect()

    def fresh() -> Collector:  # watch closes the collector it was given
        return Collector("fake", collector.client)

    monkeypatch.setattr(live, "_drive", drive)
    terminal = ui.Console(file=io.StringIO(), force_terminal=True, width=100)
    live.watch("fake", terminal, 1.0, False, False, None, collector=fresh())
    assert driven == ["fake"]
    live.watch("fake", terminal, 1.0, False, True, None, duration_s=0, collector=fresh())
    live.watch("fake", terminal, 1.0, False, False, None, duration_s=0, collector=fresh())
    assert driven == ["fake"], "JSON lines, and mafa demo's timed view, stay as they were"


def test_a_record_the_disk_refuses_is_a_usage_error(collector: Collector) -> None:
    full = Path("/dev/full")  # every write fails: no space left on device
    with pytest.raises(UsageError) as caught:
        live.watch("fake", ui.console(io.StringIO()), 1.0, True, True, full, collector=collector)
    assert "cannot write the record to /dev/full" in caught.value.message
