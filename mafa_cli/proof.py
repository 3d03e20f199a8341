"""Proof that nothing was lost: `mafa smoke` (a stack, a burst of messages, a drained queue, the
ledger's verdict, a JUnit file) and `mafa chaos` (faults injected on a schedule while messages
flow, then the same verdict)."""

from __future__ import annotations

import contextlib
import dataclasses
import random
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from mafa_cli import ledger
from mafa_cli.config import ChaosAction, ChaosTarget, ImageSet, NodeFault, UpSettings
from mafa_cli.engine.swarm import SwarmEngine
from mafa_cli.errors import MafaError, NotFound, UsageError
from mafa_cli.load.settings import default_host, new_run_id, project_ca
from mafa_cli.report import Report, RunEvent, record_beside, recording
from mafa_cli.report import build as build_report
from mafa_cli.stack import operations, swarm_faults, swarm_ops, swarm_spec
from mafa_cli.stack.access import StackClient
from mafa_cli.stack.scheduler import Reporter
from mafa_cli.state import Event, ProjectState
from mafa_cli.traffic import Traffic, TrafficCounts

MAX_SMOKE_MESSAGES = 1_000_000
READ_EVERY_S = 0.25  # the ledger's queries are indexed: cheap enough to read this often
MAX_DOWN_FOR_S = 600.0
NODE_BACK_TIMEOUT_S = 180.0  # a node's engine starting again, then the manager seeing it ready
LOST_AFTER_QUIET_S = 15.0  # consumers reconnecting after a broker restart take up to ~10 s


def verdict(
    client: StackClient, run_id: str, timeout_s: float, on_wait: Callable[[str], None]
) -> ledger.LedgerReport:
    """Wait until the queue has drained and every accepted message of the run is accounted
    for (or the time is up), then the ledger of the run. Read as often as it is cheap: done the
    moment every accepted message has its effect (or is parked) and the queue reads empty."""
    deadline = time.monotonic() + timeout_s
    quiet_since: float | None = None
    report: ledger.LedgerReport | None = None
    while True:
        now = time.monotonic()
        try:
            report = ledger.read(client, run_id)
            quiet_since = (quiet_since or now) if report.pending == 0 else None
        except (OSError, MafaError, RuntimeError) as exc:  # a part still coming back after a fault
            on_wait(f"waiting for the stack: {exc}")
            quiet_since = None
        quiet_s = 0.0 if quiet_since is None else now - quiet_since
        if report is not None and quiet_since is not None:
            if report.missing == 0:
                # Every accepted message has its effect or is parked, and nothing is queued: a
                # lagging figure cannot hide an accepted message any more.
                return report
            if quiet_s >= LOST_AFTER_QUIET_S:
                return report  # drained, and still missing after that long: lost, not late
        if time.monotonic() > deadline:
            if report is None:
                raise MafaError(f"no verdict within {timeout_s:.0f}s: the stack did not answer")
            return report
        if report is not None:
            on_wait(f"draining: {report.pending} pending, {report.missing} not processed yet")
        time.sleep(READ_EVERY_S)


@dataclass(frozen=True)
class SmokeSettings:
    project: str
    senders: int
    receivers: int
    messages: int
    fail_rate: float
    max_delay_s: float
    timeout_s: float
    keep: bool
    junit: Path | None
    port: int
    images: ImageSet
    tls: bool = False  # the stack up --tls, its messages over HTTPS verified against its CA
    report: Path | None = None  # the HTML report of the run (its snapshots are kept beside it)
    swarm: bool = False  # the stack as services on the Swarm DOCKER_HOST manages
    registry: str | None = None  # with swarm: where the nodes pull the pushed images from

    def __post_init__(self) -> None:
        """Checks of its own; the stack's (replicas, rates, port) are UpSettings' checks."""
        if not 1 <= self.messages <= MAX_SMOKE_MESSAGES:
            raise UsageError(
                f"--messages {self.messages} is out of range",
                hint=f"use 1..{MAX_SMOKE_MESSAGES}",
            )
        if self.senders < 1 or self.receivers < 1:
            raise UsageError(
                "smoke needs at least one sender and one receiver",
                hint="--senders 2 --receivers 3",
            )
        check_drain_timeout(self.timeout_s)


@dataclass(frozen=True)
class ProofResult:
    run_id: str
    traffic: TrafficCounts
    report: ledger.LedgerReport
    seconds: float
    faults: list[Event]
    html_report: Report | None = None
    # chaos --node-fault: each service's running tasks against its count, after the faults
    replicas: tuple[swarm_faults.ReplicaCount, ...] = ()

    @property
    def replicas_back(self) -> bool:
        return all(count.back for count in self.replicas)


