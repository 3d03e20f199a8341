"""`mafa report`: one self-contained HTML file (no CDN, works offline) with the run's charts on
one time axis, faults marked, and the ledger's verdict; plus a PNG of each chart to paste in a
chat or an issue. Charts are drawn by matplotlib: the only module that imports it.

Inputs: the snapshots `mafa watch --record` wrote (JSON lines), optionally a `mafa load` report
directory (locust's stats history) and a ledger verdict (JSON).
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.dates as mdates
import matplotlib.pyplot as plt

from mafa_cli.errors import UsageError
from mafa_cli.services.palette import node_colour

CHARTS = ("queue", "rates", "receivers", "sessions", "load")
STYLE = """
body { font-family: sans-serif; max-width: 1040px; margin: 1.5em auto; color: #222; }
h1 { font-size: 1.4em; } .ok { color: #1a7f37; } .bad { color: #cf222e; }
table { border-collapse: collapse; font-size: 0.85em; }
td { padding: 2px 10px; border-bottom: 1px solid #ddd; }
section svg { width: 100%; height: auto; }
"""
TITLES = {
    "queue": "Queue depth",
    "rates": "Broker rates (messages/s)",
    "receivers": "Per receiver: handled and failed attempts",
    "sessions": "Active sessions",
    "load": "Load: requests/s and p95 latency",
}


@dataclass
class Series:
    times: list[datetime] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def add(self, at: datetime, value: float) -> None:
        self.times.append(at)
        self.values.append(value)


@dataclass
class RunData:
    series: dict[str, Series] = field(default_factory=dict)
    slots: dict[str, int | None] = field(default_factory=dict)  # each receiver's colour slot
    faults: list[tuple[datetime, str]] = field(default_factory=list)
    last: dict[str, Any] = field(default_factory=dict)

    def at(self, name: str) -> Series:
        return self.series.setdefault(name, Series())


def read_record(lines: Iterable[str]) -> RunData:
    """The series the charts draw, from `mafa watch --record` lines (bad lines are skipped)."""
    data = RunData()
    seen_faults: set[str] = set()
    for line in lines:
        try:
            snap = json.loads(line)
            at = datetime.fromisoformat(snap["taken_at"])
        except (ValueError, KeyError, TypeError):
            continue
        queue = snap.get("queue") or {}
        data.at("ready").add(at, queue.get("ready", 0))
        data.at("unacked").add(at, queue.get("unacked", 0))
        data.at("dead letters").add(at, queue.get("dead_letters", 0))
        for key in ("publish", "deliver", "ack", "redeliver"):
            data.at(key).add(at, queue.get(f"{key}_rate", 0.0))
        data.at("sessions").add(at, snap.get("active_sessions", 0))
        for receiver in snap.get("receivers") or []:
            node = receiver["node"]
            if receiver.get("slot") is not None or node not in data.slots:
                data.slots[node] = receiver.get("slot")
            data.at(f"handled {node}").add(at, receiver.get("handled", 0))
            data.at(f"failed {node}").add(
                at, receiver.get("failed", 0) + receiver.get("interrupted", 0)
            )
        for fault in snap.get("faults") or []:
            if fault not in seen_faults:
                seen_faults.add(fault)
                when, _, what = fault.partition(" ")
                try:
                    data.faults.append((datetime.fromisoformat(when), what))
                except ValueError:
                    data.faults.append((at, fault))
        data.last = snap
    return data


def read_load_history(report_dir: Path, data: RunData) -> None:
    """Requests/s and p95 over time from locust's <prefix>_stats_history.csv (aggregated rows)."""
    path = report_dir / "locust_stats_history.csv"
    if not path.exists():
        raise UsageError(
            f"no locust history in {report_dir}", hint="pass a `mafa load --report` directory"
        )
    with path.open() as stream:
        for row in csv.DictReader(stream):
            if row.get("Name") != "Aggregated":
                continue
            at = datetime.fromtimestamp(int(row["Timestamp"]), UTC)
            data.at("load rps").add(at, float(row.get("Requests/s") or 0))
            p95 = row.get("95%") or "0"
            data.at("load p95").add(at, float(p95) if p95 != "N/A" else 0.0)


def _figure(name: str, data: RunData, span: tuple[datetime, datetime]) -> Any:
    fig, axis = plt.subplots(figsize=(10, 3.2), dpi=100)
    axis.set_title(TITLES[name], loc="left", fontsize=11)
    drawn = 0

    def line(key: str, label: str, on: Any = axis, **style: Any) -> None:
        nonlocal drawn
        series = data.series.get(key)
        if series and series.times:
            on.plot(series.times, series.values, label=label, linewidth=1.6, **style)
            drawn += 1

    if name == "queue":
        line("ready", "ready")
        line("unacked", "unacked")
        line("dead letters", "dead letters", linestyle="--")
    elif name == "rates":
        for key in ("publish", "deliver", "ack", "redeliver"):
            line(key, key)
    elif name == "receivers":
        # Each receiver in its colour, the one its page and `mafa watch` show (its slot's).
        for kind, style in (("handled", "-"), ("failed", ":")):
            for key in sorted(k for k in data.series if k.startswith(f"{kind} ")):
                node = key.removeprefix(f"{kind} ")
                colour = node_colour(node, data.slots.get(node))
                line(key, key, linestyle=style, color=colour)
    elif name == "sessions":
        line("sessions", "active sessions")
    elif name == "load":
        line("load rps", "requests/s", color="tab:blue")
        right = axis.twinx()
        line("load p95", "p95 ms", on=right, color="tab:red")
        right.set_ylabel("p95 ms", color="tab:red")
        axis.set_ylabel("requests/s", color="tab:blue")
    for at, fault in data.faults:
        if not span[0] <= at <= span[1]:
            continue  # a fault of another run
        axis.axvline(mdates.date2num(at), color="magenta", linewidth=1, alpha=0.7)  # type: ignore[no-untyped-call]
        axis.annotate(
            fault.split(" ", 1)[-1],
            (at, 1.0),
            xycoords=("data", "axes fraction"),
            fontsize=7,
            color="magenta",
            rotation=90,
            va="top",
            ha="right",
        )
    axis.set_xlim(mdates.date2num(span[0]), mdates.date2num(span[1]))  # type: ignore[no-untyped-call]
    axis.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))  # type: ignore[no-untyped-call]
    axis.grid(alpha=0.3)
    if drawn:
        axis.legend(loc="upper left", fontsize=8, ncol=4)
    else:
        axis.text(0.5, 0.5, "no data for this chart", transform=axis.transAxes, ha="center")
    # The same margins on every chart, so their time axes line up one above the other.
    fig.subplots_adjust(left=0.07, right=0.93, top=0.88, bottom=0.14)
    return fig, drawn


@dataclass(frozen=True)
class Report:
    html_file: Path
    images: list[Path]
    charts_with_data: list[str]


def _verdict_html(verdict: dict[str, Any] | None, data: RunData) -> str:
    if verdict is not None:
        ok = bool(verdict.get("ok"))
        rows = "".join(
            f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>"
            for k, v in verdict.items()
        )
        head = "nothing lost" if ok else "NOT PROVEN"
        return f'<h2 class="{"ok" if ok else "bad"}">Verdict: {head}</h2><table>{rows}</table>'
    ledger = (data.last or {}).get("ledger") or {}
    lost = ledger.get("lost")
    text = "lost 0 (at rest)" if lost == 0 else f"lost {lost}" if lost else "not at rest"
    return f"<h2>Ledger at the last snapshot: {html.escape(text)}</h2>"


def build(
    record: Path,
    out: Path,
    load_report: Path | None = None,
    verdict: dict[str, Any] | None = None,
    title: str = "mafa run",
) -> Report:
    try:
        data = read_record(record.read_text(encoding="utf-8").splitlines())
    except OSError as exc:
        raise UsageError(
            f"cannot read the record {record}: {exc.strerror}",
            hint="write one with `mafa watch --record FILE.jsonl`",
        ) from None
    except UnicodeDecodeError:
        raise UsageError(
            f"{record} is not a record: not UTF-8 text",
            hint="pass the JSON lines file `mafa watch --record FILE.jsonl` wrote",
        ) from None
    if not data.series:
        raise UsageError(
            f"{record} holds no snapshots", hint="record some with `mafa watch --record`"
        )
    if load_report is not None:
        read_load_history(load_report, data)
    times = [t for s in data.series.values() for t in s.times]
    span = (min(times), max(times))
    images, sections, with_data = [], [], []
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        for name in CHARTS:
            if name == "load" and load_report is None:
                continue
            fig, drawn = _figure(name, data, span)
            svg = io.StringIO()
            fig.savefig(svg, format="svg")
            image = out.with_name(f"{out.stem}-{name}.png")
            fig.savefig(image, format="png")
            plt.close(fig)
            images.append(image)
            if drawn:
                with_data.append(name)
            body = svg.getvalue()
            body = body[body.index("<svg") :]  # inline: drop the XML prolog
            sections.append(f'<section id="chart-{name}">{body}</section>')
        snapshots = len(data.series.get("ready", Series()).times)
        faults = (
            "".join(
                f"<li>{at:%H:%M:%S} {html.escape(fault)}</li>"
                for at, fault in data.faults
                if span[0] <= at <= span[1]
            )
            or "<li>none</li>"
        )
        page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{STYLE}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{span[0]:%Y-%m-%d %H:%M:%S} to {span[1]:%H:%M:%S} UTC · {snapshots} snapshots</p>
{_verdict_html(verdict, data)}
<h2>Faults and changes</h2><ul id="faults">{faults}</ul>
{"".join(sections)}
</body></html>
"""
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"cannot write the report to {out}: {exc.strerror}",
            hint="choose a writable path with --out",
        ) from None
    return Report(out, images, with_data)
