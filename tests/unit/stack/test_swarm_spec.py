from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mafa_cli.config import default_compose_file
from mafa_cli.engine.local import lines_of
from mafa_cli.engine.swarm import Task, _update_to_wait_for, task_of_log_line
from mafa_cli.errors import ConfigError, NotFound, Unhealthy
from mafa_cli.stack import swarm_ops
from mafa_cli.stack.compose_model import ComposeModel, load, parse
from mafa_cli.stack.swarm_spec import (
    NAMESPACE,
    PublishedPort,
    ServiceSpec,
    load_worker_spec,
    object_name,
    service_spec,
    stack_specs,
)
from mafa_cli.state import SECRET_NAMES

SECRETS = {name: f"secret-{i}" for i, name in enumerate(SECRET_NAMES)}


def test_the_shipped_stack_becomes_services_named_and_labelled_as_a_stack() -> None:
    model = load(default_compose_file(), SECRETS)
    replicas = dict.fromkeys(model.services, 1) | {"sender": 3, "receiver": 6}
    app = model.services["sender"].image
    specs = stack_specs(
        "demo", model, replicas, {app: f"reg:5000/{app}"}, SECRETS, swarm_ops.config_files(model)
    )
    by_service = {spec.service: spec for spec in specs}
    assert [spec.service for spec in specs][-1] == "haproxy", "in start order"
    assert by_service["sender"].name == "demo_sender"
    assert by_service["receiver"].replicas == 6
    assert all((NAMESPACE, "demo") in spec.labels for spec in specs)
    assert all(spec.endpoint_mode == "dnsrr" for spec in specs), "no IPVS needed"
    # The app image from the registry; an image not pushed keeps its own name.
    assert by_service["sender"].image == f"reg:5000/{app}"
    assert by_service["redis"].image == model.services["redis"].image
    # Stateful services stay with their volume; the balancer is published on its node's port.
    assert by_service["postgres"].constraints == ("node.role == manager",)
    assert [m.source for m in by_service["postgres"].mounts] == ["demo_postgres-data"]
    assert by_service["haproxy"].ports == (PublishedPort(8080, 8080, "host"),)
    assert by_service["receiver"].spread == ("node.id",)


def _shipped_specs(project: str = "demo", model: ComposeModel | None = None) -> list[ServiceSpec]:
    model = model or load(default_compose_file(), SECRETS)
    replicas = dict.fromkeys(model.services, 1)
    return stack_specs(project, model, replicas, {}, SECRETS, swarm_ops.config_files(model))


def test_no_password_is_in_any_service_definition_each_comes_as_a_secret_file() -> None:
    specs = _shipped_specs()
    for spec in specs:
        # Everything the Swarm keeps in the service's definition (a secret's bytes are not).
        definition = repr(spec)
        assert not [name for name, value in SECRETS.items() if value in definition], spec.name
        mounted = {f.target for f in spec.secrets}
        for variable, value in spec.environment:
            if variable.endswith("_FILE") and value.startswith("/run/secrets/"):
                assert value.removeprefix("/run/secrets/") in mounted, (spec.name, variable)
    by_service = {spec.service: spec for spec in specs}
    assert ("POSTGRES_PASSWORD_FILE", "/run/secrets/mafa_postgres_password") in by_service[
        "postgres"
    ].environment
    postgres_secret = next(
        f for f in by_service["postgres"].secrets if f.target.endswith("res_password")
    )
    assert postgres_secret.data == SECRETS["MAFA_POSTGRES_PASSWORD"].encode()
    # Every secret of the project reaches the service that needs it, and only those.
    used = {f.target.upper() for spec in specs for f in spec.secrets}
    assert used == set(SECRET_NAMES)
    assert {f.target for f in by_service["haproxy"].secrets} == {"mafa_haproxy_stats_password"}


def test_files_the_stack_names_become_configs_named_per_project_and_by_content(
    tmp_path: Path,
) -> None:
    by_service = {spec.service: spec for spec in _shipped_specs()}
    (cfg,) = by_service["haproxy"].configs
    assert cfg.target == "/usr/local/etc/haproxy/haproxy.cfg"
    assert cfg.name.startswith("demo_haproxy.cfg_")
    assert b"server-template sender" in cfg.data
    (init,) = by_service["postgres"].configs
    assert init.target == "/docker-entrypoint-initdb.d/10-roles.sh"
    assert init.mode == 0o555, "an init script is run, not sourced into the entrypoint"
    assert cfg.mode == 0o444
    # Another project, or another content: another object (a Swarm's cannot change).
    other = {spec.service: spec for spec in _shipped_specs("other")}
    assert other["haproxy"].configs[0].name.startswith("other_haproxy.cfg_")
    assert object_name("demo", "haproxy.cfg", b"x") != object_name("demo", "haproxy.cfg", b"y")
    assert object_name("demo", "haproxy.cfg", b"x") == object_name("demo", "haproxy.cfg", b"x")
    long_name = object_name("p" * 50, "mafa_receiver_amqp_password", b"x")
    assert len(long_name) == 64
    assert long_name != object_name("p" * 50, "mafa_receiver_db_password", b"x")


