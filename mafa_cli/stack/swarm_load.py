"""`mafa load --workers K` on a project deployed on a Swarm: locust's own distributed mode over
the nodes. The master runs where the CLI runs (load/runner.py); the workers are a service of the
project (swarm_spec.load_worker_spec), spread one per node, from the load image
(compose/load.Dockerfile: the app image plus locust and the user classes) pushed to the project's
registry. They send to the balancer by its name on the stack's overlay network, not through the
CLI's forward, and reach the master at the address this host has on the route to the manager
(where a task's traffic leaves a node for this host), or at --master-host.
"""

from __future__ import annotations

import ipaddress
import shlex
import socket
from dataclasses import dataclass, replace

from mafa_cli.engine.protocol import connect_engine
from mafa_cli.engine.swarm import SWARM_PORT, SwarmEngine
from mafa_cli.errors import BuildFailed, MafaError, NotFound, UsageError
from mafa_cli.load import locustfile_path
from mafa_cli.load.runner import LoadSettings, check_reachable, free_port, load_environment
from mafa_cli.stack import build_context, swarm_ops
from mafa_cli.stack.access import StackClient
from mafa_cli.stack.compose_model import ComposeModel
from mafa_cli.stack.operations import CONTEXT_LABEL, project_model, saved_settings
from mafa_cli.stack.scheduler import Reporter
from mafa_cli.stack.swarm_spec import LOAD_WORKER, load_worker_spec, network_name

LOAD_DOCKERFILE = "compose/load.Dockerfile"
LOCUSTFILE_IN_IMAGE = f"/app/mafa_cli/load/{locustfile_path().name}"
# The balancer as the stack's own services reach it (its compose name is an alias on the network).
BALANCER_INSIDE = "http://haproxy:8080"


@dataclass
class SwarmWorkers:
    """The workers of one run (runner.WorkersElsewhere): started once the master listens,
    removed when it ends."""

    engine: SwarmEngine
    project: str
    image: str
    count: int
    bind_host: str  # the master's address, as the tasks reach it
    port: int
    environment: dict[str, str]  # locustfile.py's settings, MAFA_LOAD_HOST included
    balancer_outside: str  # the balancer as a host outside the Swarm reaches it

    def command(self) -> tuple[str, ...]:
        return (
            "locust", "-f", LOCUSTFILE_IN_IMAGE, "--worker",
            "--master-host", self.bind_host, "--master-port", str(self.port),
        )  # fmt: skip

    def start(self) -> None:
        self.stop()  # a service left by a run that was killed would point at its old master
        spec = load_worker_spec(
            self.project, self.image, self.count, self.command(), self.environment
        )
        self.engine.deploy(spec, network_name(self.project), None)

    def stop(self) -> None:
        service_id = self.engine.stack_services(self.project).get(LOAD_WORKER)
        if service_id is not None:
            self.engine.remove_service(service_id)

    def join_command(self) -> str:
        """What a host outside the Swarm runs to add a worker to this run (its users then send
        to the balancer's published port on the manager)."""
        environment = {**self.environment, "MAFA_LOAD_HOST": self.balancer_outside}
        flags = " ".join(f"-e {k}={shlex.quote(v)}" for k, v in sorted(environment.items()) if v)
        return (
            f"docker run --rm {flags} {self.image} "
            f"--master-host {self.bind_host} --master-port {self.port}"
        )


def load_image_name(app_image: str) -> str:
    # A tag is after the last ':' only if that comes after the last '/' (a registry's port,
    # as in 127.0.0.1:5000/app, is not a tag).
    repository, colon, tag = app_image.rpartition(":")
    if not colon or "/" in tag:
        return f"{app_image}-locust"
    return f"{repository}-locust:{tag}"


