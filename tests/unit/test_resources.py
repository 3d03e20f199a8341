"""Where mafa finds its stack definition and the app image's wheels."""

from __future__ import annotations

from pathlib import Path

import pytest

from mafa_cli import resources
from mafa_cli.config import default_compose_file


def test_the_stack_definition_is_found_through_the_package() -> None:
    stack = resources.stack_dir()
    for name in ("compose.yaml", "app.Dockerfile", "haproxy/haproxy.cfg", "postgres/Dockerfile"):
        assert (stack / name).is_file(), name
    assert default_compose_file() == stack / "compose.yaml"


def test_wheels_dir_follows_the_environment_then_the_checkout(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MAFA_WHEELS_DIR", str(tmp_path))
    assert resources.wheels_dir() == tmp_path
    monkeypatch.delenv("MAFA_WHEELS_DIR")
    assert resources.in_checkout()  # the tests run from a checkout
    assert resources.wheels_dir() == resources.stack_dir() / "wheels"


def test_an_installed_package_keeps_wheels_in_the_users_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shipped = tmp_path / "mafa_cli" / resources.SHIPPED_STACK
    shipped.mkdir(parents=True)
    (shipped / "compose.yaml").write_text("services: {}\n")
    monkeypatch.setattr(resources, "package_dir", lambda: tmp_path / "mafa_cli")
    monkeypatch.delenv("MAFA_WHEELS_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert resources.stack_dir() == shipped
    assert not resources.in_checkout()
    assert resources.wheels_dir() == tmp_path / "cache" / "mafa" / "wheels"
