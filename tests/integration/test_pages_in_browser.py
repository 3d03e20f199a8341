"""The pages as a person sees them: headless Chromium (Debian's package) renders both pages; the
screenshots are kept in artifacts/ and checked, and so is the DOM after scripts ran."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests
from PIL import Image

from mafa_cli.services.palette import PALETTE
from tests.integration.stack import ARTIFACTS, ComposeStack, chromium

TRICKY = "<b>bold?</b> {{ 7*7 }} <script>alert(1)</script> & done"


def browse(url: str, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    profile = out.parent / f"profile-{out.stem}"
    # Tall enough for all 20 rows.
    return chromium(f"--user-data-dir={profile}", "--window-size=1200,1400", *extra, url)


def node_colours(dom: str) -> set[tuple[int, int, int]]:
    """Colours of the node pills in the table rows. (Not the header badge: the DOM and the
    screenshot are two page loads, which the balancer may send to different nodes.)"""
    indexes = {int(i) for i in re.findall(r'class="badge rounded-pill node-(\d+)"', dom)}
    return {tuple(int(PALETTE[i][k : k + 2], 16) for k in (1, 3, 5)) for i in indexes}  # type: ignore[misc]


def has_colour(image: Image.Image, colour: tuple[int, int, int]) -> bool:
    pixels = image.convert("RGB").get_flattened_data()
    return (
        sum(1 for p in pixels if all(abs(a - b) <= 6 for a, b in zip(p, colour, strict=True))) > 50
    )


@pytest.mark.parametrize(("path", "table"), [("/", "messages"), ("/received", "processed")])
def test_page_renders_badges_rows_and_pills(
    stack: ComposeStack, tmp_path: Path, path: str, table: str
) -> None:
    answer = requests.post(f"{stack.url}/api/messages", json={"message": TRICKY}, timeout=10)
    assert answer.status_code == 202
    if path == "/received":
        stack.wait_drained()
    ARTIFACTS.mkdir(exist_ok=True)
    name = "sender-page" if path == "/" else "results-page"
    shot = ARTIFACTS / f"{name}.png"
    netlog = tmp_path / f"{name}-netlog.json"

    # The DOM and the screenshot are two page loads: the pair is taken again (up to 3 times) when
    # the pills of the one are not all in the other, as can happen once under CI's load.
    for _ in range(3):
        dom = browse(f"{stack.url}{path}", tmp_path / f"{name}-dom", "--dump-dom").stdout
        taken = browse(
            f"{stack.url}{path}", shot, f"--screenshot={shot}", f"--log-net-log={netlog}"
        )
        assert shot.exists(), taken.stderr[-2000:]
        colours = node_colours(dom)
        if colours and all(has_colour(Image.open(shot), c) for c in colours):
            break

    # The DOM after scripts: the badge row, rows in the table, node pills, the text escaped.
    for badge in ("Processed:", "Last @:", "My Session Messages:", "Total Sessions:"):
        assert badge in dom
    rows = re.search(rf'<table[^>]*id="{table}".*?</table>', dom, re.S)
    assert rows, dom[:2000]
    assert rows.group(0).count("<tr>") >= 2, "header plus at least one row"
    assert "&lt;b&gt;bold?&lt;/b&gt; {{ 7*7 }} &lt;script&gt;" in dom
    assert "<b>bold?</b>" not in dom
    if path == "/":
        assert 'id="submit-message" disabled=""' in dom, "blank input keeps the button disabled"

    # The screenshot shows the node pills in their colours (so the CSS loaded under the CSP).
    image = Image.open(shot)
    assert image.size == (1200, 1400)
    assert colours
    assert all(has_colour(image, c) for c in colours), f"pill colours {colours} not on screen"

    # The page asked for nothing outside this machine: every request it made (the main frame and
    # what it initiated) went to the balancer. Chromium's own background calls, initiated by no
    # origin, are left out; the resolver rules above keep them from leaving anyway.
    log = json.loads(netlog.read_text())
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    origin = stack.url
    jobs = [e["params"] for e in log["events"] if e["type"] == start_job and "params" in e]
    page_urls = {
        job["url"]
        for job in jobs
        if job.get("initiator") == origin or job.get("request_type") == "main frame"
    }
    assert f"{origin}/static/bootstrap.min.css" in page_urls
    outside = {u for u in page_urls if urlparse(u).hostname != "127.0.0.1"}
    assert not outside, f"the page made requests to outside hosts: {outside}"
