"""Pure parts of `mafa load`: weights, shapes, locust CSV reading, thresholds, flag checks."""

from pathlib import Path

import pytest

from mafa_cli.errors import UsageError
from mafa_cli.load.plan import (
    EndpointStats,
    broken_thresholds,
    messages_accepted,
    parse_think_time,
    parse_weights,
    read_stats_csv,
    shape_users,
    user_counts,
)
from mafa_cli.load.runner import LoadSettings
from mafa_cli.load.settings import load_settings, new_run_id

STATS_CSV = (
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
    "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,"
    "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%"
)
STATS_CSV += """
POST,/api/messages,100,2,12,14.2,3,90,180,9.8,0.2,12,14,16,18,25,40,60,80,90,90,90
POST,/ (form),20,0,15,16,5,50,0,2.0,0,15,16,18,19,30,45,50,50,50,50,50
GET,/ (page),30,0,8,9,2,20,5000,3.0,0,8,9,10,11,14,18,20,20,20,20,20
,Aggregated,150,2,11,13,2,90,1200,14.8,0.2,11,13,15,17,24,41,58,79,90,90,90
"""


def test_think_time() -> None:
    assert parse_think_time("0.5-2") == (0.5, 2.0)
    assert parse_think_time("1s") == (1.0, 1.0)
    assert parse_think_time("0") == (0.0, 0.0)
    for bad in ("fast", "2-1", "-1", "1-x"):
        with pytest.raises(ValueError, match="bad think time"):
            parse_think_time(bad)


def test_weights() -> None:
    assert parse_weights("") == {"api": 10, "form": 2, "results": 1, "reset": 1, "page": 0}
    assert parse_weights("api=3, reset=0")["reset"] == 0
    assert parse_weights("api=0,form=0,results=0,reset=0,page=1")["page"] == 1
    for bad in ("api", "api=x", "upload=1", "api=-1"):
        with pytest.raises(ValueError, match="bad weight"):
            parse_weights(bad)
    with pytest.raises(ValueError, match="would do nothing"):
        parse_weights("api=0,form=0,results=0,reset=0")


@pytest.mark.parametrize(
    ("shape", "points"),
    [
        ("ramp", [(0, 1), (40, 50), (80, 100), (99, 100)]),
        ("step", [(0, 25), (30, 50), (60, 75), (99, 100)]),
        ("spike", [(0, 20), (39, 20), (40, 100), (59, 100), (60, 20)]),
    ],
)
def test_shapes(shape: str, points: list[tuple[float, int]]) -> None:
    for elapsed, users in points:
        wanted = shape_users(shape, elapsed, 100, 100)
        assert wanted is not None
        assert wanted[0] == users, (shape, elapsed)
    assert shape_users(shape, 100, 100, 100) is None


def test_reading_locust_stats() -> None:
    rows = read_stats_csv(STATS_CSV)
    assert [r.name for r in rows][-1] == "Aggregated"
    api = rows[0]
    assert (api.name, api.requests, api.failures, api.p95_ms) == (
        "POST /api/messages",
        100,
        2,
        40,
    )
    assert messages_accepted(rows) == 98 + 20
    history = "Timestamp,User Count,Type\n1,3,\n2,7,\n3,0,\n"
    assert user_counts(history) == (0, 7)
    assert user_counts("") == (0, 0)


def test_thresholds() -> None:
    total = EndpointStats("Aggregated", 200, 10, 20.0, 10, 120, 300)
    assert broken_thresholds(total, None, None) == []
    assert broken_thresholds(total, 0.1, 200) == []
    assert broken_thresholds(total, 0.01, 100) == [
        "failure ratio 0.0500 is above --max-fail-ratio 0.01",
        "p95 120 ms is above --max-p95-ms 100",
    ]
    assert broken_thresholds(EndpointStats("Aggregated", 0, 0, 0, 0, 0, 0), None, None) == [
        "no request was made"
    ]


def settings(**overrides: object) -> LoadSettings:
    args: dict[str, object] = {
        "project": "mafa",
        "users": 5,
        "spawn_rate": 5.0,
        "duration": "20s",
        "rate": None,
        "shape": None,
        "host": "http://127.0.0.1:8080",
        "report": Path("/tmp/r"),
        "max_fail_ratio": None,
        "max_p95_ms": None,
        "workers": 0,
        "message_bytes": 64,
        "weights": "",
    }
    args.update(overrides)
    return load_settings(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"duration": "forever"}, "--duration: 'forever' is not a duration"),
        ({"duration": "0s"}, "at least 1s"),
        ({"users": 0}, "--users 0 is out of range"),
        ({"rate": -5.0}, "--rate -5 must be positive"),
        ({"shape": "wave"}, "--shape 'wave' is unknown"),
        ({"max_fail_ratio": 2.0}, "--max-fail-ratio 2 makes no sense"),
        ({"max_p95_ms": 0.0}, "--max-p95-ms 0 makes no sense"),
        ({"workers": -1}, "--workers -1 is out of range"),
        ({"weights": "api=0,form=0,results=0,reset=0"}, "--weights"),
        ({"think_time": "later"}, "--think-time"),
        ({"host": "127.0.0.1:8080"}, "is not an http(s) URL"),
        ({"web_port": 8089}, "--web-port goes with --web"),
        ({"web": True, "web_port": 70000}, "--web-port 70000 is out of range"),
        ({"host": None, "project": "nostack"}, "no stack named 'nostack'"),
    ],
)
def test_bad_flags_are_refused(
    overrides: dict[str, object], message: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MAFA_STATE_DIR", str(tmp_path))
    with pytest.raises(
        UsageError if "no stack" not in message else Exception,
        match=message.replace("(", r"\(").replace(")", r"\)"),
    ):
        settings(**overrides)


def test_run_ids_are_unique_and_traceable() -> None:
    ids = {new_run_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(i.startswith("run-") and len(i) <= 64 for i in ids)


def test_web_serves_locusts_ui_on_a_free_or_given_port() -> None:
    assert settings().control_port is None, "headless unless asked"
    assert settings(web=True, web_port=8089).control_port == 8089
    port = settings(web=True).control_port
    assert port is not None
    assert port > 1024
