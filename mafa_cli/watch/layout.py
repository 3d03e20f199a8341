"""The interactive dashboard's screen as lines of text: pure, sized to the terminal, no I/O.

`screen()` returns exactly `height` lines, none wider than `width`, so nothing wraps and nothing is
cut by the terminal: what does not fit is left out whole, by the rule below, and says so.

Layout: from 120 columns, a grid (figures, charts, load and events on the left; receivers,
senders and containers on the right); narrower, one stack. Header and footer span the screen.

On a Swarm, a hosts panel (one row per node: role, state, availability, its tasks) comes after
the events (in the grid: at the foot of the left side), and receiver and sender rows gain a host
column (the node's name less what all the nodes' names share: "mafa-engine-lab-2" reads "2").

What goes first when lines run short (the reverse of the order they are handed out):
  1. the containers panel,
  2. the rates chart, then the queue-depth chart (each shrinks to 4 lines before it goes),
  3. event lines beyond the newest two ("+N earlier" says how many went),
  4. on a Swarm, the hosts panel's rows, whole (its title line stays: how many nodes are ready,
     and which are not),
  5. sender rows beyond two, then receiver rows beyond three ("+N more" says how many, and the
     selection scrolls the rows).
Never left out: the header, the ledger's verdict, the queue and rate figures, the load line, the
hosts' title line on a Swarm and the two footer lines (keys; refresh interval and the age of each
source's last good read).
Text columns go before number columns when a row is too wide; the host column goes with them,
after the in-flight column.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from mafa_cli.ui import Text
from mafa_cli.watch.actions import Event
from mafa_cli.watch.chart import line_chart
from mafa_cli.watch.palette import SlotBook
from mafa_cli.watch.snapshot import (
    History,
    HostRow,
    LiveBalance,
    ReceiverRow,
    SenderRow,
    Snapshot,
)

GRID_FROM = 120  # columns
CHART_LINES = 9  # a chart's full height: title, 7 plot lines, time axis
CHART_MIN = 4
# Each source's panel name in Snapshot.stale, and its name in the footer.
SOURCES = {
    "queue": "queue",
    "database": "db",
    "sessions": "redis",
    "containers": "docker",
    "balancer": "haproxy",
    "load": "load",
}
DEPTH_COLOUR = "cyan"
RATE_SERIES = (("publish", "green"), ("deliver", "blue"), ("redeliver", "yellow"))
GONE_STYLE = "dim"

Lines = list[Text]

# (key as the footer shows it, its word on narrow screens, on wide ones, what it does in full)
KEYS: tuple[tuple[str, str, str, str], ...] = (
    ("q", "quit", "quit", "leave the dashboard (the stack keeps running)"),
    ("?", "help", "help", "this help: the keys, and what the figures count"),
    ("+/-", "recv", "receivers", "one receiver more / fewer (the scale in progress shows)"),
    ("S/s", "send", "senders", "one sender more / fewer"),
    ("k", "kill", "kill", "SIGKILL the selected receiver, or one at random"),
    ("b", "broker", "broker", "restart the broker"),
    ("l", "load", "load", "start or stop a load run"),
    ("[/]", "users", "users", "fewer / more users in the running load"),
    ("p", "pause", "pause", "stop / resume refreshing"),
    ("↑↓⏎", "", "node detail", "select a receiver; enter opens its recent attempts"),
    ("/", "filter", "filter", "show only nodes whose name contains the text"),
)


@dataclass(frozen=True)
class ViewState:
    """What the dashboard adds to a snapshot: what the user selected, typed and started."""

    interval_s: float = 1.0
    window_s: float = 300.0  # how far back the charts go
    selected: str | None = None  # a receiver's node name
    filter: str = ""
    paused: bool = False
    pending: dict[str, str] = field(default_factory=dict)  # what is under way -> "2 -> 3"
    events: tuple[Event, ...] = ()  # the dashboard's own actions, oldest first
    users: int = 10  # the load's user count (what `l` starts, `[` / `]` change)
    message: str = ""  # the last action's outcome


def in_transit(ledger: LiveBalance) -> int:
    """Accepted messages not yet seen queued, in flight, processed or parked. Never negative:
    the broker and the database are read moments apart, so a message can be counted by both
    (queued and processed) for one refresh; that is not a negative number of messages."""
    return max(0, ledger.unaccounted)


def fit(pieces: Sequence[str | Text], width: int, separator: str = " · ") -> Text:
    """As many of `pieces` as fit in `width`, in order: the first ones matter most."""
    line = Text(no_wrap=True, overflow="crop")
    for piece in pieces:
        text = piece if isinstance(piece, Text) else Text(piece)
        gap = separator if line.cell_len else ""
        if line.cell_len + len(gap) + text.cell_len > width:
            break
        line.append(gap)
        line.append_text(text)
    return line


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    return f"{seconds / 60:.0f}m" if seconds < 7200 else f"{seconds / 3600:.0f}h"


def _n(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


# --- the figures ----------------------------------------------------------------------------


def header(snapshot: Snapshot, state: ViewState, width: int) -> Text:
    title = Text(f"mafa watch · {snapshot.project} · {snapshot.taken_at:%H:%M:%S}", style="bold")
    pieces: list[str | Text] = [title]
    if state.paused:
        pieces.append(Text("PAUSED (p resumes)", style="bold yellow"))
    for what, change in state.pending.items():
        pieces.append(Text(f"{what} {change}…", style="bold cyan"))
    if state.message:
        pieces.append(Text(state.message, style="italic"))
    return fit(pieces, width)


def verdict(snapshot: Snapshot, width: int) -> Text:
    ledger = snapshot.ledger
    if ledger is None:
        return fit(["ledger: no data yet"], width)
    if ledger.lost is None:
        first = Text("lost ? (moving)", style="cyan")  # claimed at rest only
    elif ledger.lost == 0:
        first = Text("lost 0", style="bold green")
    else:
        first = Text(f"LOST {ledger.lost:,}", style="bold red")
    return fit(
        [
            first,
            f"accepted {ledger.accepted:,}",
            f"processed {ledger.processed:,}",
            f"parked {ledger.parked:,}",
            f"in transit {in_transit(ledger):,}"
            + (" (not yet seen by broker or db)" if width >= 110 else ""),
        ],
        width,
    )


def queue_figures(snapshot: Snapshot, width: int) -> Lines:
    q = snapshot.queue
    depth = fit(
        [
            Text(f"queue ready {q.ready:,}", style=DEPTH_COLOUR),
            f"unacked {q.unacked:,}",
            f"dead letters {q.dead_letters:,}",
            f"consumers {q.consumers}",
        ],
        width,
    )
    if "queue" in snapshot.stale:
        depth = fit([depth, Text(f"STALE: {snapshot.stale['queue']}", style="bold yellow")], width)
    rates = fit(
        [
            Text(f"publish {q.publish_rate:.1f}/s", style="green"),
            Text(f"deliver {q.deliver_rate:.1f}/s", style="blue"),
            Text(f"redeliver {q.redeliver_rate:.1f}/s", style="yellow"),
            f"ack {q.ack_rate:.1f}/s",
        ],
        width,
    )
    return [depth, rates]


def load_line(snapshot: Snapshot, state: ViewState, width: int) -> Text:
    sessions = f"sessions {snapshot.active_sessions:,}"
    load = snapshot.load
    if load is None:
        return fit(
            [Text("load off", style="bold"), f"l starts {state.users} users", sessions], width
        )
    return fit(
        [
            Text(f"load {load.users} users", style="bold"),
            f"{load.rps:.1f} req/s",
            f"p95 {load.p95_ms:.0f} ms",
            f"{load.failures:,}/{load.requests:,} failed",
            sessions,
            load.run_id,
        ],
        width,
    )


def chart(
    title: str,
    unit: str,
    series: Sequence[tuple[str, str, list[tuple[float, float]]]],
    lines: int,
    width: int,
    window_s: float,
) -> Lines:
    """A titled chart of `lines` lines; `series` is (name, colour, points)."""
    drawn = line_chart([points for _, _, points in series], width, lines - 1, window_s)
    pieces: list[str | Text] = [Text(f"{title} ({unit}, {window_s / 60:g} min)", style="bold")]
    if len(series) > 1:  # the legend, in the series' colours
        pieces += [Text(name, style=colour) for name, colour, _ in series]
    out = [fit(pieces, width, " ")]
    for text, owners in zip(drawn.lines, drawn.owners, strict=True):
        line = Text(no_wrap=True, overflow="crop")
        for char, owner in zip(text, owners, strict=True):
            line.append(char, style=series[owner][1] if owner is not None else "")
        out.append(line)
    return out


def depth_chart(history: History, now: datetime, lines: int, width: int, window: float) -> Lines:
    depth = [("depth", DEPTH_COLOUR, history.points("depth", now))]
    return chart("queue depth", "messages", depth, lines, width, window)


def rates_chart(history: History, now: datetime, lines: int, width: int, window: float) -> Lines:
    series = [(name, colour, history.points(name, now)) for name, colour in RATE_SERIES]
    return chart("rates", "messages/s", series, lines, width, window)


def event_lines(snapshot: Snapshot, state: ViewState, width: int, rows: int) -> Lines:
    """Faults (chaos) and the dashboard's actions, newest last, the newest `rows` of them."""
    entries: list[tuple[str, str, str]] = []
    # Once recorded, the stream holds the dashboard's own actions too: each shows once, in the
    # dashboard's colours (matched by time to the second and text).
    own = {(at[:19], what) for at, _, what in (e.line().partition(" ") for e in state.events)}
    for fault in snapshot.faults:
        at, _, what = fault.partition(" ")
        if (at[:19], what) not in own:
            entries.append((at, what, "magenta"))
    for event in state.events:
        at, _, what = event.line().partition(" ")
        entries.append((at, what, "red" if event.failed else "cyan"))
    entries.sort(key=lambda entry: entry[0])
    shown = entries[-rows:] if rows > 0 else []
    title = Text("events", style="bold")
    if len(entries) > len(shown):
        title.append(f"  +{len(entries) - len(shown)} earlier")
    out = [fit([title], width)]
    for at, what, colour in shown:
        out.append(fit([Text(f"{at[11:19]} {what}", style=colour)], width, ""))
    return out


