"""Stacks shared by the integration tests (each brought up once per test session)."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from mafa_cli import engine_lab
from mafa_cli.engine_lab import EngineLab, SwarmLab
from tests.integration.stack import ComposeStack, mafa_stack


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session", autouse=True)
def _engine() -> None:
    # Integration tests need the real engine: no engine is a failure, never a skip.
    if shutil.which("docker-compose") is None:
        pytest.fail("docker-compose is not installed (.ci/run installs it)")
    probe = subprocess.run(["docker", "info"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.fail(f"no Docker engine answers: {probe.stderr.strip()}")


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stacks")


def _stack(workdir: Path, senders: int, receivers: int, **settings: str) -> Iterator[ComposeStack]:
    stack = ComposeStack.create(f"mafat{uuid.uuid4().hex[:6]}", workdir, **settings)
    try:
        stack.compose("build", "sender")
        stack.up(senders, receivers)
        yield stack
    finally:
        stack.down()


@pytest.fixture(scope="session")
def stack(workdir: Path) -> Iterator[ComposeStack]:
    """2 senders, 3 receivers, quick work and a high failure rate, so redeliveries show."""
    yield from _stack(workdir, 2, 3, MAFA_MAX_DELAY="0.2", MAFA_FAIL_RATE="0.5", MAFA_CONSUMERS="2")


@pytest.fixture(scope="session")
def failing_stack(workdir: Path) -> Iterator[ComposeStack]:
    """Every attempt fails: each message must be parked in the dead-letter queue after its
    fourth delivery (delivery limit 3), never loop."""
    yield from _stack(
        workdir, 1, 1, MAFA_MAX_DELAY="0", MAFA_FAIL_RATE="1", MAFA_DELIVERY_LIMIT="3"
    )


@pytest.fixture(scope="session")
def recovering_stack(workdir: Path) -> Iterator[ComposeStack]:
    """1 sender, 1 receiver, instant work that never fails: the dependencies get restarted."""
    yield from _stack(workdir, 1, 1, MAFA_MAX_DELAY="0", MAFA_FAIL_RATE="0")


@pytest.fixture(scope="session")
def load_stack(
    tmp_path_factory: pytest.TempPathFactory, workdir: Path
) -> Iterator[tuple[ComposeStack, Path]]:
    """A 2x2 stack brought up by mafa, quick receivers, and its state directory: what the load
    tests and the metrics tests fire at (one stack for both)."""
    state = tmp_path_factory.mktemp("load-state")
    flags = ("--senders", "2", "--receivers", "2", "--max-delay", "0.05", "--fail-rate", "0.1")
    with mafa_stack("mafaload", state, workdir, *flags) as stack:
        yield stack, state


@pytest.fixture(scope="session")
def make_engine() -> Iterator[Callable[..., EngineLab]]:
    """Makes Docker engines in containers (mafa_cli/engine_lab.py): engines the CLI cannot route
    into, like Docker Desktop's or a remote host's. `make_engine(images=..., network=...)`;
    each is removed, with its data, at the end of the session."""
    made: list[str] = []

    def make(
        images: Sequence[str] = engine_lab.OFFLINE_IMAGES, network: str | None = None
    ) -> EngineLab:
        name = f"t{uuid.uuid4().hex[:8]}"
        made.append(name)
        return engine_lab.start(name, images, network=network)

    try:
        yield make
    finally:
        for name in made:
            engine_lab.stop(name)


@pytest.fixture(scope="session")
def engine_in_container(make_engine: Callable[..., EngineLab]) -> EngineLab:
    """One such engine with the offline image set loaded."""
    return make_engine()


@pytest.fixture(scope="session")
def swarm_lab() -> Iterator[SwarmLab]:
    """A 3-node Swarm on this machine (mafa_cli/engine_lab.py: 1 manager, 2 workers, each an
    engine in a container, with the offline image set) and its registry; one per session (the
    lab is heavy on 2 cores), removed at the end."""
    name = f"s{uuid.uuid4().hex[:6]}"
    try:
        yield engine_lab.start_swarm(name, engine_lab.OFFLINE_IMAGES)
    finally:
        engine_lab.stop_swarm(name)
