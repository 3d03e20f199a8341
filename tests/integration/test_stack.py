"""The real stack end to end: balancing, redelivery, exactly-once effects, sessions, bad input."""

from __future__ import annotations

import re
import time
import uuid

import requests

from tests.integration.stack import ComposeStack, wait_for

JSON = {"Content-Type": "application/json"}


def send(client: requests.Session, url: str, text: str) -> requests.Response:
    return client.post(f"{url}/api/messages", json={"message": text}, timeout=10)


def csrf_token(client: requests.Session, url: str) -> str:
    page = client.get(f"{url}/", timeout=10)
    assert page.status_code == 200
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, "the page has no CSRF token"
    return match.group(1)


def test_messages_are_balanced_redelivered_and_processed_exactly_once(
    stack: ComposeStack,
) -> None:
    client = requests.Session()
    answers = [send(client, stack.url, f"balanced {i}") for i in range(60)]
    assert [a.status_code for a in answers] == [202] * 60
    sent_ids = {a.json()["id"] for a in answers}
    assert len({a.json()["node"] for a in answers}) == 2, "both senders took messages"

    stack.wait_drained()
    accepted = stack.accepted_ids()
    assert sent_ids <= accepted

    processed = stack.query(
        "SELECT message_id::text, count(*) FROM receiver.processed"
        " WHERE message_id = ANY(%s::uuid[]) GROUP BY 1",
        list(sent_ids),
    )
    assert all(count == 1 for _, count in processed), "an effect was committed twice"
    parked = stack.dead_lettered_ids() & sent_ids
    assert {mid for mid, _ in processed} | parked == sent_ids, "a message was lost"
    assert not {mid for mid, _ in processed} & parked, "a message was processed and parked"

    handlers = stack.query(
        "SELECT count(DISTINCT handled_by) FROM receiver.processed"
        " WHERE message_id = ANY(%s::uuid[])",
        list(sent_ids),
    )[0][0]
    assert handlers >= 2, "more than one receiver handled messages"

    # FAIL_RATE 0.5: failed attempts were recorded, then the same message was delivered again
    # (attempt number and redelivered flag say so) and processed.
    (failed, retried_ok) = stack.query(
        "SELECT count(*) FILTER (WHERE outcome = 'failed'),"
        "       count(*) FILTER (WHERE outcome = 'processed' AND attempt > 1 AND redelivered)"
        " FROM receiver.attempts WHERE message_id = ANY(%s::uuid[])",
        list(sent_ids),
    )[0]
    assert failed > 0
    assert retried_ok > 0
    # Every attempt number of a message is recorded once: 1, 2, ... with no gaps.
    gaps = stack.query(
        "SELECT message_id FROM receiver.attempts WHERE message_id = ANY(%s::uuid[])"
        " GROUP BY message_id HAVING max(attempt) <> count(*)",
        list(sent_ids),
    )
    assert gaps == []


def test_always_failing_message_is_parked_in_the_dead_letter_queue(
    failing_stack: ComposeStack,
) -> None:
    answer = send(requests.Session(), failing_stack.url, "never works")
    assert answer.status_code == 202
    message_id = answer.json()["id"]
    wait_for(
        lambda: message_id in failing_stack.dead_lettered_ids(), 60, "the message to be parked"
    )
    attempts = failing_stack.query(
        "SELECT attempt, outcome FROM receiver.attempts WHERE message_id = %s ORDER BY attempt",
        message_id,
    )
    # Delivery limit 3: three failed deliveries are allowed, the fourth failure parks it.
    assert attempts == [(1, "failed"), (2, "failed"), (3, "failed"), (4, "failed")]
    assert failing_stack.query(
        "SELECT count(*) FROM receiver.processed WHERE message_id = %s", message_id
    ) == [(0,)]
    # Parked means gone from the work queue (the management API's counts lag a few seconds).
    wait_for(failing_stack.drained, 20, "the work queue to be empty")


