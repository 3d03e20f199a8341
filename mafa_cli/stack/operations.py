"""up, scale, status, logs and down: the compose model, the plan and the engine tied together.

Progress goes to a Reporter (the CLI renders it); nothing here prints. Each operation takes the
engine to use (the real one by default; the unit tests pass an in-memory fake).
"""

from __future__ import annotations

import hashlib
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from mafa_cli.config import (
    BALANCER,
    BALANCER_PEM,
    BALANCER_USER,
    ImageSet,
    UpSettings,
    check_replicas,
)
from mafa_cli.engine.local import parse_time
from mafa_cli.engine.protocol import Engine, Replica, connect_engine
from mafa_cli.engine.swarm import SwarmEngine
from mafa_cli.errors import Conflict, MafaError, NotFound, UsageError
from mafa_cli.stack import build_context, swarm_ops
from mafa_cli.stack.compose_model import ComposeModel, Port, Service, load
from mafa_cli.stack.plan import Existing, Plan, Wanted, compute
from mafa_cli.stack.readiness import passes_now
from mafa_cli.stack.scheduler import Reporter, start_when_ready
from mafa_cli.state import ProjectState, known_projects

OFFLINE_MARKER_IMAGE = "mafa-offline/base:bookworm"
CONTEXT_LABEL = "org.mafa.context-hash"
STOP_GRACE_ON_DOWN_S = 25


@dataclass(frozen=True)
class UpResult:
    project: str
    url: str
    plan: Plan
    secrets_file: Path
    rabbitmq_ui: str | None
    seconds: float
    tls_ca_file: Path | None = None  # with --tls: what clients trust (curl --cacert)


def saved_settings(project: str) -> UpSettings:
    """What `mafa up` (or the last `mafa scale`) applied to the project."""
    saved = ProjectState(project).settings()
    if saved is None:
        raise NotFound(
            f"no stack named {project!r} was brought up by mafa here",
            hint=_known_hint(),
        )
    return UpSettings.from_saved(saved)


def _known_hint() -> str:
    known = known_projects()
    if known:
        return f"known projects: {', '.join(known)} (choose with --project)"
    return "bring one up with `mafa up`"


