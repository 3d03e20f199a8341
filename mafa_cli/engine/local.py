"""One Docker engine, through the Docker SDK: the only module that imports docker. A replica is
a container labelled the way Compose labels it, so `docker compose -p <project> ps` sees the stack.

Thin on purpose: each method is one engine operation, translated into mafa's errors. What to do
is decided elsewhere (stack/plan.py, stack/operations.py). Implements engine.protocol.Engine.
"""

from __future__ import annotations

import contextlib
import io
import posixpath
import socket
import tarfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import IO, Any, Self

import docker
import docker.errors
from docker.types import Mount as DockerMount
from docker.utils.build import exclude_paths

from mafa_cli.engine.protocol import Host, Replica
from mafa_cli.errors import BuildFailed, Conflict, EngineError, MafaError, NotFound
from mafa_cli.stack.compose_model import Service


def files_sent(context: str, dockerignore: list[str], dockerfile: str) -> list[str]:
    """The files (relative, sorted) a build of `context` sends, as the Docker SDK's own
    `.dockerignore` matcher decides (what its `images.build` applies): Go's pattern syntax,
    `**`, `!` exceptions, the last match winning, the Dockerfile always sent."""
    kept = exclude_paths(context, list(dockerignore), dockerfile=dockerfile)
    return sorted(path for path in kept if posixpath.isfile(posixpath.join(context, path)))


PROJECT = "com.docker.compose.project"
SERVICE = "com.docker.compose.service"
NUMBER = "com.docker.compose.container-number"
CONFIG_HASH = "com.docker.compose.config-hash"
ONEOFF = "com.docker.compose.oneoff"
NANOS = 1_000_000_000


def _engine_error(exc: Exception) -> EngineError:
    text = str(exc)
    if "Permission denied" in text or isinstance(exc, PermissionError):
        return EngineError(
            "permission denied on the Docker socket",
            hint="run as root or add your user to the 'docker' group (then log in again)",
        )
    return EngineError(
        f"cannot reach a Docker engine ({text.splitlines()[0][:160]})",
        hint="start one (`sudo dockerd &`, `systemctl start docker`), or set DOCKER_HOST",
    )


