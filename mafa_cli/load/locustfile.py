"""The users `mafa load` sends at the stack; run by locust, in locust's processes only.

A user opens the sender page (a session starts), sends messages through the JSON API and some
through the HTML form with its CSRF token, looks at the results page now and then, and sometimes
resets its session. Every message carries the run id (MAFA_RUN_ID), so the ledger can tell this
run's messages from any other, and an idempotency key: an answer that says nothing about the
message's fate (502, 503, a broken connection) is retried with the same key, which can never make
a second message (the ledger counts those retries as deduplicated).

Settings come from the environment (the runner sets them): MAFA_RUN_ID, MAFA_LOAD_WEIGHTS
("api=10,form=2,results=1,reset=1,page=0"), MAFA_LOAD_MESSAGE_BYTES, MAFA_LOAD_RATE (messages/s in
total, 0 for none), MAFA_LOAD_THINK ("0.5-2" seconds between actions, "0": none),
MAFA_LOAD_USERS, MAFA_LOAD_SHAPE (ramp|step|spike), MAFA_LOAD_DURATION, MAFA_LOAD_CA (the CA
of a stack up --tls: the balancer's certificate is verified against it) and MAFA_LOAD_HOST (a
worker's own target, in place of the master's --host).
"""

from __future__ import annotations

import itertools
import os
import random
import re
import ssl
import string
import time
import uuid
from collections.abc import Callable
from typing import Any

from locust import FastHttpUser, LoadTestShape, between, constant_throughput, events, stats

from mafa_cli.load.plan import parse_think_time, parse_weights, shape_users
from mafa_cli.load.web_guard import LoopbackOnly

# mafa reads the CSV files while the test runs (the live table, `mafa watch`, its metrics): have
# locust flush them every second, not every 5 s (its default): a change of users shows at once.
stats.CSV_STATS_FLUSH_INTERVAL_SEC = 1

RUN_ID = os.environ.get("MAFA_RUN_ID", "manual")
MESSAGE_BYTES = int(os.environ.get("MAFA_LOAD_MESSAGE_BYTES", "64"))
RATE = float(os.environ.get("MAFA_LOAD_RATE", "0"))
THINK_LOW, THINK_HIGH = parse_think_time(os.environ.get("MAFA_LOAD_THINK", "0.5-2"))
USERS = int(os.environ.get("MAFA_LOAD_USERS", "1"))
WEIGHTS = parse_weights(os.environ.get("MAFA_LOAD_WEIGHTS", ""))
SHAPE = os.environ.get("MAFA_LOAD_SHAPE", "")
DURATION_S = float(os.environ.get("MAFA_LOAD_DURATION", "60"))
CA_FILE = os.environ.get("MAFA_LOAD_CA") or None
# Where this process's users send, when not where the master says (its --host): a worker on a
# Swarm reaches the balancer by its name on the stack's network, one outside it by an address.
TARGET = os.environ.get("MAFA_LOAD_HOST") or None
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_counter = itertools.count(1)
# Answers after which the message may or may not have been taken: tried again, same key.
# 0 is how locust's FastHttpUser reports a connection that failed or broke.
RETRY_STATUSES = frozenset({0, 502, 503})
RETRY_DELAYS_S = (0.5, 1.0, 2.0)  # then the last answer stands


def message_text() -> str:
    head = f"{RUN_ID} #{next(_counter)} "
    pad = max(0, MESSAGE_BYTES - len(head))
    return head + "".join(random.choices(string.ascii_letters, k=pad))


