"""What mafa needs from a container engine, in terms of services and their replicas.

`stack/operations.py`, `watch/collectors.py` and `proof.py` speak only this protocol. A replica is
one running copy of a service, numbered 1..N within it: a container on one Docker engine
(engine/local.py), a task on a Docker Swarm (a later implementation: create/start/stop of a
numbered replica become the service's replica count and task slots there; networks become
overlay networks). The unit tests run the orchestration on an in-memory fake
(tests/unit/fakes.py). Plans stay pure (stack/plan.py); an engine only translates them.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, Protocol

from mafa_cli.stack.compose_model import Service


@dataclass(frozen=True)
class Replica:
    id: str
    name: str
    service: str
    number: int
    config_hash: str
    state: str  # running, exited, created, restarting, ...
    health: str | None  # healthy, unhealthy, starting; None without a healthcheck
    started_at: datetime | None
    ports: tuple[str, ...]  # "127.0.0.1:8080->8080/tcp"
    ip: str | None
    node: str | None = None  # the Swarm node it runs on (None on one engine)

    @property
    def ready(self) -> bool:
        """Running, and healthy when it has a health check."""
        return self.state == "running" and self.health in (None, "healthy")


@dataclass(frozen=True)
class Host:
    """A machine of a multi-host engine (a Swarm node), as its manager sees it."""

    name: str  # its host name: what Replica.node says
    role: str  # manager, worker
    state: str  # ready, down, unknown, disconnected
    availability: str  # active, pause, drain
    reachability: str | None  # a manager's: reachable, unreachable, unknown; None for a worker
    leader: bool


class Engine(Protocol):
    # images ----------------------------------------------------------------------------------
    def image_id(self, reference: str) -> str | None: ...

    def image_label(self, reference: str, label: str) -> str | None: ...

    def build(
        self,
        service: Service,
        on_line: Callable[[str], None],
        labels: dict[str, str],
        context: IO[bytes] | None = None,
    ) -> str:
        """Build the service's image, from `context` (a tar archive: what a remote engine needs)
        or else its context directory."""
        ...

    def pull(self, reference: str) -> str: ...

    # what a project's services share: one network, named volumes -------------------------------
    def ensure_network(self, project: str) -> str: ...

    def ensure_volume(self, project: str, volume: str) -> str: ...

    def networks(self, project: str) -> list[str]: ...

    def volumes(self, project: str) -> list[str]: ...

    def remove_network(self, name: str) -> None: ...

    def remove_volume(self, name: str) -> None: ...

    # replicas of services ----------------------------------------------------------------------
    def replicas(self, project: str, service: str | None = None) -> list[Replica]:
        """Every replica of the project (or of one service), by service then number."""
        ...

    def create(
        self,
        project: str,
        service: Service,
        number: int,
        config_hash: str,
        network: str,
        labels: dict[str, str],
        start: bool = True,
    ) -> str:
        """Create replica `number` of the service and start it (unless `start` is False: for a
        replica created ahead of its dependencies being ready, or to put files in before it
        starts); its id."""
        ...

    def put_file(self, replica_id: str, path: str, data: bytes, mode: int, owner: str) -> None:
        """Write a file into the replica's filesystem through the engine's API, also before it
        starts and on a remote engine: how a secret (the TLS key) reaches a container without an
        image or an environment variable. `owner` is a user name of the replica's image."""
        ...

    def start(self, replica_id: str, name: str = "") -> None: ...

    def run_in(self, replica_id: str, command: Sequence[str], timeout_s: float) -> int:
        """Run `command` inside the running replica (as its health check does) and wait for it
        up to `timeout_s`; the exit code, or -1 when the replica cannot run it (not running,
        gone) or it is still running after `timeout_s` (it is left to finish)."""
        ...

    def kill(self, replica_id: str) -> None:
        """No chance to finish or hand work back (a crash, for `mafa chaos`)."""
        ...

    def restart(self, replica_id: str, grace_s: float) -> None: ...

    def stop_and_remove(self, replica_id: str, grace_s: float) -> None:
        """Ask it to stop, give it `grace_s` to finish, then remove it."""
        ...

    def exec_socket(self, replica_id: str, command: list[str]) -> socket.socket:
        """Run `command` in the replica, its stdin and stdout on the socket returned (stdout in
        Docker's multiplexed frames): how stack/access.py forwards ports through the API."""
        ...

    def runs_here(self) -> bool:
        """Whether what the engine publishes on 127.0.0.1 is this host's loopback."""
        ...

    def hosts(self) -> list[Host]:
        """The machines replicas run on, managers first: a Swarm's nodes. One engine has none
        to tell apart, and answers [] without asking the engine anything."""
        ...

    def stats_stream(self, replica_id: str) -> Iterator[dict[str, Any]]:
        """Resource samples (Docker's stats format), one a second, until it stops."""
        ...

    def logs(
        self, replica_id: str, tail: int | str = "all", follow: bool = False
    ) -> Iterator[str]: ...


def connect_engine(swarm: bool | None = None) -> Engine:
    """The engine of this environment (DOCKER_HOST or the local socket): a Swarm manager's
    engine lists a project deployed as services by their tasks (engine/swarm.py). `swarm`, when
    the caller knows it from the project's state, spares asking the engine (its `info` is the
    costliest of its answers). Imported here, not at the top: the Docker SDK costs a tenth of
    a second and `mafa --help` needs none of it."""
    from mafa_cli.engine.swarm import SwarmEngine

    engine = SwarmEngine.connect()
    if swarm is None:
        swarm = engine.is_manager()
    return engine if swarm else engine.as_one_engine()
