"""Each node's colour slot: the lowest of 0..31 that no other live node of the stack holds, claimed
at start, kept while the node lives, freed when it ends (or 30 s after it was killed).

Why Redis (a key per slot, `mafa:slot:<i>`, set with NX and an expiry, renewed by a heartbeat)
rather than a leased row in PostgreSQL: slots must be distinct across senders *and* receivers,
whose rows live in two schemas owned by two roles that cannot see each other's tables; Redis is
the one store both services share. A killed node's key expires by itself. After a Redis restart
the keys are gone: at its next beat each node asks for its own slot back (`preferred`) and gets
it unless a node that started in between took it, in which case it takes the lowest free one
and its row says so. The claim never blocks the node's start: it runs in the heartbeat thread,
and until it succeeds (or when all 32 are held) the node shows its name's colour
(palette.slot_or_fallback).

The slot is stored on the node's row (`slot` in sender.nodes / receiver.nodes), where the pages,
`mafa watch` and the report read it. None of this is on the request path: the page reads the
slot kept in memory here, and the other nodes' slots with the rows it already reads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

from mafa_cli.services.db import NodeStore
from mafa_cli.services.sessions import RedisSlotLeases

log = logging.getLogger(__name__)

LEASE_S = 30  # a killed node's slot is free again after this
BEAT_S = 10.0  # renewed three times a lease: a slow beat or two does not lose it


class SlotLeases(Protocol):
    """Where slots are held (sessions.RedisSlotLeases; a fake in the unit tests)."""

    def claim(self, node: str, preferred: int | None, lease_s: int) -> int | None:
        """Renew the slot `node` holds, or take `preferred` if free, or the lowest free one;
        None when all are held. One atomic step."""

    def release(self, node: str, slot: int) -> None:
        """Free `slot` if `node` still holds it."""


class SlotKeeper:
    """Claims and keeps one node's slot; `store_slot` writes it to the node's row when it changes
    (retried at the next beat if the database could not take it)."""

    def __init__(
        self,
        node: str,
        leases: SlotLeases,
        store_slot: Callable[[int | None], None],
        beat_s: float = BEAT_S,
    ) -> None:
        self._node = node
        self._leases = leases
        self._store_slot = store_slot
        self._beat_s = beat_s
        self._slot: int | None = None
        self._stored: int | object | None = _NOTHING_STORED
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def slot(self) -> int | None:
        return self._slot

    def beat(self) -> None:
        """One renewal: claim (or keep) the slot, then store it if it changed. A failure leaves
        the slot as it was (the node keeps its colour while Redis is away) for the next beat."""
        try:
            self._slot = self._leases.claim(self._node, self._slot, LEASE_S)
        except Exception as exc:  # any failure of Redis: try again next beat
            log.warning("colour slot of %s not renewed: %s", self._node, exc)
        if self._stored != self._slot:
            try:
                self._store_slot(self._slot)
                self._stored = self._slot
            except Exception as exc:  # the database is away: store it next beat
                log.warning("colour slot of %s not stored: %s", self._node, exc)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="slot-keeper", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.beat()
            self._stop.wait(self._beat_s)

    def stop(self) -> None:
        """End the beats and free the slot at once (a new node can have it without waiting)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._slot is not None:
            try:
                self._leases.release(self._node, self._slot)
            except Exception as exc:  # then it expires with its lease
                log.warning("colour slot of %s not released: %s", self._node, exc)


_NOTHING_STORED = object()

# This process's keeper: started by the app as gunicorn builds it in a worker, stopped (its slot
# freed) by gunicorn's worker_exit hook (gunicorn_conf.py).
_keeper: SlotKeeper | None = None


def keep_slot(node: str, redis_client: Any, store: NodeStore) -> SlotKeeper:
    """Start keeping `node`'s slot in the stack's Redis, stored on its row in `store`."""
    global _keeper
    _keeper = SlotKeeper(node, RedisSlotLeases(redis_client), partial(store.store_slot, node))
    _keeper.start()
    return _keeper


def release_slot() -> None:
    if _keeper is not None:
        _keeper.stop()
