"""Group commit: work items from many request threads run together, by one thread, in one batch.

Each caller still waits for its own item to be done (so an answer never runs ahead of its
commit), but N callers arriving together cost one statement and one commit instead of N. There
is no timer: while a batch runs, the next callers queue up and form the next batch, so a lone
caller waits for nothing but its own work and batches grow only when the load does.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Batcher(Generic[Item, Result]):
    def __init__(
        self,
        run_batch: Callable[[list[Item]], Sequence[Result]],
        *,
        name: str,
        max_batch: int = 64,
    ) -> None:
        """`run_batch(items)` returns one result per item, in order; if it raises, every caller
        of that batch gets the exception."""
        self._run_batch = run_batch
        self._name = name
        self._max_batch = max_batch
        self._pending: queue.SimpleQueue[tuple[Item, Future[Result]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, item: Item) -> Result:
        """Run `item` in the next batch; its result once the batch has run."""
        self._ensure_thread()
        done: Future[Result] = Future()
        self._pending.put((item, done))
        return done.result()

    def _ensure_thread(self) -> None:
        # Started on first use, in the process that uses it (gunicorn forks after imports).
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                    self._thread.start()

    def _loop(self) -> None:
        while True:
            batch = [self._pending.get()]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._pending.get_nowait())
                except queue.Empty:
                    break
            self._run(batch)

    def _run(self, batch: list[tuple[Item, Future[Result]]]) -> None:
        try:
            results = self._run_batch([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{self._name}: {len(results)} results for {len(batch)} items")
        except Exception as exc:  # handed to every caller of the batch, who raises it
            for _, done in batch:
                done.set_exception(exc)
            return
        for (_, done), result in zip(batch, results, strict=True):
            done.set_result(result)