def _model(engine: Engine, settings: UpSettings) -> ComposeModel:
    values = ProjectState(settings.project).secrets_or_create()
    offline = engine.image_id(OFFLINE_MARKER_IMAGE) is not None
    if settings.images == ImageSet.OFFLINE and not offline:
        raise MafaError(
            "the offline image set is not built on this host",
            hint="build it with `mafa images` (scripts/setup-host does)",
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


def project_model(engine: Engine, project: str) -> ComposeModel:
    """The compose model of a project as `mafa up` applied it (its saved settings)."""
    return _model(engine, saved_settings(project))


def _images(
    engine: Engine, model: ComposeModel, build: bool | None, reporter: Reporter
) -> dict[str, str]:
    """Image id per image reference: built (once per image) or pulled when missing. By default
    an image is rebuilt when what goes into it changed (the context hash on its label)."""
    ids: dict[str, str] = {}
    for service in model.services.values():
        if service.image in ids:
            continue
        existing = engine.image_id(service.image)
        if service.build is not None and build is not False:
            spec = service.build
            files = (
                build_context.app_context(dict(spec.args))
                if build_context.is_package_root(Path(spec.context))
                else build_context.directory_context(Path(spec.context))
            )
            wanted = build_context.files_hash(files, spec.dockerfile, dict(spec.args))
            stale = engine.image_label(service.image, CONTEXT_LABEL) != wanted
            if build or existing is None or stale:
                reporter.step(f"building {service.image}")
                with build_context.context_archive(files) as archive:
                    ids[service.image] = engine.build(
                        service, reporter.build_output, {CONTEXT_LABEL: wanted}, archive
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
            ids[service.image] = engine.pull(service.image)
    return ids


def _existing(containers: Iterable[Replica]) -> list[Existing]:
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


def _check_ports(model: ComposeModel, plan: Plan, current: list[Replica]) -> None:
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


def _parallel(tasks: Sequence[Callable[[], object]]) -> None:
    if not tasks:
        return
    with ThreadPoolExecutor(max_workers=min(8, len(tasks))) as pool:
        for future in [pool.submit(task) for task in tasks]:
            future.result()  # re-raises the first failure


def _apply(
    engine: Engine,
    settings: UpSettings,
    model: ComposeModel,
    wanted: dict[str, Wanted],
    reporter: Reporter,
) -> Plan:
    project = settings.project
    current = engine.replicas(project)
    plan = compute(wanted, _existing(current))
    _check_ports(model, plan, current)
    reporter.step(f"plan: {plan.summary()}")
    network = engine.ensure_network(project)
    for volume in model.volumes:
        engine.ensure_volume(project, volume)
    labels = {
        "com.docker.compose.project.config_files": str(settings.compose_file),
        "com.docker.compose.project.working_dir": str(settings.compose_file.parent),
        "com.docker.compose.version": "mafa",
    }

    def create(service: Service, number: int, start: bool = True) -> str:
        config_hash = wanted[service.name].config_hash
        certified = settings.tls and service.name == BALANCER
        replica = engine.create(
            project, service, number, config_hash, network, labels, start and not certified
        )
        if certified:
            # Given its key (owner-only, haproxy's) before it starts: HAProxy reads it at start,
            # and the key never sits in an image or an environment variable.
            site_pem = _site_pem(ProjectState(project))
            engine.put_file(replica, BALANCER_PEM, site_pem, 0o600, owner=BALANCER_USER)
            if start:
                engine.start(replica, f"{project}-{service.name}-{number}")
        return replica

    def recreate(container: Existing) -> Callable[[], object]:
        service = model.services[container.service]

        def run() -> None:
            engine.stop_and_remove(container.id, service.stop_grace_period_s)
            create(service, container.number)

        return run

    def grace(container: Existing) -> float:
        known = model.services.get(container.service)
        return known.stop_grace_period_s if known else 10.0

    # Surplus replicas go first, gracefully: a receiver requeues what it was working on.
    _parallel([partial(engine.stop_and_remove, c.id, grace(c)) for c in plan.remove])

    # Replicas of services that wait for others are created ahead (not started) while those
    # boot: creating a container costs the engine 0.2-0.4 s, which then is not on the way.
    created_ahead: dict[str, list[str]] = {}

    def prepare_for(name: str) -> list[Callable[[], object]]:
        created_ahead[name] = []

        def create_ahead(number: int) -> None:
            created_ahead[name].append(create(model.services[name], number, start=False))

        return [partial(create_ahead, n) for s, n in plan.create if s == name]

    def tasks_for(name: str) -> list[Callable[[], object]]:
        tasks: list[Callable[[], object]] = []
        if name in created_ahead:
            tasks += [partial(engine.start, replica_id) for replica_id in created_ahead[name]]
        else:
            tasks += [partial(create, model.services[s], n) for s, n in plan.create if s == name]
        tasks += [recreate(c) for c in plan.recreate if c.service == name]
        tasks += [partial(engine.start, c.id) for c in plan.start if c.service == name]
        return tasks

    if not settings.wait:
        for level in model.start_order():
            _parallel([task for name in level for task in tasks_for(name)])
        return plan
    counts = {name: want.replicas for name, want in wanted.items()}
    start_when_ready(
        engine, project, model, counts, tasks_for, reporter, settings.timeout_s, prepare_for
    )
    return plan


def up(settings: UpSettings, reporter: Reporter, engine: Engine | None = None) -> UpResult:
    """Bring the project to `settings`. When the first `up` of a project fails before any of
    its replicas exist, its state directory goes too: nothing is left behind."""
    engine = engine or connect_engine()
    state = ProjectState(settings.project)
    first = not state.exists()
    try:
        if settings.swarm:
            return _up_swarm(settings, reporter, swarm_ops.engine_of(engine), state)
        return _up(settings, reporter, engine, state)
    except BaseException:
        # Keep the secrets while anything they protect exists (volumes keep the passwords).
        if first and not (engine.replicas(settings.project) or engine.volumes(settings.project)):
            state.remove()
        raise


def _up(settings: UpSettings, reporter: Reporter, engine: Engine, state: ProjectState) -> UpResult:
    started = time.monotonic()
    # First: a certificate of the user's that cannot be served is refused before any build.
    certificate = _certificate(settings, state) if settings.tls else b""
    model = _model(engine, settings)
    image_ids = _images(engine, model, settings.build, reporter)
    state.save_settings(settings.to_saved())
    wanted = {
        name: Wanted(settings.replicas(name), service.config_hash(image_ids[service.image]))
        for name, service in model.services.items()
    }
    if certificate and BALANCER in wanted:
        # A new certificate means a new balancer (it reads its file at start only).
        known = wanted[BALANCER]
        fingerprint = hashlib.sha256(known.config_hash.encode() + certificate).hexdigest()
        wanted[BALANCER] = replace(known, config_hash=fingerprint)
    plan = _apply(engine, settings, model, wanted, reporter)
    rabbit = next(iter(engine.replicas(settings.project, "rabbitmq")), None)
    return UpResult(
        project=settings.project,
        url=f"{settings.scheme}://{settings.bind}:{settings.port}",
        plan=plan,
        secrets_file=state.secrets_file,
        rabbitmq_ui=(
            f"http://{settings.bind}:{settings.rabbitmq_ui_port}"
            if settings.rabbitmq_ui_port
            else f"http://{rabbit.ip}:15672 (on the stack network only)"
            if rabbit and rabbit.ip
            else None
        ),
        seconds=time.monotonic() - started,
        tls_ca_file=state.tls_ca_file if settings.tls else None,
    )


def _up_swarm(
    settings: UpSettings, reporter: Reporter, engine: SwarmEngine, state: ProjectState
) -> UpResult:
    """The stack as services on the Swarm the engine manages (stack/swarm_ops.py)."""
    started = time.monotonic()
    # As on one engine: a certificate of the user's that cannot be served is refused first.
    site_pem = None
    if settings.tls:
        _certificate(settings, state)
        site_pem = _site_pem(state)
    model = _model(engine, settings)
    _images(engine, model, settings.build, reporter)  # built on the manager
    state.save_settings(settings.to_saved())
    images = swarm_ops.pushed_images(engine, model, settings.registry, reporter)
    wanted = {name: settings.replicas(name) for name in model.services}
    plan = swarm_ops.plan(engine.tasks(settings.project), wanted)
    reporter.step(f"plan: {plan.summary()}")
    swarm_ops.deploy(engine, settings, model, images, reporter, site_pem=site_pem)
    return UpResult(
        project=settings.project,
        url=f"{settings.scheme}://{settings.bind}:{settings.port}",
        plan=plan,
        secrets_file=state.secrets_file,
        rabbitmq_ui=None,
        seconds=time.monotonic() - started,
        tls_ca_file=state.tls_ca_file if settings.tls else None,
    )


def _site_pem(state: ProjectState) -> bytes:
    """The balancer's certificate and key (one PEM), as `_certificate` kept them."""
    kept = state.tls_files()
    if kept is None:
        raise MafaError("no TLS certificate was made", hint="run `mafa up --tls` again")
    return kept[1]


def _certificate(settings: UpSettings, state: ProjectState) -> bytes:
    """The balancer's certificate, made (or the user's checked) and kept through state.py. One
    made earlier is served again while it names the bind address and is well in date."""
    from mafa_cli.stack import tls  # cryptography only when TLS is asked for

    if settings.tls_cert is not None and settings.tls_key is not None:
        issued = tls.users_pair(
            Path(settings.tls_cert).read_bytes(), Path(settings.tls_key).read_bytes()
        )
    else:
        kept = state.tls_files()
        if kept is not None and tls.still_good(kept[0], settings.bind):
            return kept[0]
        issued = tls.issue(settings.project, settings.bind)
    state.save_tls(issued.ca_pem, issued.cert_pem, issued.site_pem)
    return issued.cert_pem


def scale(
    project: str,
    senders: int | None,
    receivers: int | None,
    reporter: Reporter,
    wait: bool = True,
    engine: Engine | None = None,
) -> Plan:
    if senders is None and receivers is None:
        raise UsageError("nothing to scale", hint="give --senders N, --receivers M or both")
    # Checked before looking the project up: a bad count is wrong whatever the project.
    for flag, count in (("--senders", senders), ("--receivers", receivers)):
        if count is not None:
            check_replicas(flag, count)
    saved = saved_settings(project)
    settings = replace(
        saved,
        senders=saved.senders if senders is None else senders,
        receivers=saved.receivers if receivers is None else receivers,
        build=False,
        wait=wait,
    )
    engine = engine or connect_engine()
    model = _model(engine, settings)
    if settings.swarm:
        swarm = swarm_ops.engine_of(engine)
        scaled_counts = {n: settings.replicas(n) for n in ("sender", "receiver")}
        plan = swarm_ops.plan(swarm.tasks(project), scaled_counts)
        images = swarm_ops.pushed_images(swarm, model, settings.registry, reporter)
        swarm_ops.deploy(swarm, settings, model, images, reporter, only=tuple(scaled_counts))
        ProjectState(project).save_settings(settings.to_saved())
        return plan
    image_ids = _images(engine, model, False, reporter)
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
    plan = _apply(engine, settings, model, wanted, reporter)
    ProjectState(project).save_settings(settings.to_saved())
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
    answers: bool = False  # still "starting" for Docker, but its health check passes now
    node: str | None = None  # on a Swarm: the task's node, what it should be doing, why not
    desired_state: str | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.state == "running" and (self.health in (None, "healthy") or self.answers)


def _answering_now(engine: Engine, project: str, replicas: list[Replica]) -> set[str]:
    """Ids of the replicas Docker still calls "starting" whose health check passes when mafa
    runs it now: `mafa up` returns as soon as everything answers, before Docker's next check."""
    starting = [r for r in replicas if r.state == "running" and r.health == "starting"]
    if not starting:
        return set()
    try:
        model = _model(engine, saved_settings(project))
    except MafaError:
        return set()  # not brought up by mafa here: Docker's word only
    answering: set[str] = set()

    def probe(replica: Replica) -> None:
        known = model.services.get(replica.service)
        if passes_now(engine, replica.id, known.healthcheck if known else None):
            answering.add(replica.id)

    _parallel([partial(probe, r) for r in starting])
    return answering


def _on_swarm(engine: Engine, project: str) -> SwarmEngine | None:
    """The Swarm's engine when the project is deployed there as services."""
    if isinstance(engine, SwarmEngine) and engine.stack_services(project):
        return engine
    return None


def status(project: str, engine: Engine | None = None) -> list[StatusRow]:
    engine = engine or connect_engine()
    swarm = _on_swarm(engine, project)
    if swarm is not None:
        now = datetime.now(UTC)
        return [
            StatusRow(
                t.service,
                t.slot,
                f"{project}_{t.service}.{t.slot}",
                t.state,
                None,
                (),
                (now - started).total_seconds()
                if t.state == "running" and (started := parse_time(t.since))
                else None,
                node=t.node,
                desired_state=t.desired_state,
                error=t.error,
            )
            for t in swarm.tasks(project)
        ]
    replicas = engine.replicas(project)
    if not replicas:
        raise NotFound(f"no containers of project {project!r}", hint=_known_hint())
    answering = _answering_now(engine, project, replicas)
    now = datetime.now(UTC)
    return [
        StatusRow(
            r.service,
            r.number,
            r.name,
            r.state,
            r.health,
            r.ports,
            (now - r.started_at).total_seconds() if r.started_at else None,
            r.id in answering,
        )
        for r in replicas
    ]


def logs(
    project: str, service: str, tail: int, follow: bool, engine: Engine | None = None
) -> Iterator[tuple[str, str]]:
    """(replica name, line) for every replica of the service; merged live when following."""
    engine = engine or connect_engine()
    swarm = _on_swarm(engine, project)
    if swarm is not None:
        # The service's log, gathered (and merged, when following) by the manager.
        yield from swarm_ops.logs(swarm, project, service, tail, follow)
        return
    replicas = engine.replicas(project, service)
    if not replicas:
        raise NotFound(
            f"no {service!r} containers in project {project!r}",
            hint="services: rabbitmq, postgres, redis, sender, receiver, haproxy",
        )
    if not follow:
        for r in replicas:
            for line in engine.logs(r.id, tail=tail):
                yield r.name, line
        return
    lines: queue.Queue[tuple[str, str]] = queue.Queue()

    def pump(replica: Replica) -> None:
        for line in engine.logs(replica.id, tail=tail, follow=True):
            lines.put((replica.name, line))

    for r in replicas:
        threading.Thread(target=pump, args=(r,), daemon=True).start()
    while True:
        yield lines.get()


@dataclass(frozen=True)
class DownResult:
    containers: int
    networks: int
    volumes: int


def down(
    project: str, volumes: bool, reporter: Reporter, engine: Engine | None = None
) -> DownResult:
    """Remove the project's replicas and network; with `volumes`, its data and its state
    directory too (secrets, settings, events: a new stack of that name starts afresh)."""
    engine = engine or connect_engine()
    state = ProjectState(project)
    swarm = _on_swarm(engine, project)
    if swarm is not None:
        volume_names = _model(swarm, saved_settings(project)).volumes if volumes else ()
        counts = swarm_ops.down(swarm, project, volume_names, reporter)
        if volumes:
            state.remove()
        return DownResult(*counts)
    replicas = engine.replicas(project)
    networks = engine.networks(project)
    found_volumes = engine.volumes(project) if volumes else []
    if not (replicas or networks or found_volumes or state.exists()):
        raise NotFound(f"no stack named {project!r}", hint=_known_hint())
    if replicas:
        reporter.step(f"{'removing' if volumes else 'stopping'} {len(replicas)} containers")
    # With its volumes the stack's data goes anyway: nothing to finish or hand back, so no
    # grace period (a receiver's requeue on SIGTERM would only be thrown away).
    grace_s = 0 if volumes else STOP_GRACE_ON_DOWN_S
    _parallel([partial(engine.stop_and_remove, r.id, grace_s) for r in replicas])
    _parallel(
        [partial(engine.remove_network, n) for n in networks]
        + [partial(engine.remove_volume, v) for v in found_volumes]
    )
    if volumes:
        state.remove()
    return DownResult(len(replicas), len(networks), len(found_volumes))