def test_sessions_through_the_balancer(stack: ComposeStack) -> None:
    alice, bob = requests.Session(), requests.Session()
    alice.get(f"{stack.url}/", timeout=10)
    bob.get(f"{stack.url}/", timeout=10)
    first_cookie = alice.cookies["mafa_session"]
    counts = [send(alice, stack.url, f"alice {i}").json()["session_messages"] for i in range(4)]
    assert counts == [1, 2, 3, 4], "the count follows the session across both senders"
    send(bob, stack.url, "bob")

    stats = alice.get(f"{stack.url}/api/stats", timeout=10).json()
    assert stats["session_messages"] == 4
    assert stats["active_sessions"] >= 2
    page = alice.get(f"{stack.url}/", timeout=10).text
    assert "My Session Messages: 4" in page

    reset = alice.post(f"{stack.url}/api/session/reset", json={}, timeout=10)
    assert reset.status_code == 200
    assert alice.cookies["mafa_session"] != first_cookie, "reset gives a new session id"
    assert alice.get(f"{stack.url}/api/stats", timeout=10).json()["session_messages"] == 0
    assert send(alice, stack.url, "after reset").json()["session_messages"] == 1

    # The HTML reset (a POST with the CSRF token) does the same.
    token = csrf_token(alice, stack.url)
    before = alice.cookies["mafa_session"]
    done = alice.post(f"{stack.url}/session/reset", data={"csrf_token": token}, timeout=10)
    assert done.status_code == 200  # after the 303 back to the page
    assert alice.cookies["mafa_session"] != before
    assert "My Session Messages: 0" in done.text

    # A forged or unknown session id gets a fresh session, not anyone's data.
    forged = requests.Session()
    forged.cookies.set("mafa_session", first_cookie)  # alice's old, ended session
    assert forged.get(f"{stack.url}/api/stats", timeout=10).json()["session_messages"] == 0
    forged.cookies.clear()
    forged.cookies.set("mafa_session", "x" * 40)
    answer = forged.get(f"{stack.url}/", timeout=10)
    assert answer.cookies["mafa_session"] != "x" * 40, "an unknown id is replaced"


