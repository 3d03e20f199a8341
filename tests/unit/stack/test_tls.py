"""The certificates of `mafa up --tls` (stack/tls.py), checked with Python's own TLS stack: what
clients (requests, curl, locust) do with them is what matters, not how they were built."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mafa_cli.errors import UsageError
from mafa_cli.stack import tls
from mafa_cli.state import ProjectState

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


def decoded(pem: bytes, tmp_path: Path) -> dict[str, object]:
    """The certificate as Python's ssl module reads it (names, dates, issuer)."""
    path = tmp_path / "decode.pem"
    path.write_bytes(pem)
    return dict(ssl._ssl._test_decode_cert(str(path)))  # type: ignore[attr-defined]


def test_the_server_certificate_names_every_way_to_the_balancer(tmp_path: Path) -> None:
    issued = tls.issue("demo", "192.168.7.9", NOW)
    names = decoded(issued.cert_pem, tmp_path)["subjectAltName"]
    assert names == (
        ("DNS", "localhost"),
        ("IP Address", "127.0.0.1"),
        ("IP Address", "192.168.7.9"),
    )


def test_an_unspecified_bind_adds_no_name() -> None:
    assert tls.server_names("0.0.0.0") == ("localhost", "127.0.0.1")  # noqa: S104
    assert tls.server_names("127.0.0.1") == ("localhost", "127.0.0.1")


def test_valid_for_the_stated_time_from_a_little_before_now(tmp_path: Path) -> None:
    issued = tls.issue("demo", "127.0.0.1", NOW)
    for pem in (issued.cert_pem, issued.ca_pem):
        info = decoded(pem, tmp_path)
        starts = datetime.strptime(str(info["notBefore"]), "%b %d %H:%M:%S %Y %Z")
        ends = datetime.strptime(str(info["notAfter"]), "%b %d %H:%M:%S %Y %Z")
        assert starts.replace(tzinfo=UTC) == NOW - tls.CLOCK_SKEW
        assert ends.replace(tzinfo=UTC) == NOW + timedelta(days=tls.VALID_DAYS)


def test_the_ca_signs_the_server_and_a_client_verifies_it(tmp_path: Path) -> None:
    """A real TLS handshake over a socket pair: server with site.pem, client trusting only
    ca.pem, checking the host name, as `requests(verify=ca)` does."""
    issued = tls.issue("demo", "127.0.0.1")
    (tmp_path / "site.pem").write_bytes(issued.site_pem)
    (tmp_path / "ca.pem").write_bytes(issued.ca_pem)
    other = tls.issue("other", "127.0.0.1")
    (tmp_path / "other-ca.pem").write_bytes(other.ca_pem)
    assert handshake(tmp_path, "ca.pem", "localhost") == "ok"
    assert handshake(tmp_path, "ca.pem", "127.0.0.1") == "ok"
    assert "CERTIFICATE_VERIFY_FAILED" in handshake(tmp_path, "other-ca.pem", "localhost")
    assert "CERTIFICATE_VERIFY_FAILED" in handshake(tmp_path, "ca.pem", "example.com")


def handshake(directory: Path, ca: str, name: str) -> str:
    code = textwrap.dedent(f"""
        import socket, ssl, threading
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain({str(directory / "site.pem")!r})
        client = ssl.create_default_context(cafile={str(directory / ca)!r})
        a, b = socket.socketpair()
        def serve():
            try:
                server.wrap_socket(a, server_side=True).close()
            except (ssl.SSLError, OSError):
                pass
        threading.Thread(target=serve, daemon=True).start()
        try:
            client.wrap_socket(b, server_hostname={name!r}).close()
            print("ok")
        except ssl.SSLError as exc:
            print(exc)
    """)
    run = subprocess.run(  # own process: a clean ssl module state per handshake
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return run.stdout.strip()


def test_the_ca_can_vouch_only_for_these_names(tmp_path: Path) -> None:
    """The CA's key is dropped, and the CA is name-constrained too: trusting it in a browser
    risks nothing else."""
    from cryptography import x509  # the test reads what stack/tls.py wrote

    ca = x509.load_pem_x509_certificate(tls.issue("demo", "10.1.2.3").ca_pem)
    constraints = ca.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical
    permitted = {str(n.value) for n in constraints.value.permitted_subtrees or []}
    assert permitted == {"localhost", "127.0.0.1/32", "10.1.2.3/32"}
    basic = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert basic.ca
    assert basic.path_length == 0


def test_the_key_file_is_owner_only_and_the_ca_is_public(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAFA_STATE_DIR", str(tmp_path))
    issued = tls.issue("demo", "127.0.0.1")
    state = ProjectState("demo")
    old_umask = os.umask(0)  # a permissive umask must not matter
    state.tls_dir.mkdir(parents=True)
    state.tls_site_file.write_bytes(b"an older file, world-readable")
    try:
        state.save_tls(issued.ca_pem, issued.cert_pem, issued.site_pem)
    finally:
        os.umask(old_umask)
    assert state.tls_site_file.stat().st_mode & 0o777 == 0o600
    assert state.tls_dir.stat().st_mode & 0o777 == 0o700
    assert state.dir.stat().st_mode & 0o777 == 0o700
    assert state.tls_files() == (issued.cert_pem, issued.site_pem)
    assert state.tls_ca_file.read_bytes() == issued.ca_pem
    assert b"PRIVATE KEY" not in state.tls_ca_file.read_bytes() + state.tls_cert_file.read_bytes()


def test_still_good_until_near_its_end_or_a_new_name() -> None:
    cert = tls.issue("demo", "127.0.0.1", NOW).cert_pem
    assert tls.still_good(cert, "127.0.0.1", NOW)
    assert not tls.still_good(cert, "10.0.0.5", NOW)  # --bind changed: a name is missing
    late = NOW + timedelta(days=tls.VALID_DAYS) - tls.RENEW_BEFORE
    assert not tls.still_good(cert, "127.0.0.1", late)


def test_the_users_own_pair_is_checked() -> None:
    mine, theirs = tls.issue("a", "127.0.0.1", NOW), tls.issue("b", "127.0.0.1", NOW)
    pair = tls.users_pair(mine.cert_pem, mine.key_pem, NOW)
    assert pair.ca_pem == mine.cert_pem  # clients trust the given certificate
    assert pair.site_pem.startswith(mine.cert_pem)
    with pytest.raises(UsageError, match="not the key of"):
        tls.users_pair(mine.cert_pem, theirs.key_pem, NOW)
    with pytest.raises(UsageError, match="expired"):
        tls.users_pair(mine.cert_pem, mine.key_pem, NOW + timedelta(days=tls.VALID_DAYS + 1))
    with pytest.raises(UsageError, match="no PEM certificate"):
        tls.users_pair(b"not a certificate", mine.key_pem, NOW)
    with pytest.raises(UsageError, match="unencrypted PEM private key"):
        tls.users_pair(mine.cert_pem, b"-----BEGIN PRIVATE KEY-----\nxx\n", NOW)
