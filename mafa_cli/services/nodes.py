"""Node identity on the pages: every node shows its name in its colour, the palette entry of the
slot it claimed (slots.py), the same colour `mafa watch` and the report give it."""

from __future__ import annotations

from mafa_cli.services.palette import slot_or_fallback


def colour_class(node: str, slot: int | None) -> str:
    """The CSS class of the node's colour (node-0 .. node-31 in static/mafa.css)."""
    return f"node-{slot_or_fallback(node, slot)}"
