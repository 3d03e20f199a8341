"""The dashboard: a Snapshot (and the History behind the sparklines) rendered, with no I/O.

Panels, most important first: the ledger, the queue, receivers, senders, (on a Swarm) hosts,
sessions and load, containers. A narrow terminal drops whole panels (containers first) and text
columns, never a column of numbers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from mafa_cli.ui import Group, RenderableType, Table, Text, box
from mafa_cli.watch.layout import (
    GONE_STYLE,
    assign_slots,
    host_role,
    hosts_summary,
    in_transit,
    is_gone,
    last_host_events,
    snapshot_host_labels,
)
from mafa_cli.watch.palette import SlotBook
from mafa_cli.watch.snapshot import History, LiveBalance, Snapshot, sparkline

WIDE = 110  # below this, the containers panel and the container-name columns go


def _n(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _title(name: str, snapshot: Snapshot, panel: str) -> Text:
    title = Text(name, style="bold")
    reason = snapshot.stale.get(panel)
    if reason:
        title.append(f"  STALE: {reason}", style="bold yellow")
    return title


def ledger_text(ledger: LiveBalance | None) -> Text:
    if ledger is None:
        return Text("ledger: no data yet")
    text = Text("ledger  ", style="bold")
    # The verdict first: on a narrow terminal it is the part that must not wrap away.
    if ledger.lost is None:
        # In transit: accepted, not yet seen queued, in flight, processed or parked (never < 0).
        text.append(f"lost: checked at rest ({in_transit(ledger):+,} in transit)", style="cyan")
    elif ledger.lost == 0:
        text.append("lost 0", style="bold green")
    else:
        text.append(f"LOST {ledger.lost:,}", style="bold red")
    text.append(
        f" · accepted {ledger.accepted:,} · processed {ledger.processed:,} · "
        f"queued {ledger.in_queue:,} · in flight {ledger.in_flight:,} · parked {ledger.parked:,}"
    )
    return text


def queue_lines(snapshot: Snapshot, history: History, width: int) -> Text:
    """Three lines: depths, rates, and sparklines of depth, publish and redeliver rates."""
    q = snapshot.queue
    text = Text("queue   ", style="bold")
    text.append(
        f"ready {q.ready:,} · unacked {q.unacked:,} · total {q.total:,} · "
        f"consumers {q.consumers} · dead letters {q.dead_letters:,}"
    )
    if "queue" in snapshot.stale:
        text.append(f"\n        STALE: {snapshot.stale['queue']}", style="bold yellow")
    text.append(
        f"\nrates   publish {q.publish_rate:.1f}/s · deliver {q.deliver_rate:.1f}/s · "
        f"ack {q.ack_rate:.1f}/s · redeliver {q.redeliver_rate:.1f}/s"
    )
    spark = max(8, (width - 36) // 3)
    text.append("\ntrend   depth ")
    text.append(sparkline(history.series("depth"), spark), style="cyan")
    text.append(" publish ")
    text.append(sparkline(history.series("publish"), spark), style="green")
    text.append(" redeliver ")
    text.append(sparkline(history.series("redeliver"), spark), style="yellow")
    return text


def _table(name: str, snapshot: Snapshot, panel: str) -> Table:
    return Table(
        title=_title(name, snapshot, panel),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
        padding=(0, 1),
    )


def _ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "-"
    seconds = max(0.0, (now - when).total_seconds())
    return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.0f}m"


def _node_cell(
    node: str, slot: int | None, container: str | None, snapshot: Snapshot, slots: SlotBook
) -> Text:
    """The node's name in its colour, or dimmed and marked † when its container is gone."""
    if is_gone(container, snapshot):
        return Text(f"{node}†", style=GONE_STYLE)
    return Text(node, style=slots.colour(node, slot))


def receivers_table(snapshot: Snapshot, wide: bool, slots: SlotBook | None = None) -> Table:
    slots = slots or SlotBook()
    table = _table("receivers", snapshot, "database")
    table.add_column("node", no_wrap=True)
    labels = snapshot_host_labels(snapshot)
    if labels:
        table.add_column("host", no_wrap=True)
    if wide:
        table.add_column("container", no_wrap=True)
    # Short headings on narrow terminals keep every number whole (legend in the README).
    long = ("handled", "failed", "redeliv", "elsewhere", "in flight", "mean ms", "p95 ms")
    short = ("hand", "fail", "redel", "other", "infl", "mean", "p95")
    for column in long if wide else short:
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("seen", justify="right", no_wrap=True)
    for r in snapshot.receivers:
        cells: list[str | Text] = [_node_cell(r.node, r.slot, r.container, snapshot, slots)]
        if labels:
            cells.append(labels.get(r.host or "", "-"))
        if wide:
            cells.append(r.container or "-")
        cells += [
            _n(r.handled),
            _n(r.failed + r.interrupted),
            _n(r.redelivered),
            _n(r.redelivered_elsewhere),
            _n(r.in_flight),
            _n(r.mean_ms),
            _n(r.p95_ms),
            _ago(r.last_seen, snapshot.taken_at),
        ]
        table.add_row(*cells)
    return table


