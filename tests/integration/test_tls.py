"""`mafa up --tls` on the real engine, through the real CLI: HTTPS on the balancer verified against
the CA mafa made, Secure cookies, HSTS, plain HTTP refused, the key delivered through the engine's
API (owner-only, not in the environment), and mafa's own clients (load, smoke) over HTTPS."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mafa_cli.config import BALANCER_PEM
from mafa_cli.load.plan import messages_accepted, read_stats_csv
from tests.integration.stack import ComposeStack, free_port, mafa, mafa_stack

FLAGS = ("--tls", "--senders", "1", "--receivers", "1", "--max-delay", "0.2", "--fail-rate", "0.1")


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tls-state")


@pytest.fixture(scope="module")
def tls_stack(state: Path, workdir: Path) -> Iterator[ComposeStack]:
    with mafa_stack("mafatls", state, workdir, *FLAGS) as stack:
        yield stack


def ca(stack: ComposeStack, state: Path) -> str:
    return str(state / stack.project / "tls" / "ca.pem")


def test_https_verified_against_the_ca_secure_cookie_and_hsts(
    tls_stack: ComposeStack, state: Path
) -> None:
    for host in ("localhost", "127.0.0.1"):  # both names are in the certificate
        page = requests.get(
            f"https://{host}:{tls_stack.port}/", verify=ca(tls_stack, state), timeout=10
        )
        assert page.status_code == 200
        assert "Submit Message" in page.text
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")
    cookie = page.headers["Set-Cookie"]
    assert "; Secure" in cookie
    assert "HttpOnly" in cookie
    # Not trusted without the CA: the certificate is not a public one.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"https://localhost:{tls_stack.port}/", timeout=10)


def test_plain_http_on_the_port_is_refused(tls_stack: ComposeStack) -> None:
    """Refused, not redirected: an http:// request would already have sent its cookie and body
    in clear text before any redirect could answer it, and HSTS keeps browsers on https."""
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{tls_stack.port}/", timeout=10)


def test_the_key_reached_the_balancer_through_the_api_only(
    tls_stack: ComposeStack, state: Path
) -> None:
    balancer = f"{tls_stack.project}-haproxy-1"
    owner = subprocess.run(
        ["docker", "exec", balancer, "stat", "-c", "%a %U", BALANCER_PEM],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert owner == ["600", "haproxy"]
    inspected = json.loads(
        subprocess.run(
            ["docker", "inspect", balancer], capture_output=True, text=True, check=True
        ).stdout
    )[0]
    environment = inspected["Config"]["Env"]
    assert f"MAFA_TLS_CERT={BALANCER_PEM}" in environment
    assert not any("PRIVATE KEY" in variable for variable in environment)
    assert not inspected["Mounts"], "nothing bind-mounted from the CLI's host"
    key_file = state / tls_stack.project / "tls" / "site.pem"
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_up_again_says_where_the_ca_is_and_changes_nothing(
    tls_stack: ComposeStack, state: Path
) -> None:
    before = (state / tls_stack.project / "tls" / "site.pem").read_bytes()
    out = mafa(
        "up", "-p", tls_stack.project, "--port", str(tls_stack.port), *FLAGS, state=state
    ).stdout
    assert f"https://127.0.0.1:{tls_stack.port}/" in out
    assert "tls/ca.pem" in out.replace("\n", "")
    assert "nothing to change" in out, out
    assert (state / tls_stack.project / "tls" / "site.pem").read_bytes() == before


def test_load_over_tls_has_no_failures(
    tls_stack: ComposeStack, state: Path, tmp_path: Path
) -> None:
    report = tmp_path / "report"
    result = mafa(
        "load", "-p", tls_stack.project, "--users", "3", "--duration", "15s",
        "--report", str(report), state=state,
    )  # fmt: skip
    assert f"https://127.0.0.1:{tls_stack.port}" in result.stdout + result.stderr
    rows = read_stats_csv((report / "locust_stats.csv").read_text())
    assert rows[-1].failures == 0, (report / "locust_failures.csv").read_text()
    assert messages_accepted(rows) > 5


def test_smoke_with_tls_is_green(state: Path) -> None:
    result = mafa(
        "smoke", "-p", "mafatlssmoke", "--port", str(free_port()), "--tls",
        "--senders", "1", "--receivers", "1", "--messages", "100",
        state=state, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "https://127.0.0.1:" in result.stdout
    assert "verdict: nothing lost" in result.stdout
