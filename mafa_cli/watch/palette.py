"""One colour per node, the same on the dashboard, in the report and (once the pages use it) on the
pages: 32 colours, told apart by a slot number rather than guessed from the node's name.

Why slots: a colour derived from a name (a hash modulo the palette) gives two nodes the same colour
as soon as there are a few of them (birthday odds: 2 of 4 senders share one of ten colours a third
of the time). A node that holds slot i gets PALETTE[i]; slots are unique among live nodes, so up to
32 live nodes never share a colour. Where the slot comes from is outside this module: the
dashboard's `SlotBook` hands them out in order of first sight until nodes claim their own (the
proposal in the issue 17 report: the lowest free `SET NX` key in Redis, kept by the node's
heartbeat and stored with its row so the report knows it after the fact).

The palette: the ten colours the pages already use (less their grey, which reads as "gone"), then
22 more picked by farthest-point search in CIELAB among colours of lightness 42..72 and chroma
at least 30 (legible on a dark terminal and under white text). Smallest distance between any two:
Delta E 25 (the original ten: 27.7). This module imports nothing so it can move, as it is, to
services/ where the pages can import it too.
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


class SlotBook:
    """Slots handed out in order of first sight, the lowest free one each time, kept while the
    node is shown (gone nodes included: their rows stay, dimmed) and freed by `forget`."""

    def __init__(self) -> None:
        self._slots: dict[str, int] = {}

    def slot(self, node: str, claimed: int | None = None) -> int:
        if claimed is not None:  # the node's own claim wins over ours
            self._slots[node] = claimed
            return claimed
        if node not in self._slots:
            taken = set(self._slots.values())
            self._slots[node] = next(i for i in range(len(taken) + 1) if i not in taken)
        return self._slots[node]

    def colour(self, node: str, claimed: int | None = None) -> str:
        return colour_for_slot(self.slot(node, claimed))

    def forget(self, keep: set[str]) -> None:
        """Free the slots of every node not in `keep`."""
        self._slots = {n: s for n, s in self._slots.items() if n in keep}