def senders_table(snapshot: Snapshot, wide: bool, slots: SlotBook | None = None) -> Table:
    stale = "database" if "database" in snapshot.stale else "balancer"
    slots = slots or SlotBook()
    table = _table("senders", snapshot, stale)
    table.add_column("node", no_wrap=True)
    labels = snapshot_host_labels(snapshot)
    if labels:
        table.add_column("host", no_wrap=True)
    if wide:
        table.add_column("container", no_wrap=True)
    for column in ("accepted", "requests", "5xx"):
        table.add_column(column, justify="right", no_wrap=True)
    for s in snapshot.senders:
        cells: list[str | Text] = [_node_cell(s.node, s.slot, s.container, snapshot, slots)]
        if labels:
            cells.append(labels.get(s.host or "", "-"))
        if wide:
            cells.append(s.container or "-")
        cells += [_n(s.accepted), _n(s.requests), _n(s.errors)]
        table.add_row(*cells)
    return table


def hosts_table(snapshot: Snapshot, wide: bool) -> Table:
    """A Swarm's nodes: role, state, availability, the project's running tasks on each, the
    newest event naming it, and (wide) the tasks by service: the one column cut short when the
    terminal is narrow. The title says how many are up and names those that are not."""
    labels = snapshot_host_labels(snapshot)
    events = last_host_events(snapshot)
    headings = ["host", "label", "role", "state", "avail", "tasks"]
    headings += ["last event"] if events else []
    rows: list[list[Text]] = []
    for h in snapshot.hosts:
        trouble = "" if h.up else "bold red"
        cells = [
            Text(h.name, style=trouble),
            Text(labels.get(h.name, h.name)),
            Text(host_role(h), style=trouble),
            Text(h.state, style=trouble),
            Text(h.availability, style="" if h.availability == "active" else "yellow"),
            Text(_n(sum(h.tasks.values()))),
        ]
        if events:
            cells.append(Text(events.get(h.name, ""), style="magenta"))
        if wide:
            cells.append(Text(" ".join(f"{service} {n}" for service, n in h.tasks.items())))
        rows.append(cells)
    table = _table("hosts", snapshot, "hosts")
    table.title = hosts_summary(snapshot, 200)
    for number, heading in enumerate(headings):
        whole = max([len(heading)] + [row[number].cell_len for row in rows])
        justify: Literal["left", "right"] = "right" if heading == "tasks" else "left"
        table.add_column(heading, no_wrap=True, justify=justify, min_width=whole)
    if wide:
        table.add_column("by service", no_wrap=True, overflow="ellipsis")
    for cells in rows:
        table.add_row(*cells)
    return table


def sessions_and_load(snapshot: Snapshot, history: History, width: int) -> Text:
    text = Text("sessions ", style="bold")
    text.append(f"{snapshot.active_sessions:,} active  ")
    text.append(sparkline(history.series("sessions"), max(10, min(40, width - 30))))
    if "sessions" in snapshot.stale:
        text.append(f"  STALE: {snapshot.stale['sessions']}", style="bold yellow")
    if snapshot.load is not None:
        load = snapshot.load
        text.append("\nload     ", style="bold")
        text.append(
            f"{load.run_id} · {load.users} users · {load.rps:.1f} req/s · "
            f"{load.failures:,}/{load.requests:,} failed · p95 {load.p95_ms:.0f} ms"
        )
    return text


def containers_table(snapshot: Snapshot) -> Table:
    table = _table("containers", snapshot, "containers")
    for column in ("container", "state", "health", "cpu %", "mem MiB"):
        table.add_column(column, justify="right" if column in ("cpu %", "mem MiB") else "left")
    for c in snapshot.containers:
        ok = c.state == "running" and c.health in (None, "healthy")
        style = "" if ok else "bold red"
        table.add_row(
            c.name,
            Text(c.state, style=style),
            Text(c.health or "-", style=style),
            _n(c.cpu_percent, 1),
            _n(c.memory_mib, 0),
        )
    return table


def render(snapshot: Snapshot, history: History, width: int) -> RenderableType:
    wide = width >= WIDE
    slots = assign_slots(snapshot, SlotBook())  # one distinct colour per live node
    header = Text(f"mafa watch · {snapshot.project} · ", style="bold")
    header.append(snapshot.taken_at.strftime("%H:%M:%S"))
    for fault in snapshot.faults:
        at, _, what = fault.partition(" ")
        header.append(f"\nfault  {at[11:19]} {what}", style="magenta")
    parts: list[RenderableType] = [
        header,
        ledger_text(snapshot.ledger),
        queue_lines(snapshot, history, width),
        receivers_table(snapshot, wide, slots),
        senders_table(snapshot, wide, slots),
    ]
    if snapshot.hosts:
        parts.append(hosts_table(snapshot, wide))
    parts += [sessions_and_load(snapshot, history, width)]
    if wide:
        parts.append(containers_table(snapshot))
    return Group(*parts)


def plain_line(snapshot: Snapshot) -> str:
    """One line per refresh where there is no terminal to redraw (logs, CI)."""
    q = snapshot.queue
    ledger = snapshot.ledger
    handled = sum(r.handled for r in snapshot.receivers)
    lost = "-" if ledger is None or ledger.lost is None else str(ledger.lost)
    return (
        f"{snapshot.taken_at:%H:%M:%S} queue {q.ready}+{q.unacked} dead {q.dead_letters} "
        f"pub {q.publish_rate:.1f}/s del {q.deliver_rate:.1f}/s redel {q.redeliver_rate:.1f}/s "
        f"handled {handled} sessions {snapshot.active_sessions} lost {lost}"
        + (f" stale {','.join(sorted(snapshot.stale))}" if snapshot.stale else "")
    )
