"""An engine mafa cannot route into, on this machine: a Docker engine inside a container.

It stands in for Docker Desktop, rootless Docker or a remote host: the stack's containers live in
the inner engine's networks, inside the outer container's network namespace, so neither their
addresses nor their published ports are reachable from here; only the API is, through a unix
socket in a host directory (no TCP port, so no unauthenticated API on any network). The image is
the offline base plus Debian's docker.io (compose/offline/engine.Dockerfile); images reach the
inner engine by `docker save | docker load` through the two APIs.

A Swarm on one machine is three of them on one user bridge network (1 manager, 2 workers,
made afresh each time: a node container made again gets a new address, which breaks a Swarm),
plus a registry from the offline set (Debian's docker-registry) on that network, which every
node trusts over plain HTTP (--insecure-registry) and nothing outside the network reaches.

Tests use them through pytest fixtures; people through
    python -m mafa_cli.engine_lab start NAME [--image REF ...]   (prints the DOCKER_HOST to use)
    python -m mafa_cli.engine_lab stop NAME
    python -m mafa_cli.engine_lab swarm start NAME [--image REF ...]   (DOCKER_HOST: the manager)
    python -m mafa_cli.engine_lab swarm stop NAME
    python -m mafa_cli.engine_lab node kill|start|cut|heal HOSTNAME   (a host fault on a node)
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from mafa_cli import resources
from mafa_cli.engine.local import DockerEngine
from mafa_cli.engine.swarm import Node, SwarmEngine
from mafa_cli.errors import EngineError, MafaError
from mafa_cli.stack import build_context

IMAGE = "mafa-offline/engine:bookworm"
BASE = "mafa-offline/base:bookworm"
REGISTRY_IMAGE = "mafa-offline/registry:2"
REGISTRY_PORT = 5000
SWARM_NODES = 3  # node 1 the manager, the others workers
DOCKERD = ("dockerd", "--host", "unix:///run/engine/docker.sock", "--storage-driver", "overlay2")
CONTEXT_LABEL = "org.mafa.context-hash"
LAB_LABEL = "org.mafa.engine-lab"
START_TIMEOUT_S = 90.0
LOCAL_ENGINE = "unix:///var/run/docker.sock"
# dockerd's and its containerd's, inside a node's container
PID_FILES = ("/run/docker.pid", "/run/docker/containerd/containerd.pid")
# What `mafa up --images offline` needs in the inner engine.
OFFLINE_IMAGES = (
    BASE,
    "mafa-offline/rabbitmq:3-management",
    "mafa-offline/postgres:15",
    "mafa-offline/redis:7",
    "mafa-offline/haproxy:2.6",
    "mafa-offline/python:3.11-slim-bookworm",
)


@dataclass(frozen=True)
class EngineLab:
    name: str
    container: str
    socket_dir: Path

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket_dir}/docker.sock"


def container_name(name: str) -> str:
    return f"mafa-engine-{name}"


def socket_dir(name: str) -> Path:
    return Path(tempfile.gettempdir()) / f"mafa-engine-{name}"


def ensure_image(host: DockerEngine, on_line: Callable[[str], None]) -> str:
    """The engine image, built from the package's recipe when missing or when that changed."""
    if host.image_id(BASE) is None:
        raise MafaError(f"{BASE} is missing", hint="build the offline image set: `mafa images`")
    recipe = resources.stack_dir() / "offline"
    files = {
        "engine.Dockerfile": recipe / "engine.Dockerfile",
        "engine-entrypoint.sh": recipe / "engine-entrypoint.sh",
    }
    args = {"BASE": BASE}
    wanted = build_context.files_hash(files, "engine.Dockerfile", args)
    existing = host.image_id(IMAGE)
    if existing is not None and host.image_label(IMAGE, CONTEXT_LABEL) == wanted:
        return existing
    with build_context.context_archive(files) as archive:
        return host.build_image(
            IMAGE, "engine.Dockerfile", args, {CONTEXT_LABEL: wanted}, on_line, context=archive
        )


