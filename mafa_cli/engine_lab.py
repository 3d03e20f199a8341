"""An engine mafa cannot route into, on this machine: a Docker engine inside a container.

It stands in for Docker Desktop, rootless Docker or a remote host: the stack's containers live in
the inner engine's networks, inside the outer container's network namespace, so neither their
addresses nor their published ports are reachable from here; only the API is, through a unix
socket in a host directory (no TCP port, so no unauthenticated API on any network). The image is
the offline base plus Debian's docker.io (compose/offline/engine.Dockerfile); images reach the
inner engine by `docker save | docker load` through the two APIs.

Tests use it through a pytest fixture; people through
    python -m mafa_cli.engine_lab start NAME [--image REF ...]   (prints the DOCKER_HOST to use)
    python -m mafa_cli.engine_lab stop NAME
Several can run at once (the nodes of a Swarm on one machine).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mafa_cli import resources
from mafa_cli.engine.local import DockerEngine
from mafa_cli.errors import EngineError, MafaError
from mafa_cli.stack import build_context

IMAGE = "mafa-offline/engine:bookworm"
BASE = "mafa-offline/base:bookworm"
CONTEXT_LABEL = "org.mafa.context-hash"
LAB_LABEL = "org.mafa.engine-lab"
START_TIMEOUT_S = 90.0
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mafa_cli.engine_lab", description=__doc__)
    parser.add_argument("action", choices=("start", "stop"))
    parser.add_argument("name", help="a name for the engine (its container: mafa-engine-NAME)")
    parser.add_argument(
        "--image",
        action="append",
        default=None,
        help="an image to copy in (repeatable; default: the offline image set)",
    )
    options = parser.parse_args(argv)
    try:
        if options.action == "stop":
            stop(options.name)
            return 0
        images = options.image if options.image is not None else list(OFFLINE_IMAGES)
        lab = start(options.name, images, on_line=lambda line: print(line, file=sys.stderr))
    except MafaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return 1
    print(f"export DOCKER_HOST={lab.docker_host}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
