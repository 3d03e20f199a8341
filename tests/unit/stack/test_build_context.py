"""Which files go into an image, and when its hash changes."""

import tarfile
from pathlib import Path

import pytest

from mafa_cli.config import default_compose_file
from mafa_cli.errors import BuildFailed
from mafa_cli.stack.build_context import (
    app_context,
    context_archive,
    context_files,
    context_hash,
    files_hash,
    is_package_root,
    load_context,
)


def test_dockerignore_rules(tmp_path: Path) -> None:
    """Exceptions after a catch-all, `**`, a comment; the Dockerfile and .dockerignore are
    always sent (the engine reads them), as Docker does."""
    for rel in (
        "Dockerfile",
        "README.md",
        ".env",
        "app/main.py",
        "app/__pycache__/main.pyc",
        "conf/keep.txt",
        "conf/other.txt",
        "app/deep/x.log",
    ):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel)
    (tmp_path / ".dockerignore").write_text(
        "# all but the app\n*\n!app\n!conf/keep.txt\n**/__pycache__\n\n**/*.log\n"
    )
    expected = [".dockerignore", "Dockerfile", "app/main.py", "conf/keep.txt"]
    assert context_files(tmp_path) == expected


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


def test_the_app_context_is_assembled_from_the_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MAFA_WHEELS_DIR", str(tmp_path))
    (tmp_path / "flask-3.0-py3-none-any.whl").write_bytes(b"wheel")
    files = app_context()
    assert "compose/app.Dockerfile" in files
    assert "mafa_cli/services/sender/app.py" in files
    assert "compose/wheels/flask-3.0-py3-none-any.whl" in files
    assert not [f for f in files if f.startswith(("mafa_cli/stack/", "mafa_cli/cli"))]
    assert not [f for f in files if "__pycache__" in f]
    first = files_hash(files, "compose/app.Dockerfile", {})
    (tmp_path / "flask-3.0-py3-none-any.whl").write_bytes(b"another wheel")
    assert files_hash(app_context(), "compose/app.Dockerfile", {}) != first


def test_the_archive_holds_the_files_and_an_empty_wheels_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MAFA_WHEELS_DIR", str(tmp_path / "none-yet"))
    files = app_context()
    with context_archive(files) as archive, tarfile.open(fileobj=archive) as tar:
        names = set(tar.getnames())
        assert tar.getmember("compose/wheels").isdir()
        sent = tar.extractfile("mafa_cli/services/sender/app.py")
        assert sent is not None
        assert sent.read() == files["mafa_cli/services/sender/app.py"].read_bytes()
    assert set(files) <= names


def test_compose_files_build_context_is_recognised_as_the_package_root() -> None:
    assert is_package_root(default_compose_file().parent / "..")
    assert not is_package_root(default_compose_file().parent / "haproxy")


def test_an_offline_build_without_wheels_says_to_run_mafa_images(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAFA_WHEELS_DIR", str(tmp_path / "none-yet"))
    with pytest.raises(BuildFailed) as caught:
        app_context({"PIP_ARGS": "--no-index"})
    assert "mafa images" in (caught.value.hint or "")
    # With an index to install from, no wheels are needed.
    assert "compose/app.Dockerfile" in app_context({"PIP_ARGS": ""})


def test_the_load_context_holds_locust_wheels_and_the_user_classes_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MAFA_WHEELS_DIR", str(tmp_path))
    (tmp_path / "flask-3.0-py3-none-any.whl").write_bytes(b"the app's")
    (tmp_path / "load").mkdir()
    (tmp_path / "load" / "locust-2.0-py3-none-any.whl").write_bytes(b"wheel")
    files = load_context()
    assert "compose/load.Dockerfile" in files
    assert "mafa_cli/load/locustfile.py" in files
    assert "compose/wheels/load/locust-2.0-py3-none-any.whl" in files
    assert "compose/wheels/flask-3.0-py3-none-any.whl" not in files, "already in the app image"
    assert not [f for f in files if f.startswith(("mafa_cli/stack/", "mafa_cli/load/runner"))]
    # Every file the Dockerfile copies is in the context.
    dockerfile = files["compose/load.Dockerfile"].read_text()
    copied = {
        word
        for line in dockerfile.splitlines()
        if line.startswith("COPY ")
        for word in line.split()[1:-1]
    }
    assert {c for c in copied if not c.endswith("/")} <= set(files)


def test_the_load_context_archive_has_the_wheels_directory_even_without_wheels(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MAFA_WHEELS_DIR", str(tmp_path))  # no load/ in it: a host with an index
    with context_archive(load_context()) as archive, tarfile.open(fileobj=archive) as tar:
        assert tar.getmember("compose/wheels/load").isdir()
