"""Node colours on the pages: the slot's palette entry, the name's while it holds none, and CSS
classes in step with the palette, each with its readable text colour."""

import re
from pathlib import Path

from mafa_cli.services import nodes
from mafa_cli.services.palette import PALETTE, fallback_slot, text_colour


def test_a_node_with_a_slot_shows_the_slots_colour() -> None:
    assert nodes.colour_class("sender-12b32c39", 7) == "node-7"


def test_a_node_without_a_slot_shows_its_names_colour() -> None:
    name = "sender-12b32c39"
    assert nodes.colour_class(name, None) == f"node-{fallback_slot(name)}"


def test_css_classes_match_the_palette() -> None:
    css = (Path(nodes.__file__).parent / "static" / "mafa.css").read_text()
    classes = re.findall(r"\.node-(\d+) \{ background-color: (#\w+) !important; color: (#\w+)", css)
    assert [(int(i), bg, fg) for i, bg, fg in classes] == [
        (i, colour, text_colour(colour)) for i, colour in enumerate(PALETTE)
    ]


def _contrast(a: str, b: str) -> float:
    def luminance(colour: str) -> float:
        def linear(c: float) -> float:
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

        r, g, b = (linear(int(colour[i : i + 2], 16) / 255) for i in (1, 3, 5))
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_text_on_every_colour_is_readable() -> None:
    """WCAG AA for normal text (4.5:1) on every one of the 32 backgrounds."""
    worst = min(_contrast(colour, text_colour(colour)) for colour in PALETTE)
    assert worst >= 4.5