def footer(snapshot: Snapshot, state: ViewState, width: int) -> Lines:
    # Narrow: the arrows and enter are left to the help screen.
    keys = [f"{k} {long if width >= 110 else short}" for k, short, long, _ in KEYS if long or short]
    if width < 110:
        keys = [f"{k} {short}" for k, short, _, _ in KEYS if short]
    ages: list[str | Text] = [f"every {state.interval_s:g}s"]
    for source, label in SOURCES.items():
        if source in snapshot.read_at:
            seconds = (snapshot.taken_at - snapshot.read_at[source]).total_seconds()
            age = _age(max(0.0, seconds))
            stale = source in snapshot.stale
            ages.append(Text(f"{label} {age}", style="bold yellow" if stale else ""))
        elif source in snapshot.stale:
            ages.append(Text(f"{label} never", style="bold yellow"))
    if len(ages) == 1:
        ages.append(f"read {snapshot.taken_at:%H:%M:%S}")
    return [fit(keys, width, "  "), fit(ages, width, " · ")]


# --- the nodes ------------------------------------------------------------------------------


class NodeRow(Protocol):
    @property
    def node(self) -> str: ...
    @property
    def container(self) -> str | None: ...
    @property
    def slot(self) -> int | None: ...
    @property
    def host(self) -> str | None: ...


