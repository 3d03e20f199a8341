"""up, scale, status, logs and down: the compose model, the plan and the engine tied together.

Progress goes to a Reporter (the CLI renders it); nothing here prints.
"""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Protocol

from mafa_cli.config import UpSettings
from mafa_cli.errors import Conflict, MafaError, NotFound, Unhealthy, UsageError
from mafa_cli.stack import secrets
from mafa_cli.stack.build_context import context_hash
from mafa_cli.stack.compose_model import ComposeModel, Port, Service, load
from mafa_cli.stack.docker_backend import ContainerInfo, DockerBackend
from mafa_cli.stack.plan import Existing, Plan, Wanted, compute

OFFLINE_MARKER_IMAGE = "mafa-offline/base:bookworm"
CONTEXT_LABEL = "org.mafa.context-hash"
POLL_S = 0.25


class Reporter(Protocol):
    def step(self, message: str) -> None: ...

    def build_output(self, line: str) -> None: ...


@dataclass(frozen=True)
class UpResult:
    project: str
    url: str
    plan: Plan
    secrets_file: Path
    rabbitmq_ui: str | None
    seconds: float


def _settings_file(project: str) -> Path:
    return secrets.project_dir(project) / "settings.json"


def _save_settings(settings: UpSettings) -> None:
    data = {**asdict(settings), "compose_file": str(settings.compose_file)}
    _settings_file(settings.project).write_text(json.dumps(data, indent=2))


def saved_settings(project: str) -> UpSettings:
    path = _settings_file(project)
    if not path.exists():
        raise NotFound(
            f"no stack named {project!r} was brought up by mafa here",
            hint=_known_hint(),
        )
    data = json.loads(path.read_text())
    data["compose_file"] = Path(data["compose_file"])
    return UpSettings(**data)


def _known_hint() -> str:
    known = secrets.known_projects()
    if known:
        return f"known projects: {', '.join(known)} (choose with --project)"
    return "bring one up with `mafa up`"


def _model(backend: DockerBackend, settings: UpSettings) -> ComposeModel:
    values = secrets.load_or_create(settings.project)
    offline = backend.image_id(OFFLINE_MARKER_IMAGE) is not None
    if settings.images == "offline" and not offline:
        raise MafaError(
            "the offline image set is not built on this host",
            hint="build it with compose/offline/build-images.sh (scripts/setup-host does)",
        )
    model = load(settings.compose_file, settings.interpolation_env(values, offline))
    if settings.rabbitmq_ui_port and "rabbitmq" in model.services:
        # Opt-in, so not in the compose file: the broker's UI on the balancer's address.
        rabbit = model.services["rabbitmq"]
        published = replace(
            rabbit, ports=(*rabbit.ports, Port(settings.bind, settings.rabbitmq_ui_port, 15672))
        )
        model = replace(model, services={**model.services, "rabbitmq": published})
    return model


def _images(
    backend: DockerBackend, model: ComposeModel, build: bool | None, reporter: Reporter
) -> dict[str, str]:
    """Image id per image reference: built (once per image) or pulled when missing. By default
    an image is rebuilt when what goes into it changed (the context hash on its label)."""
    ids: dict[str, str] = {}
    for service in model.services.values():
        if service.image in ids:
            continue
        existing = backend.image_id(service.image)
        if service.build is not None and build is not False:
            spec = service.build
            wanted = context_hash(Path(spec.context), spec.dockerfile, dict(spec.args))
            stale = backend.image_label(service.image, CONTEXT_LABEL) != wanted
            if build or existing is None or stale:
                reporter.step(f"building {service.image}")
                ids[service.image] = backend.build(
                    service, reporter.build_output, {CONTEXT_LABEL: wanted}
                )
                continue
        if existing is not None:
            ids[service.image] = existing
        elif service.build is not None:
            raise UsageError(
                f"{service.image} is not built and --no-build was given",
                hint="run `mafa up` without --no-build once",
            )
        else:
            reporter.step(f"pulling {service.image}")
            ids[service.image] = backend.pull(service.image)
    return ids


def _existing(containers: Iterable[ContainerInfo]) -> list[Existing]:
    return [
        Existing(c.id, c.service, c.number, c.config_hash, c.state == "running") for c in containers
    ]


