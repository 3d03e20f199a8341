"""`mafa demo --duration 30s` without a terminal: the dashboard degrades to plain lines, the
report holds every chart with data, the verdict says lost 0; the report is looked at in
headless Chromium."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.integration.stack import ARTIFACTS, chromium, free_port, mafa


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("demo-state")
    yield path
    mafa("down", "-p", "mafademo", "--volumes", state=path, check=False)


def test_demo_tells_the_whole_story(state: Path, tmp_path: Path) -> None:
    report_dir = tmp_path / "demo"
    result = mafa(
        "demo",
        "-p",
        "mafademo",
        "--duration",
        "30s",
        "--port",
        str(free_port()),
        "--report",
        str(report_dir),
        state=state,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    output = result.stdout
    assert " queue " in output, "plain dashboard lines without a TTY"
    assert " handled " in output
    assert "plan: create receiver-3" in output, "receivers were scaled up half-way"
    assert "verdict: nothing lost" in output
    assert "mafa down -p mafademo" in output, "it says how to stop the running stack"

    verdict = json.loads((report_dir / "verdict.json").read_text())
    assert verdict["lost"] == 0
    assert verdict["ok"] is True
    assert verdict["accepted"] > 20
    page = (report_dir / "report.html").read_text()
    for chart in ("queue", "rates", "handled", "failed", "sessions", "load"):
        assert f'id="chart-{chart}"' in page
    assert "<b>scale</b> receivers 2-&gt;6" in page, "the scale-up is listed and marked"
    assert 'id="locust-report" href="load/report.html"' in page, "locust's own report, linked"
    assert "verdict: nothing lost" in page

    # Looked at: headless Chromium renders the report; the charts show lines, not empty axes.
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "demo-report.png"
    chromium(
        f"--user-data-dir={tmp_path / 'chromium'}",
        "--window-size=1100,2700",
        f"--screenshot={shot}",
        f"file://{report_dir / 'report.html'}",
    )
    image = Image.open(shot).convert("RGB")
    width, height = image.size
    pixels = image.get_flattened_data()
    line_blue = sum(
        1 for p in pixels if abs(p[0] - 31) < 8 and abs(p[1] - 119) < 8 and abs(p[2] - 180) < 8
    )
    assert line_blue > 2000, "the charts in the page have drawn lines"
    # Drawn all the way down: the lowest chart (load) is on the page, not a blank end.
    lower_half = [p for i, p in enumerate(pixels) if i >= width * (height // 2)]
    assert sum(1 for p in lower_half if p != (255, 255, 255)) > 10_000