Row = TypeVar("Row", bound=NodeRow)
Of = TypeVar("Of")  # what a table's row is


@dataclass(frozen=True)
class Column(Generic[Of]):
    heading: str
    width: int
    keep: int  # lower goes last when the row is too wide
    cell: Callable[[Of], str]


RECEIVER_COLUMNS: tuple[Column[ReceiverRow], ...] = (
    Column("handled", 8, 0, lambda r: _n(r.handled)),
    Column("fail", 6, 1, lambda r: _n(r.failed + r.interrupted)),
    Column("redel", 6, 2, lambda r: _n(r.redelivered)),
    Column("infl", 5, 3, lambda r: _n(r.in_flight)),
    Column("p95 ms", 7, 5, lambda r: _n(r.p95_ms)),
    Column("other", 6, 6, lambda r: _n(r.redelivered_elsewhere)),
    Column("mean ms", 8, 7, lambda r: _n(r.mean_ms)),
)
SENDER_COLUMNS: tuple[Column[SenderRow], ...] = (
    Column("accepted", 9, 0, lambda s: _n(s.accepted)),
    Column("requests", 9, 1, lambda s: _n(s.requests)),
    Column("5xx", 6, 2, lambda s: _n(s.errors)),
)


def columns_that_fit(columns: Sequence[Column[Of]], room: int) -> list[Column[Of]]:
    """The columns (each with its one space before it) that fit in `room` cells, in their
    order; the ones with the highest `keep` go first."""
    shown = sorted(columns, key=lambda c: c.keep)
    while shown and sum(c.width + 1 for c in shown) > room:
        shown.pop()
    return sorted(shown, key=list(columns).index)


