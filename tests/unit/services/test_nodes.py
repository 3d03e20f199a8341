"""Node colours: stable per name, spread over the palette, in step with the CSS classes."""

from pathlib import Path

from mafa_cli.services import nodes


def test_colour_is_a_function_of_the_name() -> None:
    assert nodes.colour_of("sender-12b32c39") == nodes.colour_of("sender-12b32c39")


def test_colours_spread_over_the_palette() -> None:
    used = {nodes.colour_index(f"receiver-{i:08x}") for i in range(200)}
    assert used == set(range(len(nodes.PALETTE)))


def test_css_classes_match_the_palette() -> None:
    css = (Path(nodes.__file__).parent / "static" / "mafa.css").read_text()
    for index, colour in enumerate(nodes.PALETTE):
        assert f".node-{index} {{ background-color: {colour} !important; }}" in css
