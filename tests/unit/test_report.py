"""The report from recorded inputs (a real `mafa demo` run, tests/fixtures/report-demo) and from
a record of 14 receivers: what the page says and links, what each chart draws, the warnings,
and that it needs nothing from outside. tests/integration/test_report_in_browser.py renders it."""

from __future__ import annotations

import json
import re
import shutil
import time
from datetime import timedelta
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from mafa_cli.cli import app
from mafa_cli.errors import UsageError
from mafa_cli.ledger import verdict_rows
from mafa_cli.load.plan import read_stats_csv
from mafa_cli.proof import ProofResult, _with_report
from mafa_cli.report import build, recording
from mafa_cli.report.charts import build_charts
from mafa_cli.report.inputs import read_load, read_record
from mafa_cli.services.palette import PALETTE
from mafa_cli.state import Event, ProjectState
from mafa_cli.status import ExitStatus
from mafa_cli.traffic import TrafficCounts
from mafa_cli.ui import verdict_line, verdict_table
from mafa_cli.watch.snapshot import QueueFigures, Snapshot
from tests.report_inputs import DEMO, START, demo_copy, demo_verdict, many_receivers_record


def cells(page: str, css: str) -> list[str]:
    return re.findall(rf'<td class="{css}">(.*?)</td>', page)


def test_the_recorded_demo_is_read() -> None:
    data = read_record([*(DEMO / "watch.jsonl").read_text().splitlines(), "not json", "{}"])
    assert data.project == "mafademo"
    assert data.snapshots == len((DEMO / "watch.jsonl").read_text().splitlines())
    assert data.most_receivers == 6, "2 receivers, tripled half-way"
    assert [(e.action, e.target) for e in data.events] == [("scale", "receivers 2->6")]
    assert max(data.series["ready"].values) > 0


def test_the_page_has_the_header_verdict_endpoints_link_events_and_charts(tmp_path: Path) -> None:
    demo = demo_copy(tmp_path)
    out = tmp_path / "out" / "report.html"
    report = build(demo / "watch.jsonl", out, demo / "load", demo_verdict(), title="the demo")
    page = out.read_text()
    assert report.charts_with_data == ["queue", "rates", "handled", "failed", "sessions", "load"]
    assert report.warnings == []
    for name in report.charts_with_data:
        assert f'id="chart-{name}"' in page
    # Header: the stack and the load, as read from the record and locust's files.
    assert "<dt>project</dt><dd>mafademo</dd>" in page
    assert "<dt>senders, receivers (most seen)</dt><dd>3, 6</dd>" in page
    assert "10 users at most" in page
    # The verdict in the CLI's own labels, in the CLI's order, and its headline.
    verdict = demo_verdict()
    assert list(cells(page, "label")) == [r.label for r in verdict_rows(verdict)]
    assert "verdict: nothing lost (every accepted message processed or parked)" in page
    assert re.sub(r"\[/?[a-z ]*\]", "", verdict_line(verdict)) in page
    # One row per endpoint, locust's figures.
    stats = read_stats_csv((DEMO / "load" / "locust_stats.csv").read_text())
    rows = re.findall(r"<tr><td>([^<]*)</td><td class='n'>([\d,]+)</td>", page)
    assert rows == [(s.name, f"{s.requests:,}") for s in stats]
    # locust's own report, linked relative to the page (the two move together).
    assert 'href="../demo/load/report.html"' in page
    assert "scale</b> receivers 2-&gt;6" in page


def test_the_page_needs_nothing_from_outside(tmp_path: Path) -> None:
    demo = demo_copy(tmp_path)
    out = tmp_path / "report.html"
    build(demo / "watch.jsonl", out, demo / "load", demo_verdict())
    page = out.read_text()
    assert "default-src 'none'" in page, "a policy forbids the page any request"
    assert not re.search(r"<(script|link|img|iframe)[^>]*\s(src|href)=", page)
    assert "Plotly.newPlot" in page
    assert "plotly.js" in page, "plotly.js is inline"
    # Outside plotly.js (whose code holds URLs it never calls), one link: locust's report.
    markup = re.sub(r"<script>.*?</script>", "", page, flags=re.S)
    assert re.findall(r'(?:href|src)="([^"]*)"', markup) == ["demo/load/report.html"]


def test_the_cli_shows_the_same_labels_as_the_report() -> None:
    """One table of labels: the terminal's verdict (`mafa ledger`, `smoke`) shows these rows."""
    console = Console(width=200, record=True, color_system=None)
    console.print(verdict_table(demo_verdict(), "ledger"))
    text = console.export_text()
    lines = [line.strip() for line in text.splitlines()]
    for row in verdict_rows(demo_verdict()):
        assert any(line.startswith(row.label.strip()) for line in lines), row.label


