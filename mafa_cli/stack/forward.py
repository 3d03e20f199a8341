"""Port forwarding through the Docker API: how the CLI reaches a stack's PostgreSQL, Redis,
RabbitMQ API and HAProxy stats on any engine, without routing to container addresses.

A `Forward` listens on 127.0.0.1 (a port the kernel picks) inside the CLI process. Each connection
it accepts is relayed to a port inside a container by a process started there with `exec`
(`bash` opens the port with /dev/tcp; its stdin and stdout travel over the API's hijacked stream).
So it works wherever the API works: a local engine, Docker Desktop, rootless Docker, a remote
engine over tcp or ssh, an engine inside a container.

Why this is safe: nothing new is published on the engine's host (the services keep no ports
outside their network); the listener is on loopback only, lives only as long as the CLI command,
and leads to services that still ask for the project's generated credentials; and opening it needs
the Docker API, which is root-equivalent already.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

CHUNK = 65536
# A relay opened ahead (`Forward.prepare`) serves the next connection only this fresh: its
# process has already connected to the service, and RabbitMQ drops a connection that has not
# begun its handshake after 10 s.
PREPARED_FOR_S = 5.0
# stdout arrives in the engine's frames (no TTY): 1 byte stream, 3 zero, 4 bytes big-endian size.
FRAME_HEADER = struct.Struct(">BxxxL")


def relay_command(port: int) -> list[str]:
    """The process that carries one connection inside the container: connect to the port, copy
    stdin to it and it to stdout, and end as soon as either side ends.

    It reaps both copies before it exits. An orphan would be adopted by the container's first
    process, which is the service itself (PostgreSQL takes the death of a child it did not start
    for a crashed backend and restarts every connection: looking must never disturb the stack)."""
    script = (
        f"exec 3<>/dev/tcp/127.0.0.1/{int(port)} || exit 1; exec 4<&0; "
        "cat <&3 & cat <&4 >&3 & wait -n; kill $(jobs -p) 2>/dev/null; wait; exit 0"
    )
    return ["bash", "-c", script]


def read_exact(stream: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def copy_frames(stream: socket.socket, client: socket.socket) -> None:
    """The container's stdout, unframed, to the client, until the process ends."""
    while True:
        header = read_exact(stream, FRAME_HEADER.size)
        if header is None:
            return
        _kind, size = FRAME_HEADER.unpack(header)
        payload = read_exact(stream, size)
        if payload is None:
            return
        client.sendall(payload)


def copy_raw(client: socket.socket, stream: socket.socket) -> None:
    while chunk := client.recv(CHUNK):
        stream.sendall(chunk)


class Forward:
    """127.0.0.1:<port> here -> a port in a container; `open_stream` starts one relay process and
    returns its socket (called per connection, so a restarted container is found afresh).
    `close` ends it whole: no connection is accepted after it, and the relays under way end."""

    def __init__(self, open_stream: Callable[[], socket.socket]) -> None:
        self._open_stream = open_stream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._closed = False
        self._live: set[socket.socket] = set()  # both ends of every relay under way
        self._prepared: Future[tuple[socket.socket, float]] | None = None
        threading.Thread(target=self._accept, daemon=True, name=f"forward-{self.port}").start()

    def _keep(self, *ends: socket.socket) -> bool:
        """Track the ends of a new relay; False (and they are closed) once the forward is."""
        with self._lock:
            if not self._closed:
                self._live.update(ends)
                return True
        for end in ends:
            end.close()
        return False

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            if self._keep(client):
                threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def prepare(self) -> None:
        """Open the next connection's relay now, in the background: the engine starts it while
        the caller does other work (`mafa watch` imports the client library meanwhile), and the
        connection finds it ready (within PREPARED_FOR_S; else it is closed, and one opened)."""
        ready: Future[tuple[socket.socket, float]] = Future()
        with self._lock:
            if self._closed or self._prepared is not None:
                return
            self._prepared = ready

        def open_now() -> None:
            try:
                stream = self._open_stream()
            except Exception as exc:  # the connection then opens its own, and sees why
                ready.set_exception(exc)
                return
            if self._keep(stream):
                ready.set_result((stream, time.monotonic()))
            else:
                ready.set_exception(ConnectionError("the forward is closed"))

        threading.Thread(target=open_now, daemon=True, name=f"forward-{self.port}-ahead").start()

    def _next_stream(self) -> socket.socket:
        """The relay for a new connection (tracked): the one opened ahead if fresh, else new."""
        with self._lock:
            ready, self._prepared = self._prepared, None
        if ready is not None and ready.exception() is None:
            stream, opened_at = ready.result()
            if time.monotonic() - opened_at < PREPARED_FOR_S:
                return stream
            self._drop(stream)
        stream = self._open_stream()
        if not self._keep(stream):
            raise ConnectionError("the forward is closed")
        return stream

    def _serve(self, client: socket.socket) -> None:
        try:
            stream = self._next_stream()
        except Exception:  # the client sees a closed connection; its own error says which
            self._drop(client)
            return

        def upstream() -> None:
            with contextlib.suppress(OSError):
                copy_raw(client, stream)
                # The client is done sending: end the relay's stdin, so it ends once answered.
                stream.shutdown(socket.SHUT_WR)

        threading.Thread(target=upstream, daemon=True).start()
        with contextlib.suppress(OSError):
            copy_frames(stream, client)
        self._drop(client, stream)

    def _drop(self, *ends: socket.socket) -> None:
        with self._lock:
            self._live.difference_update(ends)
        for end in ends:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            live = list(self._live)
        # shutdown() wakes the accept() blocked in the other thread; close() alone does not.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._drop(*live)
