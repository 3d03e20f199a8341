"""Settings of the sender and receiver services: the one place that names and documents them.

Every setting comes from an environment variable (set by compose/compose.yaml). Secrets have no
default: a service refuses to start without them rather than fall back to a well-known password.
A secret may instead name a file that holds it, `<variable>_FILE` (MAFA_DB_PASSWORD_FILE): on a
Swarm, passwords are Swarm secrets mounted under /run/secrets, never in the service's environment.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Literal

Role = Literal["sender", "receiver"]


class SettingsError(ValueError):
    """An environment variable is missing or malformed; the message names it."""


def conninfo(host: str, port: int, dbname: str, user: str, password: str, app: str) -> str:
    """A libpq keyword string; values quoted, so a password may hold spaces or quotes."""

    def quote(value: object) -> str:
        return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"

    parts = {
        "host": host,
        "port": port,
        "dbname": dbname,
        "user": user,
        "password": password,
        "connect_timeout": 3,
        "application_name": app,
    }
    return " ".join(f"{key}={quote(value)}" for key, value in parts.items())


def _doc(env: str, help_text: str, secret: bool = False) -> dict[str, object]:
    return {"env": env, "help": help_text, "secret": secret}


@dataclass(frozen=True)
class ServiceSettings:
    """All settings of a sender or receiver process (one field per MAFA_* variable)."""

    role: Role = field(metadata=_doc("MAFA_ROLE", "sender or receiver"))
    node_name: str = field(
        metadata=_doc("MAFA_NODE_NAME", "node name shown on pages; default <role>-<8 random hex>")
    )
    secret_key: str = field(
        default="", metadata=_doc("MAFA_SECRET_KEY", "signs CSRF tokens; same on every node", True)
    )
    db_host: str = field(default="postgres", metadata=_doc("MAFA_DB_HOST", "PostgreSQL host"))
    db_port: int = field(default=5432, metadata=_doc("MAFA_DB_PORT", "PostgreSQL port"))
    db_name: str = field(default="mafa", metadata=_doc("MAFA_DB_NAME", "database name"))
    db_user: str = field(default="", metadata=_doc("MAFA_DB_USER", "this service's own role"))
    db_password: str = field(default="", metadata=_doc("MAFA_DB_PASSWORD", "its password", True))
    amqp_host: str = field(default="rabbitmq", metadata=_doc("MAFA_AMQP_HOST", "RabbitMQ host"))
    amqp_port: int = field(default=5672, metadata=_doc("MAFA_AMQP_PORT", "RabbitMQ AMQP port"))
    amqp_user: str = field(
        default="", metadata=_doc("MAFA_AMQP_USER", "this service's own broker user")
    )
    amqp_password: str = field(
        default="", metadata=_doc("MAFA_AMQP_PASSWORD", "its password", True)
    )
    redis_host: str = field(default="redis", metadata=_doc("MAFA_REDIS_HOST", "Redis host"))
    redis_port: int = field(default=6379, metadata=_doc("MAFA_REDIS_PORT", "Redis port"))
    redis_password: str = field(
        default="", metadata=_doc("MAFA_REDIS_PASSWORD", "Redis password", True)
    )
    session_lifetime_s: int = field(
        default=60, metadata=_doc("MAFA_SESSION_LIFETIME", "session lifetime, seconds")
    )
    max_delay_s: float = field(
        default=5.0, metadata=_doc("MAFA_MAX_DELAY", "receiver work: random 0..this, seconds")
    )
    fail_rate: float = field(
        default=0.2, metadata=_doc("MAFA_FAIL_RATE", "chance a delivery attempt fails, 0..1")
    )
    consumers: int = field(
        default=2, metadata=_doc("MAFA_CONSUMERS", "consuming threads per receiver node")
    )
    prefetch: int = field(
        default=1, metadata=_doc("MAFA_PREFETCH", "unacked deliveries per consuming thread")
    )
    max_message_bytes: int = field(
        default=4096, metadata=_doc("MAFA_MAX_MESSAGE_BYTES", "longest message text, UTF-8 bytes")
    )
    # One process per sender replica: on one CPU it served 20 % more pages than two processes
    # (bench/sender.py); more CPUs are used by more replicas (`mafa up --senders N`).
    web_workers: int = field(default=1, metadata=_doc("MAFA_WEB_WORKERS", "gunicorn processes"))
    web_threads: int = field(default=16, metadata=_doc("MAFA_WEB_THREADS", "threads per process"))
    unsafe_ack_before_commit: bool = field(
        default=False,
        metadata=_doc(
            "MAFA_UNSAFE_ACK_BEFORE_COMMIT",
            "TESTS ONLY: ack on delivery, before the work: failures then lose messages, "
            "which proves the ledger can fail",
        ),
    )
    startup_timeout_s: float = field(
        default=120.0,
        metadata=_doc("MAFA_STARTUP_TIMEOUT", "how long to wait for dependencies at start"),
    )

    @property
    def db_conninfo(self) -> str:
        return conninfo(
            self.db_host,
            self.db_port,
            self.db_name,
            self.db_user,
            self.db_password,
            self.node_name,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServiceSettings:
        """Read every setting from `env` (default: os.environ); raise SettingsError naming the
        first missing or malformed variable."""
        env = os.environ if env is None else env
        role = env.get("MAFA_ROLE", "")
        if role not in ("sender", "receiver"):
            raise SettingsError(f"MAFA_ROLE must be 'sender' or 'receiver', got {role!r}")
        values: dict[str, object] = {"role": role}
        for f in fields(cls):
            meta = f.metadata
            name = str(meta["env"])
            if meta["secret"] and f"{name}_FILE" in env:
                values[f.name] = _secret_from_file(name, env)
                continue
            if f.name == "role" or name not in env:
                continue
            raw = env[name]
            try:
                values[f.name] = _convert(f.type, raw)
            except ValueError:
                raise SettingsError(f"{name}={raw!r} is not a valid {f.type}") from None
        values.setdefault("node_name", f"{role}-{secrets.token_hex(4)}")
        values.setdefault("db_user", f"mafa_{role}")
        values.setdefault("amqp_user", f"mafa_{role}")  # compose/rabbitmq's users
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def validate(self) -> None:
        for f in fields(self):
            if f.metadata["secret"] and not getattr(self, f.name):
                raise SettingsError(f"{f.metadata['env']} is required and has no default")
        if not 0.0 <= self.fail_rate <= 1.0:
            raise SettingsError(f"MAFA_FAIL_RATE must be within 0..1, got {self.fail_rate}")
        if self.max_delay_s < 0:
            raise SettingsError(f"MAFA_MAX_DELAY must be >= 0, got {self.max_delay_s}")
        for name in ("consumers", "prefetch", "web_workers", "web_threads"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be >= 1")
        if self.session_lifetime_s < 1 or self.max_message_bytes < 1:
            raise SettingsError("MAFA_SESSION_LIFETIME and MAFA_MAX_MESSAGE_BYTES must be >= 1")


def _secret_from_file(name: str, env: Mapping[str, str]) -> str:
    """The secret `<name>_FILE` names (one final newline dropped: an editor's, not the secret's)."""
    path = env[f"{name}_FILE"]
    if name in env:
        raise SettingsError(f"{name} and {name}_FILE are both set: set one")
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{name}_FILE={path!r} cannot be read: {exc}") from None
    return text.removesuffix("\n")


def _convert(type_name: object, raw: str) -> object:
    if type_name == "bool":
        if raw.lower() not in ("1", "0", "true", "false", "yes", "no", ""):
            raise ValueError(raw)
        return raw.lower() in ("1", "true", "yes")
    if type_name == "int":
        return int(raw)
    if type_name == "float":
        return float(raw)
    return raw


def documented_settings() -> list[tuple[str, str, str]]:
    """(variable, default, help) for every setting, for the README table and `--help` text."""
    rows = []
    for f in fields(ServiceSettings):
        default = "" if f.default is MISSING else str(f.default)
        rows.append((str(f.metadata["env"]), default, str(f.metadata["help"])))
    return rows
