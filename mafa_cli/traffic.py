"""Messages sent to a stack by mafa itself (for `mafa smoke` and `mafa chaos`): a few threads,
each with its own keep-alive connection and session, through the balancer's JSON API, every
message tagged with the run id. Counts what was accepted, refused (503) and failed."""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse


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


def _post(connection: http.client.HTTPConnection, run_id: str, text: str) -> tuple[int, str | None]:
    body = json.dumps({"message": text, "run_id": run_id})
    connection.request(
        "POST", "/api/messages", body=body, headers={"Content-Type": "application/json"}
    )
    answer = connection.getresponse()
    data = answer.read()
    if answer.status == 202:
        return 202, str(json.loads(data)["id"])
    return answer.status, None


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
        parsed = urlparse(url)
        self._host = parsed.hostname or "127.0.0.1"
        self._tls = (
            # Verified as any client would: against the project's CA (up --tls), else the system's.
            ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
            if parsed.scheme == "https"
            else None
        )
        self._port = parsed.port or (443 if self._tls else 80)
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

    def _connection(self) -> http.client.HTTPConnection:
        if self._tls is not None:
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=15, context=self._tls
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=15)

    def _run(self) -> None:
        connection = self._connection()
        while not self._stop.is_set():
            number = self._claim()
            if number is None:
                break
            started = time.monotonic()
            try:
                status, message_id = _post(connection, self.run_id, f"{self.run_id} #{number}")
            except (OSError, http.client.HTTPException):
                status, message_id = 0, None
                connection.close()
                connection = self._connection()
                self._stop.wait(0.2)  # the stack is away: do not spin
            self.counts.add(status, message_id)
            if self._interval:
                self._stop.wait(max(0.0, self._interval - (time.monotonic() - started)))
        connection.close()

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
