"""What a compose service becomes on a Docker Swarm: a service spec (pure data, no Docker).

engine/swarm.py only translates these into the SDK's types, so what mafa asks of a Swarm is
read and tested here without an engine. Named and labelled as `docker stack deploy` does
(`<project>_<service>`, com.docker.stack.namespace), so `docker stack ps <project>` lists them.
"""

from __future__ import annotations

from dataclasses import dataclass

from mafa_cli.stack.compose_model import ComposeModel, Service

NAMESPACE = "com.docker.stack.namespace"


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


def network_name(project: str) -> str:
    return f"{project}_default"


def service_name(project: str, service: str) -> str:
    return f"{project}_{service}"


def service_spec(
    project: str, service: Service, replicas: int, image: str | None = None
) -> ServiceSpec:
    """The Swarm service for a compose service; `image` replaces its image (the registry's
    name for it, which every node can pull)."""
    if any(m.kind == "bind" for m in service.mounts):
        # A bind mount names a path on whichever node the task lands: not the stack's files.
        raise ValueError(f"{service.name}: bind mounts cannot be deployed to a Swarm")
    return ServiceSpec(
        name=service_name(project, service.name),
        service=service.name,
        image=image or service.image,
        command=service.command,
        environment=service.environment,
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
    )


def stack_specs(
    project: str, model: ComposeModel, replicas: dict[str, int], images: dict[str, str]
) -> list[ServiceSpec]:
    """Every service of the model, in start order; `images` maps an image to its registry name
    (images not in it are used as named: already on every node)."""
    return [
        service_spec(
            project, model.services[name], replicas[name], images.get(model.services[name].image)
        )
        for level in model.start_order()
        for name in level
    ]