def test_no_locust_report_no_link(tmp_path: Path) -> None:
    demo = demo_copy(tmp_path, locust_report=False)
    build(demo / "watch.jsonl", tmp_path / "r.html", demo / "load")
    page = (tmp_path / "r.html").read_text()
    assert 'id="locust-report"' not in page
    assert "Ledger at the last snapshot: lost 0 (at rest)" in page, "no verdict: the live one"


def shift_history(load: Path, seconds: int) -> None:
    path = load / "locust_stats_history.csv"
    lines = path.read_text().splitlines()
    shifted = [lines[0]] + [
        f"{int(line.split(',', 1)[0]) + seconds},{line.split(',', 1)[1]}" for line in lines[1:]
    ]
    path.write_text("\n".join(shifted) + "\n")


def test_a_load_run_the_record_does_not_cover_is_flagged(tmp_path: Path) -> None:
    demo = demo_copy(tmp_path)
    shift_history(demo / "load", 3600)  # an hour later: another run
    report = build(demo / "watch.jsonl", tmp_path / "r.html", demo / "load")
    page = (tmp_path / "r.html").read_text()
    assert report.warnings[0].startswith("The record and the load run do not overlap in time")
    assert 'class="warning"' in page
    # The load chart keeps its own time axis: it is not zoomed with the others.
    assert '<section id="section-load">' in page
    assert '<section id="section-queue" data-sync>' in page


def test_a_partly_covered_load_run_is_flagged(tmp_path: Path) -> None:
    demo = demo_copy(tmp_path)
    shift_history(demo / "load", 25)
    report = build(demo / "watch.jsonl", tmp_path / "r.html", demo / "load")
    assert report.warnings
    assert "covers only" in report.warnings[0]
    assert '<section id="section-load" data-sync>' in (tmp_path / "r.html").read_text()


def test_fourteen_receivers_each_in_its_colour_legend_outside_the_lines(tmp_path: Path) -> None:
    data = read_record(many_receivers_record(tmp_path / "many.jsonl").read_text().splitlines())
    charts = {c.name: c for c in build_charts(data, None, data.events, None)}
    for name in ("handled", "failed"):
        figure = charts[name].figure
        assert [t.name for t in figure.data] == [f"receiver-{n:02d}abcdef" for n in range(14)]
        assert [t.line.color for t in figure.data] == [PALETTE[n] for n in range(14)]
        assert figure.layout.legend.x > 1, "the legend sits right of the plot, not on it"
        assert figure.layout.height >= 14 * 20, "tall enough for a legend line per receiver"


def test_the_load_legend_has_p95(tmp_path: Path) -> None:
    data = read_record((DEMO / "watch.jsonl").read_text().splitlines())
    load = read_load(DEMO / "load")
    chart = build_charts(data, load, [], None)[-1]
    assert [t.name for t in chart.figure.data] == ["requests/s", "p95 latency (ms)", "users"]
    assert max(chart.figure.data[1].y) == max(load.p95_ms.values) > 0


def test_events_are_marked_and_those_of_other_runs_left_out(tmp_path: Path) -> None:
    record = many_receivers_record(tmp_path / "many.jsonl")
    build(record, tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    assert "SIGKILL</b> demo-receiver-1" in page
    assert "long-ago-1" not in page, "an event outside the record's time is another run's"
    queue = json.loads(re.search(r'"chart-queue",\s*(\[.*?\]),\s*\{', page, re.S).group(1))  # type: ignore[union-attr]
    assert queue[0]["y"][:3] == [0, 2, 4]


def test_bad_inputs_are_one_line_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read the record"):
        build(tmp_path / "none.jsonl", tmp_path / "r.html")
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(UsageError, match="holds no snapshots"):
        build(tmp_path / "empty.jsonl", tmp_path / "r.html")
    (tmp_path / "noload").mkdir()
    with pytest.raises(UsageError, match="no locust history"):
        build(DEMO / "watch.jsonl", tmp_path / "r.html", tmp_path / "noload")


@pytest.mark.parametrize("content", ["not json", '{"accepted": "many", "nonsense": 1}', "[1]"])
def test_a_bad_verdict_file_is_refused(tmp_path: Path, content: str) -> None:
    verdict = tmp_path / "verdict.json"
    verdict.write_text(content)
    args = ["report", "--record", str(DEMO / "watch.jsonl"), "--verdict", str(verdict)]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "r.html")])
    assert result.exit_code == ExitStatus.USAGE, result.output
    assert "cannot read the verdict" in result.output
    assert "hint:" in result.output
    assert "Traceback" not in result.output


