"""PostgreSQL access for the services: a connection pool that heals after a server restart, and
idempotent schema setup.

The only module that imports psycopg. Stores (sender/store.py, receiver/store.py) hold the SQL and
receive a cursor from `Database.transaction()`.
"""

from __future__ import annotations

import contextlib
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
        self._conninfo = conninfo
        self._timeout_s = timeout_s
        # No check on every borrow (a round trip per request): a connection that turns out broken
        # makes the pool test its idle ones at once (see _broken), and execute() retries.
        self._pool: ConnectionPool[psycopg.Connection[dict[str, Any]]] = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=max_size,
            open=False,
            timeout=timeout_s,
            kwargs={"row_factory": dict_row, "autocommit": True},
            connection_class=psycopg.Connection[dict[str, Any]],
        )

    def open(self, wait: bool = False) -> None:
        """Start the pool's connecting; `wait` until its first connection is ready (a borrow
        before then makes the pool add a second connection, an extra round of connecting for a
        one-off reading such as `mafa watch --once`)."""
        try:
            self._pool.open(wait=wait, timeout=self._timeout_s)
        except PoolTimeout as exc:  # the pool closed itself: the caller drops it (access.py)
            raise DatabaseUnavailable(f"database unavailable: {exc}".strip()) from exc

    def reachable(self) -> bool:
        """Does the server take a connection now? One connection outside the pool: the pool's
        own reconnect backoff (1 s, 2 s, 4 s ...) would notice a server that just came up late."""
        try:
            psycopg.connect(self._conninfo, connect_timeout=2).close()
        except psycopg.Error:
            return False
        return True

    def close(self) -> None:
        self._pool.close()

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        """A cursor in one transaction: committed when the block ends, rolled back on error."""
        try:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                yield cur
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise self._broken(exc) from exc

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """One statement in its own transaction (one round trip), its rows returned. Tried again
        once if the connection was broken (a restarted server): statements given here must be
        idempotent, so a first try that did commit changes nothing the second time."""
        for attempt in (1, 2):
            try:
                with self._pool.connection() as conn, conn.cursor() as cur:
                    cur.execute(sql, params)
                    return cur.fetchall() if cur.description is not None else []
            except psycopg.OperationalError as exc:
                error = self._broken(exc)
                if attempt == 2:
                    raise error from exc
            except PoolTimeout as exc:
                raise self._broken(exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _broken(self, exc: Exception) -> DatabaseUnavailable:
        # One broken connection usually means all idle ones are (the server restarted): test them
        # now, so the next requests get working connections instead of failing one by one.
        if isinstance(exc, psycopg.OperationalError):
            with contextlib.suppress(Exception):
                self._pool.check()
        return DatabaseUnavailable(f"database unavailable: {exc}".strip())

    def ping(self) -> bool:
        try:
            self.execute("SELECT 1")
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
    (its counters start at zero; the container's host name links it to its container; its
    colour slot, see slots.py)."""

    schema = ""

    def __init__(self, db: Database) -> None:
        self._db = db

    def ping(self) -> bool:
        return self._db.ping()

    def register_node(self, node: str, host: str) -> None:
        self._db.execute(
            f"INSERT INTO {self.schema}.nodes (node, host) VALUES (%s, %s)"  # noqa: S608 (a class constant)
            " ON CONFLICT (node) DO UPDATE SET host = excluded.host",
            (node, host),
        )

    def store_slot(self, node: str, slot: int | None) -> None:
        """The node's colour slot (None: it holds none, its name's colour is shown)."""
        self._db.execute(
            f"INSERT INTO {self.schema}.nodes (node, slot) VALUES (%s, %s)"  # noqa: S608 (a class constant)
            " ON CONFLICT (node) DO UPDATE SET slot = excluded.slot",
            (node, slot),
        )
