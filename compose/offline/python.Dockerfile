# Stands in for python:3.11-slim-bookworm: python3 (3.11) with venv on PATH as python3.
ARG BASE
FROM ${BASE}
RUN ln -sf /usr/bin/python3 /usr/local/bin/python
CMD ["python3"]
