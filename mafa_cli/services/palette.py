"""One colour per node, the same on the pages, the dashboard and the report: 32 colours, told apart
by a slot number rather than guessed from the node's name. Shared by the services (the pages) and
the CLI (dashboard, report, status), so it imports nothing.

Why slots: a colour derived from a name (a hash modulo the palette) gives two nodes the same colour
as soon as there are a few of them (birthday odds: 2 of 4 senders share one of ten colours a third
of the time). A node that holds slot i gets PALETTE[i]; slots are unique among live nodes, so up to
32 live nodes never share a colour. Each node claims the lowest free slot itself
(services/slots.py: a key in Redis kept by a heartbeat) and stores it on its row, where the pages,
the dashboard and the report read it; the dashboard's `SlotBook` (watch/palette.py) hands slots
out only to nodes that have none (yet).

The palette: the ten colours the pages already use (less their grey, which reads as "gone"), then
22 more picked by farthest-point search in CIELAB among colours of lightness 42..72 and chroma
at least 30 (legible on a dark terminal and under white text). Smallest distance between any two:
Delta E 25 (the original ten: 27.7). Text on each colour is black or white, whichever contrasts more
(`text_colour`), as in the pages' CSS classes node-0 .. node-31.
"""

from __future__ import annotations

import hashlib

PALETTE: tuple[str, ...] = (
    "#d62728",
    "#1f77b4",
    "#2ca02c",
    "#9467bd",
    "#e377c2",
    "#8c564b",
    "#17becf",
    "#ff7f0e",
    "#bcbd22",
    "#9600ff",
    "#ff1ee1",
    "#005af0",
    "#87965a",
    "#ff0078",
    "#966900",
    "#ff8787",
    "#00b487",
    "#c369ff",
    "#c30087",
    "#d29669",
    "#0f7869",
    "#6996ff",
    "#b43c5a",
    "#e1a500",
    "#ff0000",
    "#b4a5e1",
    "#698700",
    "#00c300",
    "#b44b00",
    "#1e783c",
    "#e196b4",
    "#b41eb4",
)


def colour_for_slot(slot: int) -> str:
    """The colour of the node holding `slot` (slots past 32 wrap around)."""
    return PALETTE[slot % len(PALETTE)]


def fallback_slot(node: str) -> int:
    """A slot from the name alone, for a node nobody has given one: stable, but not distinct."""
    return hashlib.sha256(node.encode("utf-8")).digest()[0] % len(PALETTE)


def slot_or_fallback(node: str, slot: int | None) -> int:
    """The node's claimed slot, or the one from its name while it has none (Redis down, say)."""
    return fallback_slot(node) if slot is None else slot % len(PALETTE)


def node_colour(node: str, slot: int | None = None) -> str:
    """The node's colour: its slot's, or its name's while it holds none."""
    return PALETTE[slot_or_fallback(node, slot)]


def text_colour(background: str) -> str:
    """Black or white, whichever has the higher WCAG contrast on `background` ("#rrggbb")."""

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(int(background[i : i + 2], 16) / 255) for i in (1, 3, 5))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    # Contrast with white: 1.05 / (L + 0.05); with black: (L + 0.05) / 0.05.
    return "#000000" if (luminance + 0.05) / 0.05 > 1.05 / (luminance + 0.05) else "#ffffff"
