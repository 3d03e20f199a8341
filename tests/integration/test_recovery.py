"""The services ride out a restart of RabbitMQ, PostgreSQL or Redis with no operator action:
while a dependency is away the sender answers 503 with a reason (never 500, never a false
"accepted"), and afterwards messages flow again and every accepted one is processed."""

from __future__ import annotations

import subprocess
import threading
import time

import pytest
import requests

from tests.integration.stack import ComposeStack, wait_for


def probe_while(stack: ComposeStack, done: threading.Event, statuses: list[int]) -> None:
    client = requests.Session()
    while not done.is_set():
        try:
            answer = client.post(
                f"{stack.url}/api/messages", json={"message": "during restart"}, timeout=15
            )
            statuses.append(answer.status_code)
            if answer.status_code == 503:
                assert answer.json()["reason"]
        except requests.RequestException:
            statuses.append(0)
        time.sleep(0.1)


@pytest.mark.parametrize("service", ["rabbitmq", "postgres", "redis"])
def test_restart_of_a_dependency(recovering_stack: ComposeStack, service: str) -> None:
    stack = recovering_stack
    (container,) = stack.containers(service)
    statuses: list[int] = []
    done = threading.Event()
    prober = threading.Thread(target=probe_while, args=(stack, done, statuses))
    prober.start()
    try:
        time.sleep(1)
        subprocess.run(["docker", "restart", "-t", "5", container["Id"]], check=True)
        wait_for(stack.all_healthy, 120, f"{service} to be healthy again")

        def accepted_again() -> bool:
            return bool(statuses) and statuses[-1] == 202

        wait_for(accepted_again, 60, "the sender to accept messages again")
    finally:
        done.set()
        prober.join()

    assert 500 not in statuses, f"a 500 answer during the {service} restart: {statuses}"
    assert set(statuses) <= {202, 503, 502, 0}, statuses
    # Whatever was accepted, before, during or after, is processed (consumers reconnected).
    stack.wait_drained(120)
    accepted = stack.accepted_ids()
    processed = {r[0] for r in stack.query("SELECT message_id::text FROM receiver.processed")}
    assert accepted <= processed, f"{len(accepted - processed)} accepted messages not processed"
