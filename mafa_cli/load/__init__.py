"""Load on the stack with locust, which runs in processes of its own: its import monkey-patches
the interpreter with gevent, so only locustfile.py (run by locust) imports it, never the CLI."""

from pathlib import Path


def locustfile_path() -> Path:
    return Path(__file__).with_name("locustfile.py")