def test_mafa_report_writes_the_page_and_says_so(tmp_path: Path) -> None:
    demo = demo_copy(tmp_path)
    shutil.copy(DEMO / "verdict.json", tmp_path / "verdict.json")
    out = tmp_path / "run.html"
    args = ["report", "--record", str(demo / "watch.jsonl"), "--load-report", str(demo / "load")]
    result = CliRunner().invoke(
        app, [*args, "--verdict", str(tmp_path / "verdict.json"), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert f"report: {out} (6 charts with data)" in result.output
    assert "verdict: nothing lost" in out.read_text()


class CountingCollector:
    """Stands in for the stack's collector (watch/collectors.py, tested on its own): snapshots
    numbered by their ready count, so the test sees each one recorded once, in order."""

    def __init__(self) -> None:
        self.taken = 0
        self.closed = False

    def collect(self, follow_resources: bool = True) -> Snapshot:
        self.taken += 1
        return Snapshot(
            project="p",
            taken_at=START + timedelta(seconds=self.taken),
            queue=QueueFigures(ready=self.taken),
        )

    def close(self) -> None:
        self.closed = True


def test_recording_takes_snapshots_while_the_block_runs_and_one_at_its_end(
    tmp_path: Path,
) -> None:
    collector = CountingCollector()
    record = tmp_path / "sub" / "run.jsonl"
    with recording("p", record, interval_s=0.05, collector=collector) as path:  # type: ignore[arg-type]
        time.sleep(0.3)
        during = collector.taken
    assert path == record
    assert during >= 3, "one at the start, then one every interval"
    data = read_record(record.read_text().splitlines())
    assert data.series["ready"].values == [float(n) for n in range(1, collector.taken + 1)]
    assert collector.closed
    assert collector.taken in (during + 1, during + 2), "the last one, at the end"


def test_chaos_report_lists_its_faults(tmp_path: Path) -> None:
    """`chaos --report`: the faults it injected are listed and marked, with its verdict."""
    demo = demo_copy(tmp_path)
    fault = Event("2026-11-30T04:05:10+00:00", "SIGKILL", "mafademo-receiver-2")
    proof = ProofResult("run-1", TrafficCounts(accepted=147), demo_verdict(), 30.0, [fault])
    out = tmp_path / "chaos.html"
    written = _with_report(proof, out, demo / "watch.jsonl", "chaos · mafademo", "kill ...")
    assert written.html_report is not None
    page = out.read_text()
    assert "<b>SIGKILL</b> mafademo-receiver-2" in page
    assert "<b>scale</b> receivers 2-&gt;6" in page, "and the events the record holds"
    assert "<dt>messages</dt><dd>147 accepted, 0 refused (503), 0 unanswered</dd>" in page
    assert _with_report(proof, None, None, "chaos", "") is proof, "no --report: nothing written"


def test_the_projects_event_stream_adds_what_the_snapshots_missed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A snapshot holds the latest few events only: the stream (faults.jsonl) has them all."""
    monkeypatch.setenv("MAFA_STATE_DIR", str(tmp_path / "state"))
    state = ProjectState("many")
    state.record_event("scale", "receiver 14 -> 15", at=START + timedelta(seconds=20))
    state.record_event("restart", "another-run-1", at=START - timedelta(days=1))
    build(many_receivers_record(tmp_path / "many.jsonl"), tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    events = re.findall(r"<li>.*?</li>", re.search(r'<ol id="events">(.*?)</ol>', page).group(1))  # type: ignore[union-attr]
    assert len(events) == 2, events
    assert "12:00:05 <b>SIGKILL</b> demo-receiver-1" in events[0]
    assert "12:00:20 <b>scale</b> receiver 14 -&gt; 15" in events[1]
    assert "another-run-1" not in page


def test_on_a_swarm_the_header_names_the_nodes_and_a_node_fault_its_node(tmp_path: Path) -> None:
    from dataclasses import replace

    from tests.unit.watch.fakes import swarm_snapshot

    fault = "2026-11-29T12:00:30+00:00 node drain mafa-engine-sb571ac-3"  # as chaos records it
    first = swarm_snapshot(faults=0)
    later = replace(first, taken_at=first.taken_at + timedelta(seconds=60), faults=(fault,))
    record = tmp_path / "swarm.jsonl"
    record.write_text("".join(json.dumps(s.to_json()) + "\n" for s in (first, later)))
    build(record, tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    nodes = "mafa-engine-sb571ac-1, mafa-engine-sb571ac-2, mafa-engine-sb571ac-3"
    assert f"<dt>Swarm nodes</dt><dd>{nodes}</dd>" in page
    assert "<b>node</b> drain mafa-engine-sb571ac-3" in page
