"""A Docker Swarm, through the Docker SDK: the engine of a Swarm manager. The second module that
imports docker (after engine/local.py, whose one-engine operations a manager also has: images,
exec, logs). Swarm membership (init, join, the node list) is here; so is what a stack on a Swarm
becomes (services, tasks, an overlay network, secrets and configs).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import docker.errors
import docker.types

from mafa_cli.engine.local import DockerEngine, lines_of, parse_time
from mafa_cli.engine.protocol import Host, Replica
from mafa_cli.errors import MafaError, NotFound
from mafa_cli.stack.compose_model import Healthcheck
from mafa_cli.stack.swarm_spec import NAMESPACE, ServiceSpec, SwarmFile

SWARM_PORT = 2377
TASK_DETAIL = "com.docker.swarm.task.id"
NANOS = 1_000_000_000


@dataclass(frozen=True)
class Node:
    id: str
    hostname: str
    role: str  # manager, worker
    state: str  # ready, down, unknown, disconnected
    availability: str  # active, pause, drain
    address: str
    leader: bool
    reachability: str | None = None  # a manager's (reachable, unreachable); None for a worker


class SwarmEngine(DockerEngine):
    # membership ------------------------------------------------------------------------------

    def init_swarm(self, advertise_address: str) -> None:
        """Makes this engine the manager of a new Swarm, reached by the others at
        `advertise_address`:2377."""
        try:
            self._client.swarm.init(
                advertise_addr=advertise_address, listen_addr=f"0.0.0.0:{SWARM_PORT}"
            )
        except docker.errors.APIError as exc:
            raise MafaError(
                f"cannot make a Swarm: {exc.explanation or exc}",
                hint="is this engine already in a Swarm? (`docker swarm leave --force`)",
            ) from None

    def worker_token(self) -> str:
        try:
            self._client.swarm.reload()
            return str(self._client.swarm.attrs["JoinTokens"]["Worker"])
        except (docker.errors.APIError, KeyError):
            raise MafaError(
                "this engine is not a Swarm manager",
                hint="run it against a manager (DOCKER_HOST), or `docker swarm init` first",
            ) from None

    def join_swarm(self, manager_addresses: Sequence[str], token: str, advertise: str) -> None:
        try:
            self._client.swarm.join(
                remote_addrs=[f"{a}:{SWARM_PORT}" for a in manager_addresses],
                join_token=token,
                advertise_addr=advertise,
                listen_addr=f"0.0.0.0:{SWARM_PORT}",
            )
        except docker.errors.APIError as exc:
            raise MafaError(f"cannot join the Swarm: {exc.explanation or exc}") from None

    def nodes(self) -> list[Node]:
        """The Swarm's nodes, managers first (the engine's own `docker node ls`)."""
        try:
            found = self._api.nodes()
        except docker.errors.APIError as exc:
            raise MafaError(
                f"cannot list the Swarm's nodes: {exc.explanation or exc}",
                hint="mafa needs a Swarm manager's engine (DOCKER_HOST)",
            ) from None
        nodes = [
            Node(
                id=str(n["ID"]),
                hostname=str(n["Description"]["Hostname"]),
                role=str(n["Spec"]["Role"]),
                state=str(n["Status"]["State"]),
                availability=str(n["Spec"]["Availability"]),
                address=str(n["Status"].get("Addr", "")),
                leader=bool((n.get("ManagerStatus") or {}).get("Leader", False)),
                reachability=(n.get("ManagerStatus") or {}).get("Reachability"),
            )
            for n in found
        ]
        return sorted(nodes, key=lambda n: (n.role != "manager", n.hostname))

    def node(self, node_id: str) -> Node:
        """One node as the manager sees it now (from the node listing, as `docker node ls`)."""
        for found in self.nodes():
            if found.id == node_id:
                return found
        raise MafaError(f"node {node_id} is not in the Swarm any more", hint="docker node ls")

    def set_availability(self, node_id: str, availability: str) -> None:
        """active, pause or drain (`docker node update --availability`): drain makes the
        Swarm move the node's tasks to the others. A manager's API does it on any Swarm, with
        no access to the node itself (what `mafa chaos --node-fault drain` relies on)."""
        try:
            current = self._api.inspect_node(node_id)
            spec = {**current["Spec"], "Availability": availability}
            self._api.update_node(node_id, current["Version"]["Index"], spec)
        except docker.errors.APIError as exc:
            raise MafaError(
                f"cannot set node {node_id} to {availability}: {exc.explanation or exc}"
            ) from None

    def advertised_address(self) -> str:
        """The address this engine gives the Swarm for itself ('' when in no Swarm)."""
        try:
            return str((self._client.info().get("Swarm") or {}).get("NodeAddr") or "")
        except docker.errors.APIError:
            return ""

    def hosts(self) -> list[Host]:
        """The nodes as the engine seam's hosts (what `mafa watch` shows beside the replicas)."""
        return [
            Host(n.hostname, n.role, n.state, n.availability, n.reachability, n.leader)
            for n in self.nodes()
        ]

    def as_one_engine(self) -> DockerEngine:
        """The same engine, without the Swarm's view (one that is no Swarm manager)."""
        return DockerEngine(self._client)

    def is_manager(self) -> bool:
        try:
            swarm = self._client.info().get("Swarm") or {}
        except docker.errors.APIError:
            return False
        return bool(swarm.get("ControlAvailable"))

    # a stack as services -----------------------------------------------------------------------

    def ensure_overlay(self, project: str, name: str) -> str:
        """The stack's network: overlay (it spans the nodes), attachable (a one-off container
        such as a locust worker can join it)."""
        if not self._api.networks(names=[name]):
            self._api.create_network(
                name,
                driver="overlay",
                attachable=True,
                check_duplicate=True,
                labels={NAMESPACE: project, "com.docker.stack.network": "default"},
            )
        return name

    def stack_services(self, project: str) -> dict[str, str]:
        """Compose service name -> Swarm service id, for the project's services."""
        found = self._api.services(filters={"label": f"{NAMESPACE}={project}"})
        return {str(s["Spec"]["Name"]).removeprefix(f"{project}_"): str(s["ID"]) for s in found}

    def deploy(
        self, spec: ServiceSpec, network: str, healthcheck: Healthcheck | None
    ) -> str | None:
        """Creates the service, or, when it exists, sets its replica count (a live scale: the
        rest of a running service is left as it is). When the Swarm will be replacing tasks, the
        marker of the service's update before (see `update_state`); else None."""
        existing = self.stack_services(dict(spec.labels)[NAMESPACE]).get(spec.service)
        mode = docker.types.ServiceMode("replicated", replicas=spec.replicas)
        try:
            if existing is not None:
                current = self._api.inspect_service(existing)
                # A changed password or config file is a new secret or config (named by its
                # content): then the service gets a new task template, and new tasks.
                template = None
                if _file_names(current) != {f.name for f in (*spec.secrets, *spec.configs)}:
                    references = self._files_for(spec)
                    template = self._task_template(spec, network, healthcheck, references)
                self._api.update_service(
                    existing,
                    current["Version"]["Index"],
                    mode=mode,
                    task_template=template,
                    fetch_current_spec=True,
                )
                return _update_to_wait_for(current, template is not None, spec.replicas)
            references = self._files_for(spec)
            self._api.create_service(
                self._task_template(spec, network, healthcheck, references),
                name=spec.name,
                labels=dict(spec.labels),
                mode=mode,
                endpoint_spec=docker.types.EndpointSpec(
                    mode=spec.endpoint_mode,
                    ports=[
                        {
                            "Protocol": "tcp",
                            "PublishedPort": p.published,
                            "TargetPort": p.target,
                            "PublishMode": p.mode,
                        }
                        for p in spec.ports
                    ]
                    or None,
                ),
            )
            return None  # a new service: no update to wait for
        except docker.errors.APIError as exc:
            raise MafaError(
                f"cannot deploy {spec.name}: {exc.explanation or exc}",
                hint="is DOCKER_HOST a Swarm manager? (`docker node ls` answers on one)",
            ) from None

    def _files_for(
        self, spec: ServiceSpec
    ) -> tuple[list[docker.types.SecretReference], list[docker.types.ConfigReference]]:
        """The service's secrets and configs, created where missing (a name is its content: one
        that exists holds what it should), as references for its containers."""
        project = dict(spec.labels)[NAMESPACE]
        secrets = [
            docker.types.SecretReference(
                self._ensure_file("secret", project, f),
                f.name,
                filename=f.target,
                uid=str(f.uid),
                mode=f.mode,
            )
            for f in spec.secrets
        ]
        configs = [
            docker.types.ConfigReference(
                self._ensure_file("config", project, f), f.name, filename=f.target, mode=f.mode
            )
            for f in spec.configs
        ]
        return secrets, configs

    def _ensure_file(self, kind: str, project: str, file: SwarmFile) -> str:
        """The id of the project's secret or config (kind) named `file.name`, created if new."""
        existing = self.stack_files(kind, project).get(file.name)
        if existing is not None:
            return existing
        create = self._api.create_secret if kind == "secret" else self._api.create_config
        created = create(file.name, file.data, labels={NAMESPACE: project})
        return str(created["ID"])

    def stack_files(self, kind: str, project: str) -> dict[str, str]:
        """Name -> id of the project's secrets or configs (kind "secret" or "config")."""
        listing = self._api.secrets if kind == "secret" else self._api.configs
        found = listing(filters={"label": f"{NAMESPACE}={project}"})
        return {str(f["Spec"]["Name"]): str(f["ID"]) for f in found}

    def _task_template(
        self,
        spec: ServiceSpec,
        network: str,
        healthcheck: Healthcheck | None,
        references: tuple[
            list[docker.types.SecretReference], list[docker.types.ConfigReference]
        ] = ([], []),
    ) -> docker.types.TaskTemplate:
        health = None
        if healthcheck is not None:
            health = docker.types.Healthcheck(
                test=list(healthcheck.test),
                interval=int(healthcheck.interval_s * NANOS),
                timeout=int(healthcheck.timeout_s * NANOS),
                retries=healthcheck.retries,
                start_period=int(healthcheck.start_period_s * NANOS),
            )
        container = docker.types.ContainerSpec(
            spec.image,
            command=list(spec.command) if spec.command else None,
            hostname=spec.hostname,
            env=dict(spec.environment),
            labels=dict(spec.labels),
            mounts=[
                docker.types.Mount(m.target, m.source, type="volume", read_only=m.read_only)
                for m in spec.mounts
            ],
            stop_grace_period=int(spec.stop_grace_period_s * NANOS),
            healthcheck=health,
            secrets=references[0] or None,
            configs=references[1] or None,
            dns_config=docker.types.DNSConfig(),
        )
        template = docker.types.TaskTemplate(
            container,
            restart_policy=docker.types.RestartPolicy(condition="any", delay=NANOS),
            placement=docker.types.Placement(
                constraints=list(spec.constraints) or None,
                preferences=[("spread", label) for label in spec.spread] or None,
            ),
            # The compose name as an alias: `sender`, `postgres` resolve as on one engine.
            networks=[docker.types.NetworkAttachmentConfig(network, aliases=[spec.service])],
        )
        # The engine fills empty DNS settings and resources into a service's spec at its first
        # update; a spec created without them then differs, and a mere change of replicas
        # replaced every task (seen on the lab: a scale rolled every sender and receiver). With
        # both given empty here, a scale only adds or removes tasks.
        template["Resources"] = {}
        return template

    def remove_when_unused(self, kind: str, name: str) -> bool:
        """Removes the network, volume, secret or config `name` (kind says which); False while
        something still uses it (the engine refuses), True once it is gone."""
        remove = {
            "network": self._api.remove_network,
            "volume": self._api.remove_volume,
            "secret": self._api.remove_secret,
            "config": self._api.remove_config,
        }[kind]
        try:
            remove(name)
        except docker.errors.NotFound:
            return True
        except docker.errors.APIError:
            return False
        return True

    def service_logs(
        self, service_id: str, tail: int, follow: bool = False
    ) -> Iterator[tuple[str, str]]:
        """(task id, line) from the service's log: every task's output, gathered by the manager
        from all nodes; with `follow`, on until the service is removed."""
        try:
            stream = self._api.service_logs(
                service_id, details=True, stdout=True, stderr=True, tail=tail, follow=follow
            )
            for line in lines_of(stream):
                yield task_of_log_line(line)
        except docker.errors.APIError as exc:
            raise MafaError(
                f"cannot read the log of {service_id[:12]}: {exc.explanation}"
            ) from None

    def update_state(self, service: str) -> tuple[str, str]:
        """(marker, state) of the service's last rolling update: the marker (when it started)
        tells a new update from the one before; state is updating, completed, paused,
        rollback_started, ... ("" without any update yet)."""
        try:
            inspected = self._api.inspect_service(service)
        except docker.errors.NotFound:
            raise NotFound(
                f"service {service[:12]} is gone", hint="was the stack taken down meanwhile?"
            ) from None
        return _update_marker(inspected), _update_state(inspected)

    def remove_service(self, service_id: str) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            self._api.remove_service(service_id)

    def tasks(self, project: str, service: str | None = None) -> list[Task]:
        """The tasks of the project's services (or one), by service then slot; the ones meant
        to run and the last few that ended (their error says why)."""
        services = self.stack_services(project)
        names = {v: k for k, v in services.items() if service is None or k == service}
        nodes = {n.id: n.hostname for n in self.nodes()}
        found: list[Task] = []
        for service_id, name in names.items():
            for t in self._api.tasks(filters={"service": service_id}):
                status = t.get("Status") or {}
                container = (status.get("ContainerStatus") or {}).get("ContainerID")
                addresses = [
                    a.split("/")[0]
                    for attachment in t.get("NetworksAttachments") or []
                    if not attachment["Network"]["Spec"].get("Ingress")
                    for a in attachment.get("Addresses") or []
                ]
                found.append(
                    Task(
                        id=str(t["ID"]),
                        service=name,
                        slot=int(t.get("Slot") or 0),
                        node=nodes.get(str(t.get("NodeID", "")), ""),
                        state=str(status.get("State", "unknown")),
                        desired_state=str(t.get("DesiredState", "")),
                        error=str(status.get("Err", "")),
                        container_id=str(container) if container else None,
                        address=addresses[0] if addresses else None,
                        since=str(status.get("Timestamp", "")),
                    )
                )
        return sorted(found, key=lambda t: (t.service, t.slot, t.desired_state != "running"))

    def replicas(self, project: str, service: str | None = None) -> list[Replica]:
        """A project deployed as services: one replica per task meant to run (a task on
        this node is its container, which the CLI can exec in; a task on another node only
        its id). Any other project: its containers, as on one engine."""
        if not self.stack_services(project):
            return super().replicas(project, service)
        return [
            Replica(
                id=t.container_id or t.id,
                name=f"{project}_{t.service}.{t.slot}",
                service=t.service,
                number=t.slot,
                config_hash="",
                # A task is running once its health check passes (Swarm holds it in
                # "starting" until then).
                state=t.state,
                health=None,
                started_at=parse_time(t.since) if t.state == "running" else None,
                ports=(),
                ip=t.address,
                node=t.node,
            )
            for t in self.tasks(project, service)
            if t.desired_state == "running"
        ]


