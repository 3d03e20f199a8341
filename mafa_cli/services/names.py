"""The names the services and the CLI must agree on: queues, exchanges, schemas, headers.

Dependency-free on purpose: the services (inside the images) and the CLI (on the user's machine)
both import it, and neither side drags the other's libraries in.
"""

from __future__ import annotations

WORK_QUEUE = "messages"  # what senders publish to and receivers consume
DEAD_LETTER_EXCHANGE = "messages.dlx"
DEAD_LETTER_QUEUE = "messages.dead"  # where a message is parked after its delivery limit
RUN_HEADER = "x-mafa-run"  # the load run a message belongs to (AMQP header)
SENDER_SCHEMA = "sender"  # PostgreSQL schema owned by the senders' role
RECEIVER_SCHEMA = "receiver"  # ... and by the receivers' role
BALANCER_BACKEND = "senders"  # HAProxy's backend of sender replicas (compose/haproxy)
