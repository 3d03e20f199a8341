"""`mafa watch` you can drive: the dashboard as a Textual app (the only module importing textual).

Why Textual rather than rich's Live plus a key reader of our own: it is rich's sibling by the same
authors, so the screen stays rich text built by pure functions (watch/layout.py); it reads keys,
resizes and restores the terminal on every platform rich runs on (a home-made raw-mode reader on
stdin would be POSIX-only and leave the terminal broken on a crash); modal screens give help,
filter and node detail for free; and its Pilot presses keys against a headless app, so the key
handling is unit-tested like the rest. The cost, one more dependency, is a pure-Python wheel.

What the app owns is the interaction only: when to read (every `interval_s`, not while paused,
never two reads at once), what a key asks for, and what is under way. The readings come from
`next_snapshot` and the changes go through `Actions`; both block, so both run off the event loop.
Every action, done or failed, becomes an `Event` handed to `Actions.record`.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from mafa_cli.ui import Text
from mafa_cli.watch.actions import Actions, Event, NodeDetail, Service
from mafa_cli.watch.layout import (
    KEYS,
    ViewState,
    good_reads,
    is_gone,
    screen,
    visible_receivers,
)
from mafa_cli.watch.palette import SlotBook
from mafa_cli.watch.snapshot import History, Snapshot

USERS_STEP = 10  # what `[` and `]` take away and add
EVENTS_KEPT = 50
READ_FAILED = "reading failed"
DETAIL_ATTEMPTS = 12  # the newest ones: the detail fits 80x24


def _joined(lines: list[Text]) -> Text:
    return Text("\n", no_wrap=True, overflow="crop").join(lines)


def help_text() -> Text:
    """Fits 80x24 with its frame; lines wrap to the screen rather than by hand."""
    text = Text("mafa watch: keys\n", style="bold")
    for key, _, _, what in KEYS:
        text.append(f"  {key:<5}", style="bold")
        text.append(f" {what}\n")
    text.append(
        "\nin transit: accepted, not yet seen queued, in flight, processed or parked (never below"
        " 0: broker and database are read moments apart).\n"
        "lost ? (moving): lost is only counted at rest, when nothing moves.\n"
        "dimmed and †: the node's container is gone. Each live node has its own colour.\n"
        "Any key closes this help."
    )
    return text


def detail_text(detail: NodeDetail) -> Text:
    text = Text(f"{detail.node}\n\n", style="bold")
    text.append(f"redeliveries it got: {detail.redeliveries_received:,}\n")
    if detail.failed_went_to:
        went = ", ".join(f"{node} {n:,}" for node, n in sorted(detail.failed_went_to.items()))
        text.append(f"its failed messages went next to: {went}\n")
    text.append("\nrecent attempts\n", style="bold")
    for a in detail.attempts[-DETAIL_ATTEMPTS:]:
        style = "green" if a.outcome in ("processed", "duplicate") else "red"
        text.append(f"  {a.at:%H:%M:%S} {a.message_id[:8]} #{a.attempt} ")
        text.append(f"{a.outcome:<11}", style=style)
        text.append(f" {a.duration_ms:>7,.0f} ms")
        text.append(f"  -> {a.next_node}\n" if a.next_node else "\n")
    if not detail.attempts:
        text.append("  none yet\n")
    text.append("\nany key closes")
    return text


class TextScreen(ModalScreen[None]):
    """Help and node detail: a page of text; any key closes it."""

    DEFAULT_CSS = "TextScreen { align: center middle; } TextScreen > Static { width: auto; "
    DEFAULT_CSS += "max-width: 100%; height: auto; max-height: 100%; border: round $accent; "
    DEFAULT_CSS += "background: $surface; padding: 0 1; }"

    def __init__(self, text: Text) -> None:
        super().__init__()
        self._text = text

    def compose(self) -> ComposeResult:
        yield Static(self._text, id="page")

    def on_key(self) -> None:
        self.dismiss()


class FilterScreen(ModalScreen[str | None]):
    """`/`: type part of a node's name; enter applies it (empty clears), escape keeps the old."""

    DEFAULT_CSS = "FilterScreen { align: center middle; } FilterScreen > Input { width: 50; }"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "keep the filter")]

    def __init__(self, current: str) -> None:
        super().__init__()
        self._current = current

    def compose(self) -> ComposeResult:
        yield Input(value=self._current, placeholder="part of a node's name", id="filter")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class Dashboard(App[int]):
    """Run with `.run()`: returns 0 when the user quits with `q`."""

    CSS = "Screen { overflow: hidden; } #body { width: 100%; height: 100%; }"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit_dashboard"),
        Binding("question_mark", "help"),
        Binding("plus", "scale('receiver', 1)"),
        Binding("minus", "scale('receiver', -1)"),
        Binding("S", "scale('sender', 1)"),
        Binding("s", "scale('sender', -1)"),
        Binding("k", "kill"),
        Binding("b", "restart_broker"),
        Binding("l", "toggle_load"),
        Binding("left_square_bracket", "users(-1)"),
        Binding("right_square_bracket", "users(1)"),
        Binding("p", "pause"),
        Binding("up", "select(-1)"),
        Binding("down", "select(1)"),
        Binding("enter", "detail"),
        Binding("slash", "filter"),
    ]

    def __init__(
        self,
        next_snapshot: Callable[[], Snapshot],
        actions: Actions,
        interval_s: float = 1.0,
        users: int = 10,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        chooser: random.Random | None = None,
    ) -> None:
        super().__init__()
        self._next_snapshot = next_snapshot
        self._actions = actions
        self._clock = clock
        self._chooser = chooser or random.Random()
        self.state = ViewState(interval_s=interval_s, users=users)
        self.snapshot: Snapshot | None = None
        self.history = History()
        self._slots = SlotBook()
        self._reading = False
        self._load_started: bool | None = None  # what we did last, until a reading says
        self._body = Static(Text("waiting for the first reading…"), id="body")

    # --- reading and drawing ---------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield self._body

    def on_mount(self) -> None:
        self.set_interval(self.state.interval_s, self.read)
        self.call_later(self.read)

    def read(self) -> None:
        """Start a reading, unless paused or the previous one is still under way. Readings and
        actions run as workers: the keys and the drawing never wait for the stack."""
        if self.state.paused or self._reading:
            return
        self._reading = True
        self.run_worker(self._read(), group="read")

    async def _read(self) -> None:
        try:
            snapshot = await asyncio.to_thread(self._next_snapshot)
        except Exception as exc:  # the last reading stays on screen; the next tick tries again
            self._set(message=f"{READ_FAILED}: {exc}")
            return
        finally:
            self._reading = False
        before = self.snapshot.read_at if self.snapshot is not None else {}
        snapshot = replace(snapshot, read_at=good_reads(before, snapshot))  # the footer's ages
        self.snapshot = snapshot
        self.history.add(snapshot)
        self._load_started = None  # the reading now says whether a load runs
        if self.state.message.startswith(READ_FAILED):
            self.state = replace(self.state, message="")
        self.draw()

    def lines(self) -> list[Text]:
        """The screen's text as drawn now (what the tests read)."""
        if self.snapshot is None:
            return [Text("waiting for the first reading…")]
        width, height = self.size
        return screen(self.snapshot, self.history, self.state, width, height, self._slots)

    def draw(self) -> None:
        self._body.update(_joined(self.lines()))  # also while help or detail is on top

    def on_resize(self) -> None:
        if self.snapshot is not None:
            self.draw()

    def _set(self, **changes: object) -> None:
        self.state = replace(self.state, **changes)  # type: ignore[arg-type]
        if self.snapshot is not None:
            self.draw()

    # --- actions ---------------------------------------------------------------------------

    async def _act(
        self, kind: str, target: str, detail: str, call: Callable[[], None], pending: str = ""
    ) -> bool:
        """Run `call` off the loop, show it under way, record the event; True when it worked."""
        if pending:
            self._set(pending={**self.state.pending, pending: detail})
        failed, outcome = False, f"{kind} {target} {detail}".strip()
        try:
            await asyncio.to_thread(call)
        except Exception as exc:  # shown and recorded: the dashboard outlives a failed action
            failed, outcome = True, f"{kind} {target} failed: {exc}"
            detail = f"{detail} ({exc})".strip()
        finally:
            if pending:
                self._set(pending={k: v for k, v in self.state.pending.items() if k != pending})
        event = Event(self._clock(), kind, target, detail, failed)
        self._set(events=(*self.state.events, event)[-EVENTS_KEPT:], message=outcome)
        try:
            await asyncio.to_thread(self._actions.record, event)
        except Exception as exc:  # the action happened; say that its record did not
            self._set(message=f"{outcome} (not recorded: {exc})")
        return not failed

    def _live(self, service: Service) -> list[str]:
        if self.snapshot is None:
            return []
        rows = self.snapshot.receivers if service == "receiver" else self.snapshot.senders
        return [r.node for r in rows if not is_gone(r.container, self.snapshot)]

    def action_scale(self, service: Service, change: int) -> None:
        panel = f"{service}s"
        if panel in self.state.pending:
            self._set(message=f"{panel}: a scale is under way ({self.state.pending[panel]})")
            return
        now = len(self._live(service))
        wanted = now + change
        if wanted < 0:
            self._set(message=f"no {service} left to take away")
            return
        self.run_worker(
            self._act(
                "scale",
                service,
                f"{now} -> {wanted}",
                lambda: self._actions.scale(service, wanted),
                pending=panel,
            )
        )

    def action_kill(self) -> None:
        live = self._live("receiver")
        if not live:
            self._set(message="no running receiver to kill")
            return
        node = self.state.selected if self.state.selected in live else self._chooser.choice(live)
        self.run_worker(self._act("kill", node, "SIGKILL", lambda: self._actions.kill(node)))

    def action_restart_broker(self) -> None:
        if "broker restart" in self.state.pending:
            return
        restart = self._act(
            "restart", "rabbitmq", "", self._actions.restart_broker, pending="broker restart"
        )
        self.run_worker(restart)

    def _load_running(self) -> bool:
        if self._load_started is not None:
            return self._load_started
        return self.snapshot is not None and self.snapshot.load is not None

    def action_toggle_load(self) -> None:
        if "load" not in self.state.pending:
            self.run_worker(self._toggle_load())

    async def _toggle_load(self) -> None:
        users = self.state.users
        if self._load_running():
            if await self._act("load-stop", "load", "", self._actions.stop_load, pending="load"):
                self._load_started = False
        elif await self._act(
            "load-start",
            "load",
            f"{users} users",
            lambda: self._actions.start_load(users),
            pending="load",
        ):
            self._load_started = True

    def action_users(self, direction: int) -> None:
        users = max(1, self.state.users + direction * USERS_STEP)
        if users == self.state.users:
            self._set(message="at least one user")
            return
        self._set(users=users)
        if not self._load_running():
            self._set(message=f"l starts a load of {users} users")
            return
        change = self._act(
            "load-users", "load", f"{users} users", lambda: self._actions.set_users(users)
        )
        self.run_worker(change)

    # --- looking ---------------------------------------------------------------------------

    def action_pause(self) -> None:
        self._set(paused=not self.state.paused, message="")

    def action_select(self, step: int) -> None:
        if self.snapshot is None:
            return
        names = visible_receivers(self.snapshot, self.state)
        if not names:
            return
        at = names.index(self.state.selected) + step if self.state.selected in names else 0
        self._set(selected=names[max(0, min(len(names) - 1, at))])

    def action_detail(self) -> None:
        node = self.state.selected
        if node is None:
            self._set(message="select a receiver with the arrows first")
            return
        self.run_worker(self._open_detail(node))

    async def _open_detail(self, node: str) -> None:
        try:
            detail = await asyncio.to_thread(self._actions.node_detail, node)
        except Exception as exc:  # the dashboard stays; the reason shows in the header
            self._set(message=f"no detail for {node}: {exc}")
            return
        self.push_screen(TextScreen(detail_text(detail)))

    def action_help(self) -> None:
        self.push_screen(TextScreen(help_text()))

    def action_filter(self) -> None:
        def apply(text: str | None) -> None:
            if text is not None:
                self._set(filter=text, selected=None)

        self.push_screen(FilterScreen(self.state.filter), apply)

    def action_quit_dashboard(self) -> None:
        self.exit(0)


def run(
    next_snapshot: Callable[[], Snapshot], actions: Actions, interval_s: float, users: int = 10
) -> int:
    """The dashboard in this terminal until `q`; its exit status."""
    status = Dashboard(next_snapshot, actions, interval_s, users).run()
    return 0 if status is None else status
