"""The report's interactive charts, drawn with plotly: the only module that imports it.

Why plotly: its JavaScript ships inside the Python package (so the page carries it inline and
works with no network), it needs no numpy, and every chart gets hover values, zoom on a time
range, a legend that toggles series and a PNG download from its own toolbar. Each chart is its
own figure with the same margins, so their time axes line up one above the other; the page's
script zooms them together.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import plotly.graph_objects as go
import plotly.io
import plotly.offline

from mafa_cli.report.inputs import LoadRun, RunData, RunEvent, Series
from mafa_cli.services.palette import node_colour

# Room on the right for the legend (outside the lines, so it never covers them) and on the left
# for the numbers: the same on every chart, so the time axes line up.
MARGIN = {"l": 70, "r": 260, "t": 40, "b": 50}
ROW_PX = 20  # a legend line: the receivers' charts grow with the number of receivers
EVENT_COLOUR = "#c000c0"
# The series' colours in order (matplotlib's tab10, as the report had before plotly): ready and
# publish are the same blue as ever.
COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]
CONFIG: dict[str, object] = {
    "displaylogo": False,  # no link to plotly's site
    "showSendToCloud": False,  # no "Share chart" button: it would upload the data to Plotly Cloud
    "plotlyServerURL": "",
    "responsive": True,
    "scrollZoom": False,
}


@dataclass(frozen=True)
class Chart:
    name: str  # the id the page and its tests find it by: chart-<name>
    title: str
    figure: Any  # a plotly Figure
    has_data: bool

    def html(self) -> str:
        # The toolbar's camera saves this chart as a PNG, named after it.
        picture = {"format": "png", "scale": 2, "filename": f"mafa-{self.name}"}
        config = {**CONFIG, "toImageButtonOptions": picture}
        return str(
            plotly.io.to_html(
                self.figure,
                include_plotlyjs=False,  # once for the whole page: plotly_js()
                full_html=False,
                div_id=f"chart-{self.name}",
                config=config,
            )
        )


def plotly_js() -> str:
    """plotly.js as shipped inside the plotly package, to inline in the page."""
    return str(plotly.offline.get_plotlyjs())


def _axis_time(at: datetime) -> str:
    """plotly.js has no time zones: times go in as UTC wall-clock strings (the axis says UTC)."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _line(series: Series | None, name: str, **style: Any) -> Any:
    return go.Scatter(
        x=[_axis_time(t) for t in series.times] if series else [],
        y=list(series.values) if series else [],
        name=name,
        mode="lines",
        **style,
    )


def _figure(
    title: str,
    traces: list[Any],
    events: list[RunEvent],
    x_range: tuple[datetime, datetime] | None,
    height: int = 300,
    y_title: str = "",
) -> Any:
    figure = go.Figure(data=traces)
    figure.update_layout(
        title={"text": title, "x": 0, "xanchor": "left", "font": {"size": 14}},
        height=height,
        margin=MARGIN,
        hovermode="x unified",  # one label with every series' value at that time
        legend={"x": 1.02, "xanchor": "left", "y": 1, "yanchor": "top", "font": {"size": 11}},
        showlegend=True,
        template="plotly_white",
        colorway=COLOURS,
        xaxis={"type": "date", "automargin": False},  # times in UTC: the page says so
        yaxis={"title": {"text": y_title}, "automargin": False, "rangemode": "tozero"},
    )
    if x_range is not None:
        figure.update_xaxes(range=[_axis_time(x_range[0]), _axis_time(x_range[1])])
    for number, event in enumerate(events, start=1):
        at = _axis_time(event.at)
        figure.add_shape(
            type="line",
            x0=at,
            x1=at,
            xref="x",
            y0=0,
            y1=1,
            yref="paper",
            line={"color": EVENT_COLOUR, "width": 1, "dash": "dot"},
        )
        # The event's number (as in the page's list); its text when the pointer is on it.
        figure.add_annotation(
            x=at,
            y=1,
            xref="x",
            yref="paper",
            text=str(number),
            showarrow=False,
            yanchor="bottom",
            font={"color": EVENT_COLOUR, "size": 10},
            hovertext=f"{event.at:%H:%M:%S} {event.action} {event.target}",
        )
    return figure


def _receiver_traces(data: RunData, kind: str) -> Iterator[Any]:
    for node in data.receivers:
        colour = node_colour(node, data.slots.get(node))
        yield _line(data.series.get(f"{kind} {node}"), node, line={"color": colour})


def build_charts(
    data: RunData,
    load: LoadRun | None,
    events: list[RunEvent],
    x_range: tuple[datetime, datetime] | None,
) -> list[Chart]:
    """Every chart of the report, from the record (and the load run, when given)."""
    series = data.series.get
    receivers_height = max(300, 90 + ROW_PX * len(data.receivers))
    specs: list[tuple[str, str, list[Any], int, str]] = [
        (
            "queue",
            "Queue depth",
            [
                _line(series("ready"), "ready"),
                _line(series("unacked"), "unacked"),
                _line(series("dead letters"), "dead letters", line={"dash": "dash"}),
            ],
            300,
            "messages",
        ),
        (
            "rates",
            "Broker rates",
            [_line(series(k), k) for k in ("publish", "deliver", "ack", "redeliver")],
            300,
            "messages/s",
        ),
        (
            "handled",
            "Handled per receiver (each in its node colour)",
            list(_receiver_traces(data, "handled")),
            receivers_height,
            "deliveries",
        ),
        (
            "failed",
            "Failed or interrupted attempts per receiver",
            list(_receiver_traces(data, "failed")),
            receivers_height,
            "attempts",
        ),
        ("sessions", "Active sessions", [_line(series("sessions"), "active sessions")], 260, ""),
    ]
    charts = [
        Chart(name, title, _figure(title, traces, events, x_range, height, y_title), _drawn(traces))
        for name, title, traces, height, y_title in specs
    ]
    if load is not None:
        charts.append(_load_chart(load, events, x_range))
    return charts


def _drawn(traces: list[Any]) -> bool:
    return any(len(trace.x or ()) for trace in traces)


def _load_chart(
    load: LoadRun, events: list[RunEvent], x_range: tuple[datetime, datetime] | None
) -> Chart:
    traces = [
        _line(load.rps, "requests/s", line={"color": "#1f77b4"}),
        _line(load.p95_ms, "p95 latency (ms)", line={"color": "#d62728"}, yaxis="y2"),
        _line(load.users, "users", line={"color": "#7f7f7f", "dash": "dot"}),
    ]
    title = "Load: requests/s, p95 latency and users"
    figure = _figure(title, traces, events, x_range, 300, "requests/s, users")
    figure.update_layout(
        yaxis2={
            "title": {"text": "p95 ms"},
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
            "showgrid": False,
        },
        legend={"x": 1.08},  # past the p95 axis' numbers
    )
    return Chart("load", title, figure, _drawn(traces))
