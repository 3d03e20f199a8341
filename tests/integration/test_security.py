"""Secure by default, and bad input never hurts: what is published, who can log in where, and a
fuzz of the sender's form and API (hypothesis) that must never get a 5xx or store anything for
refused input."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import pika
import psycopg
import pytest
import redis
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.stack import ComposeStack

FUZZ_EXAMPLES = int(os.environ.get("MAFA_FUZZ_EXAMPLES", "250"))


def test_only_the_balancer_is_published_and_only_on_loopback(stack: ComposeStack) -> None:
    published = {
        (c["Name"].lstrip("/"), binding["HostIp"], binding["HostPort"])
        for c in stack.containers()
        for bindings in (c["NetworkSettings"]["Ports"] or {}).values()
        for binding in bindings or []
    }
    assert published == {(f"{stack.project}_haproxy_1", "127.0.0.1", str(stack.port))}
    # The host's listening sockets for that port: loopback only.
    listeners = []
    for line in open("/proc/net/tcp").read().splitlines()[1:]:  # noqa: SIM115
        local, state = line.split()[1], line.split()[3]
        address, port = local.split(":")
        if state == "0A" and int(port, 16) == stack.port:
            listeners.append(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    assert listeners == ["127.0.0.1"]
    # From the host's address on the stack's own bridge network (not loopback): refused.
    network = next(iter(stack.containers("haproxy")[0]["NetworkSettings"]["Networks"]))
    gateway = subprocess.run(
        ["docker", "network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}", network],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert gateway
    assert not gateway.startswith("127.")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((gateway, stack.port), timeout=3).close()


def test_session_cookie_is_secure_only_over_https(stack: ComposeStack) -> None:
    # What a TLS terminator in front of the balancer would say, straight to a sender:
    sender = stack.ip("sender")
    direct = requests.get(
        f"http://{sender}:8000/", headers={"X-Forwarded-Proto": "https"}, timeout=10
    )
    assert "; Secure" in direct.headers["Set-Cookie"]
    assert (
        "; Secure" not in requests.get(f"http://{sender}:8000/", timeout=10).headers["Set-Cookie"]
    )
    # Through the balancer a client cannot claim HTTPS for itself.
    spoofed = requests.get(f"{stack.url}/", headers={"X-Forwarded-Proto": "https"}, timeout=10)
    assert "; Secure" not in spoofed.headers["Set-Cookie"]
    assert "HttpOnly" in spoofed.headers["Set-Cookie"]


def test_rabbitmq_has_no_guest(stack: ComposeStack) -> None:
    host = stack.ip("rabbitmq")
    with pytest.raises(pika.exceptions.ProbableAuthenticationError):
        pika.BlockingConnection(
            pika.ConnectionParameters(host, credentials=pika.PlainCredentials("guest", "guest"))
        )
    answer = requests.get(f"http://{host}:15672/api/overview", auth=("guest", "guest"), timeout=5)
    assert answer.status_code == 401


BROKER_PASSWORDS = {
    "mafa_sender": "MAFA_SENDER_AMQP_PASSWORD",
    "mafa_receiver": "MAFA_RECEIVER_AMQP_PASSWORD",
    "mafa_monitor": "MAFA_MONITOR_AMQP_PASSWORD",
}


@contextmanager
def _broker_channel(stack: ComposeStack, user: str) -> Iterator[Any]:
    """A channel with publisher confirms (a refused publish then raises), as `user`."""
    password = stack.settings[BROKER_PASSWORDS[user]]
    connection = pika.BlockingConnection(
        pika.ConnectionParameters(
            stack.ip("rabbitmq"), credentials=pika.PlainCredentials(user, password)
        )
    )
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        yield channel
    finally:
        if connection.is_open:
            connection.close()


def _assert_refused(stack: ComposeStack, user: str, action: Callable[[Any], object]) -> None:
    with (
        _broker_channel(stack, user) as channel,
        pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused,
    ):
        action(channel)
    assert refused.value.reply_code == 403, refused.value  # ACCESS_REFUSED, not another error


def _publish(exchange: str, routing_key: str) -> Callable[[Any], object]:
    return lambda channel: channel.basic_publish(exchange, routing_key, b"{}", mandatory=True)


def _consume(queue: str) -> Callable[[Any], object]:
    return lambda channel: channel.basic_consume(queue, lambda *_: None)


def test_the_sender_may_only_publish_to_the_work_queue(stack: ComposeStack) -> None:
    with _broker_channel(stack, "mafa_sender") as channel:
        channel.queue_declare("messages", passive=True)  # what the sender checks at connect
        # Allowed to publish: a routing key with no queue comes back unroutable, not refused
        # (and leaves nothing behind for the other tests to count).
        with pytest.raises(pika.exceptions.UnroutableError):
            _publish("", "no-such-queue")(channel)
    _assert_refused(stack, "mafa_sender", _consume("messages"))
    _assert_refused(stack, "mafa_sender", lambda channel: channel.queue_delete("messages"))
    _assert_refused(stack, "mafa_sender", lambda channel: channel.queue_purge("messages"))
    _assert_refused(stack, "mafa_sender", lambda channel: channel.queue_declare("mine"))
    _assert_refused(stack, "mafa_sender", _publish("messages.dlx", "messages"))


def test_the_receiver_may_only_consume_the_work_queue(stack: ComposeStack) -> None:
    with _broker_channel(stack, "mafa_receiver") as channel:
        channel.basic_qos(prefetch_count=1)
        tag = channel.basic_consume("messages", lambda *_: None)
        channel.basic_cancel(tag)  # whatever it was handed goes back to the queue
    _assert_refused(stack, "mafa_receiver", _publish("", "messages"))
    _assert_refused(stack, "mafa_receiver", _publish("messages.dlx", "messages"))
    _assert_refused(stack, "mafa_receiver", _consume("messages.dead"))
    _assert_refused(stack, "mafa_receiver", lambda channel: channel.queue_delete("messages"))
    # Not refused, and cannot be: RabbitMQ grants purge with read (what consuming needs).


def test_the_monitor_reads_what_the_cli_reads_and_changes_nothing(stack: ComposeStack) -> None:
    api = f"http://{stack.ip('rabbitmq')}:15672/api"
    auth = ("mafa_monitor", stack.settings["MAFA_MONITOR_AMQP_PASSWORD"])
    # Every call of the CLI (stack/access.py, watch/collectors.py, ledger.py), HTTP then AMQP:
    for path in ("queues/%2F/messages", "queues/%2F/messages.dead", "connections", "channels"):
        assert requests.get(f"{api}/{path}", auth=auth, timeout=10).status_code == 200, path
    # It sees the services' connections (the dashboard's unacked per node needs them; a sender
    # connects at its first publish, the receivers at start).
    users = {c["user"] for c in requests.get(f"{api}/connections", auth=auth, timeout=10).json()}
    assert "mafa_receiver" in users
    get = {"count": 10, "ackmode": "ack_requeue_true", "encoding": "auto"}
    answer = requests.post(f"{api}/queues/%2F/messages.dead/get", json=get, auth=auth, timeout=10)
    assert answer.status_code == 200
    refused = {
        "publish": requests.post(
            f"{api}/exchanges/%2F/amq.default/publish",
            json={
                "properties": {},
                "routing_key": "messages",
                "payload": "x",
                "payload_encoding": "string",
            },
            auth=auth,
            timeout=10,
        ),
        "get from the work queue": requests.post(
            f"{api}/queues/%2F/messages/get", json=get, auth=auth, timeout=10
        ),
        "delete": requests.delete(f"{api}/queues/%2F/messages", auth=auth, timeout=10),
        "purge": requests.delete(f"{api}/queues/%2F/messages/contents", auth=auth, timeout=10),
        "add a user": requests.put(
            f"{api}/users/intruder", json={"password": "x", "tags": ""}, auth=auth, timeout=10
        ),
    }
    # 401 (not authorised), or 400 carrying the AMQP refusal for a publish.
    answers = {what: (r.status_code, r.json()["reason"]) for what, r in refused.items()}
    assert all(
        code in (400, 401)
        and ("refused" in reason.lower() or "not administrator" in reason.lower())
        for code, reason in answers.values()
    ), answers
    assert stack.queue("messages")["name"] == "messages"  # still there
    with _broker_channel(stack, "mafa_monitor") as channel:  # `mafa watch`'s exact depths
        for queue in ("messages", "messages.dead"):
            channel.queue_declare(queue, passive=True)
    _assert_refused(stack, "mafa_monitor", _publish("", "messages"))


def test_the_broker_knows_only_mafas_users(stack: ComposeStack) -> None:
    users = {u["name"]: u["tags"] for u in stack.rabbit("GET", "users")}
    tags = {
        name: sorted(t if isinstance(t, list) else t.split(",") if t else [])
        for name, t in users.items()
    }
    assert tags == {
        "mafa": ["administrator"],
        "mafa_sender": [],
        "mafa_receiver": [],
        "mafa_monitor": ["monitoring"],
    }
    work = stack.queue("messages")["arguments"]
    assert work["x-queue-type"] == "quorum"
    assert work["x-dead-letter-exchange"] == "messages.dlx"


def test_redis_wants_its_password(stack: ComposeStack) -> None:
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(host=stack.ip("redis"), socket_timeout=3).get("x")
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(host=stack.ip("redis"), password="guess", socket_timeout=3).get("x")


def test_postgres_wants_a_password_on_loopback_too(stack: ComposeStack) -> None:
    """The CLI's port forward reaches PostgreSQL on 127.0.0.1 inside its container (the official
    image trusts that address unless told otherwise): no password there must mean no entry."""
    (postgres,) = stack.containers("postgres")
    psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "mafa", "-w", "-c", "select 1"]
    tried = subprocess.run(
        ["docker", "exec", "-e", "PGPASSWORD=", postgres["Id"], *psql],
        capture_output=True,
        text=True,
        check=False,
    )
    assert tried.returncode != 0
    assert "password" in tried.stderr


@pytest.mark.parametrize(
    ("role", "password_key", "other"),
    [
        ("mafa_receiver", "MAFA_RECEIVER_DB_PASSWORD", "sender.messages"),
        ("mafa_sender", "MAFA_SENDER_DB_PASSWORD", "receiver.processed"),
    ],
)
def test_each_service_role_is_kept_out_of_the_other_schema(
    stack: ComposeStack, role: str, password_key: str, other: str
) -> None:
    with psycopg.connect(
        host=stack.ip("postgres"),
        dbname="mafa",
        user=role,
        password=stack.settings[password_key],
        autocommit=True,
    ) as conn:
        for sql in (f"SELECT count(*) FROM {other}", f"DELETE FROM {other}"):  # noqa: S608
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(host=stack.ip("postgres"), dbname="mafa", user=role, password="wrong")


@pytest.mark.parametrize(
    ("role", "password_key"),
    [("mafa_receiver", "MAFA_RECEIVER_DB_PASSWORD"), ("mafa_sender", "MAFA_SENDER_DB_PASSWORD")],
)
@pytest.mark.parametrize("database", ["postgres", "template1"])
def test_service_roles_reach_only_their_own_database(
    stack: ComposeStack, role: str, password_key: str, database: str
) -> None:
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(
            host=stack.ip("postgres"),
            dbname=database,
            user=role,
            password=stack.settings[password_key],
            connect_timeout=5,
        )


def test_the_brokers_config_holding_its_password_is_private(stack: ComposeStack) -> None:
    # The broker's definitions file holds every broker user's password (compose/rabbitmq).
    (rabbitmq,) = stack.containers("rabbitmq")
    found = subprocess.run(
        ["docker", "exec", rabbitmq["Id"], "find", "/etc/rabbitmq", "-type", "f", "-perm", "/044"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    passwords = [
        stack.settings[name] for name in ("MAFA_RABBITMQ_PASSWORD", *BROKER_PASSWORDS.values())
    ]
    readable_secrets = [
        path
        for path in found
        if any(
            password
            in subprocess.run(
                ["docker", "exec", rabbitmq["Id"], "cat", path],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            for password in passwords
        )
    ]
    assert not readable_secrets
    # mafa's definitions file (every broker password) is the broker's user's alone.
    mode = subprocess.run(
        [
            "docker",
            "exec",
            rabbitmq["Id"],
            "stat",
            "-c",
            "%a %U",
            "/etc/rabbitmq/mafa-definitions.json",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert mode == ["600", "rabbitmq"]


def test_no_secret_is_in_the_app_image(stack: ComposeStack) -> None:
    secrets = [v.encode() for k, v in stack.settings.items() if "PASSWORD" in k or "KEY" in k]
    history = subprocess.run(
        ["docker", "history", "--no-trunc", "mafa/app:latest"],
        capture_output=True,
        check=True,
    ).stdout
    config = subprocess.run(
        ["docker", "image", "inspect", "mafa/app:latest"], capture_output=True, check=True
    ).stdout
    assert not [s for s in secrets if s in history or s in config]
    # Every byte of every layer, streamed: none of the stack's secrets.
    save = subprocess.Popen(["docker", "save", "mafa/app:latest"], stdout=subprocess.PIPE)
    assert save.stdout is not None
    tail, found, size = b"", set(), 0
    while chunk := save.stdout.read(1 << 20):
        window = tail + chunk
        found |= {s for s in secrets if s in window}
        tail = window[-64:]
        size += len(chunk)
    assert save.wait() == 0
    assert size > 10_000_000, "the image was really read"
    assert not found


def _counts(stack: ComposeStack) -> tuple[int, int]:
    row = stack.query(
        "SELECT (SELECT count(*) FROM sender.messages), "
        "(SELECT count(*) FROM sender.messages WHERE status = 'accepted')"
    )[0]
    return int(row[0]), int(row[1])


FIELD_NAMES = st.sampled_from(["message", "message[]", "message[x]", "csrf_token", "run_id", "x"])
VALUES = st.one_of(st.text(max_size=60), st.binary(max_size=60).map(lambda b: b.decode("latin-1")))


@st.composite
def hostile_json(draw: Any) -> bytes:
    """Valid or nearly valid JSON that no honest client sends: deep nesting (also inside an
    extra field), numbers of thousands of digits, a key twice, NaN."""
    # Sizes at and around the limits and far beyond them (hypothesis alone favours small ones).
    depth = draw(st.sampled_from([15, 16, 17, 1100, 3000]))
    opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
    nested = opener * depth + b"1" + closer * draw(st.sampled_from([depth, 0]))
    digits = draw(st.sampled_from([40, 41, 4299, 4400, 6000]))
    number = draw(st.sampled_from([b"", b"-"])) + b"9" * digits
    return bytes(
        draw(
            st.sampled_from(
                [
                    nested,
                    b'{"message": "a", "x": ' + nested + b"}",
                    b'{"message": "a", "n": ' + number + b"}",
                    b'{"message": ' + number + b"}",
                    b'{"message": "a", "message": "b"}',
                    b'{"message": "a", "x": {"k": 1, "k": 2}}',
                    b'{"message": "a", "n": NaN}',
                ]
            )
        )
    )


@st.composite
def requests_to_send(draw: Any) -> dict[str, Any]:
    kind = draw(st.sampled_from(["api-json", "api-bytes", "api-hostile", "form", "form-bytes"]))
    headers = {
        "Content-Type": draw(
            st.sampled_from(
                [
                    "application/json",
                    "application/x-www-form-urlencoded",
                    "text/plain",
                    "multipart/form-data; boundary=x",
                    "application/json; charset=latin-1",
                ]
            )
        )
    }
    if draw(st.booleans()):
        headers["Cookie"] = "mafa_session=" + draw(st.text(alphabet="abcdefXYZ0123-_", max_size=50))
    if kind == "api-json":
        body = draw(
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.text(max_size=40),
                lambda inner: (
                    st.lists(inner, max_size=3)
                    | st.dictionaries(
                        st.sampled_from(["message", "run_id", "x"]), inner, max_size=3
                    )
                ),
                max_leaves=6,
            )
        )
        data = json.dumps(body).encode()
        path = "/api/messages"
    elif kind == "api-hostile":
        data = draw(hostile_json())
        path = "/api/messages"
    elif kind == "form":
        pairs = draw(st.lists(st.tuples(FIELD_NAMES, VALUES), max_size=4))
        data = urlencode(pairs).encode()
        path = "/"
    else:
        data = draw(st.binary(max_size=300))
        path = "/api/messages" if kind == "api-bytes" else "/"
    # Chunked framing (no Content-Length) for some: the same limits must hold.
    chunked = draw(st.booleans())
    return {"path": path, "data": data, "headers": headers, "chunked": chunked}


def test_fuzzed_input_never_gets_a_5xx_nor_stores_refused_messages(stack: ComposeStack) -> None:
    stack.wait_drained()
    before_rows, before_accepted = _counts(stack)
    answers: list[int] = []

    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(requests_to_send())
    def one(request: dict[str, Any]) -> None:
        data = request["data"]
        answer = requests.post(
            f"{stack.url}{request['path']}",
            data=iter([data]) if request["chunked"] else data,
            headers=request["headers"],
            allow_redirects=False,
            timeout=10,
        )
        answers.append(answer.status_code)
        assert answer.status_code < 500, (request, answer.status_code, answer.text[:300])

    one()
    accepted_answers = answers.count(202) + answers.count(303)
    time.sleep(1)
    after_rows, after_accepted = _counts(stack)
    # Only answers that said "accepted" stored anything, one row each.
    assert after_accepted - before_accepted == accepted_answers
    assert after_rows - before_rows == accepted_answers
    assert requests.get(f"{stack.url}/healthz", timeout=5).status_code == 200
    assert all(c["State"]["Running"] for c in stack.containers("sender"))
    assert all(c["RestartCount"] == 0 for c in stack.containers("sender"))


def _raw_exchange(stack: ComposeStack, head: bytes, parts: list[bytes], pause_s: float) -> bytes:
    """Send a request's head, then its body in `parts` with `pause_s` between them; the answer's
    first bytes (or b"" when the connection was closed without one)."""
    with socket.create_connection(("127.0.0.1", stack.port), timeout=30) as sock:
        # The answer is read while the body is still being sent: a refusal (413) comes early and
        # the connection is then closed on a body not read, which resets it, and a reset can
        # discard an answer not read yet (a read after the sending lost it now and then).
        answer: list[bytes] = []

        def read() -> None:
            try:
                answer.append(sock.recv(200))
            except OSError:
                answer.append(b"")

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        sock.sendall(head)
        try:
            for part in parts:
                time.sleep(pause_s)
                sock.sendall(part)
        except OSError:
            pass  # refused before the whole body arrived: the answer is what counts
        reader.join(timeout=30)
        return answer[0] if answer else b""


def _chunks(body: bytes, size: int) -> list[bytes]:
    framed = [b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
              for i in range(0, len(body), size)]  # fmt: skip
    return [*framed, b"0\r\n\r\n"]


API_HEAD = b"POST /api/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"


@pytest.mark.parametrize(
    ("name", "head", "parts", "pause_s", "expected"),
    [
        # Over the limit, chunked: refused whole (it used to be cut and parsed).
        ("4 MiB chunked", b"Transfer-Encoding: chunked\r\n\r\n",
         _chunks(b'{"message": "' + b"a" * (4 << 20) + b'"}', 1 << 16), 0, b" 413 "),
        ("20 KB chunked, message first", b"Transfer-Encoding: chunked\r\n\r\n",
         _chunks(b'{"message": "first", "x": "' + b"a" * 20_000 + b'"}', 4096), 0, b" 413 "),
        # Slow but honest: a body in three parts over 1.5 s is taken.
        ("slow body", b"Content-Length: 24\r\n\r\n",
         [b'{"message"', b': "slow', b' body"}'], 0.5, b" 202 "),
        # A body that never arrives in full: HAProxy's request timeout, not a sender's thread.
        ("short body", b"Content-Length: 100\r\n\r\n", [b'{"message": "never ends'], 0, b" 408 "),
        ("slower than the timeout", b"Content-Length: 23\r\n\r\n",
         [b'{"message"', b': "too', b' slow"'], 4, b" 408 "),
    ],
)  # fmt: skip
def test_framing_and_slow_bodies(
    stack: ComposeStack, name: str, head: bytes, parts: list[bytes], pause_s: float, expected: bytes
) -> None:
    before_rows, before_accepted = _counts(stack)
    started = time.monotonic()
    answer = _raw_exchange(stack, API_HEAD + head, parts, pause_s)
    for _ in range(2):
        if answer or expected != b" 413 ":
            break
        # A refusal comes while the client still sends; the server then closes on a body it
        # has not read, which resets the connection, and a reset can beat the 413 to the
        # client on a loaded machine (seen once in a full CI run: b""). Sent again, to see
        # the answer itself; nothing may be stored either way.
        started = time.monotonic()
        answer = _raw_exchange(stack, API_HEAD + head, parts, pause_s)
    assert answer.startswith(b"HTTP/1.1" + expected), (name, answer)
    assert time.monotonic() - started < 20
    after_rows, after_accepted = _counts(stack)
    stored = 1 if expected == b" 202 " else 0
    assert (after_rows - before_rows, after_accepted - before_accepted) == (stored, stored)
