"""Redis for the services: the client, and what the pages count about sessions.

The only module that imports redis. Flask-Session keeps the session data (see web.py); this
module keeps the counts that must not be read-modify-written through the session (two submits
from one session on two nodes at once would lose an update) and the active-session count, as a
sorted set of expiry times (ZCOUNT is O(log n): no KEYS, no SCAN).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from mafa_cli.services.settings import ServiceSettings

REDIS_ERRORS: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)
ACTIVE_KEY = "mafa:sessions:active"
# Moved on by every accepted message: a page whose cached list was read at this version is fresh.
MESSAGES_VERSION_KEY = "mafa:messages:version"
SESSION_KEY_PREFIX = "mafa:sess:"


@dataclass(frozen=True)
class Overview:
    session_messages: int
    active_sessions: int
    messages_version: int


def counter_key(sid: str) -> str:
    return f"mafa:sessions:messages:{sid}"


def make_client(settings: ServiceSettings) -> redis.Redis:
    return connect(settings.redis_host, settings.redis_port, settings.redis_password)


def connect(host: str, port: int, password: str) -> redis.Redis:
    # Retries ride over a Redis restart: a broken pooled connection is replaced on the next try.
    return redis.Redis(
        host=host,
        port=port,
        password=password,
        socket_timeout=2,
        socket_connect_timeout=2,
        health_check_interval=15,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 3),
        retry_on_error=list(REDIS_ERRORS),
    )


class SessionCounts:
    """Each method is one round trip, and each also keeps the session alive (see `_keep_alive`):
    a request calls exactly one of them."""

    def __init__(self, client: redis.Redis, lifetime_s: int) -> None:
        self._redis = client
        self._lifetime_s = lifetime_s

    def _keep_alive(self, pipe: Any, sid: str, now: float) -> None:
        # The session lives for another lifetime from now: its entry in the active set, its
        # message count, and its data (Flask-Session stores the data only when it changes).
        pipe.zadd(ACTIVE_KEY, {sid: now + self._lifetime_s})
        pipe.zremrangebyscore(ACTIVE_KEY, "-inf", now)  # drop expired ones: amortised O(log n)
        pipe.expire(counter_key(sid), self._lifetime_s)
        pipe.expire(SESSION_KEY_PREFIX + sid, self._lifetime_s)

    def touch(self, sid: str) -> None:
        """The session `sid` lives for another lifetime from now."""
        pipe = self._redis.pipeline(transaction=False)
        self._keep_alive(pipe, sid, time.time())
        pipe.execute()

    def active(self) -> int:
        return int(self._redis.zcount(ACTIVE_KEY, time.time(), "+inf"))

    def count_message(self, sid: str) -> int:
        """Add one message to the session's count atomically (INCR); return the new count. Also
        moves the messages version on, so pages that cache the latest messages read them again."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.incr(counter_key(sid))
        pipe.incr(MESSAGES_VERSION_KEY)
        self._keep_alive(pipe, sid, time.time())
        count = pipe.execute()[0]
        return int(count)

    def overview(self, sid: str) -> Overview:
        """What a page shows about sessions, in one round trip. Viewing a page keeps the session
        alive, so the session is counted here too (its first view included)."""
        now = time.time()
        pipe = self._redis.pipeline(transaction=False)
        self._keep_alive(pipe, sid, now)
        pipe.get(counter_key(sid))
        pipe.zcount(ACTIVE_KEY, now, "+inf")
        pipe.get(MESSAGES_VERSION_KEY)
        *_, mine, active, version = pipe.execute()
        return Overview(int(mine or 0), int(active), int(version or 0))

    def end(self, sid: str) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.zrem(ACTIVE_KEY, sid)
        pipe.delete(counter_key(sid))
        pipe.execute()

    def ping(self) -> bool:
        try:
            return bool(self._redis.ping())
        except REDIS_ERRORS:
            return False
