"""HTTP from the CLI to a stack (the balancer's API, RabbitMQ's management API, HAProxy's stats)
with requests: the only module that imports it. Keep-alive sessions, Basic auth, JSON bodies and
TLS verified against the project's CA are requests' own, not code of ours.

requests' errors are OSErrors (RequestException derives from IOError): a caller that handles
"the stack did not answer" as an OSError handles these too.
"""

from __future__ import annotations

import contextlib
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


def reason(error: Exception) -> str:
    """What went wrong, in a few words (requests' own message runs to three lines of pools,
    retries and wrapped exceptions)."""
    exceptions = requests.exceptions
    if isinstance(error, exceptions.HTTPError) and error.response is not None:
        return f"HTTP {error.response.status_code} {error.response.reason}"
    if isinstance(error, exceptions.SSLError):
        return "TLS verification failed"
    if isinstance(error, exceptions.Timeout):
        return "no answer in time"
    if isinstance(error, exceptions.ConnectionError):
        return "cannot connect"
    return str(error) or type(error).__name__


class NoAnswer(OSError):
    """No (successful) answer from `url`, with the reason in a few words."""


def text(
    url: str,
    timeout_s: float,
    auth: tuple[str, str] | None = None,
    body: Any = None,
    kept: Session | None = None,
) -> str:
    """GET `url` (POST `body` as JSON when given) and return the answer's text; NoAnswer when
    there is none or it is not a success. Over the `kept` session's connection when given (one
    caller at a time), else over a new one."""
    try:
        with contextlib.nullcontext(kept) if kept is not None else session() as client:
            if body is None:
                answer = client.get(url, auth=auth, timeout=timeout_s)
            else:
                answer = client.post(url, auth=auth, json=body, timeout=timeout_s)
            answer.raise_for_status()
            return answer.text
    except HttpError as error:
        raise NoAnswer(f"{url}: {reason(error)}") from None