HOST_LABEL_MAX = 12
SEPARATORS = "-_."


def host_labels(names: Sequence[str]) -> dict[str, str]:
    """A short label per host name: the name less the start all the names share (cut at a
    separator), at most HOST_LABEL_MAX cells. "mafa-engine-lab-1", "-2", "-3" read "1", "2", "3";
    one host keeps its name."""
    unique = sorted(set(names))
    shared = 0
    if len(unique) > 1:
        first, last = unique[0], unique[-1]  # the shortest common start is theirs
        while shared < min(len(first), len(last)) and first[shared] == last[shared]:
            shared += 1
        while shared > 0 and first[shared - 1] not in SEPARATORS:
            shared -= 1
    labels = {}
    for name in unique:
        label = name[shared:]
        cut = label[: HOST_LABEL_MAX - 1] + "…"
        labels[name] = label if len(label) <= HOST_LABEL_MAX else cut
    return labels


def snapshot_host_labels(snapshot: Snapshot) -> dict[str, str]:
    """Every host's label (the hosts panel's and the rows' hosts); {} on one engine."""
    rows: list[NodeRow] = [*snapshot.receivers, *snapshot.senders]
    return host_labels([h.name for h in snapshot.hosts] + [r.host for r in rows if r.host])


def with_host_column(columns: Sequence[Column[Row]], labels: dict[str, str]) -> list[Column[Row]]:
    """The host column first, as wide as the longest label, when there are hosts."""
    if not labels:
        return list(columns)
    width = max(4, *(len(label) for label in labels.values()))
    host = Column[Row]("host", width, 4, lambda r: labels.get(r.host or "", "-"))
    return [host, *columns]


def host_role(host: HostRow) -> str:
    """leader, manager, worker; "manager ✗" for a manager its peers cannot reach."""
    if host.role != "manager":
        return host.role
    if host.reachability not in (None, "reachable"):
        return "manager ✗"
    return "leader" if host.leader else "manager"


EVENT_WORDS_MAX = 12


def last_host_events(snapshot: Snapshot) -> dict[str, str]:
    """Per host, the newest event naming it, as "HH:MM" and its words less the name ("11:58 node
    drain" for chaos' "node drain HOSTNAME"): whatever the wording, as long as the line holds
    the node's name as a word."""
    found = {}
    for line in snapshot.faults:  # oldest first: the newest wins
        at, _, what = line.partition(" ")
        words = what.split()
        for host in snapshot.hosts:
            if host.name in words:
                rest = " ".join(word for word in words if word != host.name)
                found[host.name] = f"{at[11:16]} {rest[:EVENT_WORDS_MAX]}"
    return found


HOST_COLUMNS: tuple[Column[HostRow], ...] = (
    Column("role", 9, 3, host_role),
    Column("state", 7, 0, lambda h: h.state),
    Column("avail", 6, 1, lambda h: h.availability),
    Column("tasks", 5, 2, lambda h: _n(sum(h.tasks.values()))),
    Column("recv", 4, 5, lambda h: _n(h.tasks.get("receiver", 0))),
    Column("send", 4, 6, lambda h: _n(h.tasks.get("sender", 0))),
)


def hosts_summary(snapshot: Snapshot, width: int) -> Text:
    """The hosts panel's title: how many nodes are up (ready, and reachable if managers), and
    each one that is not up or not active (drained, paused)."""
    hosts = snapshot.hosts
    up = sum(h.up for h in hosts)
    pieces: list[str | Text] = [
        Text("hosts", style="bold"),
        Text(f"{up}/{len(hosts)} up", style="green" if up == len(hosts) else "bold red"),
    ]
    for h in hosts:
        if not h.up:
            pieces.append(Text(f"{h.name} {host_role(h)} {h.state}", style="bold red"))
        elif h.availability != "active":
            pieces.append(Text(f"{h.name} {h.availability}", style="yellow"))
    if "hosts" in snapshot.stale:
        pieces.append(Text(f"STALE: {snapshot.stale['hosts']}", style="bold yellow"))
    return fit(pieces, width)


