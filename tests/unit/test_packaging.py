"""What the package depends on: the image's pinned requirements and the `services` extra name
the same packages; the CLI needs only its core dependencies."""

import ast
import importlib.metadata
import importlib.util
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=~!; ]", r.strip(), maxsplit=1)[0].lower() for r in requirements}


def test_image_requirements_pin_every_service_dependency() -> None:
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["services"]
    lines = [
        line.split("#")[0].strip()
        for line in (ROOT / "compose" / "requirements-services.txt").read_text().splitlines()
    ]
    pinned = [line for line in lines if line]
    assert all("==" in line for line in pinned)
    assert names(extra) <= names(pinned)


# Needed in the images only (the sender's and receiver's web apps and the broker client).
SERVICE_ONLY = ("flask", "gunicorn", "pika", "flask_session", "flask_wtf")
# locustfile runs inside the locust process; __main__ would run the CLI.
CLI_MODULES_SKIPPED = ("mafa_cli.load.locustfile", "mafa_cli.__main__")


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


def test_the_cli_imports_with_the_services_dependencies_missing() -> None:
    blocker = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {SERVICE_ONLY!r}:\n"
        "            raise ImportError(f'{name} is blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import flask\n"
    )
    assert run_python(blocker).returncode != 0, "the blocker blocks"
    result = run_python(blocker.replace("import flask\n", "import mafa_cli.cli\n"))
    assert result.returncode == 0, result.stderr


def test_the_core_dependencies_are_exactly_what_the_cli_imports() -> None:
    """Every third-party package a CLI-side module imports directly is a core dependency, and
    every core dependency is imported (locust is run, as a program, by the load runner)."""
    code = (
        "import importlib, pkgutil, sys, json, mafa_cli\n"
        "names = [m.name for m in pkgutil.walk_packages(mafa_cli.__path__, 'mafa_cli.')\n"
        "         if not m.name.startswith('mafa_cli.services')\n"
        f"         and m.name not in {CLI_MODULES_SKIPPED!r}]\n"
        "for name in names: importlib.import_module(name)\n"
        "print(json.dumps(sorted(n for n in sys.modules if n.startswith('mafa_cli'))))\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    # Modules of ours the CLI imports, at the top or inside a function (a library imported
    # only where it is used is still a dependency), followed to their own imports.
    to_read = list(json.loads(result.stdout))
    seen: set[str] = set()
    top_level: set[str] = set()
    while to_read:
        module = to_read.pop()
        if module in seen:
            continue
        seen.add(module)
        spec = importlib.util.find_spec(module)
        assert spec is not None
        assert spec.origin is not None
        tree = ast.parse(Path(spec.origin).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                top_level |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                top_level.add(node.module.split(".")[0])
                if node.module.startswith("mafa_cli."):
                    to_read.append(node.module)
    third_party = top_level - set(sys.stdlib_module_names) - {"mafa_cli", "__future__"}
    distributions = importlib.metadata.packages_distributions()
    imported = {canonical(distributions[name][0]) for name in third_party}
    core = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert imported | {"locust"} == {canonical(name) for name in names(core)}
    assert "locust" in (ROOT / "mafa_cli" / "load" / "runner.py").read_text()


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