def post_message(user: StackUser, path: str, name: str, accepted: int, **request: Any) -> None:
    """POST one message with a fresh idempotency key, retried with that key after an answer that
    leaves its fate open. Those answers are recorded as failures under `name (retried)`, so they
    stay visible; `name` gets the final answer."""
    key = uuid.uuid4().hex
    headers = {**request.pop("headers", {}), "Idempotency-Key": key}
    if "data" in request:  # the HTML form carries its key as a field
        request["data"] = {**request["data"], "idempotency_key": key}
    for delay in (*RETRY_DELAYS_S, None):
        with user.client.post(
            path,
            headers=headers,
            name=name,
            allow_redirects=False,
            catch_response=True,
            **request,
        ) as response:
            status = response.status_code
            if status == accepted:
                response.success()
                return
            if delay is not None and status in RETRY_STATUSES:
                response.request_meta["name"] = f"{name} (retried)"
                response.failure(f"answered {status}; retried with the same key")
            else:
                response.failure(f"answered {status}")
                return
        time.sleep(delay)


def send_api(user: StackUser) -> None:
    post_message(
        user,
        "/api/messages",
        "/api/messages",
        202,
        json={"message": message_text(), "run_id": RUN_ID},
    )


def send_form(user: StackUser) -> None:
    if not user.csrf_token:
        user.open_page()
    post_message(
        user,
        "/",
        "/ (form)",
        303,
        data={"message": message_text(), "csrf_token": user.csrf_token},
        # As a browser sends it: over HTTPS the CSRF check also wants the form posted from this
        # very site (Flask-WTF's strict Referer check), else 400.
        headers={"X-Mafa-Run": RUN_ID, "Referer": f"{user.host}/"},
    )


def view_results(user: StackUser) -> None:
    user.client.get("/received", name="/received")


def view_page(user: StackUser) -> None:
    user.client.get("/", name="/ (page)")


def reset_session(user: StackUser) -> None:
    user.client.post("/api/session/reset", json={}, name="/api/session/reset")
    user.open_page()  # the new session needs its own CSRF token


TASKS: dict[str, Callable[[Any], None]] = {
    "api": send_api,
    "form": send_form,
    "results": view_results,
    "reset": reset_session,
    "page": view_page,
}


class StackUser(FastHttpUser):
    # With a target rate, users only send messages, each paced to its share of the rate.
    # A user thinks between actions (0 for a closed loop that sends as fast as it is answered).
    wait_time = constant_throughput(RATE / USERS) if RATE else between(THINK_LOW, THINK_HIGH)
    # locust takes a {task: weight} mapping here, though its annotation says list.
    tasks = {  # type: ignore[assignment]  # noqa: RUF012
        TASKS[name]: weight
        for name, weight in WEIGHTS.items()
        if weight > 0 and (not RATE or name in ("api", "form"))
    }
    csrf_token = ""
    # FastHttpUser checks no certificate unless told (its `insecure` is True by default): verify
    # as a browser would, against the project's CA (up --tls) or else the system's. `ssl` is
    # gevent's here (locust patched it on import), which is what its HTTP client needs.
    insecure = False

    @staticmethod
    def ssl_context_factory() -> ssl.SSLContext:
        return ssl.create_default_context(cafile=CA_FILE)

    def __init__(self, environment: Any) -> None:
        if TARGET is not None:
            self.host = TARGET
        super().__init__(environment)

    def on_start(self) -> None:
        self.open_page()

    def open_page(self) -> None:
        response = self.client.get("/", name="/ (page)")
        match = CSRF.search(response.text or "")
        self.csrf_token = match.group(1) if match else ""


if SHAPE:

    class Shape(LoadTestShape):
        def tick(self) -> tuple[int, float] | None:
            return shape_users(SHAPE, self.get_run_time(), DURATION_S, USERS)  # type: ignore[no-untyped-call]


def guard_the_web_ui(environment: Any, **_: Any) -> None:
    """`mafa load --web`: the UI turns away what another site's page could send it
    (load/web_guard.py). Headless runs have no UI."""
    web_ui = getattr(environment, "web_ui", None)
    if web_ui is None:
        return
    options = environment.parsed_options
    web_ui.app.wsgi_app = LoopbackOnly(
        web_ui.app.wsgi_app, int(options.web_port), str(environment.host or options.host)
    )


events.init.add_listener(guard_the_web_ui)  # type: ignore[no-untyped-call]