def hosts_panel(snapshot: Snapshot, width: int, rows: bool) -> Lines:
    """The summary line, then (with `rows`) a heading and one row per host: its name, role,
    state, availability and the project's running tasks on it (all, receivers, senders)."""
    out = [hosts_summary(snapshot, width)]
    if not rows:
        return out
    name_w = min(24, max([len(h.name) for h in snapshot.hosts] + [4]))
    events = last_host_events(snapshot)
    columns = list(HOST_COLUMNS)
    if events:  # before the receivers' and senders' shares of the tasks
        event_w = max(len("last event"), *(len(e) for e in events.values()))
        columns.append(Column("last event", event_w, 4, lambda h: events.get(h.name, "")))
    columns = columns_that_fit(columns, width - name_w)
    heading = Text(f"{'host':<{name_w}}", style="bold", no_wrap=True)
    for column in columns:
        heading.append(f" {column.heading:>{column.width}}", style="bold")
    out.append(heading)
    for host in snapshot.hosts:
        name = host.name if len(host.name) <= name_w else host.name[: name_w - 1] + "…"
        line = Text(f"{name:<{name_w}}", no_wrap=True, style="" if host.up else "bold red")
        for column in columns:
            trouble = column.heading in ("state", "role") and not host.up
            drained = column.heading == "avail" and host.availability != "active"
            style = "bold red" if trouble else "yellow" if drained else ""
            cell = column.cell(host)[: column.width]  # "disconnected" too: never wider
            line.append(f" {cell:>{column.width}}", style=style)
        out.append(line)
    return out


def is_gone(node_container: str | None, snapshot: Snapshot) -> bool:
    """A node whose container is unknown, or known and not running (when containers were read)."""
    if node_container is None:
        return True
    if not snapshot.containers:
        return False
    running = {c.name for c in snapshot.containers if c.state == "running"}
    return node_container not in running


