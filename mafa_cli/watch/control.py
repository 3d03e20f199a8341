"""The real `Actions` of the dashboard: what its keys do to a running stack.

Scale goes through stack/operations (the same plan and readiness wait as `mafa scale`), kill and
the broker restart through the engine (as `mafa chaos` does), the load through load/runner with
locust's web API on 127.0.0.1 so its users change live, and node detail through the database.
Every action, done or failed, is appended to the project's event stream (state.py), where
`mafa watch` shows it and `mafa report` marks it next to chaos' faults.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import replace
from typing import Any

from mafa_cli.engine.protocol import Engine
from mafa_cli.load import runner
from mafa_cli.load.settings import load_settings
from mafa_cli.stack import operations
from mafa_cli.stack.access import StackClient
from mafa_cli.state import ProjectState
from mafa_cli.watch.actions import ActionFailed, Attempt, Event, NodeDetail, Service

BROKER_GRACE_S = 10.0  # as `mafa chaos`: the broker gets time to write its queues
LOAD_DURATION = "30m"  # a load started from the dashboard runs until `l` again, or this long
LOAD_START_WAIT_S = 15.0
SPAWN_RATE_SHARE = 0.5  # users started per second, as a share of the wanted users (at least 1)
DETAIL_ATTEMPTS = 12
FAILURES_FOLLOWED = 200  # where a node's failed messages went: over its latest failures

NODE_SQL = "SELECT host, redelivered FROM receiver.nodes WHERE node = %s"
# The node's newest attempts (the (node, id) index), each with the node of the attempt after it.
ATTEMPTS_SQL = """
SELECT a.at, a.message_id::text AS message_id, a.attempt, a.outcome, a.duration_ms,
       (SELECT n.node FROM receiver.attempts n
        WHERE n.message_id = a.message_id AND n.attempt = a.attempt + 1 LIMIT 1) AS next_node
FROM receiver.attempts a WHERE a.node = %s ORDER BY a.node, a.id DESC LIMIT %s
"""
WENT_TO_SQL = """
SELECT n.node, count(*) AS messages
FROM (SELECT message_id, attempt FROM receiver.attempts
      WHERE node = %s AND outcome IN ('failed', 'interrupted')
      ORDER BY node, id DESC LIMIT %s) f
JOIN receiver.attempts n ON n.message_id = f.message_id AND n.attempt = f.attempt + 1
GROUP BY n.node
"""


class _Quiet:
    """The scale's progress lines: the dashboard shows the scale as pending instead."""

    def step(self, message: str) -> None:
        pass

    def build_output(self, line: str) -> None:
        pass


class StackActions:
    def __init__(self, project: str, client: StackClient, engine: Engine | None = None) -> None:
        self.project = project
        self._client = client
        self._engine = engine or client.backend
        self._state = ProjectState(project)
        self._load: threading.Thread | None = None
        self._load_stop = threading.Event()
        self._load_error: BaseException | None = None
        self._spawn_rate = 1.0

    # --- the stack ---------------------------------------------------------------------------

    def scale(self, service: Service, replicas: int) -> None:
        senders, receivers = (replicas, None) if service == "sender" else (None, replicas)
        operations.scale(self.project, senders, receivers, _Quiet(), engine=self._engine)

    def kill(self, node: str) -> None:
        with self._client.database().transaction() as cur:
            cur.execute(NODE_SQL, (node,))
            row = cur.fetchone()
        host = (row or {}).get("host")
        if not host:
            raise ActionFailed(f"{node} has no container on record")
        receivers = self._engine.replicas(self.project, "receiver")
        holders = [r for r in receivers if r.id.startswith(host)]
        if not holders or holders[0].state != "running":
            raise ActionFailed(f"{node}'s container is not running")
        self._engine.kill(holders[0].id)

    def restart_broker(self) -> None:
        brokers = self._engine.replicas(self.project, "rabbitmq")
        if not brokers:
            raise ActionFailed("the stack has no broker")
        self._engine.restart(brokers[0].id, grace_s=BROKER_GRACE_S)

    # --- the load ----------------------------------------------------------------------------

    def start_load(self, users: int) -> None:
        if self._state.running_load() is not None:
            raise ActionFailed("a load is already running for this project")
        planned = load_settings(
            project=self.project,
            users=users,
            spawn_rate=max(1.0, users * SPAWN_RATE_SHARE),
            duration=LOAD_DURATION,
            rate=None,
            shape=None,
            host=None,
            report=None,
            max_fail_ratio=None,
            max_p95_ms=None,
            workers=0,
            message_bytes=64,
            weights="",
        )
        settings = replace(
            planned,
            report_dir=self._state.dir / "loads" / planned.run_id,
            control_port=runner.free_port(),
        )
        self._spawn_rate = settings.spawn_rate
        self._load_stop.clear()
        self._load_error = None
        self._load = threading.Thread(target=self._run_load, args=(settings,), daemon=True)
        self._load.start()
        deadline = time.monotonic() + LOAD_START_WAIT_S
        while self._state.running_load() is None:  # announced once locust is on its way
            if not self._load.is_alive():
                raise ActionFailed(f"the load did not start: {self._load_error}")
            if time.monotonic() > deadline:
                raise ActionFailed("the load did not start within 15 s")
            time.sleep(0.1)

    def _run_load(self, settings: runner.LoadSettings) -> None:
        try:
            runner.run(settings, lambda _: None, stop=self._load_stop)
        except Exception as exc:  # kept for start_load to report; the dashboard carries on
            self._load_error = exc

    def stop_load(self) -> None:
        if self._load is not None and self._load.is_alive():
            self._load_stop.set()
            self._load.join(timeout=70)
            return
        running = self._state.running_load()
        if running is None:
            raise ActionFailed("no load is running")
        os.kill(running.pid, signal.SIGINT)  # `mafa load` elsewhere: as Ctrl-C in its terminal

    def set_users(self, users: int) -> None:
        running = self._state.running_load()
        if running is None:
            raise ActionFailed("no load is running")
        if running.control_port is None:
            raise ActionFailed("that load was started by `mafa load`: its users are fixed")
        runner.set_users(running.control_port, users, max(self._spawn_rate, 1.0))

    def close(self) -> None:
        """Stop the load this dashboard started (its process would otherwise outlive us)."""
        if self._load is not None and self._load.is_alive():
            self.stop_load()

    # --- looking and recording ---------------------------------------------------------------

    def node_detail(self, node: str) -> NodeDetail:
        with self._client.database().transaction() as cur:
            cur.execute(NODE_SQL, (node,))
            row: dict[str, Any] = cur.fetchone() or {}
            cur.execute(ATTEMPTS_SQL, (node, DETAIL_ATTEMPTS))
            attempts = [
                Attempt(
                    at=a["at"],
                    message_id=a["message_id"],
                    attempt=int(a["attempt"]),
                    outcome=a["outcome"],
                    duration_ms=float(a["duration_ms"]),
                    next_node=a["next_node"],
                )
                for a in reversed(cur.fetchall())
            ]
            cur.execute(WENT_TO_SQL, (node, FAILURES_FOLLOWED))
            went = {w["node"]: int(w["messages"]) for w in cur.fetchall()}
        return NodeDetail(node, tuple(attempts), int(row.get("redelivered") or 0), went)

    def record(self, event: Event) -> None:
        target = " ".join(p for p in (event.target, event.detail) if p)
        outcome = " FAILED" if event.failed else ""
        self._state.record_event(event.kind, target + outcome, at=event.at)
