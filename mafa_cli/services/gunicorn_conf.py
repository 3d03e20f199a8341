"""gunicorn settings for both services: `gunicorn -c python:mafa_cli.services.gunicorn_conf APP`.

Read once in the gunicorn master, before workers fork: the node name is fixed here so that all
worker processes of one container show the same node.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from mafa_cli.services.settings import ServiceSettings

_settings = ServiceSettings.from_env()
# Workers inherit the environment: every process of this container is the same node.
os.environ["MAFA_NODE_NAME"] = _settings.node_name

bind = "0.0.0.0:8000"
worker_class = "gthread"
# A receiver node is one consuming process (its counters and page are per node).
workers = _settings.web_workers if _settings.role == "sender" else 1
threads = _settings.web_threads
graceful_timeout = 20
timeout = 60
# Longer than HAProxy keeps an idle pooled connection (5 s), so the balancer, not gunicorn,
# closes it: no request is sent on a connection the server is closing.
keepalive = 15
accesslog = None
errorlog = "-"
loglevel = "info"
# gunicorn's runtime control socket would live in $HOME, which the service user does not have;
# nothing here uses it.
control_socket_disable = True

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
logging.getLogger("pika").setLevel(logging.WARNING)  # it logs every connection step at INFO


def post_worker_init(worker: Any) -> None:
    if _settings.role == "receiver":
        from mafa_cli.services.receiver.app import start_consuming

        start_consuming()


def worker_exit(server: Any, worker: Any) -> None:
    if _settings.role == "receiver":
        from mafa_cli.services.receiver.app import stop_consuming

        stop_consuming()
    from mafa_cli.services.slots import release_slot  # the colour slot, free for a new node

    release_slot()
