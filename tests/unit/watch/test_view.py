"""The dashboard rendered into fixed-width consoles, as rich's own tests do: numbers in the right
rows, stale panels marked, narrow terminals losing panels rather than numbers."""

from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console
from rich.text import Text

from mafa_cli.watch.snapshot import (
    ContainerRow,
    History,
    LiveBalance,
    LoadFigures,
    QueueFigures,
    ReceiverRow,
    SenderRow,
    Snapshot,
    sparkline,
)
from mafa_cli.watch.view import plain_line, receivers_table, render

NOW = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)


def snapshot(**changes: object) -> Snapshot:
    base = Snapshot(
        project="demo",
        taken_at=NOW,
        queue=QueueFigures(
            ready=12,
            unacked=3,
            consumers=6,
            dead_letters=2,
            publish_rate=41.5,
            deliver_rate=38.25,
            ack_rate=30.0,
            redeliver_rate=8.5,
        ),
        receivers=(
            ReceiverRow(
                "receiver-aaaa1111",
                "demo-receiver-1",
                1234,
                56,
                1,
                61,
                40,
                0,
                2,
                2512.4,
                4870.0,
                NOW - timedelta(seconds=3),
            ),
            ReceiverRow(
                "receiver-bbbb2222",
                "demo-receiver-2",
                987,
                44,
                0,
                50,
                33,
                1,
                1,
                2488.0,
                4790.0,
                NOW - timedelta(seconds=1),
            ),
        ),
        senders=(
            SenderRow("sender-cccc3333", "demo-sender-1", 1120, 2301, 0),
            SenderRow("sender-dddd4444", "demo-sender-2", 1103, 2298, 3),
        ),
        active_sessions=17,
        ledger=LiveBalance(
            accepted=2223, processed=2221, in_queue=0, in_flight=0, parked=2, at_rest=True
        ),
        containers=(
            ContainerRow("demo-sender-1", "sender", "running", "healthy", 12.5, 61.0),
            ContainerRow("demo-sender-2", "sender", "running", "healthy", 11.0, 60.0),
            ContainerRow("demo-receiver-1", "receiver", "running", "healthy", 30.0, 70.0),
            ContainerRow("demo-receiver-2", "receiver", "exited", None, None, None),
        ),
        load=LoadFigures("run-1", 20, 55.2, 3, 4000, 120.0),
    )
    return Snapshot(**{**base.__dict__, **changes})


def text_of(snap: Snapshot, width: int) -> str:
    console = Console(width=width, force_terminal=True, color_system=None, record=True)
    history = History()
    for depth in (0, 5, 10, 15):
        history.add(Snapshot(**{**snap.__dict__, "queue": QueueFigures(ready=depth)}))
    console.print(render(snap, history, width))
    return console.export_text()


def row(text: str, starts: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.strip().startswith(starts))
    return line.split()


def test_numbers_land_in_their_rows() -> None:
    text = text_of(snapshot(), 120)
    assert row(text, "receiver-aaaa1111") == [
        "receiver-aaaa1111",
        "demo-receiver-1",
        "1,234",
        "57",
        "61",
        "40",
        "2",
        "2,512",
        "4,870",
        "3s",
    ]
    assert row(text, "sender-dddd4444") == [
        "sender-dddd4444",
        "demo-sender-2",
        "1,103",
        "2,298",
        "3",
    ]
    assert "queue   ready 12 · unacked 3 · total 15 · consumers 6 · dead letters 2" in text
    assert "rates   publish 41.5/s · deliver 38.2/s · ack 30.0/s · redeliver 8.5/s" in text
    assert "sessions 17 active" in text
    assert "run-1 · 20 users · 55.2 req/s · 3/4,000 failed · p95 120 ms" in text
    assert "lost 0" in text
    assert row(text, "demo-receiver-2")[:2] == ["demo-receiver-2", "exited"]


def test_lost_is_only_claimed_at_rest() -> None:
    moving = snapshot(ledger=LiveBalance(100, 90, 5, 3, 0, at_rest=False))
    text = text_of(moving, 120)
    assert "lost: checked at rest (+2 in transit)" in text
    lost = snapshot(ledger=LiveBalance(100, 90, 0, 0, 0, at_rest=True))
    assert "LOST 10" in text_of(lost, 120)
    assert lost.to_json()["ledger"]["lost"] == 10
    assert moving.to_json()["ledger"]["lost"] is None


def test_stale_panels_say_why() -> None:
    text = text_of(snapshot(stale={"queue": "ConnectionError: rabbitmq is not running"}), 120)
    assert "queue   ready 12" in text, "the last good figures stay"
    assert "STALE: ConnectionError: rabbitmq is not running" in text
    assert "receivers" in text  # the rest still renders


