"""The port forward's two halves: the relay process (real bash against a real local socket) and
the listener that unframes the engine's stream (against a fake engine stream: a socketpair)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import pytest

from mafa_cli.stack import forward as forward_module
from mafa_cli.stack.forward import FRAME_HEADER, Forward, relay_command


def echo_server() -> tuple[socket.socket, int]:
    """A one-connection TCP server on loopback that answers each chunk in capitals."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        connection, _ = server.accept()
        with connection:
            while data := connection.recv(4096):
                connection.sendall(data.upper())

    threading.Thread(target=serve, daemon=True).start()
    return server, int(server.getsockname()[1])


def test_relay_command_carries_a_connection_and_ends_with_its_input() -> None:
    """As the forward uses it: the answer is read while the input is still open (a relay ends as
    soon as either side ends, so a client that closed first would not wait for its answer)."""
    server, port = echo_server()
    with server:
        relay = subprocess.Popen(relay_command(port), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert relay.stdin is not None
        assert relay.stdout is not None
        relay.stdin.write(b"hello")
        relay.stdin.flush()
        answer = relay.stdout.read(5)
        relay.stdin.close()
        assert relay.wait(timeout=10) == 0
    assert answer == b"HELLO"


def test_relay_command_fails_when_nothing_listens() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    relay = subprocess.run(relay_command(port), capture_output=True, timeout=10, check=False)
    assert relay.returncode != 0


class FakeEngineStream:
    """Stands in for the Docker API's hijacked exec stream (no engine in unit tests): it reads
    the raw bytes the client sends and answers in the engine's stdout frames, split in two."""

    def __init__(self) -> None:
        self.opened = 0

    def open(self) -> socket.socket:
        ours, engine = socket.socketpair()
        self.opened += 1

        def engine_side() -> None:
            with engine:
                while data := engine.recv(4096):
                    answer = data.upper()
                    for part in (answer[:2], answer[2:]):
                        engine.sendall(FRAME_HEADER.pack(1, len(part)) + part)

        threading.Thread(target=engine_side, daemon=True).start()
        return ours


def test_forward_relays_each_connection_through_its_own_stream() -> None:
    engine = FakeEngineStream()
    forward = Forward(engine.open)
    try:
        for word in (b"first", b"second"):
            with socket.create_connection(("127.0.0.1", forward.port), timeout=5) as client:
                client.sendall(word)
                client.shutdown(socket.SHUT_WR)
                received = b""
                while chunk := client.recv(4096):
                    received += chunk
            assert received == word.upper()
        assert engine.opened == 2
    finally:
        forward.close()


def this_hosts_other_address() -> str | None:
    """An address of this host that is not loopback (where one exists)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent by a UDP connect
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


def test_forward_answers_on_loopback_only() -> None:
    forward = Forward(FakeEngineStream().open)
    try:
        other = this_hosts_other_address()
        assert other is not None, "this test needs a non-loopback address on the host"
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((other, forward.port), timeout=2).close()
        socket.create_connection(("127.0.0.1", forward.port), timeout=2).close()
    finally:
        forward.close()


def test_close_refuses_new_connections_and_ends_the_relays_under_way() -> None:
    engine = FakeEngineStream()
    forward = Forward(engine.open)
    with socket.create_connection(("127.0.0.1", forward.port), timeout=5) as client:
        client.sendall(b"open")
        assert client.recv(4096)  # the relay is under way (first frame answered)
        forward.close()
        # The client never ends its side: only close() can end the relay (else recv times out).
        client.settimeout(5)
        with contextlib.suppress(ConnectionResetError):
            while client.recv(4096):
                pass
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", forward.port), timeout=2).close()
    assert engine.opened == 1


def test_a_failing_stream_closes_the_client_connection() -> None:
    def broken() -> socket.socket:
        raise ConnectionError("service is not running")

    forward = Forward(broken)
    try:
        with socket.create_connection(("127.0.0.1", forward.port), timeout=5) as client:
            assert client.recv(10) == b""
    finally:
        forward.close()


ADOPTION_PROBE = """
import ctypes, os, socket, subprocess, sys, threading, time
from mafa_cli.stack.forward import relay_command

# Stand in for the container's first process: whatever the relay leaves behind is adopted here.
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
server = socket.create_server(("127.0.0.1", 0))
kept = []
threading.Thread(target=lambda: kept.append(server.accept()), daemon=True).start()
relay = subprocess.run(relay_command(server.getsockname()[1]), input=b"hi", timeout=10)
time.sleep(0.5)
adopted = []
while True:
    try:
        pid, status = os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        break
    if pid == 0:
        time.sleep(0.1)
        continue
    adopted.append(status)
print(relay.returncode, len(adopted))
"""


def test_the_relay_leaves_no_process_for_the_container_to_adopt() -> None:
    """The server keeps the connection open, so the relay ends when its input does and must kill
    its other copy: it reaps it too (PostgreSQL, the container's first process, restarts every
    connection when an adopted process dies of a signal)."""
    probe = subprocess.run(
        [sys.executable, "-c", ADOPTION_PROBE], capture_output=True, text=True, timeout=30
    )
    assert probe.stdout.split() == ["0", "0"], probe.stderr


def exchange(port: int, word: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(word)
        client.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := client.recv(4096):
            received += chunk
    return received


def wait_until(check: Callable[[], bool]) -> None:
    for _ in range(500):
        if check():
            return
        time.sleep(0.01)
    raise AssertionError("not within 5 s")


def test_a_relay_opened_ahead_serves_the_next_connection_only() -> None:
    engine = FakeEngineStream()
    forward = Forward(engine.open)
    try:
        forward.prepare()
        forward.prepare()  # one ahead at a time
        wait_until(lambda: engine.opened == 1)
        assert exchange(forward.port, b"first") == b"FIRST"
        assert engine.opened == 1, "the connection took the relay opened ahead"
        assert exchange(forward.port, b"second") == b"SECOND"
        assert engine.opened == 2
    finally:
        forward.close()


def test_a_stale_relay_opened_ahead_is_closed_and_a_new_one_opened(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(forward_module, "PREPARED_FOR_S", 0.0)
    engine = FakeEngineStream()
    forward = Forward(engine.open)
    try:
        forward.prepare()
        wait_until(lambda: engine.opened == 1)
        assert exchange(forward.port, b"late") == b"LATE"
        assert engine.opened == 2
    finally:
        forward.close()


def test_a_relay_that_failed_ahead_leaves_the_connection_its_own_try() -> None:
    tries: list[str] = []
    engine = FakeEngineStream()

    def first_fails() -> socket.socket:
        tries.append("try")
        if len(tries) == 1:
            raise ConnectionError("service is starting")
        return engine.open()

    forward = Forward(first_fails)
    try:
        forward.prepare()
        wait_until(lambda: len(tries) == 1)
        assert exchange(forward.port, b"again") == b"AGAIN"
        assert len(tries) == 2
    finally:
        forward.close()
