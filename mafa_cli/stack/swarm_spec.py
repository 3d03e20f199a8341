"""What a compose service becomes on a Docker Swarm: a service spec (pure data, no Docker).

engine/swarm.py only translates these into the SDK's types, so what mafa asks of a Swarm is
read and tested here without an engine. Named and labelled as `docker stack deploy` does
(`<project>_<service>`, com.docker.stack.namespace), so `docker stack ps <project>` lists them.

No password is in a service's definition (which anyone with the manager's API reads back, as
`docker service inspect`): an environment variable whose value is one of the project's secrets
becomes `<variable>_FILE`, naming a Swarm secret mounted under /run/secrets, which the images
read (compose/*/entrypoint.sh, services/settings.py). A secret in the command is refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePath

from mafa_cli.errors import ConfigError
from mafa_cli.stack.compose_model import ComposeModel, Service

NAMESPACE = "com.docker.stack.namespace"
SECRETS_DIR = "/run/secrets"
MAX_OBJECT_NAME = 64  # the Swarm's limit for the name of a secret or config


@dataclass(frozen=True)
class PublishedPort:
    published: int
    target: int
    mode: str  # host: the node's own port, no routing mesh (this kernel has no IPVS)


@dataclass(frozen=True)
class VolumeMount:
    source: str  # the Swarm node's volume, <project>_<volume>
    target: str
    read_only: bool


@dataclass(frozen=True)
class SwarmFile:
    """A Swarm secret or config, as the tasks see it: a file at `target` (for a secret, its
    name under /run/secrets) holding `data`."""

    name: str  # the Swarm object's: per project, content-addressed (object_name)
    target: str
    data: bytes = field(repr=False)
    mode: int = 0o444
    uid: int = 0  # its owner in the task's container


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    service: str  # the compose name, also its DNS alias on the stack's network
    image: str
    command: tuple[str, ...] | None
    environment: tuple[tuple[str, str], ...]
    replicas: int
    labels: tuple[tuple[str, str], ...]
    endpoint_mode: str
    constraints: tuple[str, ...]
    spread: tuple[str, ...]
    ports: tuple[PublishedPort, ...]
    mounts: tuple[VolumeMount, ...]
    hostname: str | None
    stop_grace_period_s: float
    secrets: tuple[SwarmFile, ...] = ()
    configs: tuple[SwarmFile, ...] = ()


def network_name(project: str) -> str:
    return f"{project}_default"


def service_name(project: str, service: str) -> str:
    return f"{project}_{service}"


def object_name(project: str, name: str, data: bytes) -> str:
    """`<project>_<name>_<digest>`: per project, so two stacks on one Swarm keep theirs apart;
    content-addressed, as `docker stack deploy` does: Swarm secrets and configs cannot change,
    so a changed file or password is a new object. (The digest of a password tells nothing to
    whoever can list the secrets: the manager's API reads them in any task anyway.)"""
    digest = hashlib.sha256(name.encode() + b"\0" + data).hexdigest()[:10]
    return f"{project}_{name}"[: MAX_OBJECT_NAME - len(digest) - 1] + f"_{digest}"


def secrets_as_files(
    project: str, environment: tuple[tuple[str, str], ...], secrets: Mapping[str, str]
) -> tuple[tuple[tuple[str, str], ...], tuple[SwarmFile, ...]]:
    """The environment with every variable that holds one of `secrets` (name -> value, the
    project's) turned into `<variable>_FILE=/run/secrets/<name>`, and the secrets it needs."""
    by_value = {value: name.lower() for name, value in secrets.items() if value}
    kept: list[tuple[str, str]] = []
    files: dict[str, SwarmFile] = {}
    for variable, value in environment:
        name = by_value.get(value)
        if name is None:
            kept.append((variable, value))
            continue
        kept.append((f"{variable}_FILE", f"{SECRETS_DIR}/{name}"))
        data = value.encode()
        files[name] = SwarmFile(object_name(project, name, data), name, data)
    return tuple(kept), tuple(files.values())


def config_file(project: str, source: str, target: str, data: bytes) -> SwarmFile:
    # A script must stay executable: an init script that is not is sourced into the
    # entrypoint's own shell instead of run.
    mode = 0o555 if data.startswith(b"#!") else 0o444
    return SwarmFile(object_name(project, PurePath(source).name, data), target, data, mode)


def service_spec(
    project: str,
    service: Service,
    replicas: int,
    image: str | None = None,
    secrets: Mapping[str, str] | None = None,
    files: Mapping[str, bytes] | None = None,
) -> ServiceSpec:
    """The Swarm service for a compose service; `image` replaces its image (the registry's
    name for it, which every node can pull). `secrets` are the project's (name -> value), and
    `files` the content of each file the service lists as a Swarm config (path -> bytes)."""
    if any(m.kind == "bind" for m in service.mounts):
        # A bind mount names a path on whichever node the task lands: not the stack's files.
        raise ValueError(f"{service.name}: bind mounts cannot be deployed to a Swarm")
    secrets = secrets or {}
    if any(value and value in part for value in secrets.values() for part in service.command or ()):
        raise ConfigError(
            f"{service.name}: its command holds a password, which a Swarm would show to anyone "
            "who inspects the service",
            hint="pass it in an environment variable the image also reads from <variable>_FILE",
        )
    environment, secret_files = secrets_as_files(project, service.environment, secrets)
    return ServiceSpec(
        name=service_name(project, service.name),
        service=service.name,
        image=image or service.image,
        command=service.command,
        environment=environment,
        replicas=replicas,
        labels=((NAMESPACE, project), ("com.docker.stack.image", image or service.image)),
        endpoint_mode=service.deploy.endpoint_mode,
        constraints=service.deploy.constraints,
        spread=service.deploy.spread,
        ports=tuple(
            PublishedPort(p.host_port or p.container_port, p.container_port, "host")
            for p in service.ports
        ),
        mounts=tuple(
            VolumeMount(f"{project}_{m.source}", m.target, m.read_only) for m in service.mounts
        ),
        hostname=service.hostname,
        stop_grace_period_s=service.stop_grace_period_s,
        secrets=secret_files,
        configs=tuple(
            config_file(project, c.source, c.target, (files or {})[c.source])
            for c in service.deploy.configs
        ),
    )


def stack_specs(
    project: str,
    model: ComposeModel,
    replicas: dict[str, int],
    images: dict[str, str],
    secrets: Mapping[str, str] | None = None,
    files: Mapping[str, bytes] | None = None,
) -> list[ServiceSpec]:
    """Every service of the model, in start order; `images` maps an image to its registry name
    (images not in it are used as named: already on every node)."""
    return [
        service_spec(
            project,
            model.services[name],
            replicas[name],
            images.get(model.services[name].image),
            secrets,
            files,
        )
        for level in model.start_order()
        for name in level
    ]


LOAD_WORKER = "locust-worker"  # the service of `mafa load --workers K` on a Swarm


def load_worker_spec(
    project: str,
    image: str,
    replicas: int,
    command: tuple[str, ...],
    environment: dict[str, str],
) -> ServiceSpec:
    """locust workers as a service of the project: spread over the nodes (one per node while
    there are no more workers than nodes), named after their node in the master's worker
    report, and removed with the stack by `mafa down` (they carry its namespace label)."""
    return ServiceSpec(
        name=service_name(project, LOAD_WORKER),
        service=LOAD_WORKER,
        image=image,
        command=command,
        environment=tuple(sorted(environment.items())),
        replicas=replicas,
        labels=((NAMESPACE, project), ("com.docker.stack.image", image)),
        endpoint_mode="dnsrr",  # nothing connects to a worker; no VIP (no IPVS here)
        constraints=(),
        spread=("node.id",),
        ports=(),
        mounts=(),
        hostname="{{.Node.Hostname}}",  # a Swarm template: the worker's name tells its node
        stop_grace_period_s=5,
    )