def start(
    name: str,
    images: Sequence[str] = (),
    host: DockerEngine | None = None,
    on_line: Callable[[str], None] = lambda _line: None,
    network: str | None = None,
    dockerd_args: Sequence[str] = (),
) -> EngineLab:
    """A fresh engine named `name`, with `images` copied in from the host's engine."""
    host = host or DockerEngine.connect()
    ensure_image(host, on_line)
    sockets = socket_dir(name)
    sockets.mkdir(mode=0o700, exist_ok=True)
    (sockets / "docker.sock").unlink(missing_ok=True)
    container = host.run_engine_container(
        container_name(name),
        IMAGE,
        str(sockets),
        f"{container_name(name)}-data",
        {LAB_LABEL: name},
        network,
        command=(*DOCKERD, *dockerd_args) if dockerd_args else None,
    )
    lab = EngineLab(name, container, sockets)
    try:
        inner = _wait_for_engine(lab)
        if images:
            on_line(f"copying {len(images)} images into {lab.name}")
            inner.load_images(host.save_images(list(images)))
    except BaseException:
        stop(name, host)
        raise
    return lab


def _wait_for_engine(lab: EngineLab) -> DockerEngine:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            return DockerEngine.connect(lab.docker_host)
        except EngineError:
            if time.monotonic() > deadline:
                raise EngineError(
                    f"the engine in {container_name(lab.name)} did not answer in "
                    f"{START_TIMEOUT_S:.0f}s",
                    hint=f"see `docker logs {container_name(lab.name)}`",
                ) from None
            time.sleep(1)


def stop(name: str, host: DockerEngine | None = None) -> None:
    """Removes the engine, its data and its socket directory (whatever of them exists)."""
    host = host or DockerEngine.connect()
    host.remove_container(container_name(name))
    host.remove_volume(f"{container_name(name)}-data")
    shutil.rmtree(socket_dir(name), ignore_errors=True)


# A Swarm on one machine ----------------------------------------------------------------------


@dataclass(frozen=True)
class SwarmLab:
    name: str
    nodes: tuple[EngineLab, ...]  # the manager first
    registry: str  # HOST:PORT, as every node (and `mafa up --registry`) names it

    @property
    def manager(self) -> EngineLab:
        return self.nodes[0]

    @property
    def docker_host(self) -> str:
        return self.manager.docker_host

    def node_list(self) -> list[Node]:
        """The Swarm's own node listing, from the manager."""
        return SwarmEngine.connect(self.docker_host).nodes()


def lab_network(name: str) -> str:
    return f"mafa-lab-{name}"


def registry_container(name: str) -> str:
    return f"mafa-registry-{name}"


def node_name(name: str, number: int) -> str:
    return f"{name}-{number}"


def start_swarm(
    name: str,
    images: Sequence[str] = (),
    host: DockerEngine | None = None,
    on_line: Callable[[str], None] = lambda _line: None,
) -> SwarmLab:
    """A fresh 3-node Swarm named `name` with its registry; `images` copied into every node."""
    host = host or DockerEngine.connect()
    if host.image_id(REGISTRY_IMAGE) is None:
        raise MafaError(
            f"{REGISTRY_IMAGE} is missing", hint="build the offline image set: `mafa images`"
        )
    ensure_image(host, on_line)  # once, before the nodes start at the same time
    network = lab_network(name)
    registry = f"{registry_container(name)}:{REGISTRY_PORT}"
    try:
        host.create_lab_network(network, {LAB_LABEL: name})
        host.run_lab_container(registry_container(name), REGISTRY_IMAGE, network, {LAB_LABEL: name})
        on_line(f"starting {SWARM_NODES} engines on {network}")
        with ThreadPoolExecutor(SWARM_NODES) as pool:
            started = [
                pool.submit(
                    start,
                    node_name(name, number),
                    images,
                    host,
                    on_line,
                    network,
                    ("--insecure-registry", registry),
                )
                for number in range(1, SWARM_NODES + 1)
            ]
            nodes = tuple(future.result() for future in started)
        addresses = [host.container_address(node.container, network) for node in nodes]
        manager = SwarmEngine.connect(nodes[0].docker_host)
        manager.init_swarm(addresses[0])
        token = manager.worker_token()
        for node, address in zip(nodes[1:], addresses[1:], strict=True):
            SwarmEngine.connect(node.docker_host).join_swarm(addresses[:1], token, address)
        on_line(f"Swarm {name}: manager {container_name(nodes[0].name)}, registry {registry}")
    except BaseException:
        stop_swarm(name, host)
        raise
    return SwarmLab(name, nodes, registry)


