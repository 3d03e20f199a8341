"""The CLI's conventions, each shown: values complete in the shell (choices, projects, services),
flags read no `<bool>`, -V and -v exist, a mafa.toml pins defaults (flags > env > file >
built-in) and its mistakes are one line naming the key, and the README's exit codes are the
code's."""

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mafa_cli.cli import app
from mafa_cli.status import MEANINGS, ExitStatus, exit_code_table

runner = CliRunner()
README = Path(__file__).resolve().parents[2] / "README.md"
COMMANDS = ("up", "scale", "status", "logs", "load", "watch", "ledger", "smoke", "chaos", "demo")


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAFA_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    monkeypatch.delenv("MAFA_PROJECT", raising=False)
    monkeypatch.chdir(tmp_path)


def complete(words: str) -> list[str]:
    """What bash's completion gets for the last word of `words` (as typer's script asks)."""
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    result = runner.invoke(
        app,
        [],
        prog_name="mafa",
        env={"_MAFA_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)},
    )
    assert result.exit_code == 0, result.output
    return result.output.split()


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("mafa up --images ", ["auto", "official", "offline"]),
        ("mafa up --images off", ["official", "offline"]),
        ("mafa load --shape ", ["ramp", "spike", "step"]),
        ("mafa chaos --kill r", ["rabbitmq", "receiver", "redis"]),
        ("mafa chaos --action ", ["kill", "restart"]),
        ("mafa logs re", ["receiver", "redis"]),
        ("mafa logs ha", ["haproxy"]),
        ("mafa sta", ["status"]),
    ],
)
def test_values_complete_in_the_shell(words: str, expected: list[str]) -> None:
    assert sorted(complete(words)) == expected


def test_projects_complete_from_the_state_directory(tmp_path: Path) -> None:
    for name in ("shop", "shelf", "demo"):
        (tmp_path / "state" / name).mkdir(parents=True)
    assert sorted(complete("mafa status -p sh")) == ["shelf", "shop"]
    assert sorted(complete("mafa down --project ")) == ["demo", "shelf", "shop"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_no_value_after_a_flag(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "<bool>" not in result.output
    for line in result.output.splitlines():  # `--keep`, `--tls`, `--json`: nothing after them
        match = re.match(r"\s+(--(?:keep|tls|json|once|follow))\s+(\S+)", line)
        assert match is None or not match.group(2).startswith("<"), line


def test_short_version_and_short_volumes() -> None:
    result = runner.invoke(app, ["-V"])
    assert result.exit_code == 0
    assert result.output.startswith("mafa ")
    assert "-v, --volumes" in runner.invoke(app, ["down", "--help"]).output


def test_durations_show_how_they_are_written() -> None:
    help_text = runner.invoke(app, ["up", "--help"]).output
    assert "--timeout DURATION" in help_text


# ---- mafa.toml: flags > env > file > built-in -------------------------------------------------


def unknown_project(args: list[str], env: dict[str, str] | None = None) -> str:
    """The project `mafa scale` looked for: none exists here, so it names it (exit 8)."""
    result = runner.invoke(app, ["scale", "--senders", "1", *args], env=env)
    assert result.exit_code == ExitStatus.NOT_FOUND, result.output
    found = re.search(r"no stack named '([^']+)'", result.output)
    assert found, result.output
    return found.group(1)


def test_defaults_file_sits_between_the_environment_and_the_built_in(tmp_path: Path) -> None:
    assert unknown_project([]) == "mafa"  # built-in
    (tmp_path / "mafa.toml").write_text('project = "fromfile"\n')
    assert unknown_project([]) == "fromfile"
    assert unknown_project([], env={"MAFA_PROJECT": "fromenv"}) == "fromenv"
    assert unknown_project(["-p", "fromflag"], env={"MAFA_PROJECT": "fromenv"}) == "fromflag"


def test_a_command_table_wins_over_the_shared_keys(tmp_path: Path) -> None:
    (tmp_path / "mafa.toml").write_text('project = "shared"\n[scale]\nproject = "scaling"\n')
    assert unknown_project([]) == "scaling"


def test_pyproject_tool_mafa_is_read_when_there_is_no_mafa_toml(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.mafa]\nproject = "py"\n')
    assert unknown_project([]) == "py"
    (tmp_path / "mafa.toml").write_text('project = "own"\n')
    assert unknown_project([]) == "own"


def test_a_pinned_value_is_checked_like_a_flag(tmp_path: Path) -> None:
    """A duration in the file goes through the same parser; the engine (exit 4) is reached."""
    (tmp_path / "mafa.toml").write_text('[up]\ntimeout = "1m30s"\nsenders = 4\n')
    assert runner.invoke(app, ["up"]).exit_code == ExitStatus.ENGINE


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[up]\nsenders = "many"\n', "mafa.toml: up.senders: Invalid value for '--senders'"),
        ("[up]\nsendrs = 3\n", "mafa.toml: up.sendrs is not an option of `mafa up`"),
        ("[upp]\nsenders = 3\n", "mafa.toml: [upp] is not a mafa command"),
        ('projct = "x"\n', "mafa.toml: projct is not an option of any command"),
        ('project = "Bad Name"\n', "mafa.toml: project: Invalid value: invalid project name"),
        ('[load]\nduration = "soon"\n', "mafa.toml: load.duration: Invalid value"),
        ("[up\n", "mafa.toml: not valid TOML: "),
        ("[up.x]\ny = 1\n", "mafa.toml: up.x is a table"),
    ],
)
def test_a_mistake_in_the_defaults_file_is_one_line_with_its_key(
    tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "mafa.toml").write_text(text)
    result = runner.invoke(app, ["status"])
    assert result.exit_code == ExitStatus.CONFIG, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 2, result.output
    assert lines[0].startswith("error: ")
    assert message in lines[0]
    assert lines[1].startswith("hint: ")


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        ("[up]\nsenders = 99\n", ["up"], "mafa.toml: up.senders: --senders 99 is out of range"),
        ("[smoke]\nmessages = 0\n", ["smoke"], "mafa.toml: smoke.messages: --messages 0 is"),
        ("[load]\nduration = 0\n", ["load"], "mafa.toml: load.duration: --duration must be"),
        ('[watch]\ninterval = "10ms"\n', ["watch"], "mafa.toml: watch.interval: --interval"),
        ("[down]\nvolumes = true\n", ["down"], "mafa.toml: down.volumes cannot be pinned"),
    ],
)
def test_a_pinned_value_a_command_refuses_names_the_key_not_a_flag(
    tmp_path: Path, text: str, args: list[str], message: str
) -> None:
    """The commands' own checks (ranges, combinations) run after the file is read: what they
    refuse in a pinned value is still the file's mistake, exit 3, never a flag not typed."""
    (tmp_path / "mafa.toml").write_text(text)
    result = runner.invoke(app, args)
    assert result.exit_code == ExitStatus.CONFIG, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 2, result.output
    assert lines[0].startswith(f"error: {message}")
    assert lines[1].startswith("hint: change or remove") or "give --volumes" in lines[1]