def _port_free(host: str, port: int) -> bool:
    """Could a server listen on host:port? As servers do, SO_REUSEADDR: the closed connections
    a load run leaves in TIME_WAIT for a minute do not hold the port, only a listener does."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _check_ports(model: ComposeModel, plan: Plan, current: list[ContainerInfo]) -> None:
    """Refuse before changing anything when a port to publish is held by something else."""
    ours = {port.split("->")[0] for c in current for port in c.ports}
    starting = {s for s, _ in plan.create} | {c.service for c in plan.recreate + plan.start}
    for name in starting:
        for port in model.services[name].ports:
            address = f"{port.host_ip}:{port.host_port}"
            if (
                port.host_port
                and address not in ours
                and not _port_free(port.host_ip, port.host_port)
            ):
                raise Conflict(
                    f"port {port.host_port} on {port.host_ip} is already in use",
                    hint=f"choose another with --port, e.g. --port {port.host_port + 1}",
                )


def _parallel(tasks: list[Callable[[], object]]) -> None:
    if not tasks:
        return
    with ThreadPoolExecutor(max_workers=min(8, len(tasks))) as pool:
        for future in [pool.submit(task) for task in tasks]:
            future.result()  # re-raises the first failure


def _health_ok(container: ContainerInfo) -> bool:
    return container.state == "running" and container.health in (None, "healthy")


def _raise_unhealthy(
    backend: DockerBackend, project: str, late: ContainerInfo, timeout_s: float
) -> None:
    tail = "\n".join(backend.logs(late.id, tail=15))
    raise Unhealthy(
        f"{late.name} did not become healthy within {timeout_s:.0f}s "
        f"(state {late.state}, health {late.health or 'none'})",
        hint=f"the stack is left as it is: inspect it with `mafa status -p {project}` "
        f"and `mafa logs {late.service} -p {project}`",
        details=tail,
    )


def _start_when_ready(
    backend: DockerBackend,
    project: str,
    model: ComposeModel,
    wanted: dict[str, Wanted],
    tasks_for: Callable[[str], list[Callable[[], object]]],
    reporter: Reporter,
    timeout_s: float,
) -> None:
    """Start each service as soon as what it depends on is ready (not level by level: a slow
    service holds back only its own dependents), then wait until every wanted one is healthy."""
    deadline = time.monotonic() + timeout_s
    launched: set[str] = set()
    running: list[Future[object]] = []
    with ThreadPoolExecutor(max_workers=8) as pool:
        while True:
            current = backend.containers(project)
            ready = {
                name
                for name, want in wanted.items()
                if sum(1 for c in current if c.service == name and _health_ok(c)) == want.replicas
            } | {name for name in model.services if name not in wanted}
            for name, service in model.services.items():
                if name in launched or name not in wanted:
                    continue
                if all(
                    dep in ready if condition == "service_healthy" else dep in launched | ready
                    for dep, condition in service.depends_on
                ):
                    launched.add(name)
                    tasks = tasks_for(name)
                    if tasks:
                        reporter.step(f"starting {name}")
                    running += [pool.submit(task) for task in tasks]
            for future in [f for f in running if f.done()]:
                future.result()  # re-raises a failed create or start
                running.remove(future)
            if not running and launched == set(wanted) and set(wanted) <= ready:
                return
            if time.monotonic() > deadline:
                waiting = [c for c in current if c.service in wanted and not _health_ok(c)]
                if not waiting:
                    late = next(n for n in wanted if n not in ready)
                    raise Unhealthy(f"{late} did not start within {timeout_s:.0f}s")
                _raise_unhealthy(backend, project, waiting[0], timeout_s)
            time.sleep(POLL_S)


def _apply(
    backend: DockerBackend,
    settings: UpSettings,
    model: ComposeModel,
    wanted: dict[str, Wanted],
    reporter: Reporter,
) -> Plan:
    project = settings.project
    current = backend.containers(project)
    plan = compute(wanted, _existing(current))
    _check_ports(model, plan, current)
    reporter.step(f"plan: {plan.summary()}")
    network = backend.ensure_network(project)
    for volume in model.volumes:
        backend.ensure_volume(project, volume)
    labels = {
        "com.docker.compose.project.config_files": str(settings.compose_file),
        "com.docker.compose.project.working_dir": str(settings.compose_file.parent),
        "com.docker.compose.version": "mafa",
    }

    def create(service: Service, number: int) -> Callable[[], object]:
        return lambda: backend.create(
            project, service, number, wanted[service.name].config_hash, network, labels
        )

    def recreate(container: Existing) -> Callable[[], object]:
        service = model.services[container.service]

        def run() -> None:
            backend.stop_and_remove(container.id, service.stop_grace_period_s)
            create(service, container.number)()

        return run

    def grace(container: Existing) -> float:
        known = model.services.get(container.service)
        return known.stop_grace_period_s if known else 10.0

    # Surplus replicas go first, gracefully: a receiver requeues what it was working on.
    _parallel([partial(backend.stop_and_remove, c.id, grace(c)) for c in plan.remove])

    def tasks_for(name: str) -> list[Callable[[], object]]:
        tasks: list[Callable[[], object]] = []
        tasks += [create(model.services[s], n) for s, n in plan.create if s == name]
        tasks += [recreate(c) for c in plan.recreate if c.service == name]
        tasks += [partial(backend.start, c.id) for c in plan.start if c.service == name]
        return tasks

    if not settings.wait:
        for level in model.start_order():
            _parallel([task for name in level for task in tasks_for(name)])
        return plan
    _start_when_ready(backend, project, model, wanted, tasks_for, reporter, settings.timeout_s)
    return plan


def up(settings: UpSettings, reporter: Reporter) -> UpResult:
    started = time.monotonic()
    backend = DockerBackend.connect()
    model = _model(backend, settings)
    image_ids = _images(backend, model, settings.build, reporter)
    _save_settings(settings)
    wanted = {
        name: Wanted(settings.replicas(name), service.config_hash(image_ids[service.image]))
        for name, service in model.services.items()
    }
    plan = _apply(backend, settings, model, wanted, reporter)
    rabbit = next(iter(backend.containers(settings.project, "rabbitmq")), None)
    return UpResult(
        project=settings.project,
        url=f"http://{settings.bind}:{settings.port}",
        plan=plan,
        secrets_file=secrets.secrets_file(settings.project),
        rabbitmq_ui=(
            f"http://{settings.bind}:{settings.rabbitmq_ui_port}"
            if settings.rabbitmq_ui_port
            else f"http://{rabbit.ip}:15672 (on the stack network only)"
            if rabbit and rabbit.ip
            else None
        ),
        seconds=time.monotonic() - started,
    )


def scale(
    project: str, senders: int | None, receivers: int | None, reporter: Reporter, wait: bool = True
) -> Plan:
    if senders is None and receivers is None:
        raise UsageError("nothing to scale", hint="give --senders N, --receivers M or both")
    saved = saved_settings(project)
    settings = replace(
        saved,
        senders=saved.senders if senders is None else senders,
        receivers=saved.receivers if receivers is None else receivers,
        build=False,
        wait=wait,
    )
    backend = DockerBackend.connect()
    model = _model(backend, settings)
    image_ids = _images(backend, model, False, reporter)
    scaled = [
        name for name, count in (("sender", senders), ("receiver", receivers)) if count is not None
    ]
    wanted = {
        name: Wanted(
            settings.replicas(name),
            model.services[name].config_hash(image_ids[model.services[name].image]),
        )
        for name in scaled
    }
    plan = _apply(backend, settings, model, wanted, reporter)
    _save_settings(settings)
    return plan


@dataclass(frozen=True)
class StatusRow:
    service: str
    number: int
    name: str
    state: str
    health: str | None
    ports: tuple[str, ...]
    uptime_s: float | None

    @property
    def ok(self) -> bool:
        return self.state == "running" and self.health in (None, "healthy")


def status(project: str) -> list[StatusRow]:
    backend = DockerBackend.connect()
    containers = backend.containers(project)
    if not containers:
        raise NotFound(f"no containers of project {project!r}", hint=_known_hint())
    now = datetime.now(UTC)
    return [
        StatusRow(
            c.service,
            c.number,
            c.name,
            c.state,
            c.health,
            c.ports,
            (now - c.started_at).total_seconds() if c.started_at else None,
        )
        for c in containers
    ]


def logs(project: str, service: str, tail: int, follow: bool) -> Iterator[tuple[str, str]]:
    """(container name, line) for every replica of the service; merged live when following."""
    backend = DockerBackend.connect()
    containers = backend.containers(project, service)
    if not containers:
        raise NotFound(
            f"no {service!r} containers in project {project!r}",
            hint="services: rabbitmq, postgres, redis, sender, receiver, haproxy",
        )
    if not follow:
        for c in containers:
            for line in backend.logs(c.id, tail=tail):
                yield c.name, line
        return
    lines: queue.Queue[tuple[str, str]] = queue.Queue()

    def pump(c: ContainerInfo) -> None:
        for line in backend.logs(c.id, tail=tail, follow=True):
            lines.put((c.name, line))

    for c in containers:
        threading.Thread(target=pump, args=(c,), daemon=True).start()
    while True:
        yield lines.get()


@dataclass(frozen=True)
class DownResult:
    containers: int
    networks: int
    volumes: int


def down(project: str, volumes: bool, reporter: Reporter) -> DownResult:
    backend = DockerBackend.connect()
    containers = backend.containers(project)
    networks = backend.networks(project)
    found_volumes = backend.volumes(project) if volumes else []
    known = secrets.project_dir(project).is_dir()
    if not (containers or networks or found_volumes or known):
        raise NotFound(f"no stack named {project!r}", hint=_known_hint())
    if containers:
        reporter.step(f"stopping {len(containers)} containers")
    _parallel([partial(backend.stop_and_remove, c.id, 25) for c in containers])
    for network in networks:
        backend.remove_network(network)
    for volume in found_volumes:
        backend.remove_volume(volume)
    if volumes:
        secrets.forget(project)
    return DownResult(len(containers), len(networks), len(found_volumes))
