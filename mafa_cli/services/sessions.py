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


# A request's first and usually only session round trip (run by Redis as one script): the
# session's stored data and, only if the session exists, its renewal (see _keep_alive) and the
# figures a page shows (when asked for). A forged or expired id is not renewed, so it never
# counts as active.
_OPEN_SCRIPT = """
local data = redis.call('GET', KEYS[1])
if not data then return {false, 0, 0, 0} end
local now, lifetime = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZADD', KEYS[2], now + lifetime, ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('EXPIRE', KEYS[3], lifetime)
redis.call('EXPIRE', KEYS[1], lifetime)
if ARGV[4] ~= '1' then return {data, false, false, false} end
local mine = redis.call('GET', KEYS[3]) or 0
local active = redis.call('ZCOUNT', KEYS[2], now, '+inf')
local version = redis.call('GET', KEYS[4]) or 0
return {data, mine, active, version}
"""


class SessionCounts:
    """Each method is one round trip, and each also keeps the session alive (see `_keep_alive`):
    a request calls `open` (through the web layer) and at most one other."""

    def __init__(self, client: redis.Redis, lifetime_s: int) -> None:
        self._redis = client
        self._lifetime_s = lifetime_s
        self._open = client.register_script(_OPEN_SCRIPT)

    def close(self) -> None:
        """Close the client's connections (the CLI's reads end; a service keeps its own)."""
        self._redis.close()

    def open(self, sid: str, with_figures: bool) -> tuple[bytes | None, Overview | None]:
        """The session's stored data; if there is any, the session is renewed and, if asked
        for, the page's figures come with it. (None, None) for an unknown or expired id."""
        data, mine, active, version = self._open(
            keys=[SESSION_KEY_PREFIX + sid, ACTIVE_KEY, counter_key(sid), MESSAGES_VERSION_KEY],
            args=[repr(time.time()), self._lifetime_s, sid, int(with_figures)],
        )
        if data is None:
            return None, None
        if mine is None:
            return bytes(data), None
        return bytes(data), Overview(int(mine), int(active), int(version))

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

    def count_message(self, sid: str, renew: bool = True) -> int:
        """Add one message to the session's count atomically (INCR); return the new count. Also
        moves the messages version on, so pages that cache the latest messages read them again.
        `renew=False` when `open` renewed the session already in this request."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.incr(counter_key(sid))
        pipe.incr(MESSAGES_VERSION_KEY)
        if renew:
            self._keep_alive(pipe, sid, time.time())
        else:  # a first message creates the counter after open's renewal: give it its lifetime
            pipe.expire(counter_key(sid), self._lifetime_s)
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


SLOT_KEY_PREFIX = "mafa:slot:"
SLOT_COUNT = 32  # the palette's size (palette.PALETTE)

# One atomic step (see slots.py): the slot this node holds already is renewed; else the preferred
# one (its slot before a Redis restart), else the lowest free one is taken; -1 when all are held.
# Several processes of one node (a sender's gunicorn workers) thus share one slot.
_CLAIM_SCRIPT = """
local node, preferred, lease = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == node then
    redis.call('EXPIRE', KEYS[i], lease)
    return i - 1
  end
end
if preferred >= 0 and preferred < #KEYS
   and redis.call('SET', KEYS[preferred + 1], node, 'NX', 'EX', lease) then
  return preferred
end
for i = 1, #KEYS do
  if redis.call('SET', KEYS[i], node, 'NX', 'EX', lease) then return i - 1 end
end
return -1
"""
_RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisSlotLeases:
    """The nodes' colour slots in Redis, one key each (slots.SlotLeases)."""

    def __init__(self, client: redis.Redis) -> None:
        self._keys = [f"{SLOT_KEY_PREFIX}{i}" for i in range(SLOT_COUNT)]
        self._claim = client.register_script(_CLAIM_SCRIPT)
        self._release = client.register_script(_RELEASE_SCRIPT)

    def claim(self, node: str, preferred: int | None, lease_s: int) -> int | None:
        slot = int(
            self._claim(
                keys=self._keys, args=[node, -1 if preferred is None else preferred, lease_s]
            )
        )
        return None if slot < 0 else slot

    def release(self, node: str, slot: int) -> None:
        self._release(keys=[self._keys[slot]], args=[node])
