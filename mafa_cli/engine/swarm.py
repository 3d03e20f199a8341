"""A Docker Swarm, through the Docker SDK: the engine of a Swarm manager. The second module that
imports docker (after engine/local.py, whose one-engine operations a manager also has: images,
exec, logs). Swarm membership (init, join, the node list) is here; so is what a stack on a Swarm
becomes (services, tasks, an overlay network, secrets).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import docker.errors

from mafa_cli.engine.local import DockerEngine
from mafa_cli.errors import MafaError

SWARM_PORT = 2377


@dataclass(frozen=True)
class Node:
    id: str
    hostname: str
    role: str  # manager, worker
    state: str  # ready, down, unknown, disconnected
    availability: str  # active, pause, drain
    address: str
    leader: bool


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
            )
            for n in found
        ]
        return sorted(nodes, key=lambda n: (n.role != "manager", n.hostname))
