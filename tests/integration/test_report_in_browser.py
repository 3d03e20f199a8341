"""The report as a person explores it: Debian's headless Chromium, driven through playwright
(its Python package only: the system's browser, no download), opens the file and is used with
the mouse. Hovering a point shows its value, a drag zooms every chart on the time axis, a legend
click hides a series, nothing is requested but the file itself, the verdict reads as the CLI's.
Screenshots are kept in artifacts/ (report.png, report-hover.png, report-14-receivers.png)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Page, sync_playwright

from mafa_cli.report import build
from mafa_cli.report.inputs import read_record
from mafa_cli.ui import Console, verdict_line, verdict_table
from tests.integration.stack import ARTIFACTS
from tests.report_inputs import demo_copy, demo_verdict, many_receivers_record

# Functions, never bare expressions: the page's policy forbids eval, which playwright would use.
CHARTS_DRAWN = "() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= {count}"
# Where a data point of a chart is on the screen (plotly's own axis conversions).
POINT_ON_SCREEN = """([id, trace, index]) => {
  const chart = document.getElementById(id);
  const xaxis = chart._fullLayout.xaxis, yaxis = chart._fullLayout.yaxis;
  const box = chart.getBoundingClientRect();
  const x = chart.data[trace].x[index], y = chart.data[trace].y[index];
  return {left: box.left + xaxis._offset + xaxis.l2p(xaxis.d2l(x)),
          top: box.top + yaxis._offset + yaxis.l2p(y), x: x, y: y};
}"""
X_RANGE = "id => document.getElementById(id)._fullLayout.xaxis.range.slice()"
PLOT_AREA = """id => {
  const r = document.querySelector('#' + id + ' .nsewdrag').getBoundingClientRect();
  return {left: r.left, right: r.right, top: r.top, bottom: r.bottom};
}"""


def chromium_path() -> str:
    browser = shutil.which("chromium")
    if browser is None:
        raise AssertionError("chromium is not installed (scripts/setup-host installs it)")
    # Debian's /usr/bin/chromium is a shell wrapper; playwright wants the binary itself.
    binary = Path("/usr/lib/chromium/chromium")
    return str(binary if binary.exists() else browser)


class Browsed:
    def __init__(self, page: Page) -> None:
        self.page = page
        self.requests: list[str] = []
        self.problems: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.problems.append(f"{message.type}: {message.text}")

    def open(self, path: Path, charts: int) -> None:
        self.page.goto(path.as_uri())
        self.page.wait_for_function(CHARTS_DRAWN.format(count=charts), timeout=60_000)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path(),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                # Were the page to ask for anything, no name resolves but the loopback.
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            ],
        )
        yield launched
        launched.close()


@pytest.fixture
def browsed(browser: Any) -> Iterator[Browsed]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield Browsed(context.new_page())
    context.close()


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of a recorded `mafa demo` run (tests/fixtures/report-demo), with its verdict."""
    where = tmp_path_factory.mktemp("report")
    demo = demo_copy(where)
    out = where / "report.html"
    build(demo / "watch.jsonl", out, demo / "load", demo_verdict(), title="mafa demo (recorded)")
    return out


def test_hover_shows_the_value_of_the_point(browsed: Browsed, demo_report: Path) -> None:
    browsed.open(demo_report, charts=6)
    page = browsed.page
    page.locator("#chart-queue").scroll_into_view_if_needed()
    ready = read_record((demo_report.parent / "demo" / "watch.jsonl").read_text().splitlines())
    peak = ready.series["ready"].values.index(max(ready.series["ready"].values))
    point = page.evaluate(POINT_ON_SCREEN, ["chart-queue", 0, peak])
    assert point["y"] == max(ready.series["ready"].values)
    page.mouse.move(point["left"], point["top"])
    label = page.locator("#chart-queue .hoverlayer").first
    page.wait_for_function(
        "() => document.querySelector('#chart-queue .hoverlayer').textContent.length > 0"
    )
    text = label.text_content() or ""
    # x unified: the time on top, then each series' value at that time.
    assert f"ready : {point['y']:g}" in text, text
    assert point["x"][11:19] in text, text
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#chart-queue").screenshot(path=str(ARTIFACTS / "report-hover.png"))
    assert browsed.problems == []


