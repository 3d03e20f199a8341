"""The interactive screen at the sizes people use, with the demo's worst case (32 receivers,
8 fault lines): exactly the terminal's lines, none wider than it, panels left out whole and
saying so, by the rule in watch/layout.py."""

import math
import re
from dataclasses import replace
from datetime import timedelta

import pytest
from rich.console import Console

from mafa_cli.watch.layout import ViewState, good_reads, host_labels, in_transit, screen
from mafa_cli.watch.snapshot import History, LiveBalance, QueueFigures, Snapshot
from tests.unit.watch.fakes import NOW, stack_snapshot, swarm_snapshot


def history() -> History:
    kept = History()
    for second in range(0, 300, 2):
        queue = QueueFigures(
            ready=int(50 + 40 * math.sin(second / 30)), publish_rate=40.0, redeliver_rate=8.0
        )
        kept.add(Snapshot("demo", NOW - timedelta(seconds=300 - second), queue=queue))
    return kept


def shown(width: int, height: int, state: ViewState | None = None, **stack: int) -> list[str]:
    """The screen as a terminal of that size shows it (rich wraps whatever is too wide)."""
    snap = stack_snapshot(**{"receivers": 30, "gone": 2, "faults": 8, "senders": 3, **stack})
    lines = screen(snap, history(), state or ViewState(), width, height)
    console = Console(width=width, height=height, force_terminal=True, color_system=None)
    with console.capture() as capture:
        for line in lines:
            console.print(line)
    return capture.get().splitlines()


def panel_rows(text: list[str], title: str) -> tuple[int, int]:
    """(rows shown, rows said to be left out) of the node panel called `title`."""
    start = next(i for i, line in enumerate(text) if re.search(rf"(^|│){title} · ", line))
    cells = [line.split("│")[-1] for line in text[start + 2 :]]
    rows = 0
    for cell in cells:
        if not re.match(r"^[ ▶](receiver|sender)-", cell):
            more = re.match(r"^\s+\+(\d+) more", cell)
            return rows, int(more.group(1)) if more else 0
        rows += 1
    return rows, 0


@pytest.mark.parametrize(("width", "height"), [(80, 24), (120, 40), (160, 50)])
def test_fits_exactly_with_32_receivers_and_8_faults(width: int, height: int) -> None:
    text = shown(width, height)
    assert len(text) == height, "a line wrapped, or lines are missing"
    assert all(len(line) <= width for line in text)
    assert text[0].startswith("mafa watch · demo")
    assert text[1].startswith("lost ? (moving)")
    assert text[-2].startswith("q quit  ? help")
    assert text[-1].startswith("every 1s")
    rows, more = panel_rows(text, "receivers")
    assert rows >= 3
    assert rows + more == 32
    sender_rows, sender_more = panel_rows(text, "senders")
    assert sender_rows >= 2
    assert sender_rows + sender_more == 3
    events = next(line for line in text if re.search(r"(^|│)events", line))
    earlier = re.search(r"\+(\d+) earlier", events)
    fault_lines = sum(1 for line in text if re.match(r"^\d\d:\d\d:\d\d kill ", line))
    assert fault_lines >= 2
    assert fault_lines + (int(earlier.group(1)) if earlier else 0) == 8
    # A chart is whole or absent: each title has its time axis.
    assert sum("(messages" in line for line in text) == sum("└" in line for line in text)


def test_what_goes_first_at_80x24_and_what_stays_at_160x50() -> None:
    small, large = "\n".join(shown(80, 24)), "\n".join(shown(160, 50))
    assert "containers" not in small
    assert "queue depth" not in small
    assert "queue depth (messages, 5 min)" in large
    assert "rates (messages/s, 5 min) publish deliver redeliver" in large
    assert "containers" in large
    assert "(not yet seen by broker or db)" in large  # in transit says what it counts


def test_grid_from_120_columns_stacked_below() -> None:
    assert all("│" not in line[:6] for line in shown(119, 40)[2:-2])
    grid = shown(120, 40)[2:-2]
    assert all(line[54] == "│" for line in grid), "one column boundary down the body"


