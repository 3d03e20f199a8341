"""Both sides of the metrics checks, keyed alike: a scrape of `mafa watch --metrics`, parsed with
prometheus_client's own parsers, and what `mafa watch --json` says, turned into the samples the
endpoint must serve for it. This table is written from the README's list of metrics, not from
watch/metrics.py, so a figure served under the wrong name or label fails the comparison."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text

Key = tuple[str, frozenset[tuple[str, str]]]  # sample name, its labels
Samples = dict[Key, float]


def key(name: str, **labels: str) -> Key:
    return name, frozenset(labels.items())


def parsed(text: str, openmetrics: bool = False) -> Samples:
    parse = parse_openmetrics if openmetrics else parse_text
    return {key(s.name, **s.labels): s.value for family in parse(text) for s in family.samples}


def from_json(snapshot: dict[str, Any]) -> Samples:
    """The samples `mafa watch --metrics` must serve for this `mafa watch --json` snapshot (all
    but mafa_snapshots_total, which counts the watch's snapshots and is not in the JSON)."""
    project = snapshot["project"]
    found: Samples = {}

    def put(name: str, value: float | None, **labels: str) -> None:
        if value is not None:
            found[key(name, project=project, **labels)] = float(value)

    put("mafa_snapshot_timestamp_seconds", datetime.fromisoformat(snapshot["taken_at"]).timestamp())
    for source in snapshot["stale"]:
        put("mafa_source_stale", 1, source=source)
    queue = snapshot["queue"]
    for figure in ("ready", "unacked", "consumers", "dead_letters"):
        put(f"mafa_queue_{figure}", queue[figure])
    for operation in ("published", "delivered", "acked", "redelivered"):
        put("mafa_queue_messages_total", queue[operation], operation=operation)
    for operation in ("publish", "deliver", "ack", "redeliver"):
        put("mafa_queue_messages_per_second", queue[f"{operation}_rate"], operation=operation)
    for row in snapshot["receivers"]:
        node = row["node"]
        for figure in (
            "handled",
            "failed",
            "interrupted",
            "redelivered",
            "redelivered_elsewhere",
            "duplicates",
        ):
            put(f"mafa_receiver_{figure}_total", row[figure], node=node)
        put("mafa_receiver_in_flight", row["in_flight"], node=node)
        for figure in ("mean", "p95"):
            ms = row[f"{figure}_ms"]
            put(
                f"mafa_receiver_handling_{figure}_seconds",
                None if ms is None else ms / 1000,
                node=node,
            )
    for row in snapshot["senders"]:
        for figure in ("accepted", "requests", "errors"):
            put(f"mafa_sender_{figure}_total", row[figure], node=row["node"])
    put("mafa_sessions_active", snapshot["active_sessions"])
    ledger = snapshot["ledger"]
    if ledger is not None:
        for figure in ("accepted", "processed", "in_queue", "in_flight", "parked", "unaccounted"):
            put(f"mafa_ledger_{figure}", ledger[figure])
        put("mafa_ledger_at_rest", ledger["at_rest"])
        put("mafa_ledger_lost", ledger["lost"])
    load = snapshot["load"]
    if load is not None:
        run = load["run_id"]
        put("mafa_load_users", load["users"], run_id=run)
        put("mafa_load_requests_per_second", load["rps"], run_id=run)
        put("mafa_load_requests_total", load["requests"], run_id=run)
        put("mafa_load_failures_total", load["failures"], run_id=run)
        put("mafa_load_p95_seconds", load["p95_ms"] / 1000, run_id=run)
    for row in snapshot["containers"]:
        name = row["name"]
        put("mafa_container_running", row["state"] == "running", container=name)
        put("mafa_container_cpu_percent", row["cpu_percent"], container=name)
        memory = row["memory_mib"]
        put(
            "mafa_container_memory_bytes",
            None if memory is None else memory * 2**20,
            container=name,
        )
    return found


def growing(name: str) -> bool:
    """Figures that never go down while the stack runs: counters, and the ledger's two totals."""
    return name.endswith("_total") or name in (
        "mafa_snapshot_timestamp_seconds",
        "mafa_ledger_accepted",
        "mafa_ledger_processed",
    )