@pytest.mark.parametrize("width", [80, 100])
def test_narrow_terminals_drop_panels_not_numbers(width: int) -> None:
    text = text_of(snapshot(), width)
    assert all(len(line) <= width for line in text.splitlines())
    assert "containers" not in text.lower().split("mafa watch")[1]
    assert "demo-receiver-1" not in text  # the container-name column went
    assert row(text, "receiver-aaaa1111") == [
        "receiver-aaaa1111",
        "1,234",
        "57",
        "61",
        "40",
        "2",
        "2,512",
        "4,870",
        "3s",
    ]
    assert row(text, "sender-cccc3333") == ["sender-cccc3333", "1,120", "2,301", "0"]


def test_json_has_what_scripts_need() -> None:
    data = snapshot().to_json()
    assert data["redeliveries"] == 111
    assert data["queue"]["total"] == 15
    assert data["receivers"][0]["last_seen"] == (NOW - timedelta(seconds=3)).isoformat()
    assert data["ledger"]["unaccounted"] == 0


def test_plain_line() -> None:
    line = plain_line(snapshot(stale={"balancer": "x"}))
    assert line.startswith("12:00:00 queue 12+3 dead 2 pub 41.5/s")
    assert line.endswith("handled 2221 sessions 17 lost 0 stale balancer")


def test_sparkline() -> None:
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7], 8) == "▁▂▃▄▅▆▇█"
    assert sparkline([5, 5], 10) == "██"
    assert sparkline([0, 0, 0], 2) == "▁▁"
    assert sparkline([], 5) == ""


def test_gone_nodes_are_marked_and_in_transit_is_never_negative() -> None:
    text = text_of(snapshot(ledger=LiveBalance(100, 95, 16, 0, 0, at_rest=False)), 120)
    assert row(text, "receiver-bbbb2222†")[1] == "demo-receiver-2"  # its container exited
    assert row(text, "receiver-aaaa1111")[0] == "receiver-aaaa1111"
    assert "(+0 in transit)" in text  # counted by broker and database at once: not -11


def test_every_node_gets_its_own_colour() -> None:
    rows = tuple(
        ReceiverRow(f"receiver-{i}", f"demo-receiver-{i}", 0, 0, 0, 0, 0, 0, 0, None, None, None)
        for i in range(32)
    )
    table = receivers_table(snapshot(receivers=rows, containers=()), wide=False)
    styles = [cell.style for cell in table.columns[0].cells if isinstance(cell, Text)]
    assert len(styles) == 32
    assert len(set(styles)) == 32


@pytest.mark.parametrize("width", [80, 120])
def test_on_a_swarm_rows_show_their_host_and_the_hosts_table_their_tasks(width: int) -> None:
    from tests.unit.watch.fakes import swarm_snapshot

    text = text_of(swarm_snapshot(receivers=6, faults=0, drained=True), width)
    assert all(len(line) <= width for line in text.splitlines())
    assert row(text, "receiver-0001beef")[:2] == ["receiver-0001beef", "2"]
    assert row(text, "sender-0002cafe")[:2] == ["sender-0002cafe", "1"]
    assert "hosts · 3/3 up · mafa-engine-sb571ac-3 drain" in text
    assert row(text, "mafa-engine-sb571ac-1")[:6] == [
        "mafa-engine-sb571ac-1",
        "1",
        "leader",
        "ready",
        "active",
        "9",
    ]
    assert row(text, "mafa-engine-sb571ac-3")[:6] == [
        "mafa-engine-sb571ac-3",
        "3",
        "worker",
        "ready",
        "drain",
        "0",
    ]
    if width >= 110:  # by service, where there is room
        assert "haproxy 1 postgres 1 rabbitmq 1 receiver 3 redis 1 sender 2" in text


def test_a_hosts_newest_event_shows_in_the_hosts_table() -> None:
    from tests.unit.watch.fakes import swarm_snapshot

    snap = swarm_snapshot(receivers=3, faults=0, drained=True)
    fault = "2026-11-29T11:58:30+00:00 node drain mafa-engine-sb571ac-3"
    text = text_of(Snapshot(**{**snap.__dict__, "faults": (fault,)}), 120)
    assert row(text, "mafa-engine-sb571ac-3")[5:9] == ["0", "11:58", "node", "drain"]
    assert row(text, "mafa-engine-sb571ac-2")[5:] == ["2", "receiver", "1", "sender", "1"]


def test_one_engine_shows_no_host() -> None:
    text = text_of(snapshot(), 120)
    assert "host" not in text