def test_gone_nodes_are_dimmed_and_marked() -> None:
    text = shown(120, 40, receivers=3, gone=2)
    gone = [line for line in text if "gone" in line and "receiver-" in line]
    assert len(gone) == 2
    assert all("†" in line for line in gone)
    assert "3 live · 2 gone" in "\n".join(text)


def test_selection_scrolls_the_rows_and_filter_narrows_them() -> None:
    text = shown(80, 24, ViewState(selected="receiver-001ebeef"))
    assert any(line.startswith("▶receiver-001ebeef") for line in text)
    filtered = shown(80, 24, ViewState(filter="001"))
    rows, more = panel_rows(filtered, "receivers")
    assert rows + more == 17  # 0001 and 0010..001f
    assert all("001" in line for line in filtered if line.startswith(" receiver-"))
    assert "filter '001'" in "\n".join(filtered)


def test_in_transit_is_never_negative() -> None:
    # Counted by the broker (queued) and the database (processed) in the same refresh.
    assert in_transit(LiveBalance(100, 95, 16, 0, 0, at_rest=False)) == 0
    assert in_transit(LiveBalance(100, 90, 5, 3, 0, at_rest=False)) == 2


@pytest.mark.parametrize(("width", "height"), [(40, 10), (60, 15), (100, 30), (220, 70)])
@pytest.mark.parametrize("receivers", [0, 1, 32])
def test_any_size_any_stack_gives_the_terminals_lines(
    width: int, height: int, receivers: int
) -> None:
    snap = stack_snapshot(receivers=receivers, senders=1)
    for ledger in (snap.ledger, None):
        lines = screen(
            Snapshot(**{**snap.__dict__, "ledger": ledger}), History(), ViewState(), width, height
        )
        assert len(lines) == height
        assert all(line.cell_len <= width for line in lines)


def test_footer_gives_each_sources_age_and_marks_the_stale_ones() -> None:
    first = stack_snapshot()
    reads = good_reads({}, first)
    later = Snapshot(
        **{
            **first.__dict__,
            "taken_at": NOW + timedelta(seconds=7),
            "stale": {"queue": "ConnectionError: rabbitmq is not running"},
        }
    )
    reads = good_reads(reads, later)
    assert reads["queue"] == NOW  # its last good read
    assert reads["database"] == NOW + timedelta(seconds=7)
    shown_later = Snapshot(**{**later.__dict__, "read_at": reads})
    footer = screen(shown_later, History(), ViewState(), 80, 24)[-1].plain
    assert footer == "every 1s · queue 7s · db 0s · redis 0s · docker 0s · haproxy 0s · load 0s"


def test_an_action_recorded_in_the_stream_shows_once_and_its_row_is_marked() -> None:
    """The dashboard keeps its own actions and reads them back from the event stream: one line
    each. A receiver killed from here and running again carries ✗."""
    from mafa_cli.watch.actions import Event
    from mafa_cli.watch.layout import event_lines
    from mafa_cli.watch.palette import SlotBook

    kill = Event(NOW + timedelta(microseconds=300), "kill", "receiver-0001beef", "SIGKILL")
    recorded = f"{NOW.isoformat()} kill receiver-0001beef SIGKILL"
    snapshot = stack_snapshot(receivers=3)
    snapshot = Snapshot(**{**snapshot.__dict__, "faults": (recorded,)})
    state = ViewState(events=(kill,))
    lines = [line.plain for line in event_lines(snapshot, state, 80, 5)]
    assert lines == ["events", "12:00:00 kill receiver-0001beef SIGKILL"]
    text = [line.plain for line in screen(snapshot, History(), state, 120, 40, SlotBook())]
    assert any(re.search(r"receiver-0001beef\s*✗", line) for line in text)


def swarm_shown(width: int, height: int, drained: bool = False) -> list[str]:
    lines = screen(swarm_snapshot(drained=drained), history(), ViewState(), width, height)
    console = Console(width=width, height=height, force_terminal=True, color_system=None)
    with console.capture() as capture:
        for line in lines:
            console.print(line)
    return capture.get().splitlines()


