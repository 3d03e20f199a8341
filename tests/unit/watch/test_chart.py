"""The braille line chart: a round scale printed beside the plot, points placed by their age."""

import pytest

from mafa_cli.watch.chart import BRAILLE, line_chart, nice_top, short_number


@pytest.mark.parametrize(
    ("value", "top"),
    [(0, 1), (0.3, 1), (1, 1), (1.01, 2), (3, 5), (7, 10), (12, 20), (4900, 5000), (5001, 10000)],
)
def test_nice_top(value: float, top: float) -> None:
    assert nice_top(value) == top


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (0.5, "0.5"), (12, "12"), (950, "950"), (1500, "1.5k"), (20000, "20k"), (3e6, "3M")],
)
def test_short_number(value: float, text: str) -> None:
    assert short_number(value) == text


def test_every_line_is_the_width_asked_and_the_scale_is_printed() -> None:
    chart = line_chart([[(0, 7.0), (60, 2.0)]], width=40, height=6, window_s=120)
    assert len(chart.lines) == 6
    assert all(len(line) == 40 for line in chart.lines)
    assert chart.top == 10
    assert chart.lines[0].startswith("   10┤")
    assert chart.lines[-2].startswith("    0┤")
    assert chart.lines[-1].rstrip().endswith("now")
    assert "-1m" in chart.lines[-1]


def test_series_share_one_scale() -> None:
    """0.2/s beside 5/s stays near the bottom: no series is scaled to its own maximum."""
    chart = line_chart([[(0, 5.0), (1, 5.0)], [(0, 0.2), (1, 0.2)]], 20, 6, 60)
    assert chart.top == 5
    top_row_owners = set(chart.owners[0])
    bottom_row_owners = set(chart.owners[-2])
    assert 0 in top_row_owners
    assert 1 not in top_row_owners
    assert 1 in bottom_row_owners


def test_a_point_sits_where_its_age_puts_it() -> None:
    """Half the window ago lands in the middle of the plot; nothing is drawn before it."""
    chart = line_chart([[(30.0, 1.0)]], width=6 + 20, height=3, window_s=60)
    plot = chart.lines[0][6:]
    drawn = [i for i, char in enumerate(plot) if char != " "]
    assert drawn == [10]
    assert ord(plot[10]) > BRAILLE


def test_negative_values_draw_as_zero_and_old_points_are_left_out() -> None:
    chart = line_chart([[(0, -4.0), (500, 99.0)]], 20, 4, 60)
    assert chart.top == 1  # the 99 is older than the window
    assert all(char == " " for char in chart.lines[0][6:])


def test_empty_chart_still_has_axes() -> None:
    chart = line_chart([], 30, 4, 300)
    assert chart.lines[0].startswith("    1┤")
    assert chart.lines[-1].startswith("     └")