def _file_names(service: dict[str, Any]) -> set[str]:
    """The names of the secrets and configs an inspected service's tasks get."""
    container = service["Spec"]["TaskTemplate"]["ContainerSpec"]
    secrets = {str(r["SecretName"]) for r in container.get("Secrets") or []}
    return secrets | {str(r["ConfigName"]) for r in container.get("Configs") or []}


@dataclass(frozen=True)
class Task:
    id: str
    service: str
    slot: int
    node: str  # its host name
    state: str  # new, pending, assigned, preparing, starting, running, failed, shutdown, ...
    desired_state: str  # running, shutdown
    error: str
    container_id: str | None
    address: str | None
    since: str


def _update_marker(inspected: dict[str, Any]) -> str:
    return str((inspected.get("UpdateStatus") or {}).get("StartedAt", ""))


def _update_state(inspected: dict[str, Any]) -> str:
    return str((inspected.get("UpdateStatus") or {}).get("State", ""))


def _update_to_wait_for(current: dict[str, Any], new_template: bool, replicas: int) -> str | None:
    """What `deploy` returns for a service it updated (`current`: as inspected before): the
    marker of the update before, when a new template makes the Swarm replace running tasks;
    "" (any update will do) while an earlier one is still replacing them (an `up` interrupted
    and run again); None when no update will run (none of its tasks to replace, or none
    wanted: the Swarm then starts none, and waiting for one would wait out the timeout)."""
    if _update_state(current) == "updating":
        return ""
    mode = (current.get("Spec") or {}).get("Mode") or {}
    had = int((mode.get("Replicated") or {}).get("Replicas", 0))
    if not new_template or had == 0 or replicas == 0:
        return None
    return _update_marker(current)


def task_of_log_line(line: str) -> tuple[str, str]:
    """(task id, message) of a service log line read with details: the engine puts the task's
    attributes first, as `key=value,key=value message` ("" when a line has none)."""
    details, _, message = line.partition(" ")
    attributes = dict(pair.partition("=")[::2] for pair in details.split(",") if "=" in pair)
    if TASK_DETAIL not in attributes:
        return "", line
    return attributes[TASK_DETAIL], message
