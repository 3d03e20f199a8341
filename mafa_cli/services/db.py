"""PostgreSQL access for the services: a checked connection pool and idempotent schema setup.

The only module that imports psycopg. Stores (sender/store.py, receiver/store.py) hold the SQL and
receive a cursor from `Database.transaction()`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from mafa_cli.services.policy import backoff_delays

log = logging.getLogger(__name__)

Cursor = psycopg.Cursor[dict[str, Any]]


class DatabaseUnavailable(RuntimeError):
    """PostgreSQL cannot be reached or the connection broke; the operation did not happen."""


class Database:
    def __init__(self, conninfo: str, *, max_size: int = 10, timeout_s: float = 5.0) -> None:
        # check=: every connection is tested before it is handed out, so a restarted server costs
        # one failed check and a reconnect, not a failed request.
        self._pool: ConnectionPool[psycopg.Connection[dict[str, Any]]] = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=max_size,
            open=False,
            timeout=timeout_s,
            check=ConnectionPool.check_connection,
            kwargs={"row_factory": dict_row},
            connection_class=psycopg.Connection[dict[str, Any]],
        )

    def open(self) -> None:
        self._pool.open(wait=False)

    def close(self) -> None:
        self._pool.close()

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        """A cursor in one transaction: committed when the block ends, rolled back on error."""
        try:
            with self._pool.connection() as conn, conn.cursor() as cur:
                yield cur
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise DatabaseUnavailable(f"database unavailable: {exc}".strip()) from exc

    def ping(self) -> bool:
        try:
            with self.transaction() as cur:
                cur.execute("SELECT 1")
        except DatabaseUnavailable:
            return False
        return True

    def ensure_schema(self, lock_name: str, ddl: str, timeout_s: float) -> None:
        """Run `ddl` under a transaction-scoped advisory lock, so N replicas starting at once do
        not race on CREATE ... IF NOT EXISTS; retry with backoff while the server is not up yet."""
        deadline = time.monotonic() + timeout_s
        for wait in backoff_delays(0.2, 5.0):
            try:
                with self.transaction() as cur:
                    cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (lock_name,))
                    cur.execute(ddl.encode("utf-8"))
                return
            except DatabaseUnavailable as exc:
                if time.monotonic() + wait > deadline:
                    raise DatabaseUnavailable(
                        f"database not ready after {timeout_s:.0f}s: {exc}"
                    ) from exc
                log.warning("database not ready (%s); retrying in %.1fs", exc, wait)
                time.sleep(wait)


class NodeStore:
    """What both services' stores share: a health check, and a row per node in `schema.nodes`
    (its counters start at zero; the container's host name links it to its container)."""

    schema = ""

    def __init__(self, db: Database) -> None:
        self._db = db

    def ping(self) -> bool:
        return self._db.ping()

    def register_node(self, node: str, host: str) -> None:
        with self._db.transaction() as cur:
            cur.execute(
                f"INSERT INTO {self.schema}.nodes (node, host) VALUES (%s, %s)"  # noqa: S608 (a class constant)
                " ON CONFLICT (node) DO UPDATE SET host = excluded.host",
                (node, host),
            )
