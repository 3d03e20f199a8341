# The sender and receiver image (one image, two commands). Build context: the repository root.
#   PYTHON_IMAGE  the base: official python:3.11-slim-bookworm, or the offline stand-in
#   PIP_ARGS      "--no-index" on hosts without a package index: then every wheel must be in
#                 compose/wheels/ (compose/offline/build-images.sh fills it)
ARG PYTHON_IMAGE=docker.io/library/python:3.11-slim-bookworm
FROM ${PYTHON_IMAGE}
ARG PIP_ARGS=
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/venv/bin:$PATH PYTHONPATH=/app
COPY compose/requirements-services.txt /tmp/requirements.txt
COPY compose/wheels/ /tmp/wheels/
RUN python3 -m venv /opt/venv \
 && pip install --no-cache-dir --disable-pip-version-check $PIP_ARGS --find-links /tmp/wheels -r /tmp/requirements.txt \
 && rm -rf /tmp/wheels /tmp/requirements.txt \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin mafa
COPY mafa_cli/__init__.py /app/mafa_cli/__init__.py
COPY mafa_cli/services /app/mafa_cli/services
WORKDIR /app
USER mafa
EXPOSE 8000
HEALTHCHECK --interval=5s --timeout=3s --start-period=20s --retries=5 \
  CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["gunicorn", "-c", "python:mafa_cli.services.gunicorn_conf", "mafa_cli.services.sender.app:create_app()"]
