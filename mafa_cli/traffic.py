"""Messages sent to a stack by mafa itself (for `mafa smoke` and `mafa chaos`): a few threads,
each with its own keep-alive connection and session, through the balancer's JSON API, every
message tagged with the run id. Counts what was accepted, refused (503) and failed."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from mafa_cli import http_client


@dataclass
class TrafficCounts:
    accepted: int = 0
    refused: int = 0  # 503: the stack said it could not take it now
    rejected: int = 0  # other 4xx/5xx
    errors: int = 0  # no answer (connection refused or reset, timeout)
    accepted_ids: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, status: int, message_id: str | None) -> None:
        with self.lock:
            if status == 202 and message_id:
                self.accepted += 1
                self.accepted_ids.append(message_id)
            elif status == 503:
                self.refused += 1
            elif status == 0:
                self.errors += 1
            else:
                self.rejected += 1

    @property
    def sent(self) -> int:
        return self.accepted + self.refused + self.rejected + self.errors


def _post(session: http_client.Session, url: str, run_id: str, text: str) -> tuple[int, str | None]:
    answer = session.post(url, json={"message": text, "run_id": run_id}, timeout=15)
    if answer.status_code == 202:
        return 202, str(answer.json()["id"])
    return answer.status_code, None


class Traffic:
    """Send messages from `threads` threads: `total` in all (as fast as the stack answers), or
    at `rate` per second until stopped."""

    def __init__(
        self,
        url: str,
        run_id: str,
        threads: int = 8,
        total: int | None = None,
        rate: float | None = None,
        ca_file: Path | None = None,
    ) -> None:
        self._url = f"{url.rstrip('/')}/api/messages"
        # https is verified as any client would: the project's CA (up --tls), else the system's.
        self._ca_file = ca_file
        self.run_id = run_id
        self.counts = TrafficCounts()
        self._threads = threads
        self._total = total
        self._interval = threads / rate if rate else 0.0
        self._stop = threading.Event()
        self._next = 0
        self._next_lock = threading.Lock()
        self._workers: list[threading.Thread] = []

    def _claim(self) -> int | None:
        with self._next_lock:
            if self._total is not None and self._next >= self._total:
                return None
            self._next += 1
            return self._next

    def _run(self) -> None:
        with http_client.session(self._ca_file) as session:  # one keep-alive session a thread
            while not self._stop.is_set():
                number = self._claim()
                if number is None:
                    break
                started = time.monotonic()
                text = f"{self.run_id} #{number}"
                try:
                    status, message_id = _post(session, self._url, self.run_id, text)
                except (http_client.HttpError, ValueError):  # no answer, or not JSON
                    status, message_id = 0, None
                    self._stop.wait(0.2)  # the stack is away: do not spin
                self.counts.add(status, message_id)
                if self._interval:
                    self._stop.wait(max(0.0, self._interval - (time.monotonic() - started)))

    def start(self) -> Traffic:
        for _ in range(self._threads):
            worker = threading.Thread(target=self._run, daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def stop(self) -> TrafficCounts:
        self._stop.set()
        return self.wait()

    def wait(self) -> TrafficCounts:
        for worker in self._workers:
            worker.join()
        return self.counts