def load_image(engine: SwarmEngine, model: ComposeModel, reporter: Reporter) -> str:
    """The load image on the manager, built from the app image when missing or when either
    changed (the context hash on its label, the app image's id in that hash)."""
    app = model.services["sender"]
    app_id = engine.image_id(app.image)
    if app_id is None:
        raise NotFound(f"{app.image} is not on the manager", hint="run `mafa up --swarm` first")
    pip_args = dict(app.build.args if app.build else ()).get("PIP_ARGS", "")
    args = {"APP_IMAGE": app.image, "PIP_ARGS": pip_args}
    files = build_context.load_context()
    if "--no-index" in pip_args and not any(rel.endswith(".whl") for rel in files):
        raise BuildFailed(
            "the load image is built offline, but there are no locust wheels for it",
            hint="run `mafa images` once (it fetches them into the wheels directory's load/)",
        )
    wanted = build_context.files_hash(files, LOAD_DOCKERFILE, {**args, "app": app_id})
    tag = load_image_name(app.image)
    if engine.image_label(tag, CONTEXT_LABEL) != wanted:
        reporter.step(f"building {tag}")
        with build_context.context_archive(files) as archive:
            engine.build_image(
                tag, LOAD_DOCKERFILE, args, {CONTEXT_LABEL: wanted}, reporter.build_output,
                context=archive,
            )  # fmt: skip
    return tag


def route_address(towards: str) -> str:
    """This host's address on the route to `towards` (a UDP socket's connect sends nothing: it
    only looks the route up)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((towards, SWARM_PORT))
        return str(probe.getsockname()[0])


def master_address(manager: str) -> str:
    try:
        ours = route_address(manager)
    except OSError as exc:
        raise MafaError(
            f"no route from here to the Swarm's manager at {manager}: {exc.strerror}",
            hint="give --master-host ADDRESS (one the Swarm's nodes reach this host at)",
        ) from None
    if ipaddress.ip_address(ours).is_loopback:
        raise UsageError(
            f"the Swarm's manager advertises {manager}: its tasks cannot reach a master there",
            hint="give --master-host ADDRESS (one the Swarm's nodes reach this host at)",
        )
    return ours


def prepare_run(
    settings: LoadSettings, master_host: str | None, reporter: Reporter
) -> tuple[LoadSettings, SwarmWorkers | None]:
    """A run with --workers on a project deployed on a Swarm: its workers (image built and
    pushed), and the run's settings aimed where they send (the master's --host, in its report:
    the balancer inside the stack's network). Any other run as it is, with no workers elsewhere
    (its workers are processes here, as on one engine)."""
    saved = saved_settings(settings.project) if settings.project is not None else None
    if settings.workers == 0 or saved is None or not saved.swarm:
        if master_host is not None:
            raise UsageError(
                "--master-host goes with --workers on a project deployed on a Swarm",
                hint="elsewhere the workers are processes here; leave --master-host out",
            )
        return settings, None
    if saved.tls:
        # The workers would send to the balancer by its name inside the stack, which mafa's
        # certificate does not carry, and would need the project's CA inside their containers.
        raise UsageError(
            f"--workers on a Swarm is not available for {saved.project}, which serves HTTPS",
            hint=f"run the load from here without --workers, or bring {saved.project} up "
            "without --tls",
        )
    engine = swarm_ops.engine_of(connect_engine(swarm=True))  # the project's settings say so
    with StackClient(saved.project, engine) as client:  # the CLI's way in; the workers have theirs
        check_reachable(client.balancer_url(f"{saved.scheme}://127.0.0.1:{saved.port}"))
    image = load_image(engine, project_model(engine, saved.project), reporter)
    if saved.registry is not None:
        reporter.step(f"pushing {image} to {saved.registry}")
        image = engine.push(image, saved.registry)
    manager = next((n for n in engine.nodes() if n.leader), None)
    if manager is None:
        raise MafaError("the Swarm has no leader now", hint="see `docker node ls`")
    bind_host = master_host or master_address(manager.address)
    try:
        port = free_port(bind_host)  # the master listens there: an address of this host's
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {bind_host} for the workers: {exc.strerror}",
            hint="--master-host must be an address of this host that the nodes reach",
        ) from None
    workers = SwarmWorkers(
        engine=engine,
        project=saved.project,
        image=image,
        count=settings.workers,
        bind_host=bind_host,
        port=port,
        environment={**load_environment(settings), "MAFA_LOAD_HOST": BALANCER_INSIDE},
        balancer_outside=f"http://{manager.address}:{saved.port}",
    )
    return replace(settings, host=BALANCER_INSIDE), workers