@pytest.mark.parametrize(("width", "height"), [(80, 24), (120, 40), (160, 50)])
def test_on_a_swarm_it_fits_with_3_hosts_32_receivers_and_8_faults(width: int, height: int) -> None:
    text = swarm_shown(width, height)
    assert len(text) == height, "a line wrapped, or lines are missing"
    assert all(len(line) <= width for line in text)
    rows, more = panel_rows(text, "receivers")
    assert rows >= 3
    assert rows + more == 32
    summary = [line for line in text if re.search(r"(^|│)hosts · ", line)]
    assert len(summary) == 1
    assert "hosts · 3/3 up" in summary[0]
    # Every row shown names its host: the nodes' names less their shared start.
    node_rows = [
        cell
        for cell in (line.split("│")[-1] for line in text)
        if re.match(r"^[ ▶](rec|send)", cell)
    ]
    assert len(node_rows) == rows + 3
    assert all(re.match(r"^[ ▶]\S+ +[123] ", cell) for cell in node_rows), node_rows
    host_rows = [
        line for line in text if re.search(r"mafa-engine-sb571ac-\d +(leader|worker)", line)
    ]
    # At 80x24 the hosts' rows go (after the charts, before receiver rows beyond three); from
    # 120x40 all three show, beside their tasks.
    assert len(host_rows) == (0 if width == 80 else 3)


def test_a_drained_host_is_named_in_the_summary_and_its_row_marked() -> None:
    text = "\n".join(swarm_shown(120, 40, drained=True))
    assert "hosts · 3/3 up · mafa-engine-sb571ac-3 drain" in text
    assert re.search(r"mafa-engine-sb571ac-3 +worker +ready +drain +0", text)
    assert re.search(r"mafa-engine-sb571ac-1 +leader +ready +active +22", text)


def test_a_host_down_is_counted_and_named() -> None:
    snap = swarm_snapshot()
    down = replace(snap.hosts[1], state="down")
    snap = replace(snap, hosts=(snap.hosts[0], down, snap.hosts[2]))
    summary = screen(snap, history(), ViewState(), 80, 24)
    text = "\n".join(line.plain for line in summary)
    assert "hosts · 2/3 up · mafa-engine-sb571ac-2 worker down" in text


def test_one_engine_has_no_host_column_and_no_hosts_panel() -> None:
    text = "\n".join(shown(160, 50))
    assert "host" not in text


@pytest.mark.parametrize(
    ("names", "labels"),
    [
        (["mafa-engine-sb571ac-1", "mafa-engine-sb571ac-2"], ["1", "2"]),
        (["node-a.lan", "node-b.lan"], ["a.lan", "b.lan"]),
        (["alpha", "beta"], ["alpha", "beta"]),
        (["one-host"], ["one-host"]),
        (["swarm-1", "swarm-very-long-name-2"], ["1", "very-long-n…"]),
    ],
)
def test_host_labels_drop_the_start_all_names_share(names: list[str], labels: list[str]) -> None:
    assert [host_labels(names)[name] for name in names] == labels


def test_the_containers_panel_lists_every_container_when_they_fit() -> None:
    lines = [
        line.plain.split("│")[-1]
        for line in screen(stack_snapshot(), History(), ViewState(), 120, 40)
    ]
    start = lines.index(next(line for line in lines if line.startswith("containers")))
    listed = [line for line in lines[start + 1 :] if line.startswith("demo-")]
    assert len(listed) == 5
    assert not any("more" in line for line in lines[start:])


def test_a_hosts_newest_event_shows_on_its_row_where_there_is_room() -> None:
    snap = swarm_snapshot(drained=True)
    drained = "2026-11-29T11:58:30+00:00 node drain mafa-engine-sb571ac-3"  # as chaos has it
    other = "2026-11-29T11:59:00+00:00 kill receiver-0001beef"
    snap = replace(snap, faults=(*snap.faults, drained, other))
    text = [line.plain for line in screen(snap, history(), ViewState(), 160, 50)]
    row = next(line for line in text if line.startswith("mafa-engine-sb571ac-3"))
    assert row.split("│")[0].rstrip().endswith("11:58 node drain")
    others = [line for line in text if re.match(r"mafa-engine-sb571ac-[12] ", line)]
    assert len(others) == 2
    assert all("drain" not in line.split("│")[0] for line in others)
