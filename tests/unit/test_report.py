"""The report from a synthetic record: every chart drawn from the data, faults in the window
marked, the verdict shown, nothing fetched from outside (self-contained)."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from mafa_cli.errors import UsageError
from mafa_cli.report import _figure, build, read_record
from mafa_cli.services.palette import PALETTE

START = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)


def snapshot(second: int) -> str:
    at = START + timedelta(seconds=second)
    return json.dumps(
        {
            "taken_at": at.isoformat(),
            "queue": {
                "ready": second * 2,
                "unacked": 3,
                "dead_letters": 0,
                "publish_rate": 5.0,
                "deliver_rate": 4.0,
                "ack_rate": 3.5,
                "redeliver_rate": 1.0,
            },
            "active_sessions": 7,
            # slot 1: the palette's blue (31, 119, 180), the line every chart is looked for by
            "receivers": [
                {"node": "receiver-a", "handled": second, "failed": 1, "interrupted": 0, "slot": 1}
            ],
            "faults": [
                f"{(START + timedelta(seconds=5)).isoformat()} SIGKILL demo-receiver-1",
                "2020-01-01T00:00:00+00:00 restart long-ago-1",
            ],
            "ledger": {"lost": 0},
        }
    )


def test_series_and_faults_are_read() -> None:
    data = read_record([snapshot(s) for s in range(10)] + ["not json"])
    assert data.series["ready"].values[-1] == 18
    assert data.series["handled receiver-a"].values[:3] == [0, 1, 2]
    assert [what for _, what in data.faults] == ["SIGKILL demo-receiver-1", "restart long-ago-1"]


def test_build_writes_a_self_contained_page_and_pngs(tmp_path: Path) -> None:
    record = tmp_path / "run.jsonl"
    record.write_text("\n".join(snapshot(s) for s in range(20)))
    load = tmp_path / "load"
    load.mkdir()
    stamp = int(START.timestamp())
    (load / "locust_stats_history.csv").write_text(
        "Timestamp,User Count,Type,Name,Requests/s,95%\n"
        + "".join(f"{stamp + s},5,,Aggregated,{10 + s},{40 + s}\n" for s in range(20))
    )
    report = build(record, tmp_path / "out" / "report.html", load, {"ok": True, "lost": 0})
    page = report.html_file.read_text()
    assert report.charts_with_data == ["queue", "rates", "receivers", "sessions", "load"]
    for name in report.charts_with_data:
        assert f'id="chart-{name}"' in page
    assert "Verdict: nothing lost" in page
    assert "SIGKILL demo-receiver-1" in page
    assert "long-ago-1" not in page, "a fault outside the run's window is left out"
    # Nothing to fetch: no script, stylesheet, image or link to another host.
    assert not [tag for tag in ("<script", "<link", " src=", 'href="http') if tag in page]
    assert "no data for this chart" not in page
    for image in report.images:
        pixels = Image.open(image).convert("RGB").get_flattened_data()
        assert sum(1 for p in pixels if p == (31, 119, 180)) > 30, f"{image.name} has no line"


def test_empty_or_missing_record(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read the record"):
        build(tmp_path / "none.jsonl", tmp_path / "r.html")
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(UsageError, match="holds no snapshots"):
        build(tmp_path / "empty.jsonl", tmp_path / "r.html")


def test_each_receiver_is_drawn_in_its_slots_colour() -> None:
    """The colour its page and `mafa watch` give it: its slot's (a later snapshot without a slot,
    read while the node re-claims one, keeps the last one seen)."""
    lines = [snapshot(s) for s in range(3)]
    with_slots = []
    for i, line in enumerate(lines):
        snap = json.loads(line)
        snap["receivers"] = [
            {"node": "receiver-a", "handled": i, "failed": 0, "slot": 4 if i < 2 else None},
            {"node": "receiver-b", "handled": i, "failed": 0, "slot": 9},
        ]
        with_slots.append(json.dumps(snap))
    data = read_record(with_slots)
    assert data.slots == {"receiver-a": 4, "receiver-b": 9}
    fig, _ = _figure("receivers", data, (START, START + timedelta(seconds=3)))
    colours = {line.get_label(): line.get_color() for line in fig.axes[0].get_lines()}
    assert colours["handled receiver-a"] == colours["failed receiver-a"] == PALETTE[4]
    assert colours["handled receiver-b"] == PALETTE[9]
