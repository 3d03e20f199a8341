"""The dashboard driven by keys through Textual's Pilot (a headless terminal), against a fake
snapshot source and a fake Actions: the action each key asks for, the event it records, and what
the screen then shows."""

from __future__ import annotations

import asyncio
import io
import random
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

from rich.console import Console
from textual.pilot import Pilot

from mafa_cli.watch.app import Dashboard
from mafa_cli.watch.snapshot import Snapshot
from tests.unit.watch.fakes import NOW, FakeActions, FakeSnapshots, stack_snapshot

Scenario = Callable[[Pilot[int], Dashboard, FakeActions], Awaitable[None]]


def screen_text(app: Dashboard) -> str:
    """What the terminal shows now: the same call Textual's export_screenshot makes, as text."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system=None,
        record=True,
    )
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()  # text only: the cursor moves are left out


async def until(pilot: Pilot[int], condition: Callable[[], object], what: str) -> None:
    """Let the app run until `condition` holds (actions run on threads), at most 10 s."""
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.02)


def drive(
    scenario: Scenario, size: tuple[int, int] = (120, 40), fail: str = "", **stack: int
) -> tuple[Dashboard, FakeActions]:
    snapshots = FakeSnapshots(stack_snapshot(**stack))
    actions = FakeActions(snapshots, fail=fail)
    ticks = iter(range(10_000))
    app = Dashboard(
        snapshots,
        actions,
        interval_s=0.05,
        clock=lambda: NOW + timedelta(seconds=next(ticks)),
        chooser=random.Random(7),
    )

    async def run() -> None:
        async with app.run_test(size=size) as pilot:
            await until(pilot, lambda: app.snapshot is not None, "the first reading")
            await scenario(pilot, app, actions)

    asyncio.run(run())
    return app, actions


def test_plus_adds_a_receiver_the_engine_shows_and_records_it() -> None:
    async def scenario(pilot: Pilot[int], app: Dashboard, actions: FakeActions) -> None:
        await pilot.press("plus")
        await until(pilot, lambda: "4 live" in screen_text(app), "the fourth receiver")
        assert actions.calls == [("scale", "receiver", 4)]
        assert "receiver-0003beef" in screen_text(app)
        await pilot.press("minus")
        await until(pilot, lambda: len(actions.calls) == 2, "the second scale")
        assert actions.calls[1] == ("scale", "receiver", 3)

    _, actions = drive(scenario, receivers=3)
    first = actions.recorded[0]
    assert (first.kind, first.target, first.detail, first.failed) == (
        "scale",
        "receiver",
        "3 -> 4",
        False,
    )
    assert first.to_json()["action"] == "scale"  # the shape of a faults.jsonl line


def test_senders_scale_shows_while_under_way_and_one_at_a_time() -> None:
    release = threading.Event()

    async def scenario(pilot: Pilot[int], app: Dashboard, actions: FakeActions) -> None:
        original = actions.scale
        actions.scale = lambda service, replicas: (release.wait(10), original(service, replicas))  # type: ignore[assignment,method-assign,func-returns-value]
        await pilot.press("S")
        await until(pilot, lambda: "scaling 2 -> 3" in screen_text(app), "the scale shown")
        await pilot.press("S")  # a second one waits for the first
        await until(pilot, lambda: "a scale is under way" in screen_text(app), "the refusal")
        release.set()
        await until(pilot, lambda: "scaling" not in screen_text(app), "the scale done")
        await pilot.press("s")
        await until(pilot, lambda: len(actions.calls) == 2, "the scale down")

    _, actions = drive(scenario, senders=2)
    assert actions.calls == [("scale", "sender", 3), ("scale", "sender", 1)]


def test_k_kills_the_selected_receiver_then_a_random_live_one() -> None:
    async def scenario(pilot: Pilot[int], app: Dashboard, actions: FakeActions) -> None:
        await pilot.press("down", "down")  # the first press selects the first row
        assert app.state.selected == "receiver-0001beef"
        assert "▶receiver-0001beef" in screen_text(app)
        await pilot.press("k")
        await until(pilot, lambda: "1 gone" in screen_text(app), "the row marked gone")
        line = next(x for x in screen_text(app).splitlines() if "receiver-0001beef†" in x)
        assert line.rstrip().endswith("gone")
        await pilot.press("k")  # the selected one is gone: one of the live ones
        await until(pilot, lambda: len(actions.calls) == 2, "the second kill")

    _, actions = drive(scenario, receivers=3)
    assert actions.calls[0] == ("kill", "receiver-0001beef")
    assert actions.calls[1][1] in {"receiver-0000beef", "receiver-0002beef"}
    assert [e.kind for e in actions.recorded] == ["kill", "kill"]
    assert actions.recorded[0].target == "receiver-0001beef"


def test_b_restarts_the_broker_and_the_event_shows() -> None:
    async def scenario(pilot: Pilot[int], app: Dashboard, actions: FakeActions) -> None:
        await pilot.press("b")
        await until(pilot, lambda: actions.recorded, "the event")
        await until(pilot, lambda: "restart rabbitmq" in screen_text(app), "the event line")

    _, actions = drive(scenario)
    assert actions.calls == [("restart_broker",)]


def test_l_starts_and_stops_a_load_and_brackets_change_its_users() -> None:
    async def scenario(pilot: Pilot[int], app: Dashboard, actions: FakeActions) -> None:
        await pilot.press("right_square_bracket")  # no load yet: only the number to start with
        assert "l starts 20 users" in screen_text(app)
        await pilot.press("l")
        await until(pilot, lambda: "load 20 users" in screen_text(app), "the load panel")
        await pilot.press("right_square_bracket")
        await until(pilot, lambda: len(actions.calls) == 2, "more users")
        await pilot.press("left_square_bracket")
        await until(pilot, lambda: len(actions.calls) == 3, "fewer users")
        await pilot.press("l")
        await until(pilot, lambda: "load off" in screen_text(app), "the load stopped")

    _, actions = drive(scenario)
    assert actions.calls == [
        ("start_load", 20),
        ("set_users", 30),
        ("set_users", 20),
        ("stop_load",),
    ]
    assert [e.kind for e in actions.recorded] == [
        "load-start",
        "load-users",
        "load-users",
        "load-stop",
    ]


def test_p_pauses_the_readings() -> None:
    async def scenario(pilot: Pilot[int], app: Dashboard, actions: FakeActions) -> None:
        await pilot.press("p")
        assert "PAUSED" in screen_text(app)
        reads = actions.snapshots.reads
        await pilot.pause(0.3)  # six intervals
        assert actions.snapshots.reads <= reads + 1  # at most the one already under way
        await pilot.press("p")
        await until(pilot, lambda: actions.snapshots.reads > reads + 2, "readings again")
        assert "PAUSED" not in screen_text(app)

    drive(scenario)


def test_enter_opens_the_selected_nodes_detail() -> None:
    async def scenario(pilot: Pilot[int], app: Dashboard, actions: FakeActions) -> None:
        await pilot.press("enter")
        assert "select a receiver" in screen_text(app)
        await pilot.press("down", "enter")
        await until(pilot, lambda: "recent attempts" in screen_text(app), "the detail")
        text = screen_text(app)
        assert "redeliveries it got: 7" in text
        assert "failed messages went next to: receiver-0002beef 3" in text
        assert "-> receiver-0002beef" in text
        await pilot.press("escape")
        await until(pilot, lambda: "recent attempts" not in screen_text(app), "closed")

    _, actions = drive(scenario)
    assert actions.calls == [("node_detail", "receiver-0000beef")]


def test_slash_filters_the_nodes() -> None:
    async def scenario(pilot: Pilot[int], app: Dashboard, actions: FakeActions) -> None:
        await pilot.press("slash", *"0002", "enter")
        await until(pilot, lambda: "filter '0002'" in screen_text(app), "the filter")
        text = screen_text(app)
        assert "receiver-0002beef" in text
        assert "receiver-0001beef" not in text
        await pilot.press("slash", "backspace", "backspace", "backspace", "backspace", "enter")
        await until(pilot, lambda: "receiver-0001beef" in screen_text(app), "no filter")

    drive(scenario, receivers=4)


def test_question_mark_shows_help_and_any_key_closes_it() -> None:
    async def scenario(pilot: Pilot[int], app: Dashboard, actions: FakeActions) -> None:
        await pilot.press("question_mark")
        await until(pilot, lambda: "SIGKILL the selected receiver" in screen_text(app), "help")
        assert "in transit: accepted, not yet seen queued" in screen_text(app)
        assert "Any key closes this help." in screen_text(app)  # all of it fits 80x24
        await pilot.press("x")
        await until(pilot, lambda: "SIGKILL the selected" not in screen_text(app), "closed")

    _, actions = drive(scenario, size=(80, 24))
    assert actions.calls == []


def test_q_exits_0() -> None:
    async def scenario(pilot: Pilot[int], app: Dashboard, actions: FakeActions) -> None:
        await pilot.press("q")

    app, _ = drive(scenario)
    assert app.return_value == 0


def test_a_failed_action_is_shown_recorded_and_the_dashboard_stays() -> None:
    async def scenario(pilot: Pilot[int], app: Dashboard, actions: FakeActions) -> None:
        await pilot.press("k")
        await until(pilot, lambda: "failed: the engine said no" in screen_text(app), "reason")
        await pilot.press("plus")
        await until(pilot, lambda: len(actions.calls) == 2, "the next action")

    _, actions = drive(scenario, fail="kill")
    assert actions.recorded[0].failed
    assert "the engine said no" in actions.recorded[0].detail


def test_textual_shows_the_layout_unwrapped_at_80x24() -> None:
    async def scenario(pilot: Pilot[int], app: Dashboard, actions: FakeActions) -> None:
        shown = screen_text(app).splitlines()
        assert [line.rstrip() for line in shown] == [line.plain.rstrip() for line in app.lines()]
        assert len(shown) == 24
        assert shown[-1].startswith("every 0.05s · queue 0s · db 0s · redis 0s")

    drive(scenario, size=(80, 24), receivers=30, gone=2, faults=8)


def test_a_failed_reading_keeps_the_last_one_and_the_next_tick_tries_again() -> None:
    async def scenario(pilot: Pilot[int], app: Dashboard, actions: FakeActions) -> None:
        healthy = actions.snapshots.current
        broken = FakeSnapshots(healthy)
        seen = threading.Event()  # readings fail until the test has seen the reason (a loaded
        # machine could otherwise miss a reason that the next tick, 50 ms on, clears)

        def flaky() -> Snapshot:
            if not seen.is_set():
                raise ConnectionError("rabbitmq is not running")
            return broken()

        app._next_snapshot = flaky
        await until(pilot, lambda: "reading failed: rabbitmq" in screen_text(app), "the reason")
        assert "receivers · 3 live" in screen_text(app)  # the last reading stays
        seen.set()
        await until(pilot, lambda: broken.reads > 0, "the next reading")
        await until(pilot, lambda: "reading failed" not in screen_text(app), "the reason gone")

    drive(scenario)