def test_the_same_value_as_a_flag_is_the_flag_s_mistake(tmp_path: Path) -> None:
    (tmp_path / "mafa.toml").write_text("[up]\nsenders = 3\n")
    result = runner.invoke(app, ["up", "--senders", "99"])
    assert result.exit_code == ExitStatus.USAGE
    assert result.output.startswith("error: --senders 99 is out of range")


def test_a_pinned_metrics_endpoint_leaves_watch_once_usable(tmp_path: Path) -> None:
    (tmp_path / "mafa.toml").write_text('[watch]\nmetrics = "127.0.0.1:9464"\n')
    result = runner.invoke(app, ["watch", "--once", "-p", "nothing-here"])
    assert result.exit_code == ExitStatus.NOT_FOUND, result.output  # went on to read the stack
    result = runner.invoke(app, ["watch", "--once", "--metrics", ":0", "-p", "nothing-here"])
    assert result.exit_code == ExitStatus.USAGE, "typed, the two still do not go together"


@pytest.mark.parametrize("command", ["smoke", "chaos"])
def test_a_drain_that_may_take_no_time_is_refused(command: str) -> None:
    result = runner.invoke(app, [command, "--timeout", "0"])
    assert result.exit_code == ExitStatus.USAGE, result.output
    assert result.output.startswith("error: --timeout must be positive")


# ---- exit codes ---------------------------------------------------------------------------------


def test_every_exit_code_has_a_meaning() -> None:
    assert set(MEANINGS) == set(ExitStatus)


def test_the_readme_lists_the_exit_codes_the_code_has() -> None:
    """The README holds the table status.exit_code_table() renders, between its markers."""
    text = README.read_text()
    start, end = "<!-- exit-codes: status.exit_code_table() -->", "<!-- /exit-codes -->"
    assert start in text, "the README lost its exit-code markers"
    assert end in text, "the README lost its exit-code markers"
    listed = text.split(start)[1].split(end)[0].strip()
    assert listed == exit_code_table(), "paste status.exit_code_table() there"
