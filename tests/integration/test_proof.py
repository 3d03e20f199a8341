"""Nothing lost, proven on real stacks: `mafa smoke` passes and writes its JUnit file; a receiver
that acks before committing makes it fail (the check can fail); `mafa chaos` kills or restarts
each kind of node while messages flow, and the ledger still balances."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from mafa_cli.status import ExitStatus
from tests.integration.stack import (
    ARTIFACTS,
    ComposeStack,
    chromium,
    free_port,
    mafa,
    mafa_stack,
    wait_for,
)


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("proof-state")


def test_smoke_passes_and_says_so_in_junit_and_its_report(state: Path, tmp_path: Path) -> None:
    junit = tmp_path / "smoke.xml"
    report = tmp_path / "smoke" / "report.html"
    result = mafa(
        "smoke",
        "-p",
        "mafasmokeok",
        "--port",
        str(free_port()),
        # The default message count, with more work each than the default's 0.05 s: the run
        # lasts several of the report's 1 s snapshots, so its charts have a course to draw.
        "--max-delay",
        "0.2",
        "--junit",
        str(junit),
        "--report",
        str(report),
        state=state,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verdict: nothing lost" in result.stdout
    # The HTML report: drawn from snapshots recorded while it ran (kept beside it), with the
    # verdict the CLI printed, label for label and figure for figure.
    assert f"report: {report} (" in result.stdout
    page = report.read_text()
    record = (tmp_path / "smoke" / "report.jsonl").read_text().splitlines()
    assert len(record) >= 3
    assert any((json.loads(line).get("ledger") or {}).get("accepted") == 200 for line in record)
    assert "verdict: nothing lost" in page
    for label, value in re.findall(
        r'<td class="label">([^<]*)</td><td class="n">([^<]*)</td>', page
    ):
        assert re.search(rf"{re.escape(label.strip())}\s+{value}\b", result.stdout), label
    assert 'accepted (broker-confirmed)</td><td class="n">200<' in page
    assert 'id="chart-queue"' in page
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "smoke-report.png"
    taken = chromium(
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1280,2600",
        f"--screenshot={shot}",
        report.as_uri(),
    )
    assert shot.exists(), taken.stderr[-2000:]
    suite = ET.parse(junit).getroot()
    assert suite.get("tests") == "5"
    assert suite.get("failures") == "0"
    figures = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert figures["accepted"] == "200"
    assert figures["lost"] == "0"
    assert int(figures["failed_attempts"] or 0) > 0, "fail rate 0.2: some attempts failed"
    # Torn down (no --keep): nothing of the project is left.
    left = subprocess.run(
        ["docker", "ps", "-aq", "--filter", "label=com.docker.compose.project=mafasmokeok"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert left.strip() == ""


def test_a_receiver_that_acks_before_committing_fails_the_smoke(
    state: Path, tmp_path: Path
) -> None:
    junit = tmp_path / "broken.xml"
    env_before = os.environ.get("MAFA_UNSAFE_ACK_BEFORE_COMMIT")
    os.environ["MAFA_UNSAFE_ACK_BEFORE_COMMIT"] = "1"
    try:
        result = mafa(
            "smoke",
            "-p",
            "mafasmokebad",
            "--port",
            str(free_port()),
            "--messages",
            "100",
            "--junit",
            str(junit),
            state=state,
            check=False,
        )
    finally:
        if env_before is None:
            del os.environ["MAFA_UNSAFE_ACK_BEFORE_COMMIT"]
        else:
            os.environ["MAFA_UNSAFE_ACK_BEFORE_COMMIT"] = env_before
    assert result.returncode == ExitStatus.NOT_PROVEN, result.stdout + result.stderr
    assert "verdict: NOT PROVEN" in result.stdout
    suite = ET.parse(junit).getroot()
    failed = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]
    assert "nothing lost" in failed
    lost = {p.get("name"): p.get("value") for p in suite.iter("property")}["lost"]
    assert int(lost or 0) > 0


@pytest.fixture(scope="module")
def chaos_stack(state: Path, workdir: Path) -> Iterator[ComposeStack]:
    flags = ("--senders", "2", "--receivers", "3", "--max-delay", "0.5", "--fail-rate", "0.2")
    with mafa_stack("mafachaos", state, workdir, *flags) as stack:
        yield stack


@pytest.mark.parametrize(
    ("target", "action", "every", "duration", "faults"),
    [
        ("receiver", "kill", "4s", "13s", 3),
        ("rabbitmq", "restart", "5s", "8s", 1),
        ("postgres", "restart", "5s", "8s", 1),
        ("redis", "restart", "5s", "8s", 1),
        ("sender", "kill", "5s", "8s", 1),
    ],
)
def test_chaos_loses_nothing(
    chaos_stack: ComposeStack,
    state: Path,
    tmp_path: Path,
    target: str,
    action: str,
    every: str,
    duration: str,
    faults: int,
) -> None:
    report = tmp_path / "chaos.html"
    result = mafa(
        "chaos",
        "-p",
        chaos_stack.project,
        "--kill",
        target,
        "--action",
        action,
        "--every",
        every,
        "--duration",
        duration,
        "--rate",
        "20",
        "--timeout",
        "180s",
        "--report",
        str(report),
        state=state,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{faults} faults" in result.stdout
    # Its report lists the faults it injected, with the verdict.
    page = report.read_text()
    listed = re.findall(r"<li>.*?</li>", page.split('<ol id="events">')[1].split("</ol>")[0])
    assert sum(f"{chaos_stack.project}-{target}-" in item for item in listed) >= faults, listed
    assert "verdict: nothing lost" in page
    assert "verdict: nothing lost" in result.stdout
    recorded = [
        json.loads(line)
        for line in (state / chaos_stack.project / "faults.jsonl").read_text().splitlines()
    ]
    assert recorded[-1]["target"].startswith(f"{chaos_stack.project}-{target}-")
    # The dashboard shows the faults, and its record keeps them.
    snapshot = json.loads(
        mafa("watch", "-p", chaos_stack.project, "--once", "--json", state=state).stdout
    )
    assert any(target in fault for fault in snapshot["faults"])
    # Replicated services are back to the wanted count, infrastructure is up again, and every
    # replica healthy within a minute (after a broker restart a receiver reconnects, then its
    # next health check passes: once seen unhealthy 12 s after the restart).
    answer: list[subprocess.CompletedProcess[str]] = []

    def all_ok() -> bool:
        answer[:] = [mafa("status", "-p", chaos_stack.project, "--json", state=state, check=False)]
        return answer[0].returncode == 0

    try:
        wait_for(all_ok, 60, "every replica healthy after the faults")
    except AssertionError as late:
        raise AssertionError(f"{late}\n{answer[0].stdout}") from None
    status = json.loads(answer[0].stdout)
    assert len([r for r in status if r["service"] == target]) == {"receiver": 3, "sender": 2}.get(
        target, 1
    )


def test_ledger_command_on_a_quiet_stack(chaos_stack: ComposeStack, state: Path) -> None:
    result = mafa("ledger", "-p", chaos_stack.project, "--json", state=state, check=False)
    report = json.loads(result.stdout)
    assert result.returncode == 0, result.stdout
    assert report["ok"] is True
    assert report["accepted"] > 0
    assert report["lost"] == report["unexpected"] == report["duplicate_effects"] == 0
    assert report["unrecorded_deliveries"] + report["failed_attempts"] > 0


def test_cli_runs_without_a_tty() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mafa_cli", "chaos", "--kill", "database"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == ExitStatus.USAGE
    # an Enum choice: the parser names the value and lists the choices
    assert "'database' is not one of 'receiver'" in result.stderr
    assert "Traceback" not in result.stderr
