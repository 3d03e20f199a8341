"""Import contracts, read from the source with `ast` (every import, also those inside functions):

- the layers: cli -> commands -> stack/load/watch/report -> engine -> pure stack model -> core;
  a module imports only from its own layer or a lower one;
- the services (what runs in the images) never import the CLI side; the CLI side imports from
  the services only SHARED_WITH_THE_CLI: names.py (imports nothing of ours), and the modules that
  are the one home of a client library the CLI needs too (it reads the stack's PostgreSQL and
  Redis with the services' own clients, rather than a second home for psycopg and redis);
- each third-party library is imported in one module of ours (typer: the CLI's two modules).

An AST test rather than import-linter: no extra dependency, it also checks the one-module-per-
library rule, and a failure names the file and the import.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import mafa_cli

PACKAGE = Path(mafa_cli.__file__).parent

# Lowest first. A module is in the first layer whose prefix matches it (longest prefix wins).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "core",
        (
            "mafa_cli",  # the package itself: __version__
            "mafa_cli.config",
            "mafa_cli.errors",
            "mafa_cli.resources",  # where the package's stack definition is
            "mafa_cli.state",
            "mafa_cli.status",
            "mafa_cli.units",
            "mafa_cli.http_client",  # requests: HTTP to the stack
            "mafa_cli.services",  # what runs in the images (issue 14 takes the CLI off them)
        ),
    ),
    (
        "model",
        (
            "mafa_cli.stack.compose_model",
            "mafa_cli.stack.plan",
            "mafa_cli.stack.swarm_spec",
            "mafa_cli.load.plan",
        ),
    ),
    ("engine", ("mafa_cli.engine",)),
    (
        "features",
        (
            "mafa_cli.stack",
            "mafa_cli.load",
            "mafa_cli.watch",
            "mafa_cli.report",
            "mafa_cli.ledger",
            "mafa_cli.traffic",
            "mafa_cli.ui",
            "mafa_cli.engine_lab",  # an engine in a container, for tests and trying things
        ),
    ),
    ("commands", ("mafa_cli.proof", "mafa_cli.demo", "mafa_cli.options", "mafa_cli.outputs")),
    ("cli", ("mafa_cli.cli", "mafa_cli.__main__")),
]
LIBRARY_HOMES = {
    "typer": {"mafa_cli.cli", "mafa_cli.options"},
    # One engine (containers) and a Swarm manager (services, nodes): the two engine modules.
    "docker": {"mafa_cli.engine.local", "mafa_cli.engine.swarm"},
    "requests": {"mafa_cli.http_client"},
    "rich": {"mafa_cli.ui"},
    "textual": {"mafa_cli.watch.app"},
    "plotly": {"mafa_cli.report.charts"},
    "yaml": {"mafa_cli.stack.compose_model"},
    "cryptography": {"mafa_cli.stack.tls"},
    "prometheus_client": {"mafa_cli.watch.metrics"},
    "locust": {"mafa_cli.load.locustfile"},
    "pika": {"mafa_cli.services.amqp"},
    "psycopg": {"mafa_cli.services.db"},
    "psycopg_pool": {"mafa_cli.services.db"},
    "redis": {"mafa_cli.services.sessions"},
    "flask": {"mafa_cli.services.web"},
    "flask_session": {"mafa_cli.services.web"},
    "flask_wtf": {"mafa_cli.services.web"},
    "werkzeug": {"mafa_cli.services.web"},
    "markupsafe": {"mafa_cli.services.web"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "mafa_cli":  # `from mafa_cli import ui`: the names are modules
                found += [(node.lineno, f"mafa_cli.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
    return found


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    best = (-1, -1)
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                best = max(best, (len(prefix), rank))
    assert best[1] >= 0, f"{module} is in no layer: add it to LAYERS"
    return best[1]


def ours(name: str) -> str | None:
    """The module of ours an import names (`mafa_cli.stack.plan.Plan` -> mafa_cli.stack.plan)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_the_layers(module: str) -> None:
    mine = layer_of(module)
    for line, name in imports_of(MODULES[module]):
        target = ours(name) if name.startswith("mafa_cli") else None
        if target is None or target == "mafa_cli":
            continue
        assert layer_of(target) <= mine, (
            f"{MODULES[module]}:{line} imports {target} "
            f"({LAYERS[layer_of(target)][0]}) from the lower layer {LAYERS[mine][0]}"
        )


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("mafa_cli.services")))
def test_the_services_never_import_the_cli_side(module: str) -> None:
    for line, name in imports_of(MODULES[module]):
        if name.startswith("mafa_cli"):
            assert name.startswith("mafa_cli.services"), f"{MODULES[module]}:{line} imports {name}"
    if module == "mafa_cli.services.names":
        assert not [n for _, n in imports_of(MODULES[module]) if n != "__future__"]


SHARED_WITH_THE_CLI = {
    "mafa_cli.services.names": "queue, exchange, header and schema names",
    "mafa_cli.services.amqp": "pika's one home: watch reads the queue's depth (QueueProbe)",
    "mafa_cli.services.db": "psycopg's one home: the ledger and watch read the stack's database",
    "mafa_cli.services.sessions": "redis's one home: watch counts the active sessions",
    "mafa_cli.services.settings": "conninfo: the same connection string the services build",
    "mafa_cli.services.messages": "the run id's format: the ledger refuses what no sender takes",
    "mafa_cli.services.palette": "the node colours by slot, the same on the pages, the dashboard"
    " and the report (imports nothing)",
}


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not m.startswith("mafa_cli.serv")))
def test_the_cli_side_imports_only_what_the_services_share(module: str) -> None:
    for line, name in imports_of(MODULES[module]):
        target = ours(name) if name.startswith("mafa_cli.services") else None
        assert target is None or target in SHARED_WITH_THE_CLI, (
            f"{MODULES[module]}:{line} imports {target}: the CLI side takes from the services "
            "only SHARED_WITH_THE_CLI (add it there with the reason, or move the code)"
        )


def test_each_third_party_library_has_one_home() -> None:
    homes: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        for _, name in imports_of(path):
            top = name.split(".")[0]
            if top not in sys.stdlib_module_names and top not in ("mafa_cli", "__future__"):
                homes.setdefault(top, set()).add(module)
    assert homes == LIBRARY_HOMES


def test_the_cli_imports_no_library_until_a_command_runs() -> None:
    """`mafa --help` stays fast: the CLI's top level imports only typer and light modules."""
    top_level = [
        node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
        for node in ast.parse(MODULES["mafa_cli.cli"].read_text()).body
        if isinstance(node, ast.Import | ast.ImportFrom)
    ]
    heavy = {"mafa_cli.ui", "mafa_cli.stack", "mafa_cli.watch", "mafa_cli.proof", "mafa_cli.demo"}
    assert not [m for m in top_level if m and any(m.startswith(h) for h in heavy)]


def test_the_cli_module_loads_no_heavy_library() -> None:
    """What `mafa --help` pays for: typer, and none of docker, psycopg, redis, rich, plotly."""
    code = (
        "import sys, mafa_cli.cli; "
        "print(' '.join(m for m in ('docker', 'psycopg', 'redis', 'rich', 'plotly', "
        "'yaml', 'mafa_cli.ui', 'mafa_cli.stack.operations') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == []
