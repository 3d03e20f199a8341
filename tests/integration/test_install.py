"""mafa as a user gets it: a wheel built from a clean checkout (the committed files, nothing
else), installed into a fresh virtual environment and run from a directory outside any checkout,
builds its images from the installed package and runs a stack. The README's CI sample runs here
too, step by step."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import yaml

from tests.integration.stack import free_port

ROOT = Path(__file__).resolve().parents[2]
CI_SAMPLE = re.compile(r"```yaml\n# \.github/workflows/smoke\.yml\n(.*?)```", re.DOTALL)
STACK_FLAGS = ("--senders", "1", "--receivers", "2")


def sh(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, f"{args}: {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def clean_checkout(where: Path) -> Path:
    where.mkdir()
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive.stdout, check=True)
    return where


def user_env(tmp_path: Path) -> dict[str, str]:
    """A user's shell: no checkout on the path, mafa's state and downloads in their own places."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {
        **env,
        "MAFA_STATE_DIR": str(tmp_path / "state"),
        "MAFA_WHEELS_DIR": str(tmp_path / "wheels"),
        "COLUMNS": "200",
    }


def test_the_wheel_from_a_clean_checkout_runs_a_stack(tmp_path: Path) -> None:
    checkout = clean_checkout(tmp_path / "checkout")
    # `python -m build` makes the sdist, then the wheel from the sdist; a direct wheel must hold
    # the same files.
    sh(sys.executable, "-m", "build", "-q", "--outdir", tmp_path / "dist", checkout, cwd=tmp_path)
    sh(sys.executable, "-m", "build", "-q", "--wheel", "--outdir", tmp_path / "direct", checkout,
       cwd=tmp_path)  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    (direct,) = (tmp_path / "direct").glob("*.whl")
    files = sorted(zipfile.ZipFile(wheel).namelist())
    assert files == sorted(zipfile.ZipFile(direct).namelist())
    assert "mafa_cli/_compose/compose.yaml" in files
    assert "mafa_cli/_compose/postgres/initdb/10-roles.sh" in files
    assert not [f for f in files if "/wheels/" in f or f.endswith(".env") or "tests/" in f]

    venv = tmp_path / "venv"
    sh(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    sh(venv / "bin" / "pip", "install", "-q", "--disable-pip-version-check", wheel, cwd=tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = user_env(tmp_path)
    where = sh(venv / "bin" / "python", "-c", "import mafa_cli; print(mafa_cli.__file__)",
               cwd=elsewhere, env=env)  # fmt: skip
    assert where.stdout.startswith(str(venv))

    mafa = venv / "bin" / "mafa"
    assert sh(mafa, "--version", cwd=elsewhere, env=env).stdout.startswith("mafa ")
    sh(mafa, "images", cwd=elsewhere, env=env)
    assert list((tmp_path / "wheels").glob("flask-*.whl")), "the app image's wheels downloaded"
    project, port = f"inst{os.getpid()}", str(free_port())
    try:
        sh(mafa, "up", "-p", project, "--port", port, "--images", "offline", "--max-delay", "0.2",
           *STACK_FLAGS, cwd=elsewhere, env=env)  # fmt: skip
        sh(mafa, "smoke", "-p", project, "--port", port, "--keep", "--messages", "200",
           "--junit", tmp_path / "smoke.xml", *STACK_FLAGS, cwd=elsewhere, env=env)  # fmt: skip
        suite = ElementTree.parse(tmp_path / "smoke.xml").getroot()
        assert suite.find(".//failure") is None
    finally:
        sh(mafa, "down", "-p", project, "--volumes", cwd=elsewhere, env=env)


def test_the_readme_ci_sample_runs(tmp_path: Path) -> None:
    """The sample's `run:` steps, in a clean checkout (GitHub's checkout step); the smoke run
    gets its own project and port here, where other stacks may run."""
    sample = CI_SAMPLE.search((ROOT / "README.md").read_text())
    assert sample is not None, "README.md has the CI sample"
    steps = yaml.safe_load(sample.group(1))["jobs"]["smoke"]["steps"]
    runs = [step["run"] for step in steps if "run" in step]
    assert runs[0] == "pipx install ."
    assert runs[1].startswith("mafa smoke ")
    assert "--junit smoke.xml" in runs[1]

    checkout = clean_checkout(tmp_path / "checkout")
    env = {
        **user_env(tmp_path),
        "PIPX_HOME": str(tmp_path / "pipx"),
        "PIPX_BIN_DIR": str(tmp_path / "bin"),
        "MAFA_WHEELS_DIR": str(ROOT / "compose" / "wheels"),  # `mafa images` filled it
    }
    env["PATH"] = f"{tmp_path / 'bin'}:{env['PATH']}"
    sh("sh", "-c", runs[0], cwd=checkout, env=env)
    assert (tmp_path / "bin" / "mafa").exists()
    smoke = f"{runs[1]} -p ci{os.getpid()} --port {free_port()} --messages 200"
    sh("sh", "-c", smoke, cwd=checkout, env=env)
    suite = ElementTree.parse(checkout / "smoke.xml").getroot()
    assert suite.find(".//failure") is None