def stop_swarm(name: str, host: DockerEngine | None = None) -> None:
    """Removes the nodes, the registry (with its images) and the network, whatever exists."""
    host = host or DockerEngine.connect()
    for number in range(1, SWARM_NODES + 1):
        stop(node_name(name, number), host)
    host.remove_container(registry_container(name), volumes=True)
    host.remove_network(lab_network(name))


# Host faults on a lab node: the hook `mafa chaos --node-fault` runs -----------------------------
#
# On a real Swarm mafa cannot kill a remote engine or cut a host's network: the user names a hook
# (`--node-hook`), a program called as `HOOK VERB HOSTNAME ADDRESS`. This is the lab's own hook
# (`--node-hook "python -m mafa_cli.engine_lab node"`): a node's host name is its container's
# name on this machine, so the host's engine reaches it.

# What cuts a node off: its own netfilter drops everything to and from the other machines of the
# lab network (the Swarm's gossip and control plane, VXLAN, the registry), in its own INPUT and
# OUTPUT (the engine's traffic and the overlay's encapsulated packets) and FORWARD (its tasks'
# traffic through docker_gwbridge). Disconnecting the container from the network would take
# its address away, and it may come back with another one, which a Swarm node does not survive.
CUT_RULES = (("INPUT", "-s"), ("OUTPUT", "-d"), ("FORWARD", "-s"), ("FORWARD", "-d"))
NODE_VERBS = ("kill", "start", "cut", "heal")


def _host_engine() -> DockerEngine:
    """The engine that runs the lab's containers. mafa runs the hook with DOCKER_HOST naming
    the lab's manager (a node's socket, under the lab's socket directory): the host's engine
    is then this machine's own socket, not that one."""
    docker_host = os.environ.get("DOCKER_HOST", "")
    in_lab = docker_host.startswith(f"unix://{socket_dir('')}")
    return DockerEngine.connect(LOCAL_ENGINE if in_lab else None)


def node_of(hostname: str) -> tuple[str, str]:
    """(lab name, node name) of a lab node's host name (its container's name)."""
    name = hostname.removeprefix(container_name(""))
    lab, _, number = name.rpartition("-")
    if name == hostname or not lab or not number.isdigit():
        raise MafaError(
            f"{hostname!r} is not a node of a lab made by `engine_lab swarm start`",
            hint=f"its nodes are named {container_name(node_name('LAB', 1))} and so on",
        )
    return lab, name


def partition_rules(peers: Sequence[str]) -> list[list[str]]:
    """The netfilter rules (without -I/-D) that cut a node off from `peers` (addresses)."""
    return [[chain, way, peer, "-j", "DROP"] for peer in peers for chain, way in CUT_RULES]


def partition_script(verb: str, peers: Sequence[str]) -> str:
    """One shell script for the node to run (one exec, not one per rule: an exec costs about
    a second on a busy 2-core machine): `cut` inserts the rules, stopping at the first that
    fails; `heal` deletes every copy of each (a cut run twice inserted it twice)."""
    rules = [shlex.join(rule) for rule in partition_rules(peers)]
    if verb == "cut":
        return " && ".join(f"iptables -I {rule}" for rule in rules)
    return "; ".join(f"while iptables -D {rule} 2>/dev/null; do :; done" for rule in rules)