def node_panel(
    title: str,
    rows: Sequence[Row],
    columns: Sequence[Column[Row]],
    snapshot: Snapshot,
    state: ViewState,
    slots: SlotBook,
    width: int,
    max_rows: int,
) -> Lines:
    """Title, heading and at most `max_rows` rows (a "+N more" line when some are left out,
    the rows scrolled to keep the selection in view). Gone nodes: dimmed, marked † and "gone";
    nodes killed from the dashboard and running again: marked ✗."""
    names = [r.node for r in rows]
    name_w = min(24, max([len(n) for n in names] + [4])) + 2  # + selection mark and gone mark
    seen_w = 5
    shown_columns = columns_that_fit(columns, width - name_w - seen_w)
    gone = [is_gone(r.container, snapshot) for r in rows]
    # Killed from this dashboard: marked even when the engine has restarted its container.
    killed = {e.target for e in state.events if e.kind == "kill" and not e.failed}
    live = len(rows) - sum(gone)
    head = Text(title, style="bold")
    pieces: list[str | Text] = [head, f"{live} live"]
    if any(gone):
        pieces.append(Text(f"{sum(gone)} gone", style=GONE_STYLE))
    if title in state.pending:
        pieces.append(Text(f"scaling {state.pending[title]}", style="bold cyan"))
    if state.filter:
        pieces.append(Text(f"filter '{state.filter}'", style="italic"))
    out = [fit(pieces, width)]
    heading = Text(f"{'node':<{name_w}}", style="bold", no_wrap=True)
    for column in shown_columns:
        heading.append(f" {column.heading:>{column.width}}", style="bold")
    heading.append(f" {'seen':>{seen_w - 1}}", style="bold")
    out.append(heading)

    indices = list(range(len(rows)))
    if len(rows) > max_rows:  # a window of rows around the selection
        chosen = names.index(state.selected) if state.selected in names else 0
        room = max(1, max_rows - 1)  # the last line says how many are left out
        first = min(max(0, chosen - room // 2), len(rows) - room)
        indices = indices[first : first + room]
    for i in indices:
        row, name = rows[i], names[i]
        selected = name == state.selected
        mark = "▶" if selected else " "
        label = name if len(name) <= name_w - 2 else name[: name_w - 3] + "…"
        style = GONE_STYLE if gone[i] else slots.colour(name, row.slot)
        line = Text(mark, no_wrap=True, style="reverse" if selected else "")
        line.append(f"{label:<{name_w - 2}}", style=style)
        if gone[i]:
            line.append("†", style=GONE_STYLE)
        else:
            line.append("✗" if name in killed else " ", style="bold red")
        for column in shown_columns:
            line.append(f" {column.cell(row):>{column.width}}", style=GONE_STYLE if gone[i] else "")
        seen = "gone" if gone[i] else _seen(row, snapshot)
        line.append(f" {seen:>{seen_w - 1}}", style=GONE_STYLE if gone[i] else "")
        out.append(line)
    if len(indices) < len(rows):
        left_out = len(rows) - len(indices)
        out.append(Text(f"  +{left_out} more (↑↓ scroll, / filter)", style="italic"))
    return out


def _seen(row: object, snapshot: Snapshot) -> str:
    last: datetime | None = getattr(row, "last_seen", None)
    if last is None:
        return "-"
    return _age(max(0.0, (snapshot.taken_at - last).total_seconds()))


def containers_panel(snapshot: Snapshot, width: int, max_rows: int) -> Lines:
    out = [fit([Text("containers", style="bold")], width)]
    for c in snapshot.containers[: max(0, max_rows)]:
        ok = c.state == "running" and c.health in (None, "healthy")
        cpu = "-" if c.cpu_percent is None else f"{c.cpu_percent:.1f}%"
        mem = "-" if c.memory_mib is None else f"{c.memory_mib:.0f} MiB"
        line = Text(f"{c.name:<28.28} ", no_wrap=True)
        line.append(f"{c.state:<8} {c.health or '-':<9}", style="" if ok else "bold red")
        line.append(f" {cpu:>6} {mem:>8}")
        out.append(fit([line], width, ""))
    if len(snapshot.containers) > max_rows:
        out.append(Text(f"  +{len(snapshot.containers) - max_rows} more", style="italic"))
    return out


def assign_slots(snapshot: Snapshot, slots: SlotBook) -> SlotBook:
    """Give every live node a colour slot (receivers first: the first slots are the most distinct
    colours) and free the slots of nodes gone: a gone row is dimmed, its colour no longer shows."""
    rows: list[NodeRow] = [*snapshot.receivers, *snapshot.senders]
    live = [(row.node, row.slot) for row in rows if not is_gone(row.container, snapshot)]
    slots.forget(keep={node for node, _ in live})
    # Nodes' own claims first, so a slot handed to a node without one is never a claimed one.
    for node, claimed in sorted(live, key=lambda pair: pair[1] is None):
        slots.slot(node, claimed)
    return slots


def good_reads(before: dict[str, datetime], snapshot: Snapshot) -> dict[str, datetime]:
    """When each source last read well: this snapshot's time for every source it does not mark
    stale, the earlier time for those it does (a collector's own `read_at` wins)."""
    fresh = {source: snapshot.taken_at for source in SOURCES if source not in snapshot.stale}
    return {**before, **fresh, **snapshot.read_at}


def visible_receivers(snapshot: Snapshot, state: ViewState) -> list[str]:
    """The receivers' names as listed (filter applied): what the arrows move through."""
    return [r.node for r in snapshot.receivers if state.filter.lower() in r.node.lower()]


# --- the screen -----------------------------------------------------------------------------


def _rows_needed(count: int, keep: int) -> tuple[int, int]:
    """Lines (title + heading + rows [+ "more"]) for `count` rows: at least, and at most."""
    least = 2 + min(count, keep) + (1 if count > keep else 0)
    return least, 2 + count


def _column(
    snapshot: Snapshot,
    history: History,
    state: ViewState,
    slots: SlotBook,
    width: int,
    height: int,
    figures: bool,
    nodes: bool,
) -> Lines:
    """One column of panels filling at most `height` lines, by the rule in the docstring."""
    receivers = [r for r in snapshot.receivers if state.filter.lower() in r.node.lower()]
    senders = [s for s in snapshot.senders if state.filter.lower() in s.node.lower()]
    fixed: Lines = []
    if figures:
        fixed = [*queue_figures(snapshot, width), load_line(snapshot, state, width)]
    left = height - len(fixed)
    # Hand lines out in priority order: minimums first, then the rest.
    recv_least, recv_most = _rows_needed(len(receivers), 3) if nodes else (0, 0)
    send_least, send_most = _rows_needed(len(senders), 2) if nodes else (0, 0)
    event_count = len(snapshot.faults) + len(state.events)
    event_least = 1 + min(2, event_count) if figures else 0
    # On a Swarm, the hosts' summary line, then heading and rows whole or not at all.
    hosts_least = 1 if figures and snapshot.hosts else 0
    hosts_rows = 1 + len(snapshot.hosts) if hosts_least else 0
    panels = ("receivers", "senders", "hosts", "events", "depth", "rates", "containers")
    grant = dict.fromkeys(panels, 0)

    def give(what: str, want: int) -> None:
        nonlocal left
        more = max(0, min(want - grant[what], left))
        grant[what] += more
        left -= more

    give("receivers", recv_least)
    give("senders", send_least)
    give("hosts", hosts_least)
    give("events", event_least)
    give("receivers", recv_most)
    give("senders", send_most)
    if hosts_rows and left >= hosts_rows:
        give("hosts", hosts_least + hosts_rows)
    if figures:
        give("events", 1 + min(event_count, 4))
        for chart_name in ("depth", "rates"):
            if left >= CHART_MIN:
                give(chart_name, CHART_LINES)
        give("events", 1 + event_count)
    if nodes and left >= 2 and snapshot.containers:
        give("containers", 1 + len(snapshot.containers))

    out = list(fixed)
    if grant["depth"]:
        out += depth_chart(history, snapshot.taken_at, grant["depth"], width, state.window_s)
    if grant["rates"]:
        out += rates_chart(history, snapshot.taken_at, grant["rates"], width, state.window_s)
    if grant["events"]:
        out += event_lines(snapshot, state, width, grant["events"] - 1)
    if grant["hosts"]:
        out += hosts_panel(snapshot, width, rows=grant["hosts"] > 1)
    labels = snapshot_host_labels(snapshot)
    if grant["receivers"]:
        out += node_panel(
            "receivers",
            receivers,
            with_host_column(RECEIVER_COLUMNS, labels),
            snapshot,
            state,
            slots,
            width,
            grant["receivers"] - 2,
        )
    if grant["senders"]:
        out += node_panel(
            "senders",
            senders,
            with_host_column(SENDER_COLUMNS, labels),
            snapshot,
            state,
            slots,
            width,
            grant["senders"] - 2,
        )
    if grant["containers"]:
        # Title and rows; a "+N more" line takes the last row's place when they do not all fit.
        room = grant["containers"] - 1
        shown = room if room >= len(snapshot.containers) else room - 1
        out += containers_panel(snapshot, width, shown)
    return out[:height]


def screen(
    snapshot: Snapshot,
    history: History,
    state: ViewState,
    width: int,
    height: int,
    slots: SlotBook | None = None,
) -> Lines:
    """Exactly `height` lines of at most `width` cells each."""
    slots = assign_slots(snapshot, slots or SlotBook())
    body_h = max(0, height - 4)  # header, verdict, two footer lines
    if width >= GRID_FROM:
        # The right side keeps the receivers' p95 column: 66 cells, 4 of them spare, which a
        # Swarm's host column takes (with what more it needs).
        labels = snapshot_host_labels(snapshot)
        host_w = max([4, *(len(label) for label in labels.values())]) + 1 if labels else 0
        left_w = max(50, min(72, width - 66 - max(0, host_w - 4)))
        right_w = width - left_w - 1
        left = _column(snapshot, history, state, slots, left_w, body_h, True, False)
        right = _column(snapshot, history, state, slots, right_w, body_h, False, True)
        body = []
        for i in range(body_h):
            line = left[i].copy() if i < len(left) else Text()
            line.truncate(left_w, overflow="crop", pad=True)
            line.append("│", style="dim")
            if i < len(right):
                line.append_text(right[i])
            body.append(line)
    else:
        body = _column(snapshot, history, state, slots, width, body_h, True, True)
    lines = [header(snapshot, state, width), verdict(snapshot, width), *body]
    lines += [Text()] * (height - 2 - len(lines))
    lines += footer(snapshot, state, width)
    for line in lines:
        line.no_wrap = True
        line.truncate(width, overflow="crop")
    return lines[:height]
