"""`mafa images` runs the package's recipe with the wheels directory and the Python to use; a
failing recipe is one error with its last lines. (A stand-in script: the real one needs root,
debootstrap and an engine, and runs in CI through scripts/setup-host.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from mafa_cli import resources
from mafa_cli.errors import MafaError
from mafa_cli.stack.images import build_offline_images


@pytest.fixture
def recipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "stack" / "offline").mkdir(parents=True)
    monkeypatch.setattr(resources, "stack_dir", lambda: tmp_path / "stack")
    monkeypatch.setenv("MAFA_WHEELS_DIR", str(tmp_path / "wheels"))
    return tmp_path / "stack" / "offline" / "build-images.sh"


def test_the_recipe_gets_the_wheels_dir_and_the_python(recipe: Path, tmp_path: Path) -> None:
    recipe.write_text('echo "wheels=$MAFA_WHEELS_DIR"; echo "python=$MAFA_PYTHON"\n')
    lines: list[str] = []
    assert build_offline_images(lines.append) == tmp_path / "wheels"
    assert (tmp_path / "wheels").is_dir()
    assert lines[0] == f"wheels={tmp_path / 'wheels'}"
    assert lines[1].startswith("python=/")


def test_a_failing_recipe_is_one_error_with_its_last_lines(recipe: Path) -> None:
    recipe.write_text("echo 'debootstrap: not found' >&2; exit 3\n")
    with pytest.raises(MafaError, match="offline image set failed") as failure:
        build_offline_images(lambda _line: None)
    assert "debootstrap: not found" in (failure.value.details or "")
