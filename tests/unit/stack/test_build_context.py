"""Which files go into an image, and when its hash changes."""

from pathlib import Path

from mafa_cli.config import default_compose_file
from mafa_cli.stack.build_context import context_files, context_hash, is_ignored

RULES = [(False, "*"), (True, "app"), (True, "conf/keep.txt"), (False, "**/__pycache__")]


def test_dockerignore_rules() -> None:
    assert is_ignored("README.md", RULES)
    assert is_ignored(".env", RULES)
    assert not is_ignored("app/main.py", RULES)
    assert is_ignored("app/__pycache__/main.pyc", RULES)
    assert not is_ignored("conf/keep.txt", RULES)
    assert is_ignored("conf/other.txt", RULES)


def test_the_app_image_takes_only_what_it_needs() -> None:
    root = default_compose_file().parent.parent
    files = context_files(root)
    assert "mafa_cli/services/sender/app.py" in files
    assert "compose/requirements-services.txt" in files
    assert not [f for f in files if f.startswith(("tests/", ".git/", ".venv/", "mafa_cli/stack/"))]
    assert not [f for f in files if f.endswith(".env") or "__pycache__" in f]


def test_hash_follows_content_args_and_dockerfile(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM x\n")
    (tmp_path / ".dockerignore").write_text("secret.txt\n")
    (tmp_path / "a.py").write_text("1")
    (tmp_path / "secret.txt").write_text("s")
    first = context_hash(tmp_path, "Dockerfile", {"A": "1"})
    assert context_hash(tmp_path, "Dockerfile", {"A": "1"}) == first
    (tmp_path / "secret.txt").write_text("changed")
    assert context_hash(tmp_path, "Dockerfile", {"A": "1"}) == first, "ignored files do not count"
    assert context_hash(tmp_path, "Dockerfile", {"A": "2"}) != first
    (tmp_path / "a.py").write_text("2")
    second = context_hash(tmp_path, "Dockerfile", {"A": "1"})
    assert second != first
    (tmp_path / "Dockerfile").write_text("FROM y\n")
    assert context_hash(tmp_path, "Dockerfile", {"A": "1"}) != second
