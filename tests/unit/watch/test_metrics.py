"""`mafa watch --metrics`: every figure of a snapshot, and only those, served under its name, in
both of Prometheus' formats, read back with prometheus_client's parsers; the address flag; the
server on the loopback (a real HTTP server in this process)."""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
import requests
import yaml

from mafa_cli import resources, ui
from mafa_cli.errors import Conflict, UsageError
from mafa_cli.watch import live, metrics
from mafa_cli.watch.collectors import Collector
from mafa_cli.watch.metrics import DEFAULT_PORT, ListenAddress, MetricsServer, parse_address
from mafa_cli.watch.snapshot import LiveBalance, Snapshot
from tests import exposition
from tests.unit.fakes import FakeEngine, FakeStackClient
from tests.unit.watch.fakes import receiver, stack_snapshot


def scrape(url: str, openmetrics: bool = False) -> tuple[str, str]:
    accept = "application/openmetrics-text; version=1.0.0" if openmetrics else "text/plain"
    answer = requests.get(url, headers={"Accept": accept}, timeout=5)
    answer.raise_for_status()
    return answer.headers["Content-Type"], answer.text


@pytest.fixture
def server() -> MetricsServer:
    served = MetricsServer(ListenAddress("127.0.0.1", 0))
    yield served  # type: ignore[misc]
    served.close()


def busy_snapshot() -> Snapshot:
    """Every kind of figure: a load, a stale source, a node with no timings yet, lost at rest."""
    snapshot = stack_snapshot(load=True)
    idle = replace(receiver(7), mean_ms=None, p95_ms=None)
    return replace(
        snapshot,
        receivers=(*snapshot.receivers, idle),
        ledger=LiveBalance(2223, 2220, 0, 0, 2, at_rest=True),
        stale={"balancer": "ConnectionError: refused"},
    )


@pytest.mark.parametrize("openmetrics", [False, True])
def test_every_figure_is_served_as_the_json_says(server: MetricsServer, openmetrics: bool) -> None:
    snapshot = busy_snapshot()
    server.update(snapshot)
    content_type, text = scrape(server.url, openmetrics)
    assert content_type.startswith("application/openmetrics-text" if openmetrics else "text/plain")
    served = exposition.parsed(text, openmetrics)
    sequence = served.pop(exposition.key("mafa_snapshots_total", project="demo"))
    assert sequence == 1
    assert served == exposition.from_json(json.loads(json.dumps(snapshot.to_json())))
    assert served[exposition.key("mafa_ledger_lost", project="demo")] == 1  # 2223-2220-2


def test_lost_is_not_claimed_while_messages_move(server: MetricsServer) -> None:
    server.update(stack_snapshot())  # its ledger is not at rest
    served = exposition.parsed(scrape(server.url)[1])
    assert exposition.key("mafa_ledger_at_rest", project="demo") in served
    assert exposition.key("mafa_ledger_lost", project="demo") not in served
    assert not any(name.startswith("mafa_load_") for name, _ in served), "no load running"


def test_the_latest_snapshot_is_served_and_counted(server: MetricsServer) -> None:
    assert exposition.parsed(scrape(server.url)[1]) == {}, "nothing before the first snapshot"
    first = stack_snapshot()
    server.update(first)
    server.update(replace(first, active_sessions=99))
    served = exposition.parsed(scrape(server.url)[1])
    assert served[exposition.key("mafa_snapshots_total", project="demo")] == 2
    assert served[exposition.key("mafa_sessions_active", project="demo")] == 99


def test_a_port_in_use_is_a_conflict_with_a_hint(server: MetricsServer) -> None:
    port = int(server.url.rsplit(":", 1)[1].split("/")[0])
    with pytest.raises(Conflict) as caught:
        MetricsServer(ListenAddress("127.0.0.1", port))
    assert f"127.0.0.1:{port}" in caught.value.message
    assert ":0" in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("value", "host", "port", "loopback"),
    [
        ("9464", "127.0.0.1", 9464, True),
        (":0", "127.0.0.1", 0, True),
        ("127.0.0.1:9464", "127.0.0.1", 9464, True),
        ("localhost:9000", "localhost", 9000, True),
        ("[::1]:9464", "::1", 9464, True),
        ("0.0.0.0:9464", "0.0.0.0", 9464, False),  # noqa: S104 (parsed, not bound)
    ],
)
def test_addresses(value: str, host: str, port: int, loopback: bool) -> None:
    address = parse_address(value)
    assert (address.host, address.port, address.loopback) == (host, port, loopback)