def test_a_password_in_a_command_is_refused_for_a_swarm() -> None:
    model = parse(
        "services:\n  a:\n    image: x\n    command: [run, --password, '${PW}']\n",
        {"PW": "s3cret-value"},
        Path("/tmp"),
    )
    with pytest.raises(ConfigError, match="command holds a password"):
        service_spec("p", model.services["a"], 1, secrets={"PW": "s3cret-value"})


def test_a_bind_mount_cannot_go_to_a_swarm() -> None:
    model = parse("services:\n  a:\n    image: x\n    volumes: ['./d:/d']\n", {}, Path("/tmp"))
    with pytest.raises(ValueError, match="bind mounts"):
        service_spec("p", model.services["a"], 1)


def _task(service: str, slot: int, state: str = "running", desired: str = "running") -> Task:
    return Task(
        f"t{service}{slot}{state}", service, slot, "node-1", state, desired, "", None, None, ""
    )


def test_the_swarm_plan_creates_and_removes_slots_and_ignores_ended_tasks() -> None:
    tasks = [
        _task("receiver", 1),
        _task("receiver", 2),
        _task("receiver", 3, state="failed", desired="shutdown"),  # ended: not counted
        _task("sender", 1),
        _task("sender", 2),
    ]
    plan = swarm_ops.plan(tasks, {"receiver": 4, "sender": 1})
    assert plan.create == [("receiver", 3), ("receiver", 4)]
    assert [(e.service, e.number) for e in plan.remove] == [("sender", 2)]
    assert [(e.service, e.number) for e in plan.keep] == [
        ("receiver", 1),
        ("receiver", 2),
        ("sender", 1),
    ]
    assert swarm_ops.plan(tasks[:2], {"receiver": 2}).changes_nothing


def test_only_images_of_services_that_may_leave_the_manager_are_pushed() -> None:
    model = load(default_compose_file(), SECRETS)
    pushed: list[str] = []

    class Registry:
        def push(self, reference: str, registry: str) -> str:
            pushed.append(reference)
            return f"{registry}/{reference}"

    steps: list[str] = []
    reporter = SimpleNamespace(step=steps.append)
    names = swarm_ops.pushed_images(Registry(), model, "reg:5000", reporter)  # type: ignore[arg-type]
    app = model.services["sender"].image
    assert pushed == [app], "senders and receivers share one image; the rest stay on the manager"
    assert names == {app: f"reg:5000/{app}"}
    assert swarm_ops.pushed_images(Registry(), model, None, reporter) == {}  # type: ignore[arg-type]


def test_load_workers_are_a_service_of_the_project_spread_one_per_node() -> None:
    spec = load_worker_spec(
        "demo", "reg:5000/mafa/app-locust:x", 3, ("locust", "--worker"), {"MAFA_RUN_ID": "r"}
    )
    assert spec.name == "demo_locust-worker"
    assert (NAMESPACE, "demo") in spec.labels, "`mafa down` removes it with the stack"
    assert spec.replicas == 3
    assert spec.spread == ("node.id",)
    assert spec.constraints == ()
    assert spec.ports == ()
    assert spec.command == ("locust", "--worker")
    assert ("MAFA_RUN_ID", "r") in spec.environment
    assert spec.hostname == "{{.Node.Hostname}}", "the master's worker report names the node"


def test_log_lines_are_whole_whatever_the_engine_cuts() -> None:
    assert list(lines_of([b"one\ntw", b"o\n", b"thr", b"ee"])) == ["one", "two", "three"]
    assert list(lines_of([b"caf\xc3", b"\xa9\n"])) == ["café"]


def test_a_service_log_line_names_its_task() -> None:
    line = (
        "com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s1,com.docker.swarm.task.id=t1 a b"
    )
    assert task_of_log_line(line) == ("t1", "a b")
    assert task_of_log_line("com.docker.swarm.task.id=t2 ") == ("t2", "")
    assert task_of_log_line("no details here") == ("", "no details here")


def task(task_id: str, slot: int) -> Task:
    return Task(task_id, "receiver", slot, "node", "running", "running", "", None, None, "")


class LoggingSwarm:
    """A stand-in for a Swarm manager's API (the real one runs in tests/integration/test_swarm.py):
    a service log whose second task starts after the first line was read."""

    def __init__(self) -> None:
        self.listed = 0

    def stack_services(self, project: str) -> dict[str, str]:
        return {"receiver": "s1"}

    def service_logs(self, service_id: str, tail: int, follow: bool) -> list[tuple[str, str]]:
        return [
            ("t1", "first"),
            ("t1", "again"),
            ("t2", "new task"),
            ("", "no task"),
            ("t0", "a task long gone"),
            ("t0", "and again"),
        ]

    def tasks(self, project: str, service: str) -> list[Task]:
        self.listed += 1
        return [task("t1", 1)] if self.listed == 1 else [task("t1", 1), task("t2", 2)]


