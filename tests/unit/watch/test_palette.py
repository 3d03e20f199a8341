"""The node colours: 32 that a reader tells apart, one per live node, stable while it lives."""

import itertools
import math

from mafa_cli.watch.layout import assign_slots
from mafa_cli.watch.palette import PALETTE, SlotBook, colour_for_slot, fallback_slot
from tests.unit.watch.fakes import stack_snapshot


def _lab(colour: str) -> tuple[float, float, float]:
    """CIELAB of an sRGB hex colour (D65), to measure how far apart two colours look."""
    r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = linear(r), linear(g), linear(b)
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def test_32_colours_all_clearly_apart() -> None:
    assert len(PALETTE) == 32
    closest = min(math.dist(_lab(a), _lab(b)) for a, b in itertools.combinations(PALETTE, 2))
    assert closest > 25  # Delta E: 2.3 is "just noticeable", 25 is plainly another colour


def test_no_grey_that_would_read_as_a_gone_node() -> None:
    for colour in PALETTE:
        _, a, b = _lab(colour)
        assert math.hypot(a, b) >= 25, colour  # the brown of the first ten: 26


def test_slots_are_distinct_for_32_nodes_and_stable() -> None:
    book = SlotBook()
    nodes = [f"receiver-{i}" for i in range(32)]
    colours = [book.colour(n) for n in nodes]
    assert len(set(colours)) == 32
    assert [book.colour(n) for n in reversed(nodes)] == colours[::-1]  # same node, same colour


def test_a_freed_slot_is_reused_and_a_claim_wins() -> None:
    book = SlotBook()
    for name in ("a", "b", "c"):
        book.slot(name)
    book.forget(keep={"a", "c"})
    assert book.slot("d") == 1  # b's slot, the lowest free one
    assert book.slot("e", claimed=7) == 7
    assert colour_for_slot(32 + 3) == PALETTE[3]


def test_fallback_slot_is_stable() -> None:
    assert fallback_slot("sender-1") == fallback_slot("sender-1")
    assert 0 <= fallback_slot("x") < 32


def test_gone_nodes_free_their_slots_for_new_ones() -> None:
    book = assign_slots(stack_snapshot(receivers=3, senders=1), SlotBook())
    assert [book.slot(f"receiver-{i:04x}beef") for i in range(3)] == [0, 1, 2]
    assert book.slot("sender-0000cafe") == 3
    after = stack_snapshot(receivers=1, gone=0, senders=1)  # receivers 1 and 2 went
    book = assign_slots(after, book)
    assert book.slot("sender-0000cafe") == 3  # a live node keeps its colour
    assert book.slot("receiver-0000beef") == 0
    assert book.slot("receiver-new") == 1  # the lowest slot freed
