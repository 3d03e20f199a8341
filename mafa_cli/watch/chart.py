"""Line charts in braille dots with a value axis, a time axis and a unit: pure text, no I/O.

Why not sparklines: a sparkline is scaled to its own maximum and carries no number, so 0.2/s of
redeliveries drew as tall as 5/s of publishes. Here every series of one chart shares one scale,
whose top is a round number (1, 2 or 5 times a power of ten) printed beside the plot, and the
horizontal axis is time: a point sits where its age puts it, so a paused or slow refresh shows as
a gap rather than squeezing the minutes together.

Each character cell holds 2 x 4 braille dots, so a 40-column plot draws 80 time steps.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

BRAILLE = 0x2800
# Bit of each dot in a braille cell, by [column][row from the top].
DOT_BITS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
LABEL_WIDTH = 6  # "12.5k" and the axis mark

Point = tuple[float, float]  # (age in seconds, 0 = now; value)


@dataclass(frozen=True)
class Chart:
    """`lines[i]` is exactly `width` characters; `owners[i][j]` is the index of the series that
    drew cell j of line i (the last one drawn wins), None for the axes and empty cells."""

    lines: tuple[str, ...]
    owners: tuple[tuple[int | None, ...], ...]
    top: float


def nice_top(value: float, floor: float = 1.0) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above `value` (and `floor`)."""
    value = max(value, floor)
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power * (1 + 1e-9):
            return float(step * power)
    return float(10 * power)  # not reached: step 10 always fits


def short_number(value: float) -> str:
    """At most five characters: 0.5, 12, 950, 1.5k, 20k, 3M."""
    for limit, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= limit:
            scaled = value / limit
            return (
                f"{scaled:.1f}".rstrip("0").rstrip(".") + suffix
                if scaled < 10
                else (f"{scaled:.0f}{suffix}")
            )
    if value == int(value):
        return f"{value:.0f}"
    return f"{value:.1f}"


def short_age(seconds: float) -> str:
    return f"-{seconds / 60:g}m" if seconds >= 60 else f"-{seconds:g}s"


def line_chart(
    series: Sequence[Sequence[Point]],
    width: int,
    height: int,
    window_s: float,
    top: float | None = None,
) -> Chart:
    """Plot `series` over the last `window_s` seconds in `width` x `height` characters: the plot
    takes height - 1 lines, the time axis the last one; values below zero count as zero."""
    plot_w, plot_h = max(1, width - LABEL_WIDTH), max(1, height - 1)
    dots_w, dots_h = plot_w * 2, plot_h * 4
    visible = [[(a, max(0.0, v)) for a, v in s if 0 <= a <= window_s] for s in series]
    highest = max((v for s in visible for _, v in s), default=0.0)
    top = nice_top(highest) if top is None else top
    cells = [[0] * plot_w for _ in range(plot_h)]
    owners: list[list[int | None]] = [[None] * plot_w for _ in range(plot_h)]

    def dot(x: int, y: int, owner: int) -> None:
        row, col = (dots_h - 1 - y) // 4, x // 2
        cells[row][col] |= DOT_BITS[x % 2][(dots_h - 1 - y) % 4]
        owners[row][col] = owner

    for index, points in enumerate(visible):
        placed = sorted(
            (
                round((window_s - age) / window_s * (dots_w - 1)),
                round(min(value, top) / top * (dots_h - 1)),
            )
            for age, value in points
        )
        for (x0, y0), (x1, y1) in itertools.pairwise(placed):
            steps = max(abs(x1 - x0), abs(y1 - y0), 1)
            for step in range(steps + 1):  # a straight segment between two readings
                dot(x0 + (x1 - x0) * step // steps, y0 + (y1 - y0) * step // steps, index)
        for x, y in placed[-1:] if len(placed) == 1 else []:
            dot(x, y, index)

    lines: list[str] = []
    line_owners: list[tuple[int | None, ...]] = []
    for row in range(plot_h):
        if row == 0:
            label = short_number(top)
        elif row == plot_h - 1:
            label = "0"
        elif row == plot_h // 2 and plot_h >= 5:
            label = short_number(top / 2)
        else:
            label = ""
        mark = "┤" if label else "│"
        plot = "".join(chr(BRAILLE + c) if c else " " for c in cells[row])
        lines.append(f"{label:>{LABEL_WIDTH - 1}}{mark}{plot}")
        line_owners.append((None,) * LABEL_WIDTH + tuple(owners[row]))
    lines.append(_time_axis(plot_w, window_s))
    line_owners.append((None,) * width)
    return Chart(tuple(line[:width].ljust(width) for line in lines), tuple(line_owners), top)


def _time_axis(plot_w: int, window_s: float) -> str:
    """ "      └-4m───-3m───…───now": a mark every minute (every 10 s under two minutes)."""
    axis = list("─" * plot_w)
    every = 60.0 if window_s >= 120 else 10.0
    marks = [(plot_w - 3, "now")]
    age = every
    while age < window_s:
        marks.append((round((window_s - age) / window_s * (plot_w - 1)), short_age(age)))
        age += every
    free_from = plot_w  # write right to left, skipping labels that would overlap
    for at, label in marks:
        start = min(at, plot_w - len(label))
        if start >= 0 and start + len(label) <= free_from:
            axis[start : start + len(label)] = label
            free_from = start - 1
    return " " * (LABEL_WIDTH - 1) + "└" + "".join(axis)