def node_fault(verb: str, hostname: str, host: DockerEngine | None = None) -> None:
    """kill (SIGKILL to the node's engine: its container, whose first process it is, stops
    with all its tasks), start (the container again: the engine keeps its Swarm state on its
    volume and must come back at its old address), cut, heal (the partition's rules)."""
    lab, name = node_of(hostname)
    host = host or _host_engine()
    if verb == "kill":
        host.kill(hostname)
    elif verb == "start":
        # The killed engine left its pid files (its own, pid 1, and its containerd's) in the
        # container's /run, which a host's reboot would have emptied. A restarted container
        # has low pids again, so dockerd would take itself, or any early process, for an engine
        # or a containerd still running. An empty pid file names no process.
        for pid_file in PID_FILES:
            host.put_file(hostname, pid_file, b"", 0o644, "root")
        host.start(hostname, hostname)
        engine = EngineLab(name, hostname, socket_dir(name))
        _wait_for_engine(engine)
        advertised = SwarmEngine.connect(engine.docker_host).advertised_address()
        address = host.container_address(hostname, lab_network(lab))
        if advertised and advertised != address:
            raise MafaError(
                f"{hostname} came back at {address}, but the Swarm knows it at {advertised}",
                hint=f"make the lab afresh: `python -m mafa_cli.engine_lab swarm stop {lab}`",
            )
    elif verb in ("cut", "heal"):
        peers = [
            host.container_address(other, lab_network(lab))
            for other in (
                *(container_name(node_name(lab, n)) for n in range(1, SWARM_NODES + 1)),
                registry_container(lab),
            )
            if other != hostname
        ]
        code, output = host.run_to_end(hostname, ["sh", "-c", partition_script(verb, peers)])
        if code != 0:
            raise MafaError(f"cannot {verb} {hostname}: {output.strip() or f'exit {code}'}")
    else:
        raise MafaError(f"unknown node verb {verb!r}", hint=f"use one of {', '.join(NODE_VERBS)}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mafa_cli.engine_lab",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "words",
        nargs="+",
        metavar="[swarm] {start,stop} NAME | node {kill,start,cut,heal} HOSTNAME",
        help="start or stop an engine (or, after `swarm`, a 3-node Swarm) called NAME; or a "
        "host fault on a lab node (the hook of `mafa chaos --node-fault`)",
    )
    parser.add_argument(
        "--image",
        action="append",
        default=None,
        help="an image to copy in (repeatable; default: the offline image set)",
    )
    options = parser.parse_args(argv)
    if options.words[0] == "node":
        return _node_main(parser, options.words[1:])
    swarm = options.words[0] == "swarm"
    words = options.words[1:] if swarm else options.words
    if len(words) != 2 or words[0] not in ("start", "stop"):
        parser.error("expected: [swarm] start NAME, or [swarm] stop NAME")
    action, name = words
    progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr)  # noqa: E731
    images = options.image if options.image is not None else list(OFFLINE_IMAGES)
    try:
        if action == "stop":
            (stop_swarm if swarm else stop)(name)
            return 0
        if swarm:
            lab = start_swarm(name, images, on_line=progress)
            print(f"export DOCKER_HOST={lab.docker_host}")
            print(f"# registry for `mafa up --swarm --registry`: {lab.registry}")
            return 0
        engine = start(name, images, on_line=progress)
    except MafaError as exc:
        _print_error(exc)
        return 1
    print(f"export DOCKER_HOST={engine.docker_host}")
    return 0


def _node_main(parser: argparse.ArgumentParser, words: Sequence[str]) -> int:
    """`node VERB HOSTNAME [ADDRESS]`: the hook contract (the address is not needed here)."""
    if len(words) not in (2, 3) or words[0] not in NODE_VERBS:
        parser.error(f"expected: node {{{','.join(NODE_VERBS)}}} HOSTNAME [ADDRESS]")
    try:
        node_fault(words[0], words[1])
    except MafaError as exc:
        _print_error(exc)
        return 1
    return 0


def _print_error(exc: MafaError) -> None:
    print(f"error: {exc}", file=sys.stderr)
    if exc.hint:
        print(f"hint: {exc.hint}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
