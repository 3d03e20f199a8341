"""`mafa watch` against a real stack: the JSON snapshot tells the truth about redeliveries,
receivers, sessions and the ledger; a stopped receiver shows; the live view, captured from tmux
at 80x24, 120x40 and 160x50 during a load run, renders whole and quits on q."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.integration.stack import ARTIFACTS, ROOT, ComposeStack, mafa, mafa_stack, wait_for


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("watch-state")


@pytest.fixture(scope="module")
def watched(state: Path, workdir: Path) -> Iterator[ComposeStack]:
    flags = ("--senders", "2", "--receivers", "3", "--max-delay", "0.2", "--fail-rate", "0.5")
    with mafa_stack("mafawatch", state, workdir, *flags) as stack:
        yield stack


def snapshot(stack: ComposeStack, state: Path) -> dict:  # type: ignore[type-arg]
    result = mafa("watch", "-p", stack.project, "--once", "--json", state=state)
    return dict(json.loads(result.stdout))


def third_reading(stack: ComposeStack, state: Path) -> dict:  # type: ignore[type-arg]
    """`mafa watch --json` (one JSON line a second) until its third line."""
    watch = subprocess.Popen(
        [sys.executable, "-m", "mafa_cli", "watch", "-p", stack.project, "--json"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "MAFA_STATE_DIR": str(state)},
    )
    try:
        assert watch.stdout is not None
        lines = [watch.stdout.readline() for _ in range(3)]
    finally:
        watch.terminate()
        watch.wait(timeout=30)
    return dict(json.loads(lines[-1]))


def test_snapshot_after_a_trickle(watched: ComposeStack, state: Path, tmp_path: Path) -> None:
    client = requests.Session()
    client.get(f"{watched.url}/", timeout=10)  # a session, as a person's browser would have
    for i in range(40):
        assert (
            client.post(f"{watched.url}/api/messages", json={"message": f"t{i}"}).status_code == 202
        )
        time.sleep(0.05)
    watched.wait_drained()
    record = tmp_path / "watch.jsonl"
    picture = ARTIFACTS / "watch-once.svg"
    ARTIFACTS.mkdir(exist_ok=True)
    result = mafa(
        "watch",
        "-p",
        watched.project,
        "--once",
        "--json",
        "--record",
        str(record),
        "--svg",
        str(picture),
        state=state,
    )
    svg = picture.read_text()
    assert svg.startswith("<svg")
    assert "ledger" in svg
    data = json.loads(result.stdout)
    assert data["stale"] == {}, data["stale"]
    assert data["redeliveries"] > 0
    assert sum(1 for r in data["receivers"] if r["handled"] > 0) >= 2
    assert sum(r["handled"] for r in data["receivers"]) >= 40
    assert data["active_sessions"] >= 1
    ledger = data["ledger"]
    assert ledger["accepted"] >= 40
    assert ledger["at_rest"] is True
    assert ledger["lost"] == 0
    assert ledger["accepted"] == ledger["processed"] + ledger["parked"]
    assert {s["container"] for s in data["senders"]} == {
        f"{watched.project}-sender-1",
        f"{watched.project}-sender-2",
    }
    assert all(s["requests"] is not None and s["requests"] > 0 for s in data["senders"])
    assert len(data["containers"]) == 9
    # --once answers at once on a quiet stack, before the engine's resource samples (one a
    # second) may have come; the third reading of a running watch has them.
    streamed = third_reading(watched, state)
    assert all(c["memory_mib"] and c["memory_mib"] > 0 for c in streamed["containers"])
    assert (
        json.loads(record.read_text().splitlines()[-1])["ledger"]["accepted"] == ledger["accepted"]
    )


BADGE = re.compile(r'class="badge rounded-pill node-(\d+)" id="badge-node" data-slot="(\d*)"')


def test_each_node_has_its_own_colour_on_its_page_and_in_watch(
    watched: ComposeStack, state: Path
) -> None:
    """5 live nodes claim 5 distinct slots (services/slots.py); each node's page shows its slot's
    colour class, and `mafa watch --once --json` reports the same slot for that node."""

    def slots() -> dict[str, int | None]:
        data = snapshot(watched, state)
        return {row["node"]: row["slot"] for row in [*data["receivers"], *data["senders"]]}

    wait_for(lambda: len(slots()) == 5 and None not in slots().values(), 60, "5 nodes with a slot")
    claimed = slots()
    assert len(set(claimed.values())) == 5, claimed

    seen: dict[str, tuple[int, str]] = {}
    client = requests.Session()
    for _ in range(60):  # the balancer spreads the pages over the nodes
        for path in ("/", "/received"):
            page = client.get(f"{watched.url}{path}", timeout=10)
            assert page.status_code == 200
            match = BADGE.search(page.text)
            assert match, "the page has no node badge"
            seen[page.headers["X-Mafa-Node"]] = (int(match.group(1)), match.group(2))
        if len(seen) == 5:
            break
    assert set(seen) == set(claimed), "every node's page was seen"
    for node, (css_slot, data_slot) in seen.items():
        assert css_slot == claimed[node], f"{node}: page node-{css_slot}, watch {claimed[node]}"
        assert data_slot == str(claimed[node])


def test_a_stopped_receiver_shows(watched: ComposeStack, state: Path) -> None:
    (victim,) = [c for c in watched.containers("receiver") if c["Name"].endswith("-receiver-3")]
    subprocess.run(["docker", "stop", victim["Id"]], check=True, capture_output=True)
    try:
        data = snapshot(watched, state)
        row = next(c for c in data["containers"] if c["name"].endswith("-receiver-3"))
        assert row["state"] == "exited"
        wait_for(
            lambda: snapshot(watched, state)["queue"]["consumers"] == 4, 20, "consumers to drop"
        )
    finally:
        subprocess.run(["docker", "start", victim["Id"]], check=True, capture_output=True)


@pytest.mark.parametrize(("width", "height"), [(80, 24), (120, 40), (160, 50)])
def test_live_view_in_tmux(
    watched: ComposeStack, state: Path, tmp_path: Path, width: int, height: int
) -> None:
    """The real `mafa watch` on a real terminal (tmux) during a load: the dashboard you drive,
    every line within the width, the panels there; `q` ends it with status 0. The captures are
    kept under artifacts/ (CI keeps that directory)."""
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed (scripts/setup-host installs it)")
    session = f"mafawatch{width}"
    load = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mafa_cli",
            "load",
            "-p",
            watched.project,
            "--users",
            "5",
            "--duration",
            "30s",
            "--report",
            str(ARTIFACTS / f"watch-load-{width}"),
        ],
        env={"MAFA_STATE_DIR": str(state), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    status = tmp_path / "status"
    command = (
        # No COLUMNS/LINES from whoever started the tmux server: the pane's size must rule.
        f"env -u COLUMNS -u LINES TERM=xterm-256color MAFA_STATE_DIR={state} "
        f"{sys.executable} -m mafa_cli watch -p {watched.project} --interval 1s; "
        f"echo $? > {status}; sleep 30"
    )
    subprocess.run(
        [
            "tmux",
            "new-session",
            "-d",
            "-s",
            session,
            "-x",
            str(width),
            "-y",
            str(height),
            "-c",
            str(ROOT),
            command,
        ],
        check=True,
    )
    try:
        try:  # the load line with its users, from the running `mafa load`
            running = re.compile(r"load [1-9]\d* users")
            wait_for(lambda: bool(running.search(capture(session))), 90, "the load's users")
        finally:
            screen = capture(session)
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
        wait_for(status.exists, 30, "mafa watch to end on q")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
        load.wait(timeout=90)
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / f"watch-{width}x{height}.txt").write_text(screen)
    lines = screen.splitlines()
    assert len(lines) <= height
    assert all(len(line) <= width for line in lines)
    assert f"mafa watch · {watched.project}" in screen
    assert "receivers" in screen
    assert "q quit" in screen, "the keys' footer"
    assert "Traceback" not in screen
    assert status.read_text().strip() == "0"


def capture(session: str) -> str:
    return subprocess.run(
        ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True, check=True
    ).stdout