@pytest.mark.parametrize("value", ["", "abc", "host.example:9464", "127.0.0.1:99999", "1.2.3:80"])
def test_bad_addresses_are_usage_errors(value: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_address(value)
    assert "127.0.0.1:9464" in (caught.value.hint or "")


def test_the_watch_loop_serves_what_it_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A timed `mafa watch --json --metrics :0` over the fake stack: the URL goes to stderr, and
    the endpoint serves the snapshot the loop printed (scraped before the loop closes it)."""
    monkeypatch.setenv("MAFA_STATE_DIR", str(tmp_path / "state"))
    errors = io.StringIO()
    monkeypatch.setattr(live, "error_console", lambda: ui.console(errors))
    scraped: list[str] = []

    def scrape_then_close(self: MetricsServer) -> None:
        scraped.append(scrape(self.url)[1])
        original_close(self)

    original_close = MetricsServer.close
    monkeypatch.setattr(MetricsServer, "close", scrape_then_close)
    out = io.StringIO()
    collector = Collector("fake", FakeStackClient(backend=FakeEngine()))  # type: ignore[arg-type]
    live.watch(
        "fake", ui.console(out), 1.0, False, True, None, duration_s=0, collector=collector,
        metrics=":0",
    )  # fmt: skip
    assert errors.getvalue().startswith("metrics: http://127.0.0.1:")
    printed = json.loads(out.getvalue().splitlines()[-1])
    served = exposition.parsed(scraped[0])
    served.pop(exposition.key("mafa_snapshots_total", project="fake"))
    assert served == exposition.from_json(printed)


def test_metrics_and_once_do_not_go_together(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--metrics serves a running watch"):
        live.watch(
            "fake", ui.console(io.StringIO()), 1.0, True, True, None, metrics=":0",
            collector=Collector("fake", FakeStackClient(backend=FakeEngine())),  # type: ignore[arg-type]
        )  # fmt: skip


def test_a_metrics_address_elsewhere_is_warned_about(monkeypatch: pytest.MonkeyPatch) -> None:
    errors = io.StringIO()
    monkeypatch.setattr(live, "error_console", lambda: ui.console(errors))

    class NotBound:  # a fake server: this test binds nothing beyond the loopback
        def __init__(self, address: ListenAddress) -> None:
            self.url = f"http://{address.host}:{address.port}/metrics"

    monkeypatch.setattr(metrics, "MetricsServer", NotBound)
    live._serve_metrics(parse_address("0.0.0.0:9464"))
    assert "warning: metrics on 0.0.0.0, not only on this machine" in errors.getvalue()
    assert "metrics: http://0.0.0.0:9464/metrics" in errors.getvalue()


def test_the_shipped_dashboard_and_scrape_config_fit_what_is_served() -> None:
    """Every series the Grafana dashboard draws is one the endpoint serves; Prometheus' example
    scrapes the default address."""
    examples = resources.monitoring_dir()
    served = {name for name, _ in exposition.parsed(text_of(busy_snapshot()))}
    served |= {name.removesuffix("_total") for name in served}
    dashboard = json.loads((examples / "grafana-dashboard.json").read_text())
    queries = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    queries.append(dashboard["templating"]["list"][0]["query"]["query"])
    drawn = {name for query in queries for name in re.findall(r"\bmafa_[a-z0-9_]+", query)}
    assert drawn
    assert drawn <= served, drawn - served
    config = yaml.safe_load((examples / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["static_configs"][0]["targets"] == [f"127.0.0.1:{DEFAULT_PORT}"]


def text_of(snapshot: Snapshot) -> str:
    served = MetricsServer(ListenAddress("127.0.0.1", 0))
    try:
        served.update(snapshot)
        return scrape(served.url)[1]
    finally:
        served.close()
