"""Per-project secrets: generated at random on the first `mafa up`, kept in a file only the user
can read, passed to containers through their environment, never written into an image.

They must stay the same while the project's volumes live (PostgreSQL and RabbitMQ keep the
passwords they were first started with), so they are removed only with the volumes.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

NAMES = (
    "MAFA_SECRET_KEY",
    "MAFA_RABBITMQ_PASSWORD",
    "MAFA_REDIS_PASSWORD",
    "MAFA_POSTGRES_PASSWORD",
    "MAFA_SENDER_DB_PASSWORD",
    "MAFA_RECEIVER_DB_PASSWORD",
)


def state_dir() -> Path:
    """Where mafa keeps what it must remember: $MAFA_STATE_DIR, else $XDG_STATE_HOME/mafa, else
    ~/.local/state/mafa."""
    if os.environ.get("MAFA_STATE_DIR"):
        return Path(os.environ["MAFA_STATE_DIR"])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "mafa"


def project_dir(project: str) -> Path:
    return state_dir() / project


def secrets_file(project: str) -> Path:
    return project_dir(project) / "secrets.env"


def parse_env_file(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def load_or_create(project: str) -> dict[str, str]:
    path = secrets_file(project)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.parent.chmod(0o700)
    values = parse_env_file(path.read_text()) if path.exists() else {}
    missing = [name for name in NAMES if not values.get(name)]
    if missing:
        values.update({name: secrets.token_hex(24) for name in missing})
        # Written with owner-only permissions from the first byte (no window where it is 644).
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(f"# mafa secrets for project {project}: keep private\n")
            out.writelines(f"{name}={values[name]}\n" for name in NAMES)
    path.chmod(0o600)
    return {name: values[name] for name in NAMES}


def forget(project: str) -> None:
    """Drop the secrets (with the volumes they protected); the project stays known."""
    secrets_file(project).unlink(missing_ok=True)


def known_projects() -> list[str]:
    root = state_dir()
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
