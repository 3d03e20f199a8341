"""The dashboard's side of the node colours: the palette itself is shared with the pages
(services/palette.py, re-exported here); `SlotBook` gives a slot to a node that has not claimed
one (yet), never one that a shown node holds."""

from __future__ import annotations

from mafa_cli.services.palette import PALETTE, colour_for_slot, fallback_slot, text_colour

__all__ = ["PALETTE", "SlotBook", "colour_for_slot", "fallback_slot", "text_colour"]


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