def write_junit(path: Path, name: str, result: ProofResult) -> None:
    report = result.report
    checks = [
        ("queue drained (verdict conclusive)", report.conclusive, f"{report.pending} pending"),
        ("nothing lost", report.lost == 0, f"{report.lost} accepted messages lost"),
        ("nothing unexpected", report.unexpected == 0, f"{report.unexpected} unexpected effects"),
        ("no duplicate effects", report.duplicate_effects == 0, f"{report.duplicate_effects}"),
        (
            "every accepted message processed or parked",
            report.accepted == report.processed_of_accepted + report.parked,
            f"{report.accepted} accepted, {report.processed_of_accepted} processed, "
            f"{report.parked} parked",
        ),
    ]
    failures = sum(1 for _, ok, _ in checks if not ok)
    suite = ET.Element(
        "testsuite",
        name=name,
        tests=str(len(checks)),
        failures=str(failures),
        errors="0",
        time=f"{result.seconds:.1f}",
        timestamp=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    properties = ET.SubElement(suite, "properties")
    for key, value in report.to_json().items():
        ET.SubElement(properties, "property", name=key, value=str(value))
    for title, ok, detail in checks:
        case = ET.SubElement(suite, "testcase", classname=name, name=title, time="0")
        if not ok:
            ET.SubElement(case, "failure", message=detail).text = detail
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
    except OSError as exc:
        raise UsageError(f"cannot write the JUnit file {path}: {exc.strerror}") from None


def smoke(settings: SmokeSettings, reporter: Reporter) -> ProofResult:
    up = UpSettings.for_run(
        settings.project,
        settings.senders,
        settings.receivers,
        settings.port,
        settings.images,
        settings.max_delay_s,
        settings.fail_rate,
        tls=settings.tls,
        swarm=settings.swarm,
        registry=settings.registry,
    )
    started = time.monotonic()
    try:
        result = operations.up(up, reporter)
        run_id = new_run_id()
        with (
            _recording(settings.project, settings.report) as record,
            StackClient(settings.project) as client,
        ):
            url = client.balancer_url(result.url)
            reporter.step(f"sending {settings.messages} messages through {url} ({run_id})")
            traffic = Traffic(
                url, run_id, threads=8, total=settings.messages, ca_file=result.tls_ca_file
            )
            counts = traffic.start().wait()
            reporter.step(
                f"{counts.accepted} accepted, {counts.refused} refused, {counts.errors} unanswered"
            )
            report = verdict(client, run_id, settings.timeout_s, reporter.build_output)
        proof = ProofResult(run_id, counts, report, time.monotonic() - started, [])
        if settings.junit is not None:
            write_junit(settings.junit, "mafa smoke", proof)
        stack = (
            f"{settings.senders} senders, {settings.receivers} receivers, fail rate "
            f"{settings.fail_rate:g}, work up to {settings.max_delay_s:g}s"
        )
        return _with_report(proof, settings.report, record, f"smoke · {settings.project}", stack)
    finally:
        if not settings.keep:
            reporter.step(f"removing stack {settings.project} (keep it with --keep)")
            # A first `up` that failed early left nothing to remove: not an error of its own.
            with contextlib.suppress(NotFound):
                operations.down(settings.project, volumes=True, reporter=reporter)


@dataclass(frozen=True)
class ChaosSettings:
    project: str
    target: ChaosTarget
    action: ChaosAction
    every_s: float
    duration_s: float
    rate: float
    timeout_s: float
    report: Path | None = None  # the HTML report of the run (its snapshots are kept beside it)
    # On a Swarm: host faults instead of the target's replicas (stack/swarm_faults.py)
    node_fault: NodeFault | None = None
    node: str | None = None  # the worker to take away (default: one at random each time)
    node_hook: str | None = None  # how mafa reaches a node's host (kill, partition)
    down_for_s: float = 20.0  # how long the node stays away each time

    def __post_init__(self) -> None:
        if self.node_fault is not None:
            if self.node_fault not in tuple(NodeFault):
                raise UsageError(
                    f"--node-fault {self.node_fault!r}", hint=f"use one of {', '.join(NodeFault)}"
                )
            swarm_faults.check_hook(self.node_fault, self.node_hook)
            if not 1 <= self.down_for_s <= MAX_DOWN_FOR_S:
                raise UsageError(
                    f"--down-for {self.down_for_s:g}s is out of range",
                    hint=f"1s..{MAX_DOWN_FOR_S:.0f}s, e.g. --down-for 20s",
                )
        elif self.node is not None:
            # (A hook alone is fine: it may come from MAFA_NODE_HOOK, set once for every run.)
            raise UsageError("--node goes with --node-fault", hint="add --node-fault drain")
        if self.target not in tuple(ChaosTarget):
            raise UsageError(f"--kill {self.target!r}", hint=f"use one of {', '.join(ChaosTarget)}")
        if self.action not in tuple(ChaosAction):
            raise UsageError(
                f"--action {self.action!r}", hint=f"use one of {', '.join(ChaosAction)}"
            )
        if self.every_s < 1 or self.duration_s < self.every_s:
            raise UsageError(
                "--every must be at least 1s and --duration at least --every",
                hint="e.g. --every 10s --duration 60s",
            )
        if not 0 < self.rate <= 2000:
            raise UsageError(f"--rate {self.rate:g} is out of range", hint="messages/s, 0..2000")
        check_drain_timeout(self.timeout_s)


def check_drain_timeout(timeout_s: float) -> None:
    """A drain that may take no time can only end 'not conclusive': refused up front."""
    if timeout_s <= 0:
        raise UsageError("--timeout must be positive", hint="a duration, e.g. 90s, 1m30s, 3m")


def chaos(
    settings: ChaosSettings, reporter: Reporter, rng: random.Random | None = None
) -> ProofResult:
    """Messages at `rate` while the target is killed (SIGKILL, then started again, as a restart
    policy would) or restarted every `every_s`, or, on a Swarm with `node_fault`, a worker node
    is taken away for `down_for_s` and brought back; then the drain and the verdict."""
    rng = rng or random.Random()
    published = default_host(settings.project)  # says "no such stack" before anything starts
    client = StackClient(settings.project)
    fault = settings.node_fault
    swarm = None if fault is None else _swarm_of(settings, client, fault)
    url = client.balancer_url(published)
    run_id = new_run_id()
    started = time.monotonic()
    reporter.step(f"messages at {settings.rate:g}/s to {url} ({run_id})")
    ca_file = project_ca(settings.project)
    with _recording(settings.project, settings.report) as record:
        proof = _chaos_run(settings, reporter, rng, client, swarm, url, run_id, ca_file, started)
    faults = (
        f"{settings.action} a {settings.target}"
        if swarm is None
        else f"node {settings.node_fault} for {settings.down_for_s:g}s"
    ) + (
        f" every {settings.every_s:g}s for {settings.duration_s:g}s, "
        f"messages at {settings.rate:g}/s"
    )
    return _with_report(proof, settings.report, record, f"chaos · {settings.project}", faults)


@dataclass(frozen=True)
class _Swarm:
    fault: NodeFault
    engine: SwarmEngine
    wanted: dict[str, int]  # each service's replica count, as the project's settings say


def _swarm_of(settings: ChaosSettings, client: StackClient, fault: NodeFault) -> _Swarm:
    """--node-fault: the Swarm's manager and the services' counts; refused before any message
    is sent when the project is not on a Swarm or the Swarm has no worker to take away."""
    saved = operations.saved_settings(settings.project)
    if not saved.swarm:
        raise UsageError(
            f"--node-fault needs a stack on a Swarm; {settings.project} runs on one engine",
            hint="bring it up with `mafa up --swarm` on a manager, or fault its replicas: "
            "--kill receiver",
        )
    engine = swarm_ops.engine_of(client.backend)
    swarm_faults.pick_node(engine.nodes(), settings.node, random.Random())
    # The stack's own services; a load's workers (`mafa load --workers`) come and go with the
    # load, so their count is no part of the stack's.
    services = set(engine.stack_services(settings.project)) - {swarm_spec.LOAD_WORKER}
    return _Swarm(fault, engine, {service: saved.replicas(service) for service in services})


def _chaos_run(
    settings: ChaosSettings,
    reporter: Reporter,
    rng: random.Random,
    client: StackClient,
    swarm: _Swarm | None,
    url: str,
    run_id: str,
    ca_file: Path | None,
    started: float,
) -> ProofResult:
    state = ProjectState(settings.project)
    inject: Callable[[], list[Event]]
    if swarm is None:
        inject = partial(_replica_fault, settings, client, state, rng, reporter)
    else:
        inject = partial(_node_fault, settings, swarm, state, rng, reporter)
    faults: list[Event] = []
    traffic = Traffic(url, run_id, threads=4, rate=settings.rate, ca_file=ca_file).start()
    try:
        next_fault = started + settings.every_s
        while next_fault <= started + settings.duration_s:
            time.sleep(max(0.0, next_fault - time.monotonic()))
            faults += inject()
            next_fault += settings.every_s
        time.sleep(max(0.0, started + settings.duration_s - time.monotonic()))
    finally:
        counts = traffic.stop()
    reporter.step(
        f"{counts.accepted} accepted, {counts.refused} refused (503), "
        f"{counts.errors} unanswered, {counts.rejected} other"
    )
    with client:
        report = verdict(client, run_id, settings.timeout_s, reporter.build_output)
    replicas: tuple[swarm_faults.ReplicaCount, ...] = ()
    if swarm is not None:
        replicas = tuple(
            swarm_faults.wait_replicas(
                swarm.engine,
                settings.project,
                swarm.wanted,
                settings.timeout_s,
                reporter.build_output,
            )
        )
        reporter.step(
            f"replicas (the manager's task listing): {swarm_faults.replicas_line(replicas)}"
        )
    return ProofResult(
        run_id, counts, report, time.monotonic() - started, faults, replicas=replicas
    )


def _replica_fault(
    settings: ChaosSettings,
    client: StackClient,
    state: ProjectState,
    rng: random.Random,
    reporter: Reporter,
) -> list[Event]:
    """One of the target's running replicas killed and started again, or restarted."""
    engine = client.backend
    running = [
        c for c in engine.replicas(settings.project, settings.target) if c.state == "running"
    ]
    if not running:
        return []
    victim = rng.choice(running)
    if settings.action == ChaosAction.KILL:
        engine.kill(victim.id)
        event = state.record_event("SIGKILL", victim.name)
        # Back to the wanted count, as a restart policy would: the same container
        # starts again (a new process, so a new node name for senders/receivers).
        engine.start(victim.id, victim.name)
    else:
        event = state.record_event("restart", victim.name)
        engine.restart(victim.id, grace_s=10)
    reporter.step(f"{event.at[11:19]} {event.action} {victim.name}")
    return [event]


def _node_fault(
    settings: ChaosSettings,
    swarm: _Swarm,
    state: ProjectState,
    rng: random.Random,
    reporter: Reporter,
) -> list[Event]:
    """A worker taken away for `down_for_s`, brought back (whatever happened meanwhile), and
    waited for until the manager sees it ready and active: one event for each step."""
    fault = swarm.fault
    steps = swarm_faults.STEPS[fault]
    faults = swarm_faults.NodeFaults(swarm.engine, settings.node_hook)
    node = swarm_faults.pick_node(swarm.engine.nodes(), settings.node, rng)
    events: list[Event] = []

    def record(verb: str) -> None:
        events.append(state.record_event(f"node {verb}", node.hostname))
        reporter.step(f"{events[-1].at[11:19]} node {verb} {node.hostname}")

    try:
        faults.take(fault, node)
    except BaseException:  # Ctrl-C too: a node left cut or killed would outlive the command
        with contextlib.suppress(MafaError):  # undo what a half-done take did (part of a cut)
            faults.bring_back(fault, node)
        raise
    record(steps.take)
    try:
        time.sleep(settings.down_for_s)
        seen = swarm.engine.node(node.id)
        counts = swarm_faults.replica_counts(swarm.engine.tasks(settings.project), swarm.wanted)
        reporter.step(
            f"the manager sees {node.hostname} {seen.state}/{seen.availability}; "
            f"running: {swarm_faults.replicas_line(counts)}"
        )
    finally:
        faults.bring_back(fault, node)
        record(steps.bring_back)
    faults.wait_back(node, NODE_BACK_TIMEOUT_S)
    return events


@contextlib.contextmanager
def _recording(project: str, report: Path | None) -> Iterator[Path | None]:
    """With --report: the run's snapshots, recorded beside the report while the block runs."""
    if report is None:
        yield None
        return
    with recording(project, record_beside(report)) as record:
        yield record


def _with_report(
    proof: ProofResult, path: Path | None, record: Path | None, title: str, run: str
) -> ProofResult:
    """With --report: the proof with its HTML report written (the record, faults, verdict)."""
    if path is None or record is None:
        return proof
    counts = proof.traffic
    built = build_report(
        record,
        path,
        verdict=proof.report,
        title=f"mafa {title} · {proof.run_id}",
        settings=[
            ("run", run),
            (
                "messages",
                f"{counts.accepted:,} accepted, {counts.refused:,} refused (503), "
                f"{counts.errors:,} unanswered",
            ),
        ],
        events=[RunEvent(datetime.fromisoformat(f.at), f.action, f.target) for f in proof.faults],
    )
    return dataclasses.replace(proof, html_report=built)
