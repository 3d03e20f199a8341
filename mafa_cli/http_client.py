"""HTTP from the CLI to a stack (the balancer's API, RabbitMQ's management API, HAProxy's stats)
with requests: the only module that imports it. Keep-alive sessions, Basic auth, JSON bodies and
TLS verified against the project's CA are requests' own, not code of ours.

requests' errors are OSErrors (RequestException derives from IOError): a caller that handles
"the stack did not answer" as an OSError handles these too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

HttpError = requests.RequestException  # refused, reset, timed out, bad TLS, or a 4xx/5xx answer
Session = requests.Session


def session(ca_file: Path | None = None) -> Session:
    """A keep-alive session; https verified against `ca_file` (a stack up --tls) or the system's
    CAs. No proxy from the environment: mafa talks to this machine and the stack's forwards."""
    new = requests.Session()
    new.verify = str(ca_file) if ca_file else True
    new.trust_env = False
    return new


def text(url: str, timeout_s: float, auth: tuple[str, str] | None = None, body: Any = None) -> str:
    """GET `url` (POST `body` as JSON when given) and return the answer's text; HttpError when
    there is none or it is not a success."""
    with session() as client:
        if body is None:
            answer = client.get(url, auth=auth, timeout=timeout_s)
        else:
            answer = client.post(url, auth=auth, json=body, timeout=timeout_s)
        answer.raise_for_status()
        return answer.text
