"""Settings of the `mafa` commands: flags first, then MAFA_* environment variables, then
defaults. Frozen and validated here, so the operations get only sensible values. No I/O but
reading the environment and checking that files exist.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from mafa_cli import resources
from mafa_cli.errors import ConfigError, UsageError

PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")
MAX_REPLICAS = 32  # HAProxy's server-template holds 32 of each (compose/haproxy/haproxy.cfg)
LOOPBACK = "127.0.0.1"
_REGISTRY = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*:[0-9]{1,5}")  # HOST:PORT
BALANCER = "haproxy"  # the service people reach; the one that terminates TLS
# Where `mafa up --tls` puts the certificate and key in the balancer's container (through the
# engine's API, never an image or an environment variable); haproxy.cfg reads MAFA_TLS_CERT.
BALANCER_PEM = "/usr/local/etc/haproxy/site.pem"
BALANCER_USER = "haproxy"  # who runs HAProxy in its image: the one user who reads the key


DEFAULTS_FILE = "mafa.toml"


def read_defaults_file(
    directory: Path,
) -> tuple[str, dict[str, Any], dict[str, dict[str, Any]]] | None:
    """A team's pinned defaults: ./mafa.toml, else [tool.mafa] in ./pyproject.toml, else None.

    Returns (where, shared, per_command): top-level keys are options several commands share
    (`project = "shop"`), tables are commands (`[up]` with `senders = 3`); keys are flag names
    without `--`. The CLI checks each key and value against the command's options.
    """
    own, pyproject = directory / DEFAULTS_FILE, directory / "pyproject.toml"
    if own.is_file():
        where, table = DEFAULTS_FILE, _toml(own, DEFAULTS_FILE)
    elif pyproject.is_file():
        where = "pyproject.toml [tool.mafa]"
        table = _toml(pyproject, "pyproject.toml").get("tool", {}).get("mafa")
        if table is None:
            return None
    else:
        return None
    if not isinstance(table, dict):
        raise ConfigError(f"{where} is not a table", hint='keys like project = "shop"')
    shared = {k: v for k, v in table.items() if not isinstance(v, dict)}
    per_command = {k: v for k, v in table.items() if isinstance(v, dict)}
    for name, values in per_command.items():
        for key, value in values.items():
            if isinstance(value, dict):
                raise ConfigError(
                    f"{where}: {name}.{key} is a table", hint="one level: [command] key = value"
                )
    return where, shared, per_command


def _toml(path: Path, name: str) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}", hint="fix or remove it") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: not valid TOML: {exc}", hint="fix the TOML there") from None


class ImageSet(StrEnum):
    AUTO = "auto"  # offline when the offline set is built here, else official
    OFFICIAL = "official"  # rabbitmq, postgres, redis, haproxy, python from a registry
    OFFLINE = "offline"  # built from Debian packages (compose/offline)


def default_compose_file() -> Path:
    """The compose.yaml mafa carries (package data when installed, compose/ in a checkout)."""
    return resources.stack_dir() / "compose.yaml"


def check_project(name: str) -> str:
    if not PROJECT_NAME.match(name):
        raise UsageError(
            f"invalid project name {name!r}",
            hint="use 1-50 lowercase letters, digits, '-' or '_', starting with a letter or digit",
        )
    return name


def check_replicas(flag: str, value: int) -> int:
    if not 0 <= value <= MAX_REPLICAS:
        raise UsageError(
            f"{flag} {value} is out of range",
            hint=f"use 0..{MAX_REPLICAS} (0 is allowed for experiments: no senders means no new "
            "messages, no receivers means the queue only grows)",
        )
    return value


def check_output(flag: str, path: Path, directory: bool = False) -> Path:
    """Refuse an output path that could not be written, before anything starts: a run must not
    bring a stack up, or load it for minutes, and only then fail to save its result. Nothing is
    created here; the nearest existing ancestor must be a writable directory."""
    kind = "directory" if directory else "file"
    hint = f"choose a {kind} you can write"
    if path.exists():
        if path.is_dir() != directory:
            raise UsageError(f"{flag} {path}: not a {kind}", hint=hint)
        if not os.access(path, os.W_OK):
            raise UsageError(f"{flag} {path}: not writable", hint=hint)
        return path
    ancestor = path.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UsageError(f"{flag} {path}: {ancestor} is not a directory", hint=hint)
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {path}: {ancestor} is not writable", hint=hint)
    return path


def check_address(flag: str, address: str) -> str:
    """An IP address to publish on: a typo must not be reported later as a port in use."""
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise UsageError(
            f"{flag} {address!r} is not an IP address",
            hint=f"e.g. {flag} 127.0.0.1 (this machine only) or {flag} 0.0.0.0 (every interface)",
        ) from None
    return address


class ChaosTarget(StrEnum):
    """The services `mafa chaos` may take down."""

    RECEIVER = "receiver"
    SENDER = "sender"
    RABBITMQ = "rabbitmq"
    POSTGRES = "postgres"
    REDIS = "redis"


class NodeFault(StrEnum):
    """The host faults `mafa chaos --node-fault` injects on a Swarm (stack/swarm_faults.py)."""

    KILL = "kill"  # the node's engine killed, then started again (a host crash and reboot)
    DRAIN = "drain"  # availability drain (tasks move to the others), then active again
    PARTITION = "partition"  # the node cut from the others' network, then reconnected


class ChaosAction(StrEnum):
    KILL = "kill"  # SIGKILL, then start again (a crash, and a restart policy)
    RESTART = "restart"  # SIGTERM, a grace period, then start (a graceful restart)


@dataclass(frozen=True)
class UpSettings:
    project: str
    senders: int
    receivers: int
    port: int
    bind: str
    images: ImageSet
    max_delay_s: float
    fail_rate: float
    build: bool | None  # None: build only images that are missing
    wait: bool
    timeout_s: float
    compose_file: Path
    rabbitmq_ui_port: int | None = None  # opt-in: publish the broker's UI on bind:port
    tls: bool = False  # HTTPS on the balancer (stack/tls.py makes the certificate)
    tls_cert: str | None = None  # the user's own certificate and key instead (PEM files)
    tls_key: str | None = None
    swarm: bool = False  # services on the Swarm whose manager is the engine (stack/swarm_ops.py)
    registry: str | None = None  # HOST:PORT the Swarm's nodes pull the pushed images from

    def __post_init__(self) -> None:
        check_project(self.project)
        check_replicas("--senders", self.senders)
        check_replicas("--receivers", self.receivers)
        check_address("--bind", self.bind)
        if not 1 <= self.port <= 65535:
            raise UsageError(f"--port {self.port} is not a TCP port", hint="use 1..65535")
        if self.rabbitmq_ui_port is not None and not 1 <= self.rabbitmq_ui_port <= 65535:
            raise UsageError(
                f"--rabbitmq-ui-port {self.rabbitmq_ui_port} is not a TCP port", hint="1..65535"
            )
        if self.rabbitmq_ui_port == self.port:
            raise UsageError(
                "--rabbitmq-ui-port must differ from --port", hint="e.g. --rabbitmq-ui-port 15672"
            )
        if self.images not in tuple(ImageSet):
            raise UsageError(f"--images {self.images!r}", hint=f"use one of {', '.join(ImageSet)}")
        if not 0 <= self.max_delay_s <= 3600:
            raise UsageError(
                f"--max-delay {self.max_delay_s} is out of range", hint="use 0..3600 s"
            )
        if not 0 <= self.fail_rate <= 1:
            raise UsageError(f"--fail-rate {self.fail_rate} is out of range", hint="use 0..1")
        if self.timeout_s <= 0:
            raise UsageError("--timeout must be positive", hint="a duration, e.g. 90s, 1m30s, 3m")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise UsageError("--tls-cert and --tls-key go together", hint="give both, or neither")
        if self.tls_cert is not None and not self.tls:
            raise UsageError("--tls-cert needs --tls", hint="add --tls")
        for flag, file in (("--tls-cert", self.tls_cert), ("--tls-key", self.tls_key)):
            if file is not None and not Path(file).is_file():
                raise UsageError(f"{flag} {file}: no such file", hint="give a PEM file")
        if self.registry is not None and not self.swarm:
            raise UsageError("--registry needs --swarm", hint="add --swarm")
        if self.registry is not None and not _REGISTRY.fullmatch(self.registry):
            raise UsageError(
                f"--registry {self.registry!r} is not HOST:PORT", hint="e.g. --registry reg:5000"
            )
        if not self.compose_file.is_file():
            what = "is not a file" if self.compose_file.exists() else "not found"
            raise ConfigError(
                f"compose file {self.compose_file} {what}",
                hint="pass a compose file with -f, or leave -f out for the one mafa carries",
            )

    @classmethod
    def for_run(
        cls,
        project: str,
        senders: int,
        receivers: int,
        port: int,
        images: ImageSet,
        max_delay_s: float,
        fail_rate: float,
        tls: bool = False,
        swarm: bool = False,
        registry: str | None = None,
    ) -> UpSettings:
        """What `mafa smoke` and `mafa demo` bring up: the shipped file, on loopback, waited for."""
        return cls(
            project=project,
            senders=senders,
            receivers=receivers,
            port=port,
            bind=LOOPBACK,
            images=images,
            max_delay_s=max_delay_s,
            fail_rate=fail_rate,
            build=None,
            wait=True,
            timeout_s=300.0,
            compose_file=default_compose_file(),
            tls=tls,
            swarm=swarm,
            registry=registry,
        )

    def to_saved(self) -> dict[str, Any]:
        """As kept in the project's state (state.ProjectState.save_settings)."""
        return {**asdict(self), "images": str(self.images), "compose_file": str(self.compose_file)}

    @classmethod
    def from_saved(cls, data: dict[str, Any]) -> UpSettings:
        return cls(
            **{
                **data,
                "images": ImageSet(data["images"]),
                "compose_file": Path(data["compose_file"]),
            }
        )

    def replicas(self, service: str) -> int:
        return {"sender": self.senders, "receiver": self.receivers}.get(service, 1)

    def interpolation_env(
        self, secrets: Mapping[str, str], offline_available: bool
    ) -> dict[str, str]:
        """The variables compose.yaml is filled from: the user's environment, then these."""
        offline = self.images == ImageSet.OFFLINE or (
            self.images == ImageSet.AUTO and offline_available
        )
        return {
            **os.environ,
            **secrets,
            "MAFA_IMAGE_NS": "mafa-offline" if offline else "docker.io/library",
            "MAFA_PIP_ARGS": "--no-index" if offline else "",
            "MAFA_BIND": self.bind,
            "MAFA_PORT": str(self.port),
            "MAFA_MAX_DELAY": f"{self.max_delay_s:g}",
            "MAFA_FAIL_RATE": f"{self.fail_rate:g}",
            # Set only with TLS: a MAFA_TLS_CERT left in the user's environment changes nothing.
            "MAFA_TLS_CERT": BALANCER_PEM if self.tls else "",
        }

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"
