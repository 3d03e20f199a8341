"""`mafa load` against a real stack: report files, accounting against the stack's own rows,
rate holding, thresholds, locust's distributed mode, a Ctrl-C that keeps the reports, and
locust's web UI (`--web`)."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from mafa_cli.load.plan import messages_accepted, read_stats_csv
from mafa_cli.status import ExitStatus
from tests.integration.stack import ComposeStack, free_port, mafa, wait_for


def accepted_rows(stack: ComposeStack, run_id: str) -> int:
    return int(
        stack.query(
            "SELECT count(*) FROM sender.messages WHERE run_id = %s AND status = 'accepted'", run_id
        )[0][0]
    )


def run_id_from_output(output: str) -> str:
    line = next(line for line in output.splitlines() if line.startswith("load run "))
    return line.split()[2]


def test_a_run_writes_reports_that_agree_with_the_stack(
    load_stack: tuple[ComposeStack, Path], tmp_path: Path
) -> None:
    stack, state = load_stack
    report = tmp_path / "report"
    result = mafa(
        "load",
        "-p",
        stack.project,
        "--users",
        "5",
        "--duration",
        "20s",
        "--report",
        str(report),
        state=state,
    )
    run_id = run_id_from_output(result.stdout)
    for name in (
        "locust_stats.csv",
        "locust_stats_history.csv",
        "locust_failures.csv",
        "report.html",
    ):
        assert (report / name).stat().st_size > 0, name
    assert "<html" in (report / "report.html").read_text()[:2000].lower()
    rows = read_stats_csv((report / "locust_stats.csv").read_text())
    names = {r.name for r in rows}
    assert {"POST /api/messages", "POST / (form)", "GET / (page)"} <= names
    assert rows[-1].failures == 0, (report / "locust_failures.csv").read_text()
    seen_by_locust = messages_accepted(rows)
    assert seen_by_locust > 20
    # The stack's own count of this run's accepted messages. It can only be higher than what
    # locust counted, by the requests still in flight when locust stopped its users (at most
    # one per user); it can never be lower (locust saw a 202 = the stack wrote the row).
    in_stack = accepted_rows(stack, run_id)
    assert seen_by_locust <= in_stack <= seen_by_locust + 5, (seen_by_locust, in_stack)
    assert "Aggregated" in result.stdout


def test_rate_is_held(load_stack: tuple[ComposeStack, Path], tmp_path: Path) -> None:
    stack, state = load_stack
    report = tmp_path / "rate"
    mafa(
        "load",
        "-p",
        stack.project,
        "--users",
        "10",
        "--spawn-rate",
        "10",
        "--rate",
        "50",
        "--duration",
        "20s",
        "--report",
        str(report),
        state=state,
    )
    history = list(csv.DictReader((report / "locust_stats_history.csv").open()))
    # Messages go through the API and the form: the rate is their sum at each moment.
    by_time: dict[str, float] = {}
    for row in history:
        if row["Name"] in ("/api/messages", "/ (form)"):
            by_time[row["Timestamp"]] = by_time.get(row["Timestamp"], 0.0) + float(
                row["Requests/s"] or 0
            )
    messages = [rate for _, rate in sorted(by_time.items()) if rate > 0]
    steady = messages[len(messages) // 3 :]  # past the start-up
    assert steady, "no history rows for the message endpoint"
    achieved = sum(steady) / len(steady)
    # locust's current rate is a moving window; 20 % either way is the stated tolerance.
    assert 40 <= achieved <= 60, f"held {achieved:.1f} msg/s instead of 50"


def test_broken_threshold_exits_non_zero_and_says_which(
    load_stack: tuple[ComposeStack, Path], tmp_path: Path
) -> None:
    stack, state = load_stack
    result = mafa(
        "load",
        "-p",
        stack.project,
        "--users",
        "2",
        "--duration",
        "5s",
        "--max-p95-ms",
        "1",
        "--report",
        str(tmp_path / "t"),
        state=state,
        check=False,
    )
    assert result.returncode == ExitStatus.THRESHOLD
    assert "threshold broken: p95" in result.stdout
    assert "above --max-p95-ms 1" in result.stdout


def test_workers_mode_accounts_the_same_way(
    load_stack: tuple[ComposeStack, Path], tmp_path: Path
) -> None:
    stack, state = load_stack
    report = tmp_path / "workers"
    result = mafa(
        "load",
        "-p",
        stack.project,
        "--users",
        "6",
        "--duration",
        "15s",
        "--workers",
        "2",
        "--report",
        str(report),
        state=state,
    )
    run_id = run_id_from_output(result.stdout)
    rows = read_stats_csv((report / "locust_stats.csv").read_text())
    seen_by_locust = messages_accepted(rows)
    assert seen_by_locust > 10
    in_stack = accepted_rows(stack, run_id)
    assert seen_by_locust <= in_stack <= seen_by_locust + 6, (seen_by_locust, in_stack)


def test_no_stack_is_a_clear_error(tmp_path: Path) -> None:
    result = mafa(
        "load",
        "--host",
        f"http://127.0.0.1:{free_port()}",
        "--duration",
        "5s",
        "--report",
        str(tmp_path / "x"),
        state=tmp_path,
        check=False,
    )
    assert result.returncode == ExitStatus.NOT_FOUND
    assert "no stack answers at" in result.stderr
    assert "mafa up" in result.stderr


def test_unwritable_report_directory(load_stack: tuple[ComposeStack, Path], tmp_path: Path) -> None:
    stack, state = load_stack
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = mafa(
        "load",
        "-p",
        stack.project,
        "--duration",
        "5s",
        "--report",
        str(blocker / "sub"),
        state=state,
        check=False,
    )
    assert result.returncode == ExitStatus.USAGE
    # Refused before any load starts (output paths are checked first).
    assert f"--report {blocker / 'sub'}: {blocker} is not a directory" in result.stderr


def test_ctrl_c_still_writes_locusts_report_and_csv_files(
    load_stack: tuple[ComposeStack, Path], tmp_path: Path
) -> None:
    """A person's Ctrl-C (SIGINT to mafa) mid-run: exit 130 and every report file, HTML too."""
    stack, state = load_stack
    report = tmp_path / "interrupted"
    command = [sys.executable, "-m", "mafa_cli", "load", "-p", stack.project, "--users", "3"]
    process = subprocess.Popen(
        [*command, "--duration", "5m", "--report", str(report)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "MAFA_STATE_DIR": str(state), "COLUMNS": "200"},
    )
    history = report / "locust_stats_history.csv"
    deadline = time.monotonic() + 120
    while (not history.exists() or history.read_text().count("\n") < 4) and process.poll() is None:
        assert time.monotonic() < deadline, "locust wrote no statistics in 2 minutes"
        time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == ExitStatus.INTERRUPTED, out + err
    assert "interrupted: the report covers what ran" in out
    assert "Locust" in (report / "report.html").read_text(), "locust's own HTML report"
    for name in ("locust_stats.csv", "locust_stats_history.csv", "locust_failures.csv"):
        assert (report / name).exists(), name
    assert read_stats_csv((report / "locust_stats.csv").read_text())[-1].requests > 0


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_web_ui_on_the_loopback_changes_users_and_accounts_as_headless(
    load_stack: tuple[ComposeStack, Path], tmp_path: Path
) -> None:
    """`mafa load --web`: locust's UI answers on 127.0.0.1 only; 2 users become 6 through its
    API (what the UI's edit form posts), mafa's live figures and summary show it, and the run
    ends with the same files and accounting as a headless one."""
    stack, state = load_stack
    report = tmp_path / "web"
    port = free_port()
    command = ["load", "-p", stack.project, "--web", "--web-port", str(port), "--users", "2"]
    command += ["--spawn-rate", "10", "--duration", "30s", "--report", str(report)]
    load = subprocess.Popen(
        [sys.executable, "-m", "mafa_cli", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "MAFA_STATE_DIR": str(state), "COLUMNS": "200"},
    )
    lines: list[str] = []
    assert load.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(load.stdout or []), daemon=True)
    reader.start()
    ui = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers(f"{ui}/"), 60, "locust's web UI")
        assert "locust" in requests.get(f"{ui}/", timeout=5).text.lower()
        # This machine's address on the stack's network: the UI is not there.
        (container,) = stack.containers("haproxy")
        gateway = next(iter(container["NetworkSettings"]["Networks"].values()))["Gateway"]
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://{gateway}:{port}/", timeout=5)
        wait_for(lambda: "2 users," in "".join(lines), 30, "mafa's live line with 2 users")
        # What another site's page in the user's browser could send: turned away, unchanged.
        evil = {"user_count": 40, "spawn_rate": 10}
        forged = [
            requests.post(f"{ui}/swarm", data=form, headers=headers, timeout=10)
            for form, headers in (
                (evil, {"Origin": "http://evil.example"}),  # another site's form
                (evil, {"Host": "evil.example"}),  # a DNS-rebound name
                ({**evil, "host": "http://127.0.0.1:9"}, {}),  # the load aimed elsewhere
            )
        ]
        assert [answer.status_code for answer in forged] == [403, 403, 403]
        assert all("refused by mafa" in answer.text for answer in forged)
        changed = requests.post(
            f"{ui}/swarm", data={"user_count": 6, "spawn_rate": 10}, timeout=10
        ).json()
        assert changed["success"], changed
        wait_for(lambda: "6 users," in "".join(lines), 30, "mafa's live line with 6 users")
        load.wait(timeout=120)
    finally:
        if load.poll() is None:
            load.kill()
        reader.join(timeout=10)
    output = "".join(lines)
    assert load.returncode == 0, output
    assert f"locust web UI: {ui}/" in output
    assert "6 users at most" in output, "the forged requests' 40 users never ran"
    for name in ("locust_stats.csv", "locust_stats_history.csv", "report.html"):
        assert (report / name).stat().st_size > 0, name
    run_id = run_id_from_output(output)
    seen_by_locust = messages_accepted(read_stats_csv((report / "locust_stats.csv").read_text()))
    assert seen_by_locust > 10
    in_stack = accepted_rows(stack, run_id)
    assert seen_by_locust <= in_stack <= seen_by_locust + 6, (seen_by_locust, in_stack)
