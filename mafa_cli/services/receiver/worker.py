"""The receiver's work: consume, "work" for a random while, fail at random, commit then ack.

Every delivery attempt is recorded. The effect is committed before the ack, and is idempotent on
the message id, so a message is processed exactly once in effect however often it is delivered.
On shutdown, in-flight work is interrupted and its message requeued (recorded as 'interrupted').
"""

from __future__ import annotations

import logging
import random
import threading
import time

from mafa_cli.services.amqp import ConsumerLoop, Delivery
from mafa_cli.services.db import DatabaseUnavailable
from mafa_cli.services.messages import Envelope
from mafa_cli.services.policy import WorkPolicy, backoff_delays
from mafa_cli.services.receiver.store import Outcome, ReceiverStore
from mafa_cli.services.settings import ServiceSettings

log = logging.getLogger(__name__)

# How long a finished message waits for the database before it is handed back to the queue.
COMMIT_PATIENCE_S = 30.0
# How long the health check waits for the first consumer's connection at start: the consumers
# connect on their own threads as the web worker starts serving, and the first check (mafa's
# probe waits in the listen queue for it) would otherwise fail by tens of milliseconds.
FIRST_CONSUMER_WAIT_S = 2.0


class ReceiverWorker:
    def __init__(
        self, settings: ServiceSettings, store: ReceiverStore, rng: random.Random | None = None
    ) -> None:
        self.settings = settings
        self.store = store
        self.policy = WorkPolicy(settings.max_delay_s, settings.fail_rate)
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        self.stop_event = threading.Event()
        self._loops: list[ConsumerLoop] = []
        self._threads: list[threading.Thread] = []
        self._connected_once = False

    def handle(self, delivery: Delivery) -> None:
        try:
            envelope = Envelope.from_bytes(delivery.body)
        except ValueError:
            # Not ours or corrupt: retrying cannot help, so park it in the dead-letter queue.
            log.error("unreadable message dead-lettered: %r", delivery.body[:200])
            delivery.dead_letter()
            return
        node = self.settings.node_name
        attempt = delivery.delivery_count + 1
        unsafe = self.settings.unsafe_ack_before_commit
        if unsafe:
            delivery.ack()  # the deliberate fault: the broker forgets the message now
        with self._rng_lock:
            plan = self.policy.next_attempt(self._rng)
        started = time.monotonic()
        interrupted = self.stop_event.wait(plan.delay_s)
        duration_ms = (time.monotonic() - started) * 1000.0

        def record(outcome: Outcome) -> None:
            try:
                self.store.record_attempt(
                    envelope, node, attempt, delivery.redelivered, duration_ms, outcome
                )
            except DatabaseUnavailable as exc:
                log.warning("attempt %s of %s not recorded: %s", attempt, envelope.id, exc)

        if interrupted:
            record("interrupted")
            if not unsafe:
                delivery.requeue()
            return
        if plan.fails:
            record("failed")
            if not unsafe:
                delivery.requeue()
            return
        committed = self._commit(envelope, node, attempt, delivery.redelivered, duration_ms)
        if unsafe:
            return
        if committed:
            delivery.ack()
        else:
            delivery.requeue()

    def _commit(
        self, envelope: Envelope, node: str, attempt: int, redelivered: bool, duration_ms: float
    ) -> bool:
        """Commit the effect, riding out a database restart for a while; False if it could not
        be committed (the message then goes back to the queue, unacked, so it is not lost)."""
        deadline = time.monotonic() + COMMIT_PATIENCE_S
        for wait in backoff_delays(0.2, 5.0):
            try:
                self.store.commit_effect(envelope, node, attempt, redelivered, duration_ms)
                return True
            except DatabaseUnavailable as exc:
                if time.monotonic() + wait > deadline:
                    log.error("giving %s back to the queue: %s", envelope.id, exc)
                    return False
                log.warning("commit of %s failed (%s); retrying in %.1fs", envelope.id, exc, wait)
                if self.stop_event.wait(wait):
                    return False
        return False  # pragma: no cover  (backoff_delays never ends)

    @property
    def consuming(self) -> int:
        return sum(1 for loop in self._loops if loop.connected)

    def consuming_at_start(self, wait_s: float = FIRST_CONSUMER_WAIT_S) -> int:
        """Consuming threads now; until the first has ever connected, waits up to `wait_s` for
        it (afterwards, a broker that went away is reported at once)."""
        deadline = time.monotonic() + wait_s
        while (
            not self._connected_once
            and self._loops
            and self.consuming == 0
            and time.monotonic() < deadline
        ):
            self.stop_event.wait(0.02)
        consuming = self.consuming
        self._connected_once = self._connected_once or consuming > 0
        return consuming

    def start(self) -> None:
        for number in range(self.settings.consumers):
            loop = ConsumerLoop(self.settings, self.handle, self.stop_event)
            thread = threading.Thread(target=loop.run, name=f"consumer-{number}", daemon=True)
            self._loops.append(loop)
            self._threads.append(thread)
            thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop consuming: in-flight work is interrupted and requeued, connections closed."""
        self.stop_event.set()
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