def test_a_drag_zooms_every_chart_on_the_time_axis(browsed: Browsed, demo_report: Path) -> None:
    browsed.open(demo_report, charts=6)
    page = browsed.page
    page.locator("#chart-rates").scroll_into_view_if_needed()
    charts = ["chart-queue", "chart-rates", "chart-handled", "chart-load"]
    before = {c: page.evaluate(X_RANGE, c) for c in charts}
    ticks_before = page.locator("#chart-rates .xtick text").all_text_contents()
    area = page.evaluate(PLOT_AREA, "chart-rates")
    middle = (area["top"] + area["bottom"]) / 2
    width = area["right"] - area["left"]
    page.mouse.move(area["left"] + 0.3 * width, middle)
    page.mouse.down()
    page.mouse.move(area["left"] + 0.45 * width, middle, steps=8)
    page.mouse.move(area["left"] + 0.6 * width, middle, steps=8)
    page.mouse.up()
    # The other charts follow through one asynchronous relayout each: wait for the last of them.
    page.wait_for_function(
        "starts => Object.keys(starts).every(id => "
        "document.getElementById(id)._fullLayout.xaxis.range[0] !== starts[id])",
        arg={chart: before[chart][0] for chart in charts},
    )
    after = {c: page.evaluate(X_RANGE, c) for c in charts}
    for chart in charts:
        assert after[chart] != before[chart], chart
        assert before[chart][0] < after[chart][0] < after[chart][1] < before[chart][1], chart
        assert after[chart] == after["chart-rates"], "every chart shows the same time range"
    assert page.locator("#chart-rates .xtick text").all_text_contents() != ticks_before
    # A double click gives the whole range back.
    page.mouse.dblclick(area["left"] + 0.5 * width, middle)
    page.wait_for_function(
        f"() => document.getElementById('chart-queue')._fullLayout.xaxis.range[0] <= "
        f"{before['chart-queue'][0]!r}"
    )
    assert browsed.problems == []


def test_a_legend_click_hides_a_series(browsed: Browsed, demo_report: Path) -> None:
    browsed.open(demo_report, charts=6)
    page = browsed.page
    page.locator("#chart-queue").scroll_into_view_if_needed()
    lines = "#chart-queue .scatterlayer .trace"
    visible = page.locator(lines).count()
    page.locator("#chart-queue .legend .traces").filter(has_text="unacked").click()
    page.wait_for_function(
        "() => document.getElementById('chart-queue').data[1].visible === 'legendonly'"
    )
    assert page.locator(lines).count() == visible - 1


def test_nothing_but_the_file_is_requested_and_the_verdict_is_the_clis(
    browsed: Browsed, demo_report: Path
) -> None:
    browsed.open(demo_report, charts=6)
    page = browsed.page
    page.locator("#chart-queue").hover()  # a hover, a zoom: still nothing is fetched
    page.wait_for_timeout(500)
    assert browsed.requests == [demo_report.as_uri()]
    # The toolbar saves pictures, zooms and pans; no button sends the chart anywhere.
    buttons = set(
        page.locator("#chart-queue .modebar-btn").evaluate_all(
            "buttons => buttons.map(b => b.getAttribute('data-title'))"
        )
    )
    assert "Download plot as a PNG" in buttons
    assert not [b for b in buttons if "Share" in b or "Cloud" in b or "Edit" in b], buttons
    assert browsed.problems == [], "no error, no blocked request"
    # The verdict the page shows reads as the CLI's table and line (one table of labels).
    verdict = demo_verdict()
    console = Console(width=200, record=True, color_system=None)
    console.print(verdict_table(verdict, "verdict"))
    console.print(verdict_line(verdict))
    cli = [line.strip() for line in console.export_text().splitlines()]
    shown = [label.strip() for label in page.locator("#verdict td.label").all_text_contents()]
    values = page.locator("#verdict td.n").all_text_contents()
    assert len(shown) == 17
    for label, value in zip(shown, values, strict=True):
        assert any(re.fullmatch(rf"{re.escape(label)}\s+{value}.*", line) for line in cli), label
    assert page.locator("#verdict-line").text_content() in cli
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert Image.open(shot).size[1] > 2000, "the whole page: header, tables and six charts"


def test_fourteen_receivers_legends_beside_the_lines(browsed: Browsed, tmp_path: Path) -> None:
    record = many_receivers_record(tmp_path / "many.jsonl", receivers=14)
    out = tmp_path / "many.html"
    build(record, out, title="14 receivers")
    browsed.open(out, charts=5)
    page = browsed.page
    for chart in ("chart-handled", "chart-failed"):
        entries = page.locator(f"#{chart} .legend .traces")
        assert entries.count() == 14
        area = page.evaluate(PLOT_AREA, chart)
        legend = page.locator(f"#{chart} .legend").bounding_box()
        assert legend is not None
        assert legend["x"] >= area["right"], "the legend is beside the lines, not on them"
        last = entries.nth(13).bounding_box()
        assert last is not None
        assert last["y"] + last["height"] <= area["bottom"] + 30, "every entry shows, unscrolled"
    page.locator("#chart-handled").scroll_into_view_if_needed()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-14-receivers.png"), full_page=True)
    assert browsed.problems == []