class DockerEngine:
    def __init__(self, client: Any) -> None:
        self._client = client
        self._api = client.api
        self._api_version: str | None = None

    @classmethod
    def connect(cls, base_url: str | None = None) -> Self:
        """The engine DOCKER_HOST names (or the local socket); `base_url` names another."""
        try:
            client = (
                docker.from_env(timeout=120)
                if base_url is None
                else docker.DockerClient(base_url=base_url, timeout=120)
            )  # this asks the engine its API version: an engine out of reach fails here
        except (docker.errors.DockerException, OSError) as exc:
            raise _engine_error(exc) from None
        return cls(client)

    def runs_here(self) -> bool:
        """Whether the engine runs on this host (its name is our host name), so what it
        publishes on 127.0.0.1 is this host's loopback. Not for Docker Desktop, a remote engine
        or an engine in a container."""
        try:
            return str(self._client.info().get("Name", "")) == socket.gethostname()
        except docker.errors.APIError:
            return False

    def hosts(self) -> list[Host]:
        """One engine: one machine, nothing to tell apart (no Swarm's node list to read)."""
        return []

    # images ---------------------------------------------------------------------------------

    def image_id(self, reference: str) -> str | None:
        try:
            return str(self._api.inspect_image(reference)["Id"])
        except docker.errors.ImageNotFound:
            return None

    def image_label(self, reference: str, label: str) -> str | None:
        try:
            labels = self._api.inspect_image(reference)["Config"].get("Labels") or {}
        except docker.errors.ImageNotFound:
            return None
        value = labels.get(label)
        return None if value is None else str(value)

    def build(
        self,
        service: Service,
        on_line: Callable[[str], None],
        labels: dict[str, str],
        context: IO[bytes] | None = None,
    ) -> str:
        """Builds the service's image; from `context` (a tar archive) when given, which is how a
        remote engine gets files it cannot read itself, else from its context directory."""
        if service.build is None:
            raise MafaError(f"{service.name} has no build section")
        return self.build_image(
            service.image,
            service.build.dockerfile,
            dict(service.build.args),
            labels,
            on_line,
            context=context,
            directory=service.build.context,
            what=f"{service.image} for {service.name}",
        )

    def build_image(
        self,
        tag: str,
        dockerfile: str,
        args: dict[str, str],
        labels: dict[str, str],
        on_line: Callable[[str], None],
        *,
        context: IO[bytes] | None = None,
        directory: str | None = None,
        what: str = "",
    ) -> str:
        """Builds `tag` from a tar archive (`context`) or a directory the engine can read."""
        what = what or tag
        lines: list[str] = []
        where: dict[str, Any] = (
            {"path": directory} if context is None else {"fileobj": context, "custom_context": True}
        )
        try:
            stream = self._api.build(
                **where,
                dockerfile=dockerfile,
                buildargs=args,
                tag=tag,
                rm=True,
                forcerm=True,
                decode=True,
                labels=labels,
            )
            for chunk in stream:
                if "error" in chunk:
                    lines.append(str(chunk["error"]).rstrip())
                    raise BuildFailed(
                        f"building {what} failed",
                        hint="fix the Dockerfile or its inputs, then run `mafa up` again",
                        details="\n".join(lines[-15:]),
                    )
                text = str(chunk.get("stream", "")).rstrip()
                if text:
                    lines.append(text)
                    on_line(text)
        except docker.errors.APIError as exc:
            raise BuildFailed(
                f"building {tag} failed: {exc.explanation or exc}",
                details="\n".join(lines[-15:]),
            ) from None
        image = self.image_id(tag)
        if image is None:
            raise BuildFailed(f"the build of {tag} produced no image")
        return image

    def save_images(self, references: list[str]) -> Iterator[bytes]:
        """One archive of several images (`docker save a b c`: shared layers sent once)."""
        # docker-py's get_image takes one name; the API takes many (its private helpers build
        # the request the same way get_image does).
        response = self._api._get(
            self._api._url("/images/get"), params={"names": references}, stream=True
        )
        self._api._raise_for_status(response)
        yield from response.iter_content(chunk_size=1 << 20)

    def load_images(self, archive: Iterator[bytes]) -> None:
        """`docker load` of an archive from save_images (possibly another engine's)."""
        try:
            for status in self._api.load_image(archive):
                if "error" in status:
                    raise MafaError(f"loading images failed: {status['error']}")
        except docker.errors.APIError as exc:
            raise MafaError(f"loading images failed: {exc.explanation or exc}") from None

    def run_engine_container(
        self,
        name: str,
        image: str,
        socket_dir: str,
        data_volume: str,
        labels: dict[str, str],
        network: str | None = None,
        command: Sequence[str] | None = None,
    ) -> str:
        """A container running a Docker engine, with the flags that work without --privileged
        (docs: ../shared/docker-here.md): every capability but SYS_RESOURCE, no seccomp or
        AppArmor profile, its own cgroup namespace, /var/lib/docker on a volume, and the host
        directory `socket_dir` at /run/engine (where it puts its socket). `command` replaces
        the image's dockerd command line (a Swarm node's --insecure-registry)."""
        host_config = self._api.create_host_config(
            cap_add=["ALL"],
            cap_drop=["SYS_RESOURCE"],
            security_opt=["seccomp=unconfined", "apparmor=unconfined"],
            cgroupns="private",
            mounts=[
                DockerMount(target="/var/lib/docker", source=data_volume, type="volume"),
                DockerMount(target="/run/engine", source=socket_dir, type="bind"),
            ],
            network_mode=network,
        )
        # `--security-opt systempaths=unconfined`, which the CLI translates into these two
        # (docker-py has no parameter for them): /proc and /sys paths unmasked and writable.
        host_config["MaskedPaths"] = []
        host_config["ReadonlyPaths"] = []
        return self._run(name, image, labels, host_config, command)

    def run_lab_container(self, name: str, image: str, network: str, labels: dict[str, str]) -> str:
        """A plain container on `network`, no port published (the lab's registry: only the lab's
        engines, on that network, reach it)."""
        host_config = self._api.create_host_config(network_mode=network)
        return self._run(name, image, labels, host_config)

    def _run(
        self,
        name: str,
        image: str,
        labels: dict[str, str],
        host_config: dict[str, Any],
        command: Sequence[str] | None = None,
    ) -> str:
        """Creates and starts a container of the engine lab (its host name: its name)."""
        try:
            created = self._api.create_container(
                image=image,
                name=name,
                hostname=name,
                labels=labels,
                host_config=host_config,
                command=list(command) if command else None,
            )
        except docker.errors.APIError as exc:
            raise _create_error(name, exc) from None
        container_id = str(created["Id"])
        self.start(container_id, name)
        return container_id

    def create_lab_network(self, name: str, labels: dict[str, str]) -> str:
        """A user bridge network (its embedded DNS resolves the container names on it)."""
        try:
            created = self._api.create_network(
                name, driver="bridge", check_duplicate=True, labels=labels
            )
        except docker.errors.APIError as exc:
            raise _create_error(name, exc) from None
        return str(created["Id"])

    def container_address(self, name: str, network: str) -> str:
        """The container's address on `network` (for a Swarm node to advertise)."""
        try:
            data = self._api.inspect_container(name)
        except docker.errors.NotFound:
            raise NotFound(f"no container {name}") from None
        address = (data["NetworkSettings"].get("Networks") or {}).get(network, {}).get("IPAddress")
        if not address:
            raise MafaError(f"{name} has no address on {network}")
        return str(address)

    def remove_container(self, name: str, volumes: bool = False) -> None:
        """Removes it if it exists; its anonymous volumes too with `volumes`."""
        with contextlib.suppress(docker.errors.NotFound):
            self._api.remove_container(name, force=True, v=volumes)

    def pull(self, reference: str) -> str:
        try:
            self._client.images.pull(reference)
        except docker.errors.APIError as exc:
            raise MafaError(
                f"cannot pull {reference}: {exc.explanation or exc}",
                hint="on a host with no registry use the offline image set: "
                "scripts/setup-host builds it, then `mafa up --images offline`",
            ) from None
        image = self.image_id(reference)
        if image is None:
            raise MafaError(f"{reference} was pulled but cannot be found")
        return image

    def push(self, reference: str, registry: str) -> str:
        """Tags the image as `registry`/`reference` and pushes it there; the name every node
        then pulls it by."""
        target = f"{registry}/{reference}"
        repository, _, tag = target.rpartition(":")
        try:
            self._api.tag(reference, repository, tag)
            for status in self._api.push(repository, tag, stream=True, decode=True):
                if "error" in status:
                    raise MafaError(
                        f"cannot push {target}: {status['error']}",
                        hint="is the registry running, and trusted by this engine "
                        "(insecure-registries, for plain HTTP)?",
                    )
        except docker.errors.APIError as exc:
            raise MafaError(f"cannot push {target}: {exc.explanation or exc}") from None
        return target

    # networks and volumes --------------------------------------------------------------------

    def ensure_network(self, project: str) -> str:
        name = f"{project}_default"
        if not self._api.networks(names=[name]):
            self._api.create_network(
                name,
                driver="bridge",
                check_duplicate=True,
                labels={PROJECT: project, "com.docker.compose.network": "default"},
            )
        return name

    def ensure_volume(self, project: str, volume: str) -> str:
        name = f"{project}_{volume}"
        try:
            self._api.inspect_volume(name)
        except docker.errors.NotFound:
            self._api.create_volume(
                name, labels={PROJECT: project, "com.docker.compose.volume": volume}
            )
        return name

    def networks(self, project: str) -> list[str]:
        return [n["Name"] for n in self._api.networks(filters={"label": f"{PROJECT}={project}"})]

    def volumes(self, project: str) -> list[str]:
        found = self._api.volumes(filters={"label": f"{PROJECT}={project}"}).get("Volumes") or []
        return [v["Name"] for v in found]

    def remove_network(self, name: str) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            self._api.remove_network(name)

    def remove_volume(self, name: str) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            self._api.remove_volume(name, force=True)

    # containers ------------------------------------------------------------------------------

    def replicas(self, project: str, service: str | None = None) -> list[Replica]:
        labels = [f"{PROJECT}={project}"] + ([f"{SERVICE}={service}"] if service else [])
        found = self._api.containers(all=True, filters={"label": labels})
        # One inspect per container, at once: `mafa up` and `scale` list the replicas every 0.2 s
        # while they wait, and one after the other 10 inspects took 0.3-1 s on a loaded engine.
        with ThreadPoolExecutor(max_workers=min(8, len(found) or 1)) as pool:
            infos = list(pool.map(self._info, [c["Id"] for c in found]))
        return sorted((i for i in infos if i is not None), key=lambda i: (i.service, i.number))

    def _info(self, container_id: str) -> Replica | None:
        try:
            data = self._api.inspect_container(container_id)
        except docker.errors.NotFound:
            return None  # removed while we looked
        labels = data["Config"]["Labels"] or {}
        state = data["State"]
        started = state.get("StartedAt") or ""
        ports = []
        for port, bindings in (data["NetworkSettings"].get("Ports") or {}).items():
            for b in bindings or []:
                ports.append(f"{b['HostIp']}:{b['HostPort']}->{port}")
        networks = data["NetworkSettings"].get("Networks") or {}
        ip = next((n.get("IPAddress") for n in networks.values() if n.get("IPAddress")), None)
        return Replica(
            id=data["Id"],
            name=data["Name"].lstrip("/"),
            service=labels.get(SERVICE, "?"),
            number=int(labels.get(NUMBER, "0") or 0),
            config_hash=labels.get(CONFIG_HASH, ""),
            state=state.get("Status", "unknown"),
            health=(state.get("Health") or {}).get("Status"),
            started_at=parse_time(started) if state.get("Running") else None,
            ports=tuple(sorted(ports)),
            ip=ip,
        )

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
        name = f"{project}-{service.name}-{number}"
        healthcheck = None
        if service.healthcheck:
            h = service.healthcheck
            healthcheck = {
                "test": list(h.test),
                "interval": int(h.interval_s * NANOS),
                "timeout": int(h.timeout_s * NANOS),
                "retries": h.retries,
                "start_period": int(h.start_period_s * NANOS),
            }
            if h.start_interval_s is not None and self._supports_start_interval():
                healthcheck["start_interval"] = int(h.start_interval_s * NANOS)
        mounts = [
            DockerMount(
                target=m.target,
                source=f"{project}_{m.source}" if m.kind == "volume" else m.source,
                type=m.kind,
                read_only=m.read_only,
            )
            for m in service.mounts
        ]
        port_bindings = {
            p.container_port: (p.host_ip, p.host_port) if p.host_port else (p.host_ip,)
            for p in service.ports
        }
        host_config = self._api.create_host_config(
            port_bindings=port_bindings or None,
            mounts=mounts or None,
            restart_policy={"Name": service.restart} if service.restart != "no" else None,
        )
        # The service name as a DNS alias on the network: `sender` resolves to every replica,
        # which is how HAProxy finds them.
        networking = self._api.create_networking_config(
            {network: self._api.create_endpoint_config(aliases=[service.name, name])}
        )
        try:
            created = self._api.create_container(
                image=service.image,
                command=list(service.command) if service.command else None,
                name=name,
                hostname=service.hostname,
                environment=dict(service.environment),
                labels={
                    **labels,
                    PROJECT: project,
                    SERVICE: service.name,
                    NUMBER: str(number),
                    CONFIG_HASH: config_hash,
                    ONEOFF: "False",
                },
                ports=[p.container_port for p in service.ports] or None,
                healthcheck=healthcheck,
                host_config=host_config,
                networking_config=networking,
                stop_timeout=int(service.stop_grace_period_s),
            )
        except docker.errors.APIError as exc:
            if exc.status_code == 409:
                raise Conflict(
                    f"a container named {name} already exists",
                    hint=f"remove it (`docker rm -f {name}`) or use another --project",
                ) from None
            raise MafaError(f"cannot create {name}: {exc.explanation or exc}") from None
        container_id = str(created["Id"])
        if start:
            self.start(container_id, name)
        return container_id

    def _supports_start_interval(self) -> bool:
        """Docker checks health every `start_interval` during the start period from API 1.44
        (Engine 25); older engines refuse the key, so it is left out for them."""
        if self._api_version is None:
            self._api_version = str(self._api.version().get("ApiVersion", "1.0"))
        major, _, minor = self._api_version.partition(".")
        return (int(major), int(minor or 0)) >= (1, 44)

    def run_in(self, container_id: str, command: Sequence[str], timeout_s: float) -> int:
        """One exec through the engine (about 70 ms for a shell builtin probe): no route to the
        container's address is needed, so it works on any engine the CLI can reach. The
        command's output is attached, and read to its end: without an attached stream the
        engine answers the start at once, and a command still running read as a failure."""
        try:
            exec_id = self._api.exec_create(container_id, list(command), stdout=True, stderr=True)
            stream = self._api.exec_start(exec_id, socket=True)
        except docker.errors.APIError:
            return -1  # not running (yet, or any more), or gone
        raw = getattr(stream, "_sock", stream)
        try:
            raw.settimeout(timeout_s)
            while raw.recv(4096):  # the engine closes the stream when the command ends
                pass
        except OSError:
            return -1  # still running after timeout_s (or the engine went away)
        finally:
            raw.close()
        try:
            code = self._api.exec_inspect(exec_id).get("ExitCode")
        except docker.errors.APIError:
            return -1
        return -1 if code is None else int(code)

    def run_to_end(self, container_id: str, command: Sequence[str]) -> tuple[int, str]:
        """One exec, waited for to its end (its output read to the end): its exit code and
        output. Unlike run_in, the exit code is there even for a command that takes a while."""
        try:
            exec_id = self._api.exec_create(container_id, list(command), stdout=True, stderr=True)
            output = self._api.exec_start(exec_id)
            code = self._api.exec_inspect(exec_id).get("ExitCode")
        except docker.errors.APIError as exc:
            return -1, str(exc.explanation or exc)
        text = output.decode("utf-8", errors="replace") if isinstance(output, bytes) else ""
        return (-1 if code is None else int(code)), text

    def put_file(self, replica_id: str, path: str, data: bytes, mode: int, owner: str) -> None:
        uid, gid = self._user_ids(replica_id, owner)
        entry = tarfile.TarInfo(posixpath.basename(path))
        entry.size, entry.mode, entry.uid, entry.gid = len(data), mode, uid, gid
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            tar.addfile(entry, io.BytesIO(data))
        try:
            # The engine keeps the archive's numeric owner and mode as they are.
            self._api.put_archive(replica_id, posixpath.dirname(path), archive.getvalue())
        except docker.errors.APIError as exc:
            raise MafaError(
                f"cannot put {path} into {replica_id[:12]}: {exc.explanation}"
            ) from None

    def _user_ids(self, replica_id: str, user: str) -> tuple[int, int]:
        """A user's uid and gid from the container's own /etc/passwd (the official and the
        offline haproxy images number their haproxy user differently)."""
        try:
            stream, _ = self._api.get_archive(replica_id, "/etc/passwd")
        except docker.errors.APIError as exc:
            raise MafaError(
                f"cannot read the users of {replica_id[:12]}: {exc.explanation}"
            ) from None
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.extractfile("passwd")
            passwd = member.read().decode() if member else ""
        for line in passwd.splitlines():
            fields = line.split(":")
            if len(fields) > 3 and fields[0] == user:
                return int(fields[2]), int(fields[3])
        raise MafaError(f"the image of {replica_id[:12]} has no user {user!r}")

    def image_user_ids(self, image: str, user: str) -> tuple[int, int]:
        """A user's uid and gid in an image, read from a container made from it and never
        started (for a file a Swarm task gets: its owner is given as numbers)."""
        try:
            created = self._api.create_container(image, command=["true"], entrypoint=[])
        except docker.errors.APIError as exc:
            raise MafaError(f"cannot read the users of {image}: {exc.explanation}") from None
        try:
            return self._user_ids(str(created["Id"]), user)
        finally:
            with contextlib.suppress(docker.errors.APIError):
                self._api.remove_container(created["Id"], force=True)

    def start(self, container_id: str, name: str = "") -> None:
        try:
            self._api.start(container_id)
        except docker.errors.APIError as exc:
            text = str(exc.explanation or exc)
            if "already allocated" in text or "address already in use" in text:
                with contextlib.suppress(docker.errors.APIError):
                    self._api.remove_container(container_id, force=True)
                raise Conflict(
                    f"cannot start {name or container_id[:12]}: its port is already in use",
                    hint="choose another with --port (and --bind), or stop what holds it",
                ) from None
            raise MafaError(f"cannot start {name or container_id[:12]}: {text}") from None

    def kill(self, container_id: str) -> None:
        """SIGKILL: no chance to finish or hand work back (a crash, for `mafa chaos`)."""
        try:
            self._api.kill(container_id, signal="SIGKILL")
        except docker.errors.APIError as exc:
            raise MafaError(f"cannot kill {container_id[:12]}: {exc.explanation or exc}") from None

    def restart(self, container_id: str, grace_s: float) -> None:
        try:
            self._api.restart(container_id, timeout=int(grace_s))
        except docker.errors.APIError as exc:
            raise MafaError(
                f"cannot restart {container_id[:12]}: {exc.explanation or exc}"
            ) from None

    def stop_and_remove(self, container_id: str, grace_s: float) -> None:
        """SIGTERM, `grace_s` to finish (receivers requeue in-flight work), then remove. With no
        grace at all, one call: the engine kills and removes (a stop first only waits)."""
        if grace_s > 0:
            with contextlib.suppress(docker.errors.NotFound):
                self._api.stop(container_id, timeout=int(grace_s))
        with contextlib.suppress(docker.errors.NotFound):
            self._api.remove_container(container_id, force=True, v=False)

    def exec_socket(self, container_id: str, command: list[str]) -> socket.socket:
        """Starts `command` in the container with its stdin and stdout on the returned socket (the
        API's hijacked stream; stdout comes in the engine's multiplexed frames, no TTY)."""
        try:
            created = self._api.exec_create(
                container_id, command, stdin=True, stdout=True, stderr=False, tty=False
            )
            stream = self._api.exec_start(created["Id"], socket=True)
        except docker.errors.APIError as exc:
            raise MafaError(
                f"cannot exec in {container_id[:12]}: {exc.explanation or exc}"
            ) from None
        # docker-py hands back a SocketIO around the connection's socket (unix or tcp).
        raw = getattr(stream, "_sock", stream)
        if not isinstance(raw, socket.socket):
            raise EngineError("this Docker connection gives no socket to relay through")
        return raw

    def stats_stream(self, container_id: str) -> Iterator[dict[str, Any]]:
        """The engine's resource samples of a container, one a second, until it stops. (A
        one-off sample waits for the engine's next one, up to a second per container.)"""
        try:
            yield from self._api.stats(container_id, decode=True, stream=True)
        except (docker.errors.NotFound, docker.errors.APIError):
            return

    def logs(
        self, container_id: str, tail: int | str = "all", follow: bool = False
    ) -> Iterator[str]:
        """Lines of the container's output (stdout and stderr)."""
        try:
            stream = self._api.logs(
                container_id, stream=True, follow=follow, tail=tail, stdout=True, stderr=True
            )
            yield from lines_of(stream)
        except docker.errors.NotFound:
            raise NotFound(f"container {container_id[:12]} is gone") from None


def lines_of(chunks: Iterable[bytes]) -> Iterator[str]:
    """The text lines of a log stream, whose chunks the engine cuts anywhere."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line.decode("utf-8", errors="replace")
    if pending:
        yield pending.decode("utf-8", errors="replace")


def _create_error(name: str, exc: docker.errors.APIError) -> MafaError:
    if exc.status_code == 409:
        return Conflict(
            f"{name} already exists",
            hint="stop what made it first (`python -m mafa_cli.engine_lab stop ...`), "
            "or choose another name",
        )
    return MafaError(f"cannot create {name}: {exc.explanation or exc}")


def parse_time(value: str) -> datetime | None:
    # Docker gives nanoseconds (2026-11-29T17:11:02.123456789Z); Python takes microseconds.
    if not value or value.startswith("0001-"):
        return None
    head, _, frac = value.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}+00:00")
