# The locust worker image for `mafa load --workers K` on a Swarm: the app image plus locust and the
# load's user classes (mafa_cli/load). Built from the app image, so a node that runs a sender or a
# receiver pulls only the locust layer; the senders and receivers themselves never carry locust.
# Build context: the repository root (or the same layout assembled from the installed package).
#   APP_IMAGE  the stack's app image (compose.yaml's sender image)
#   PIP_ARGS   "--no-index" on hosts without a package index (wheels in compose/wheels/load/)
ARG APP_IMAGE
FROM ${APP_IMAGE}
ARG PIP_ARGS=
USER root
COPY compose/requirements-load.txt /tmp/requirements-load.txt
COPY compose/wheels/load/ /tmp/wheels/
RUN pip install --no-cache-dir --disable-pip-version-check $PIP_ARGS --find-links /tmp/wheels -r /tmp/requirements-load.txt \
 && rm -rf /tmp/wheels /tmp/requirements-load.txt
COPY mafa_cli/load/__init__.py mafa_cli/load/locustfile.py mafa_cli/load/plan.py mafa_cli/load/web_guard.py /app/mafa_cli/load/
USER mafa
# A worker only talks to its master and to the balancer: no page of its own to check.
HEALTHCHECK NONE
ENTRYPOINT ["locust", "-f", "/app/mafa_cli/load/locustfile.py", "--worker"]
CMD ["--help"]