def test_service_log_lines_carry_their_task_name_and_a_new_task_is_looked_up() -> None:
    swarm = LoggingSwarm()
    lines = list(swarm_ops.logs(swarm, "demo", "receiver", 10, follow=True))  # type: ignore[arg-type]
    assert lines == [
        ("demo_receiver.1", "first"),
        ("demo_receiver.1", "again"),
        ("demo_receiver.2", "new task"),
        ("demo_receiver", "no task"),
        ("demo_receiver", "a task long gone"),
        ("demo_receiver", "and again"),
    ]
    assert swarm.listed == 3, "listed for the first task, the new one, and once for t0"
    with pytest.raises(NotFound):
        list(swarm_ops.logs(swarm, "demo", "sender", 10))  # type: ignore[arg-type]


class FilesSwarm:
    """A stand-in for a Swarm manager's secrets and configs: `in_use` cannot be removed."""

    def __init__(self, in_use: set[str]) -> None:
        self.files = {"secret": {"demo_a_1": "i1", "demo_a_0": "i2"}, "config": {"demo_c_0": "i3"}}
        self.in_use = in_use

    def stack_files(self, kind: str, project: str) -> dict[str, str]:
        return dict(self.files[kind])

    def remove_when_unused(self, kind: str, name: str) -> bool:
        if name in self.in_use:
            return False
        del self.files[kind][name]
        return True


def test_a_full_up_removes_the_secrets_and_configs_no_service_names() -> None:
    swarm, steps = FilesSwarm(in_use={"demo_c_0"}), list[str]()
    reporter = SimpleNamespace(step=steps.append)
    swarm_ops.remove_stale_files(swarm, "demo", {"demo_a_1"}, reporter)  # type: ignore[arg-type]
    assert swarm.files == {"secret": {"demo_a_1": "i1"}, "config": {"demo_c_0": "i3"}}
    assert steps == [
        "removed 1 former secrets and configs",
        "still in use, left until `mafa down`: demo_c_0",
    ]


class RollingSwarm:
    """A stand-in for a Swarm manager whose haproxy is being replaced: its one task runs all
    along (the old one first), and the update reads `states` in turn."""

    def __init__(self, states: list[tuple[str, str]]) -> None:
        self.states = states

    def tasks(self, project: str) -> list[Task]:
        return [Task("t1", "haproxy", 1, "node", "running", "running", "", None, None, "")]

    def stack_services(self, project: str) -> dict[str, str]:
        return {"haproxy": "s1"}

    def update_state(self, service: str) -> tuple[str, str]:
        return self.states.pop(0) if len(self.states) > 1 else self.states[0]


def test_up_waits_until_the_swarm_has_replaced_the_tasks_it_rolls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(swarm_ops, "POLL_S", 0)
    before = ("t0", "completed")  # the update before this deploy
    swarm = RollingSwarm([before, before, ("t1", "updating"), ("t1", "completed")])
    swarm_ops._wait_running(swarm, "demo", {"haproxy": 1}, 10, {"haproxy": "t0"})  # type: ignore[arg-type]
    assert swarm.states == [("t1", "completed")], "read until the new update completed"

    paused = RollingSwarm([("t1", "updating"), ("t1", "paused")])
    with pytest.raises(Unhealthy, match="stopped replacing its tasks"):
        swarm_ops._wait_running(paused, "demo", {"haproxy": 1}, 10, {"haproxy": "t0"})  # type: ignore[arg-type]
    never = RollingSwarm([before])
    with pytest.raises(Unhealthy, match="haproxy did not get all their tasks running"):
        swarm_ops._wait_running(never, "demo", {"haproxy": 1}, 0.05, {"haproxy": "t0"})  # type: ignore[arg-type]


def inspected(replicas: int, state: str = "completed", started: str = "t0") -> dict[str, Any]:
    return {
        "Spec": {"Mode": {"Replicated": {"Replicas": replicas}}},
        "UpdateStatus": {"State": state, "StartedAt": started},
    }


def test_up_waits_for_an_update_only_when_the_swarm_will_run_one() -> None:
    assert _update_to_wait_for(inspected(2), True, 2) == "t0", "replaced: wait past t0's update"
    assert _update_to_wait_for(inspected(2), False, 3) is None, "a scale replaces nothing"
    assert _update_to_wait_for(inspected(0), True, 3) is None, "no task to replace"
    assert _update_to_wait_for(inspected(2), True, 0) is None, "none wanted"
    assert _update_to_wait_for(inspected(2, "updating"), False, 2) == "", "one still running"
    assert _update_to_wait_for({"Spec": {}}, True, 1) is None
    never_updated = {"Spec": {"Mode": {"Replicated": {"Replicas": 1}}}}
    assert _update_to_wait_for(never_updated, True, 1) == ""
