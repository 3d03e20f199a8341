"""The report page: pure HTML from what was read (no I/O). Every text from the inputs is
escaped; the only scripts are plotly.js (inline) and the few lines below that zoom the charts
together. A Content-Security-Policy forbids the page any request: it is one offline file."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mafa_cli.ledger import LedgerReport, verdict_headline, verdict_rows
from mafa_cli.load.plan import EndpointStats
from mafa_cli.report.inputs import RunEvent

if TYPE_CHECKING:
    from mafa_cli.report.charts import Chart

POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:"
)
STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1180px; margin: 1.5em auto; color: #222; }
h1 { font-size: 1.4em; margin-bottom: 0.2em; } h2 { font-size: 1.15em; margin-top: 1.4em; }
.ok { color: #1a7f37; } .failed { color: #cf222e; } .inconclusive { color: #9a6700; }
.warning { background: #fff8c5; border: 1px solid #d4a72c; padding: 0.5em 0.8em; }
table { border-collapse: collapse; font-size: 0.88em; }
th, td { padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: left; }
td.label { white-space: pre; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
dl.settings { display: grid; grid-template-columns: max-content auto; gap: 2px 14px;
  font-size: 0.9em; } dl.settings dt { color: #555; } dl.settings dd { margin: 0; }
.event-number { color: #c000c0; font-weight: bold; }
"""
# Zooming one chart's time range zooms every chart on the common axis (data-sync); a double
# click gives each its whole range back.
SYNC_SCRIPT = """
window.addEventListener("load", function () {
  var charts = Array.prototype.slice.call(document.querySelectorAll("[data-sync] .js-plotly-plot"));
  var busy = false;
  charts.forEach(function (chart) {
    chart.on("plotly_relayout", function (change) {
      if (busy) { return; }
      var update = {};
      if ("xaxis.range[0]" in change) {
        update["xaxis.range"] = [change["xaxis.range[0]"], change["xaxis.range[1]"]];
      } else if (change["xaxis.range"]) {
        update["xaxis.range"] = change["xaxis.range"];
      } else if (change["xaxis.autorange"]) {
        update["xaxis.autorange"] = true;
      } else { return; }
      busy = true;
      Promise.all(charts.filter(function (other) { return other !== chart; })
        .map(function (other) { return Plotly.relayout(other, update); }))
        .finally(function () { busy = false; });
    });
  });
});
"""


@dataclass(frozen=True)
class PageParts:
    title: str
    settings: Sequence[tuple[str, str]]  # the header: the stack and the load, as set
    warnings: Sequence[str]
    verdict: LedgerReport | None
    live_balance: str  # what the last snapshot said, shown when there is no verdict
    endpoints: Sequence[EndpointStats]
    locust_report: str | None  # a link relative to the page
    events: Sequence[RunEvent]
    charts: Sequence[Chart]
    synced: frozenset[str]  # the charts that share one time axis
    plotly_js: str


def _e(value: object) -> str:
    return html.escape(str(value))


def _settings(parts: PageParts) -> str:
    rows = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in parts.settings)
    return f'<dl class="settings" id="settings">{rows}</dl>'


def _verdict(parts: PageParts) -> str:
    if parts.verdict is None:
        return f'<h2 id="verdict-line">Ledger at the last snapshot: {_e(parts.live_balance)}</h2>'
    kind, headline, why = verdict_headline(parts.verdict)
    rows = []
    for row in verdict_rows(parts.verdict):
        check = "" if row.passed is None else ("ok" if row.passed else "FAIL")
        css = "" if row.passed is None else ("ok" if row.passed else "failed")
        rows.append(
            f'<tr><td class="label">{_e(row.label)}</td><td class="n">{row.value:,}</td>'
            f'<td class="{css}">{check}</td></tr>'
        )
    return (
        f'<h2 id="verdict-line" class="{kind}">verdict: {_e(headline)} ({_e(why)})</h2>'
        '<table id="verdict"><tr><th>check</th><th class="n">value</th><th></th></tr>'
        f"{''.join(rows)}</table>"
    )


def _endpoints(parts: PageParts) -> str:
    if not parts.endpoints:
        return ""
    rows = "".join(
        f"<tr><td>{_e(s.name)}</td><td class='n'>{s.requests:,}</td>"
        f"<td class='n'>{s.failures:,}</td><td class='n'>{s.fail_ratio:.2%}</td>"
        f"<td class='n'>{s.rps:.1f}</td><td class='n'>{s.p50_ms:.0f}</td>"
        f"<td class='n'>{s.p95_ms:.0f}</td><td class='n'>{s.p99_ms:.0f}</td></tr>"
        for s in parts.endpoints
    )
    head = "".join(
        f'<th class="n">{h}</th>'
        for h in ("requests", "failures", "failed", "req/s", "p50 ms", "p95 ms", "p99 ms")
    )
    return (
        "<h2>Requests per endpoint (locust)</h2>"
        f'<table id="endpoints"><tr><th>endpoint</th>{head}</tr>{rows}</table>'
    )


def _events(parts: PageParts) -> str:
    items = "".join(
        f'<li><span class="event-number">{n}</span> {e.at:%H:%M:%S} '
        f"<b>{_e(e.action)}</b> {_e(e.target)}</li>"
        for n, e in enumerate(parts.events, start=1)
    )
    listed = f'<ol id="events">{items}</ol>' if items else '<p id="events">none</p>'
    return f"<h2>Events (marked on the charts)</h2>{listed}"


def render(parts: PageParts) -> str:
    warnings = "".join(f'<p class="warning">{_e(w)}</p>' for w in parts.warnings)
    locust = (
        f'<p>locust\'s own report: <a id="locust-report" href="{_e(parts.locust_report)}">'
        f"{_e(parts.locust_report)}</a></p>"
        if parts.locust_report
        else ""
    )
    charts = "".join(
        f'<section id="section-{c.name}"{" data-sync" if c.name in parts.synced else ""}>'
        f"{c.html()}</section>"
        for c in parts.charts
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{POLICY}">
<title>{_e(parts.title)}</title>
<style>{STYLE}</style>
<script>{parts.plotly_js}</script>
</head><body>
<h1>{_e(parts.title)}</h1>
{_settings(parts)}
{warnings}
{_verdict(parts)}
{_endpoints(parts)}
{locust}
{_events(parts)}
<h2>Charts</h2>
<p>Times are UTC. Hover for values; drag across a chart to zoom on a time range (every chart
follows), double click to zoom out; click a legend entry to hide or show its series.</p>
{charts}
<script>{SYNC_SCRIPT}</script>
</body></html>
"""
