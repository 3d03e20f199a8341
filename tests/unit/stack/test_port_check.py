"""The port check `mafa up` makes before starting anything (loopback sockets only)."""

from __future__ import annotations

import socket

from mafa_cli.stack.operations import _port_free


def test_a_listening_port_is_taken() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert not _port_free("127.0.0.1", server.getsockname()[1])


def test_connections_left_in_time_wait_do_not_hold_the_port() -> None:
    # What a load run leaves behind: the server side closed first, so its end of every
    # connection waits a minute in TIME_WAIT. `mafa up` right after must not call the port taken.
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as docker-proxy's listener
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the active closer is the one that goes to TIME_WAIT
    client.recv(1)
    client.close()
    server.close()
    with socket.socket() as probe:  # the situation is real: a plain bind fails
        try:
            probe.bind(("127.0.0.1", port))
            plain_bind_failed = False
        except OSError:
            plain_bind_failed = True
    assert plain_bind_failed
    assert _port_free("127.0.0.1", port)
