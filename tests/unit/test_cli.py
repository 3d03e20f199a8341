"""The CLI's answers to bad input: a one-line error with a hint, a distinct exit code, no
traceback; typer's own errors (a bad value, an unknown command, a missing argument) and a compose
file's YAML alike. These cases fail before any engine is contacted, or with the engine unreachable
(a socket path that does not exist), so they need no Docker."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mafa_cli.cli import app
from mafa_cli.stack import operations
from mafa_cli.status import ExitStatus
from tests.unit.fakes import FakeEngine

runner = CliRunner()


BAD_YAML = "services:\n  a:\n    image: x\n   b: [\n"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAFA_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    monkeypatch.chdir(tmp_path)  # no mafa.toml or pyproject.toml of the checkout applies
    (tmp_path / "bad.yaml").write_text(BAD_YAML)


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["up", "--senders", "-1"], ExitStatus.USAGE, "--senders -1 is out of range"),
        (["up", "--receivers", "33"], ExitStatus.USAGE, "--receivers 33 is out of range"),
        (["up", "--fail-rate", "1.5"], ExitStatus.USAGE, "--fail-rate 1.5 is out of range"),
        (["up", "--max-delay", "-2"], ExitStatus.USAGE, "--max-delay -2.0 is out of range"),
        (["up", "--port", "70000"], ExitStatus.USAGE, "is not a TCP port"),
        (["up", "--images", "cloud"], ExitStatus.USAGE, "'cloud' is not one of"),
        (["up", "--project", "Bad Name"], ExitStatus.USAGE, "invalid project name"),
        (["up", "-f", "/nonexistent.yaml"], ExitStatus.CONFIG, "/nonexistent.yaml not found"),
        (["up", "-f", "/"], ExitStatus.CONFIG, "compose file / is not a file"),
        (["up", "--rabbitmq-ui-port", "8080"], ExitStatus.USAGE, "must differ from --port"),
        (["watch", "--svg", "x.svg"], ExitStatus.USAGE, "--svg goes with --once"),
        (["watch", "--interval", "50ms"], ExitStatus.USAGE, "--interval 0.05s is out of range"),
        (["watch", "--metrics", "host:port"], ExitStatus.USAGE, "'host:port' is not HOST:PORT"),
        (["watch", "--metrics", "9464", "--once"], ExitStatus.USAGE, "serves a running watch"),
        (["load", "--duration", "soon"], ExitStatus.USAGE, "'--duration': 'soon' is not a"),
        (["up", "--timeout", "3 minutes"], ExitStatus.USAGE, "'--timeout': '3 minutes' is not"),
        (["chaos", "--every", "-5s"], ExitStatus.USAGE, "'--every': '-5s' is not a"),
        # typer's own: a value of the wrong type, an unknown command or option, a missing argument
        (["load", "--users", "abc"], ExitStatus.USAGE, "Invalid value for '--users'"),
        (["frob"], ExitStatus.USAGE, "No such command 'frob'"),
        (["up", "--nope"], ExitStatus.USAGE, "No such option: --nope"),
        (["logs"], ExitStatus.USAGE, "Missing argument 'service'"),
        (["watch", "--interval"], ExitStatus.USAGE, "Option '--interval' requires an argument"),
        (["report"], ExitStatus.USAGE, "Missing option '--record'"),
        # a compose file that does not parse (the in-memory engine stands in for Docker)
        (["up", "-f", "bad.yaml"], ExitStatus.CONFIG, "bad.yaml:4:4: not valid YAML: expected"),
        (["chaos", "--kill", "db"], ExitStatus.USAGE, "'db' is not one of"),
        (["load", "--shape", "wave"], ExitStatus.USAGE, "'wave' is not one of"),
        (
            ["load", "--host", "http://127.0.0.1:9", "--workers", "2", "--master-host", "10.0.0.5"],
            ExitStatus.USAGE,
            "--master-host goes with --workers on a project deployed on a Swarm",
        ),
        (["status", "-p", "Bad Name"], ExitStatus.USAGE, "invalid project name"),
        (["demo", "--receivers", "11"], ExitStatus.USAGE, "1..10 receivers"),
        (["smoke", "--senders", "40"], ExitStatus.USAGE, "--senders 40 is out of range"),
        (["demo", "--duration", "5s"], ExitStatus.USAGE, "--duration must be at least 20s"),
        (["report", "--record", "/nonexistent.jsonl"], ExitStatus.USAGE, "cannot read the record"),
        (["up"], ExitStatus.ENGINE, "cannot reach a Docker engine"),
        (["status"], ExitStatus.ENGINE, "cannot reach a Docker engine"),
        (["down"], ExitStatus.ENGINE, "cannot reach a Docker engine"),
        (["scale"], ExitStatus.USAGE, "nothing to scale"),
        (["scale", "--receivers", "-3"], ExitStatus.USAGE, "--receivers -3 is out of range"),
        (["scale", "--receivers", "2"], ExitStatus.NOT_FOUND, "no stack named 'mafa'"),
        (["logs", "sender", "-p", "UPPER"], ExitStatus.USAGE, "invalid project name"),
        (["up", "--bind", "999.1.1.1"], ExitStatus.USAGE, "'999.1.1.1' is not an IP address"),
        (["logs", "sender", "--tail", "-1"], ExitStatus.USAGE, "--tail -1 is negative"),
        (["up", "--tls", "--tls-cert", "/etc/hostname"], ExitStatus.USAGE, "go together"),
        (
            ["up", "--tls-cert", "/etc/hostname", "--tls-key", "/etc/hostname"],
            ExitStatus.USAGE,
            "--tls-cert needs --tls",
        ),
    ],
)
def test_bad_input_gets_a_message_a_hint_and_a_code(
    args: list[str], status: ExitStatus, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if "bad.yaml" in args:
        monkeypatch.setattr(operations, "connect_engine", FakeEngine)
    result = runner.invoke(app, args)
    assert result.exit_code == status, result.output
    lines = error_lines(result.output)
    assert len(lines) == 2, result.output  # no usage banner, no box, no parser dump
    assert lines[0].startswith("error: "), result.output
    assert message in lines[0]
    assert lines[1].startswith("hint: "), result.output


def test_mafa_alone_shows_the_help() -> None:
    result = runner.invoke(app, [])
    assert result.exit_code == ExitStatus.USAGE
    assert result.output.startswith("Usage: mafa [OPTIONS] COMMAND")
    assert "error:" not in result.output


def test_a_duration_is_read_the_same_by_every_option() -> None:
    """One parser (units.parse_duration) behind each duration option: a value one accepts,
    all accept; the engine being unreachable (exit 4), or for watch the project unknown here
    (found before the engine is asked), proves the value passed."""
    went_on = {"up": ExitStatus.ENGINE, "watch": ExitStatus.NOT_FOUND}
    for value in ("90", "90s", "1m30s", "3m"):
        for args in (["up", "--timeout", value], ["watch", "--once", "--interval", value]):
            result = runner.invoke(app, args)
            assert result.exit_code == went_on[args[0]], (args, result.output)


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("mafa ")


def test_every_command_has_help_with_an_example() -> None:
    for command in (
        "up",
        "scale",
        "status",
        "logs",
        "load",
        "watch",
        "ledger",
        "smoke",
        "chaos",
        "report",
        "demo",
        "down",
    ):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0
        assert "Example: mafa" in result.output


def test_debug_shows_the_traceback_and_keeps_the_exit_code() -> None:
    result = runner.invoke(app, ["--debug", "status"])
    assert result.exit_code == ExitStatus.ENGINE, result.output
    assert "cannot reach a Docker engine" in result.output


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["demo", "--report"], "--report"),
        (["load", "--report"], "--report"),
        (["smoke", "--junit"], "--junit"),
        (["smoke", "--report"], "--report"),
        (["chaos", "--report"], "--report"),
        (["watch", "--record"], "--record"),
        (["watch", "--once", "--svg"], "--svg"),
        (["report", "--record", "run.jsonl", "--out"], "--out"),
    ],
)
def test_an_unwritable_output_is_refused_before_anything_starts(
    args: list[str], flag: str, tmp_path: Path
) -> None:
    """The engine is unreachable here: reaching it (exit 4) would mean the command started."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = runner.invoke(app, [*args, str(blocker / "out" / "x")])
    assert result.exit_code == ExitStatus.USAGE, result.output
    assert f"{flag} {blocker}/out/x: {blocker} is not a directory" in result.output
    assert "hint:" in result.output


def test_an_existing_directory_is_no_output_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["smoke", "--junit", str(tmp_path)])
    assert result.exit_code == ExitStatus.USAGE, result.output
    assert "not a file" in result.output


def test_a_record_that_is_not_text_is_refused(tmp_path: Path) -> None:
    record = tmp_path / "run.jsonl"
    record.write_bytes(b"\xff\xfe\x00binary\x80")
    result = runner.invoke(app, ["report", "--record", str(record), "--out", str(tmp_path / "r")])
    assert result.exit_code == ExitStatus.USAGE, result.output
    assert "not UTF-8 text" in result.output
    assert "internal error" not in result.output
