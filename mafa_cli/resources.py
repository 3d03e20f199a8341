"""Where mafa's own files are: the stack definition (compose.yaml, Dockerfiles, haproxy.cfg,
initdb, the offline image recipe), the wheels the app image is built from, and the monitoring
examples (a Prometheus scrape config and a Grafana dashboard, in mafa_cli/monitoring).

Installed from a wheel, the stack definition is package data (`mafa_cli/_compose`, copied there by
the build's force-include); in a checkout (an editable install) it is the repository's `compose/`.
Every caller asks here, through `importlib.resources`, so an installed mafa and a checkout run the
same code and neither needs the other.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

SHIPPED_STACK = "_compose"  # where pyproject.toml's force-include puts compose/ in the wheel
WHEELS_ENV = "MAFA_WHEELS_DIR"


def package_dir() -> Path:
    """The mafa_cli package on disk (wheels and editable installs are both plain directories)."""
    return Path(str(resources.files("mafa_cli")))


def stack_dir() -> Path:
    """The directory holding compose.yaml and everything the stack's images are built from."""
    shipped = package_dir() / SHIPPED_STACK
    if (shipped / "compose.yaml").is_file():
        return shipped
    return package_dir().parent / "compose"


def in_checkout() -> bool:
    return stack_dir().parent != package_dir()


def wheels_dir() -> Path:
    """Where the app image's Python wheels are kept (hosts without a package index build the
    image with `--no-index` from them): MAFA_WHEELS_DIR, else a checkout's compose/wheels, else
    the user's cache. Never inside an installed package: site-packages is not for downloads."""
    if os.environ.get(WHEELS_ENV):
        return Path(os.environ[WHEELS_ENV]).expanduser()
    if in_checkout():
        return stack_dir() / "wheels"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "mafa" / "wheels"


def monitoring_dir() -> Path:
    """A Prometheus scrape config (prometheus.yml) and a Grafana dashboard
    (grafana-dashboard.json) for what `mafa watch --metrics` serves: plain package data, in a
    wheel and a checkout alike."""
    return package_dir() / "monitoring"
