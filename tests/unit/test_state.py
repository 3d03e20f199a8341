"""The project's state directory: where it is, the secrets' permissions, events, forgetting."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mafa_cli.config import ImageSet, UpSettings, default_compose_file
from mafa_cli.state import SECRET_NAMES, ProjectState, known_projects, parse_env_file, state_root


@pytest.fixture(autouse=True)
def _root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAFA_STATE_DIR", str(tmp_path / "state"))


def test_the_root_follows_xdg_without_mafa_state_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAFA_STATE_DIR")
    monkeypatch.setenv("XDG_STATE_HOME", "/somewhere")
    assert state_root() == Path("/somewhere/mafa")


def test_secrets_are_generated_once_and_private() -> None:
    state = ProjectState("p")
    assert state.secrets() is None
    first = state.secrets_or_create()
    assert set(first) == set(SECRET_NAMES)
    assert len(set(first.values())) == len(SECRET_NAMES), "each one different"
    assert state.secrets_or_create() == first
    assert state.secrets_file.stat().st_mode & 0o777 == 0o600
    assert state.dir.stat().st_mode & 0o777 == 0o700
    assert known_projects() == ["p"]


def test_a_missing_secret_is_added_and_the_others_kept() -> None:
    state = ProjectState("p")
    first = state.secrets_or_create()
    kept = {k: v for k, v in first.items() if k != "MAFA_REDIS_PASSWORD"}
    state.secrets_file.write_text("".join(f"{k}={v}\n" for k, v in kept.items()))
    again = state.secrets_or_create()
    assert {k: again[k] for k in kept} == kept
    assert again["MAFA_REDIS_PASSWORD"]


def test_env_file_lines() -> None:
    assert parse_env_file("# c\nA = 1\n\nB=x=y\nnot a pair\n") == {"A": "1", "B": "x=y"}


def test_settings_round_trip() -> None:
    settings = UpSettings(
        "p", 2, 3, 8080, "127.0.0.1", ImageSet.OFFLINE, 1.0, 0.2, None, True, 60.0,
        default_compose_file(),
    )  # fmt: skip
    state = ProjectState("p")
    state.secrets_or_create()
    state.save_settings(settings.to_saved())
    saved = state.settings()
    assert saved is not None
    assert UpSettings.from_saved(saved) == settings


def test_events_keep_their_order_and_remove_forgets_everything() -> None:
    state = ProjectState("p")
    state.record_event("SIGKILL", "p-receiver-1")
    state.record_event("scale", "receivers 2->6")
    events = state.recent_events()
    assert [e.line().split(" ", 1)[1] for e in events] == [
        "SIGKILL p-receiver-1",
        "scale receivers 2->6",
    ]
    assert len(state.recent_events(1)) == 1
    state.remove()
    assert not state.exists()
    assert state.recent_events() == []
    assert known_projects() == []


def test_a_load_is_announced_only_for_a_known_project(tmp_path: Path) -> None:
    from mafa_cli.state import RunningLoad

    state = ProjectState("p")
    load = RunningLoad("run-1", os.getpid(), tmp_path)
    assert not state.announce_load(load), "someone else's stack: nothing written"
    state.secrets_or_create()
    assert state.announce_load(load)
    assert state.running_load() == load
    state.load_finished()
    assert state.running_load() is None