def test_html_form_posts_then_redirects(stack: ComposeStack) -> None:
    client = requests.Session()
    token = csrf_token(client, stack.url)
    text = f"form message {uuid.uuid4()}"
    answer = client.post(
        f"{stack.url}/", data={"message": text, "csrf_token": token}, allow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith("/")
    page = client.get(f"{stack.url}/", timeout=10).text
    assert "Message accepted by sender-" in page
    assert text in page
    assert stack.query("SELECT status FROM sender.messages WHERE body = %s", text) == [
        ("accepted",)
    ]


def _stored_and_published(stack: ComposeStack) -> tuple[int, int]:
    rows = stack.query("SELECT count(*) FROM sender.messages")[0][0]
    processed = stack.query("SELECT count(*) FROM receiver.attempts")[0][0]
    return rows, processed


def test_bad_input_is_refused_and_changes_nothing(stack: ComposeStack) -> None:
    client = requests.Session()
    token = csrf_token(client, stack.url)
    stack.wait_drained()
    before = _stored_and_published(stack)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    api = f"{stack.url}/api/messages"
    cases: list[tuple[str, int, requests.Response]] = [
        ("api empty", 422, client.post(api, json={"message": ""})),
        ("api blank", 422, client.post(api, json={"message": " \t\n "})),
        ("api over limit", 422, client.post(api, json={"message": "x" * 4097})),
        ("api body too large", 413, client.post(api, json={"message": "x" * 20000})),
        ("api not a string", 422, client.post(api, json={"message": ["a"]})),
        ("api missing", 422, client.post(api, json={"text": "a"})),
        ("api not utf-8", 400, client.post(api, data=b'{"message": "\xff"}', headers=JSON)),
        ("api not json", 400, client.post(api, data=b"{", headers=JSON)),
        ("api NUL", 422, client.post(api, json={"message": "a\u0000b"})),
        ("api as form", 415, client.post(api, data={"message": "a"})),
        ("api bad run id", 422, client.post(api, json={"message": "a", "run_id": "a b"})),
        (
            "form repeated",
            422,
            client.post(
                f"{stack.url}/",
                data=f"message=a&message=b&csrf_token={token}".encode(),
                headers=form,
            ),
        ),
        (
            "form bracketed",
            422,
            client.post(
                f"{stack.url}/",
                data=f"message%5Bx%5D=1&csrf_token={token}".encode(),
                headers=form,
            ),
        ),
        (
            "form not utf-8",
            400,
            client.post(
                f"{stack.url}/", data=f"message=%FF&csrf_token={token}".encode(), headers=form
            ),
        ),
        (
            "form blank",
            422,
            client.post(f"{stack.url}/", data={"message": "   ", "csrf_token": token}),
        ),
        ("form no csrf", 400, client.post(f"{stack.url}/", data={"message": "no token"})),
        (
            "form bad csrf",
            400,
            client.post(f"{stack.url}/", data={"message": "m", "csrf_token": "forged"}),
        ),
        (
            "form as json",
            400,
            client.post(f"{stack.url}/", json={"message": "m", "csrf_token": token}),
        ),
    ]
    for name, status, answer in cases:
        assert answer.status_code == status, f"{name}: {answer.status_code} {answer.text[:200]}"
        if answer.headers.get("Content-Type", "").startswith("application/json"):
            assert answer.json()["reason"], f"{name}: no reason given"
        else:
            assert "Not sent:" in answer.text or "refused" in answer.text or "Error" in answer.text
    time.sleep(1)
    assert _stored_and_published(stack) == before, "refused input stored or published something"
    assert stack.queue("messages")["messages"] == 0
    assert all(c["State"]["Running"] for c in stack.containers("sender"))
    assert requests.get(f"{stack.url}/healthz", timeout=5).status_code == 200


def test_pages_are_served_with_security_headers(stack: ComposeStack) -> None:
    page = requests.get(f"{stack.url}/", timeout=10)
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'self'" in csp
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    css = requests.get(f"{stack.url}/static/bootstrap.min.css", timeout=10)
    assert css.status_code == 200
    assert "Bootstrap" in css.text[:200]


def test_balancer_finds_new_senders_without_restart(stack: ComposeStack) -> None:
    (haproxy,) = stack.containers("haproxy")
    stack.compose("up", "-d", "--no-recreate", "--scale", "sender=3", "--scale", "receiver=3")
    try:
        wait_for(stack.all_healthy, 90, "the third sender")

        def three_nodes() -> bool:
            nodes = {
                requests.get(f"{stack.url}/api/stats", timeout=5).headers["X-Mafa-Node"]
                for _ in range(12)
            }
            return len(nodes) == 3

        wait_for(three_nodes, 30, "the balancer to use three senders")
        (after,) = stack.containers("haproxy")
        assert after["Id"] == haproxy["Id"]
        assert after["State"]["StartedAt"] == haproxy["State"]["StartedAt"], "haproxy restarted"
    finally:
        stack.compose("up", "-d", "--no-recreate", "--scale", "sender=2", "--scale", "receiver=3")


def test_every_sender_page_shows_a_new_message_at_once(stack: ComposeStack) -> None:
    # Each sender keeps its page's latest-messages table until a message is accepted anywhere
    # (a version in Redis moves on): warm both senders' tables, send through one, and every
    # page after must show the message at once, whichever sender serves it.
    viewer = requests.Session()
    served_by = {viewer.get(f"{stack.url}/", timeout=10).headers["X-Mafa-Node"] for _ in range(4)}
    assert len(served_by) == 2, "both senders served (and cached) the page"
    text = f"fresh {uuid.uuid4()}"
    assert send(requests.Session(), stack.url, text).status_code == 202
    pages = [viewer.get(f"{stack.url}/", timeout=10) for _ in range(4)]
    assert {page.headers["X-Mafa-Node"] for page in pages} == served_by
    assert all(text in page.text for page in pages)


def test_an_active_session_is_renewed_on_the_server(stack: ComposeStack) -> None:
    # The session's data is written only when it changes; every request renews its lifetime.
    client = requests.Session()
    client.get(f"{stack.url}/", timeout=10)
    key = f"mafa:sess:{client.cookies['mafa_session']}"

    def ttl() -> int:
        out = stack.compose("exec", "-T", "redis", "redis-cli", "TTL", key).stdout
        return int(out.strip())

    lifetime = ttl()
    assert lifetime > 0
    time.sleep(5)
    assert ttl() <= lifetime - 4
    # Renewed: back to at least the first reading, less the time since the request (a
    # `compose exec` takes seconds on a loaded machine) and a second of rounding. Not renewed,
    # it would be 5 s lower still.
    requested = time.monotonic()
    client.get(f"{stack.url}/api/stats", timeout=10)
    renewed = ttl()
    since_request = time.monotonic() - requested
    assert renewed >= lifetime - 1 - since_request, ("a request renews the session", since_request)


def test_a_sessions_csrf_token_is_signed_once_per_sender(stack: ComposeStack) -> None:
    # Flask-WTF signs with a timestamp, so signing on every view gives a new token each second;
    # each sender signs a session's token once and serves that signature from then on.
    client = requests.Session()
    tokens: dict[str, set[str]] = {}
    for _ in range(3):
        for _ in range(2):  # both senders
            page = client.get(f"{stack.url}/", timeout=10)
            match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert match
            tokens.setdefault(page.headers["X-Mafa-Node"], set()).add(match.group(1))
        time.sleep(1.1)
    assert len(tokens) == 2
    assert all(len(signed) == 1 for signed in tokens.values()), tokens
    # and the cached signature is accepted
    token = next(iter(next(iter(tokens.values()))))
    answer = client.post(
        f"{stack.url}/", data={"message": "signed once", "csrf_token": token}, allow_redirects=False
    )
    assert answer.status_code == 303
