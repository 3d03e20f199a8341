"""The dashboard driven by keys against a REAL stack: Textual's Pilot (a headless terminal)
presses the keys, the real collector reads the stack, the real actions change it, and the
engine, the project's event stream and the screen are checked afterwards.

One stack for the module (2 senders, 2 receivers, short delays): `+` adds a receiver the
engine shows, `k` kills the selected one (the event recorded, its row marked), `l` starts a
load (the load panel moves), `]` and `[` change its users live, `l` stops it, `enter` opens
the selected node's detail from the database, `q` exits 0.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from mafa_cli.engine.protocol import connect_engine
from mafa_cli.state import ProjectState
from mafa_cli.watch.app import USERS_STEP, Dashboard
from mafa_cli.watch.collectors import Collector
from mafa_cli.watch.control import StackActions
from tests.integration.stack import ARTIFACTS, ComposeStack, mafa_stack
from tests.unit.watch.test_app import screen_text

FIRST_USERS = 3


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dashboard-state")


@pytest.fixture(scope="module")
def driven(state: Path, workdir: Path) -> Iterator[ComposeStack]:
    flags = ("--senders", "2", "--receivers", "2", "--max-delay", "0.2", "--fail-rate", "0.3")
    with mafa_stack("mafadash", state, workdir, *flags) as stack:
        yield stack


async def until(
    pilot: Pilot[int], condition: Callable[[], object], what: str, timeout_s: float = 120
) -> None:
    """Let the app run until `condition` holds; generous: the machine is shared."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout_s:.0f}s waiting for {what}"
        await pilot.pause(0.25)


def marked(app: Dashboard, node: str) -> bool:
    """The node's row carries † (its container gone) or ✗ (killed here, running again)."""
    return re.search(rf"{re.escape(node)}\s*[†✗]", shown(app)) is not None


def shown(app: Dashboard) -> str:
    """The screen's text now; kept on the app for the failure report."""
    app.last_screen = screen_text(app)  # type: ignore[attr-defined]
    return app.last_screen  # type: ignore[attr-defined,no-any-return]


def test_keys_drive_a_real_stack(
    driven: ComposeStack, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAFA_STATE_DIR", str(state))
    project = driven.project
    engine = connect_engine()
    events = ProjectState(project)
    collector = Collector(project)
    actions = StackActions(project, collector.client)
    app = Dashboard(collector.collect, actions, interval_s=1.0, users=FIRST_USERS)

    def running_receivers() -> int:
        return sum(r.state == "running" for r in engine.replicas(project, "receiver"))

    def recorded(action: str) -> list[str]:
        return [e.target for e in events.recent_events(50) if e.action == action]

    def load_users() -> int | None:
        load = app.snapshot.load if app.snapshot is not None else None
        return None if load is None else load.users

    async def scenario() -> None:
        async with app.run_test(size=(160, 50)) as pilot:
            await until(pilot, lambda: "receivers · 2 live" in shown(app), "2 receivers")

            await pilot.press("plus")
            await until(pilot, lambda: running_receivers() == 3, "the engine's third receiver")
            await until(pilot, lambda: "receivers · 3 live" in shown(app), "3 on screen")
            await until(pilot, lambda: recorded("scale"), "the scale's event")  # after readiness
            assert recorded("scale") == ["receiver 2 -> 3"]

            await pilot.press("down")  # selects the first receiver
            victim = app.state.selected
            assert victim is not None
            await pilot.press("k")
            await until(pilot, lambda: recorded("kill"), "the kill's event")
            assert recorded("kill") == [f"{victim} SIGKILL"]
            await until(
                pilot,
                lambda: marked(app, victim),
                f"{victim}'s row marked",
            )

            await pilot.press("l")
            await until(pilot, lambda: recorded("load-start"), "the load's start")
            await until(
                pilot,
                lambda: app.snapshot and app.snapshot.load and app.snapshot.load.requests > 0,
                "the load panel to move",
            )
            ARTIFACTS.mkdir(
                exist_ok=True
            )  # the README's picture (docs/dashboard.svg) comes from here
            app.save_screenshot("dashboard-160x50.svg", str(ARTIFACTS))
            more = FIRST_USERS + USERS_STEP
            await pilot.press("right_square_bracket")
            await until(pilot, lambda: load_users() == more, f"{more} users")
            await pilot.press("left_square_bracket")
            await until(pilot, lambda: load_users() == FIRST_USERS, f"{FIRST_USERS} users")
            assert recorded("load-users") == [f"load {more} users", f"load {FIRST_USERS} users"]

            await pilot.press("l")
            await until(pilot, lambda: recorded("load-stop"), "the load's stop")
            await until(pilot, lambda: events.running_load() is None, "locust to finish")
            ARTIFACTS.mkdir(exist_ok=True)
            (ARTIFACTS / "dashboard-pilot-160x50.txt").write_text(screen_text(app))

            await pilot.press("enter")  # the detail of the selected node, from the database
            await until(pilot, lambda: "recent attempts" in shown(app), "the node's detail")
            assert "redeliveries it got" in shown(app)
            await pilot.press("escape")  # any key closes it
            await until(pilot, lambda: "recent attempts" not in shown(app), "the detail closed")
            await pilot.press("q")

    try:
        asyncio.run(scenario())
    except AssertionError:  # the screen as it was, to see why
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "dashboard-pilot-failed.txt").write_text(getattr(app, "last_screen", ""))
        raise
    finally:
        actions.close()
        collector.close()
    assert app.return_value == 0
    assert not [e for e in events.recent_events(50) if e.target.endswith("FAILED")]
