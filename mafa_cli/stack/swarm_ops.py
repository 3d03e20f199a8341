"""up, scale, status, logs and down for a stack deployed as Swarm services (`mafa up --swarm`).

The same compose model as on one engine, applied as services (stack/swarm_spec.py says what
each becomes) on the Swarm whose manager DOCKER_HOST names. The Swarm schedules the tasks;
mafa creates the services in dependency order and waits for each level's tasks to run (a task
with a health check runs once it passes) before the next. The CLI still reaches the stack's
parts through port forwards into the tasks on the manager, where the stateful services and the
balancer are pinned (compose.yaml's deploy: keys).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mafa_cli.config import BALANCER, BALANCER_PEM, BALANCER_USER, UpSettings
from mafa_cli.engine.swarm import SwarmEngine, Task
from mafa_cli.errors import ConfigError, MafaError, NotFound, Unhealthy
from mafa_cli.stack.compose_model import ComposeModel
from mafa_cli.stack.plan import Existing, Plan
from mafa_cli.stack.scheduler import Reporter
from mafa_cli.stack.swarm_spec import SwarmFile, network_name, object_name, service_spec
from mafa_cli.state import ProjectState

POLL_S = 1.0
REMOVE_TIMEOUT_S = 90
MANAGER_ONLY = "node.role == manager"
KINDS = ("secret", "config")  # what a stack's tasks get as files
# A rolling update's states that will not complete by waiting (the default failure action
# pauses the update).
UPDATE_STUCK = ("paused", "rollback_started", "rollback_paused", "rollback_completed")


def engine_of(engine: object) -> SwarmEngine:
    if not isinstance(engine, SwarmEngine):
        raise MafaError(
            "--swarm needs a Swarm manager's engine",
            hint="point DOCKER_HOST at a manager (`docker swarm init` makes one; "
            "`python -m mafa_cli.engine_lab swarm start NAME` makes a Swarm on this machine)",
        )
    return engine


def pushed_images(
    engine: SwarmEngine, model: ComposeModel, registry: str | None, reporter: Reporter
) -> dict[str, str]:
    """The registry's name of each image a task may need off the manager (services not pinned
    there): pushed to `registry`, where every node pulls it. Without a registry the images are
    used as named, so every node must already have them."""
    if registry is None:
        return {}
    names: dict[str, str] = {}
    for service in model.services.values():
        if MANAGER_ONLY in service.deploy.constraints or service.image in names:
            continue
        reporter.step(f"pushing {service.image} to {registry}")
        names[service.image] = engine.push(service.image, registry)
    return names


def plan(tasks: list[Task], wanted: dict[str, int]) -> Plan:
    """What deploying `wanted` replicas per service changes, from the tasks meant to run now
    (a Swarm replaces a task rather than restarting it: no recreate or start)."""
    result = Plan()
    for name, count in wanted.items():
        current = sorted(
            (t for t in tasks if t.service == name and t.desired_state == "running"),
            key=lambda t: t.slot,
        )
        as_existing = [Existing(t.id, name, t.slot, "", t.state == "running") for t in current]
        result.keep += as_existing[:count]
        result.remove += as_existing[count:]
        result.create += [(name, n) for n in range(len(current) + 1, count + 1)]
    return result


def deploy(
    engine: SwarmEngine,
    settings: UpSettings,
    model: ComposeModel,
    images: dict[str, str],
    reporter: Reporter,
    only: tuple[str, ...] = (),
    site_pem: bytes | None = None,
) -> None:
    """Creates (or scales) the services level by level, waiting for each level's tasks.
    `site_pem` (certificate and key, with --tls) goes to the balancer as a Swarm secret."""
    project = settings.project
    network = engine.ensure_overlay(project, network_name(project))
    secrets = ProjectState(project).secrets_or_create()
    files = config_files(model)
    balancer_files: tuple[SwarmFile, ...] = ()
    if site_pem is not None and BALANCER in model.services:
        balancer_files = (balancer_key(engine, project, model.services[BALANCER].image, site_pem),)
    referenced: set[str] = set()  # the secrets and configs this deploy's services name
    rolling: dict[str, str] = {}  # services whose tasks are replaced -> their update marker
    for level in model.start_order():
        names = [name for name in level if not only or name in only]
        for name in names:
            service = model.services[name]
            spec = service_spec(
                project, service, settings.replicas(name), images.get(service.image), secrets, files
            )
            if name == BALANCER and balancer_files:
                spec = dataclasses.replace(spec, secrets=spec.secrets + balancer_files)
            referenced |= {f.name for f in (*spec.secrets, *spec.configs)}
            marker = engine.deploy(spec, network, service.healthcheck)
            if marker is not None:
                rolling[name] = marker
                reporter.step(f"replacing the tasks of {name}: its secrets or configs changed")
        if settings.wait and names:
            reporter.step(f"waiting for {', '.join(names)}")
            _wait_running(
                engine,
                project,
                {n: settings.replicas(n) for n in names},
                settings.timeout_s,
                {n: rolling[n] for n in names if n in rolling},
            )
    # Every service was deployed and their tasks replaced (waited for): what none of them
    # names is a former version. (Without the wait, old tasks may still use one.)
    if not only and settings.wait:
        remove_stale_files(engine, project, referenced, reporter)


def remove_stale_files(
    engine: SwarmEngine, project: str, referenced: set[str], reporter: Reporter
) -> None:
    """Removes the project's secrets and configs that no service names any more (a changed
    password or file left its former version behind). One the engine still counts as in use
    (a service outside this deploy, such as a running load's workers) stays until `mafa down`."""
    stale = [
        (kind, name)
        for kind in KINDS
        for name in engine.stack_files(kind, project)
        if name not in referenced
    ]
    kept = [name for kind, name in stale if not engine.remove_when_unused(kind, name)]
    if len(stale) > len(kept):
        reporter.step(f"removed {len(stale) - len(kept)} former secrets and configs")
    if kept:
        reporter.step(f"still in use, left until `mafa down`: {', '.join(kept)}")


def balancer_key(engine: SwarmEngine, project: str, image: str, site_pem: bytes) -> SwarmFile:
    """The balancer's certificate and key as a Swarm secret where haproxy.cfg reads it
    (MAFA_TLS_CERT), readable by HAProxy's user only, as `put_file` leaves it on one engine."""
    uid, _ = engine.image_user_ids(image, BALANCER_USER)
    name = object_name(project, PurePosixPath(BALANCER_PEM).name, site_pem)
    return SwarmFile(name, BALANCER_PEM, site_pem, mode=0o400, uid=uid)


def config_files(model: ComposeModel) -> dict[str, bytes]:
    """The content of every file a service gives its tasks as a Swarm config."""
    files: dict[str, bytes] = {}
    for service in model.services.values():
        for config in service.deploy.configs:
            try:
                files[config.source] = Path(config.source).read_bytes()
            except OSError as exc:
                raise ConfigError(
                    f"{service.name}: cannot read {config.source} for a Swarm config: "
                    f"{exc.strerror}",
                    hint="x-mafa-swarm-configs paths are relative to the compose file",
                ) from None
    return files


def _wait_running(
    engine: SwarmEngine,
    project: str,
    wanted: dict[str, int],
    timeout_s: float,
    rolling: dict[str, str] | None = None,
) -> None:
    """Until every service in `wanted` has that many tasks running, and every `rolling` one
    (name -> its update marker before the deploy) has finished replacing its tasks: until
    then the old tasks still run and count, or the service has none at all for a moment."""
    deadline = time.monotonic() + timeout_s
    rolling = dict(rolling or {})
    ids = engine.stack_services(project) if rolling else {}  # just deployed: all there
    while True:
        tasks = [t for t in engine.tasks(project) if t.service in wanted]
        late = {
            name: count
            for name, count in wanted.items()
            if sum(
                t.state == "running" and t.desired_state == "running"
                for t in tasks
                if t.service == name
            )
            != count
        }
        for name, before in list(rolling.items()):
            marker, state = engine.update_state(ids[name])  # NotFound once it is taken down
            if marker != before and state == "completed":
                del rolling[name]
            elif marker != before and state in UPDATE_STUCK:
                raise Unhealthy(
                    f"{name}: the Swarm stopped replacing its tasks ({state})",
                    hint=f"see `docker service ps {project}_{name} --no-trunc`",
                )
        if not late and not rolling:
            return
        if time.monotonic() > deadline:
            late_names = [*late, *(n for n in rolling if n not in late)]
            errors = sorted(
                {f"{t.service}: {t.error}" for t in tasks if t.error and t.service in late_names}
            )
            raise Unhealthy(
                f"{', '.join(late_names)} did not get all their tasks running in {timeout_s:.0f}s",
                hint=f"see `docker service ps {project}_{late_names[0]} --no-trunc`",
                details="\n".join(errors[-10:]) or None,
            )
        time.sleep(POLL_S)


@dataclass(frozen=True)
class TaskRow:
    service: str
    slot: int
    node: str
    state: str
    desired_state: str
    error: str


def status(engine: SwarmEngine, project: str) -> list[TaskRow]:
    """Tasks per node: the running ones and the last that ended (their error says why)."""
    tasks = engine.tasks(project)
    if not tasks:
        raise NotFound(f"no services of project {project!r} on this Swarm")
    return [TaskRow(t.service, t.slot, t.node, t.state, t.desired_state, t.error) for t in tasks]


def logs(
    engine: SwarmEngine, project: str, service: str, tail: int, follow: bool = False
) -> Iterator[tuple[str, str]]:
    """(task, line) from the service's log, which the manager gathers from every node's tasks;
    a task is named as Docker names it, `<project>_<service>.<slot>`."""
    services = engine.stack_services(project)
    service_id = services.get(service)
    if service_id is None:
        raise NotFound(
            f"no service {service!r} in project {project!r} on this Swarm",
            hint=f"services: {', '.join(sorted(services))}"
            if services
            else f"is {project!r} up? `mafa status -p {project}`",
        )
    slots: dict[str, int] = {}
    unlisted: set[str] = set()  # ids the listing no longer has (tasks long gone)
    for task_id, line in engine.service_logs(service_id, tail, follow):
        if task_id and task_id not in slots and task_id not in unlisted:
            slots = {task.id: task.slot for task in engine.tasks(project, service)}  # a new task
            if task_id not in slots:
                unlisted.add(task_id)
        slot = slots.get(task_id)
        yield f"{project}_{service}" + ("" if slot is None else f".{slot}"), line


def down(
    engine: SwarmEngine,
    project: str,
    volumes: tuple[str, ...],
    reporter: Reporter,
) -> tuple[int, int, int]:
    """Removes the services, the network, the project's secrets and configs, and the `volumes`
    named (the stack's: on the manager, where the stateful services are pinned). All but the
    services go once the tasks that use them have stopped (the engine refuses before). Counts
    of (services, networks, volumes) removed."""
    services = engine.stack_services(project)
    reporter.step(f"removing {len(services)} services")
    for service_id in services.values():
        engine.remove_service(service_id)
    leftovers = [("network", network_name(project))]
    leftovers += [("volume", f"{project}_{v}") for v in volumes]
    leftovers += [(kind, name) for kind in KINDS for name in engine.stack_files(kind, project)]
    deadline = time.monotonic() + REMOVE_TIMEOUT_S
    removed: set[tuple[str, str]] = set()
    while len(removed) < len(leftovers) and time.monotonic() < deadline:
        removed |= {item for item in leftovers if engine.remove_when_unused(*item)}
        time.sleep(POLL_S)
    gone = [item for item in leftovers if item not in removed]
    if gone:
        raise MafaError(
            f"{', '.join(name for _, name in gone)} still in use after {REMOVE_TIMEOUT_S}s",
            hint="run `mafa down` again in a moment",
        )
    return len(services), 1, len(volumes)


def tasks_on_nodes(tasks: list[Task]) -> dict[str, int]:
    """Running tasks per node (for status and the tests)."""
    counts: dict[str, int] = {}
    for t in tasks:
        if t.state == "running":
            counts[t.node] = counts.get(t.node, 0) + 1
    return counts
