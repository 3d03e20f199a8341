"""up, scale, status, logs and down on the in-memory fake engine (tests/unit/fakes.py): the
shipped compose file, real plans, real state files; only the engine is a fake."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from mafa_cli.config import BALANCER_PEM, ImageSet, UpSettings, default_compose_file
from mafa_cli.errors import Conflict, MafaError, NotFound, Unhealthy, UsageError
from mafa_cli.stack import operations, scheduler
from mafa_cli.stack.operations import CONTEXT_LABEL, OFFLINE_MARKER_IMAGE
from mafa_cli.state import ProjectState
from tests.unit.fakes import FakeEngine

INFRA = ("rabbitmq", "postgres", "redis")


class Steps:
    def __init__(self) -> None:
        self.steps: list[str] = []
        self.output: list[str] = []

    def step(self, message: str) -> None:
        self.steps.append(message)

    def build_output(self, line: str) -> None:
        self.output.append(line)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def _fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAFA_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(scheduler, "POLL_S", 0.001)


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine(images={OFFLINE_MARKER_IMAGE: {}})


def settings(**changes: object) -> UpSettings:
    values: dict[str, object] = {
        "project": "unit",
        "senders": 2,
        "receivers": 3,
        "port": free_port(),
        "bind": "127.0.0.1",
        "images": ImageSet.AUTO,
        "max_delay_s": 1.0,
        "fail_rate": 0.2,
        "build": None,
        "wait": True,
        "timeout_s": 30.0,
        "compose_file": default_compose_file(),
    }
    return UpSettings(**{**values, **changes})  # type: ignore[arg-type]


def created(engine: FakeEngine) -> list[str]:
    return [name for call, name in engine.calls if call == "create"]


def started(engine: FakeEngine) -> list[str]:
    return [name for call, name in engine.calls if call == "start"]


def test_up_starts_each_service_after_what_it_depends_on(engine: FakeEngine) -> None:
    engine.slow = {"postgres": 5}
    result = operations.up(settings(), Steps(), engine)
    order = started(engine)
    assert sorted(order) == sorted(
        [f"unit-{s}-1" for s in (*INFRA, "haproxy")]
        + ["unit-sender-1", "unit-sender-2"]
        + [f"unit-receiver-{n}" for n in (1, 2, 3)]
    )
    first_app = min(order.index(n) for n in order if "sender" in n or "receiver" in n)
    assert all(order.index(f"unit-{s}-1") < first_app for s in INFRA)
    assert order.index("unit-haproxy-1") > max(order.index(n) for n in order if "sender" in n)
    assert all(r.ready for r in engine.replicas("unit"))
    assert result.url.startswith("http://127.0.0.1:")
    assert ("build", "mafa/app:latest") in engine.calls or any(
        call == "build" for call, _ in engine.calls
    )
    state = ProjectState("unit")
    assert state.secrets_file.stat().st_mode & 0o777 == 0o600
    assert operations.saved_settings("unit").receivers == 3


def test_a_second_up_changes_nothing_and_builds_nothing(engine: FakeEngine) -> None:
    wanted = settings()
    operations.up(wanted, Steps(), engine)
    engine.calls.clear()
    result = operations.up(wanted, Steps(), engine)
    assert result.plan.changes_nothing
    assert engine.calls == []


def test_a_changed_setting_recreates_only_what_it_touches(engine: FakeEngine) -> None:
    operations.up(settings(), Steps(), engine)
    engine.calls.clear()
    result = operations.up(settings(fail_rate=0.5), Steps(), engine)
    recreated = {c.service for c in result.plan.recreate}
    assert "receiver" in recreated
    assert not recreated & set(INFRA)


def test_the_image_is_rebuilt_when_its_context_changed(engine: FakeEngine) -> None:
    operations.up(settings(), Steps(), engine)
    app_image = next(i for i in engine.images if i.startswith("mafa/app"))
    engine.images[app_image][CONTEXT_LABEL] = "an older context"
    engine.calls.clear()
    steps = Steps()
    operations.up(settings(), steps, engine)
    assert ("build", app_image) in engine.calls
    assert any(line.startswith("Step 1/1") for line in steps.output)


def test_no_build_refuses_a_missing_image(engine: FakeEngine) -> None:
    with pytest.raises(UsageError, match="--no-build"):
        operations.up(settings(build=False), Steps(), engine)


def test_every_official_image_gets_mafas_layer_on_top() -> None:
    # Redis too: its entrypoint reads the password from a file on a Swarm (compose/redis).
    engine = FakeEngine()
    operations.up(settings(images=ImageSet.OFFICIAL), Steps(), engine)
    built = [name for call, name in engine.calls if call == "build"]
    assert any("redis" in name for name in built)
    assert [name for call, name in engine.calls if call == "pull"] == []


def test_offline_images_missing_is_a_clear_error_and_leaves_no_state() -> None:
    with pytest.raises(MafaError, match="offline image set is not built"):
        operations.up(settings(images=ImageSet.OFFLINE), Steps(), FakeEngine())
    assert not ProjectState("unit").exists()


def test_a_port_in_use_is_refused_before_anything_changes(engine: FakeEngine) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(Conflict, match=f"port {port}"):
            operations.up(settings(port=port), Steps(), engine)
    assert created(engine) == []
    assert not ProjectState("unit").exists(), "a failed first up leaves nothing behind"


def test_a_service_that_never_gets_healthy_times_out_with_its_logs(engine: FakeEngine) -> None:
    # The apps, started early, wait for PostgreSQL themselves: they never answer either, and the
    # one named is the one whose own dependencies answer.
    engine.never_healthy = {"postgres", "sender", "receiver"}
    engine.logs_of = {"unit-postgres-1": ["FATAL: no space left"]}
    with pytest.raises(Unhealthy, match="unit-postgres-1 did not become healthy") as caught:
        operations.up(settings(timeout_s=0.2), Steps(), engine)
    assert "no space left" in (caught.value.details or "")
    # The balancer, which waits for a healthy sender, was never started.
    assert any("sender" in name for name in started(engine))
    assert not any("haproxy" in name for name in started(engine)), "dependents never started"
    assert ProjectState("unit").exists(), "its replicas exist: the secrets stay"


def test_dependants_start_when_mafas_probe_answers_before_dockers_health(
    engine: FakeEngine,
) -> None:
    engine.slow = dict.fromkeys(["sender", *INFRA], 10000)  # Docker's health: "forever"
    engine.answers_early = {"sender", "receiver"}
    operations.up(settings(timeout_s=30), Steps(), engine)
    assert "unit-haproxy-1" in started(engine), "started once a sender answered a probe"
    assert ("probe", "unit-sender-1") in engine.calls
    assert {r.health for r in engine.replicas("unit", "sender")} == {"starting"}


def test_the_apps_answer_for_the_infrastructure_which_is_not_probed(engine: FakeEngine) -> None:
    # An app (x-mafa-start-early) answers only once it reached PostgreSQL, Redis and RabbitMQ
    # itself: its answer stands for theirs, so they are never probed and Docker's health of
    # theirs is not waited for.
    engine.slow = dict.fromkeys(INFRA, 10000)
    operations.up(settings(timeout_s=30), Steps(), engine)
    assert "unit-haproxy-1" in started(engine)
    assert not [name for call, name in engine.calls if call == "probe" and "-sender-" not in name]
    assert {r.health for r in engine.replicas("unit", "postgres")} == {"starting"}


def test_the_apps_start_while_the_infrastructure_boots(engine: FakeEngine) -> None:
    # A broker that never answers: the apps (x-mafa-start-early) are started all the same, only
    # one replica of each is probed meanwhile (the scout: its check cannot pass without the
    # broker), and the broker is the one named (probed once, at the timeout).
    engine.never_healthy = {"rabbitmq", "sender", "receiver"}
    with pytest.raises(Unhealthy, match="unit-rabbitmq-1 did not become healthy"):
        operations.up(settings(timeout_s=0.3), Steps(), engine)
    apps = {f"unit-sender-{n}" for n in (1, 2)} | {f"unit-receiver-{n}" for n in (1, 2, 3)}
    assert apps <= set(started(engine))
    probed = {name for call, name in engine.calls if call == "probe"}
    assert probed & apps == {"unit-sender-1", "unit-receiver-1"}
    assert "unit-rabbitmq-1" in probed
    assert "unit-haproxy-1" not in started(engine), "the balancer waits for a healthy sender"


def test_a_failed_create_is_raised(engine: FakeEngine) -> None:
    engine.fail_create = {"receiver": MafaError("cannot create unit-receiver-1: no memory")}
    with pytest.raises(MafaError, match="no memory"):
        operations.up(settings(), Steps(), engine)


def test_without_wait_every_level_starts_without_health(engine: FakeEngine) -> None:
    engine.never_healthy = {"postgres"}
    operations.up(settings(wait=False), Steps(), engine)
    assert "unit-haproxy-1" in created(engine)


def test_rabbitmq_ui_is_published_only_when_asked(engine: FakeEngine) -> None:
    ui_port = free_port()
    result = operations.up(settings(rabbitmq_ui_port=ui_port), Steps(), engine)
    assert result.rabbitmq_ui == f"http://127.0.0.1:{ui_port}"
    (rabbit,) = engine.replicas("unit", "rabbitmq")
    assert any(f":{ui_port}->" in port for port in rabbit.ports)


def test_scale_down_removes_the_highest_numbers_first_and_nothing_else(
    engine: FakeEngine,
) -> None:
    operations.up(settings(receivers=4), Steps(), engine)
    engine.calls.clear()
    plan = operations.scale("unit", None, 2, Steps(), engine=engine)
    assert [(c.service, c.number) for c in plan.remove] == [("receiver", 4), ("receiver", 3)]
    assert {name for _, name in engine.calls} == {"unit-receiver-4", "unit-receiver-3"}
    assert operations.saved_settings("unit").receivers == 2


def test_scale_up_creates_the_missing_numbers(engine: FakeEngine) -> None:
    operations.up(settings(senders=1), Steps(), engine)
    engine.calls.clear()
    plan = operations.scale("unit", 3, None, Steps(), engine=engine)
    assert plan.create == [("sender", 2), ("sender", 3)]
    assert created(engine) == ["unit-sender-2", "unit-sender-3"]


def test_scale_starts_a_stopped_replica(engine: FakeEngine) -> None:
    operations.up(settings(), Steps(), engine)
    (first, _) = engine.replicas("unit", "sender")
    engine.stop(first.id)
    plan = operations.scale("unit", 2, None, Steps(), engine=engine)
    assert [c.id for c in plan.start] == [first.id]


@pytest.mark.parametrize(
    ("senders", "receivers", "error"),
    [(None, None, "nothing to scale"), (None, 33, "--receivers 33 is out of range")],
)
def test_scale_checks_before_anything(
    senders: int | None, receivers: int | None, error: str
) -> None:
    with pytest.raises(UsageError, match=error):
        operations.scale("unit", senders, receivers, Steps(), engine=FakeEngine())


def test_scale_of_an_unknown_project() -> None:
    with pytest.raises(NotFound, match="no stack named 'ghost'"):
        operations.scale("ghost", 1, None, Steps(), engine=FakeEngine())


def test_status_and_logs(engine: FakeEngine) -> None:
    operations.up(settings(), Steps(), engine)
    rows = operations.status("unit", engine)
    assert len(rows) == 9
    assert all(r.ok and r.uptime_s is not None for r in rows)
    lines = list(operations.logs("unit", "receiver", 5, False, engine))
    assert [name for name, _ in lines] == [f"unit-receiver-{n}" for n in (1, 2, 3)]
    with pytest.raises(NotFound, match="no 'web' containers"):
        list(operations.logs("unit", "web", 5, False, engine))


def test_logs_follow_merges_every_replica(engine: FakeEngine) -> None:
    operations.up(settings(receivers=2), Steps(), engine)
    following = operations.logs("unit", "receiver", 5, True, engine)
    got = {next(following)[0] for _ in range(2)}
    assert got == {"unit-receiver-1", "unit-receiver-2"}


def test_status_counts_a_replica_that_answers_before_dockers_next_check(
    engine: FakeEngine,
) -> None:
    engine.slow = {"postgres": 10_000}
    engine.answers_early = {"postgres"}
    operations.up(settings(timeout_s=30), Steps(), engine)
    (postgres,) = [r for r in operations.status("unit", engine) if r.service == "postgres"]
    assert (postgres.health, postgres.answers, postgres.ok) == ("starting", True, True)
    engine.answers_early = set()
    (postgres,) = [r for r in operations.status("unit", engine) if r.service == "postgres"]
    assert (postgres.health, postgres.answers, postgres.ok) == ("starting", False, False)


def test_status_of_nothing_is_not_found() -> None:
    with pytest.raises(NotFound, match="no containers of project 'unit'"):
        operations.status("unit", FakeEngine())


def test_down_keeps_the_data_unless_asked(engine: FakeEngine) -> None:
    operations.up(settings(), Steps(), engine)
    result = operations.down("unit", False, Steps(), engine)
    assert (result.containers, result.networks, result.volumes) == (9, 1, 0)
    assert engine.grace_of_removed == [operations.STOP_GRACE_ON_DOWN_S] * 9
    assert engine.volumes("unit")
    assert ProjectState("unit").secrets() is not None


def test_down_with_volumes_forgets_the_project_whole(engine: FakeEngine) -> None:
    operations.up(settings(), Steps(), engine)
    state = ProjectState("unit")
    state.record_event("SIGKILL", "unit-receiver-1")
    result = operations.down("unit", True, Steps(), engine)
    assert result.volumes == 3
    assert engine.grace_of_removed == [0] * 9, "its data goes anyway: no grace period"
    assert not state.exists(), "a new stack of that name must not show the old one's events"
    with pytest.raises(NotFound, match="no stack named 'unit'"):
        operations.down("unit", True, Steps(), engine)


def test_with_tls_the_balancer_gets_its_key_before_it_starts(engine: FakeEngine) -> None:
    result = operations.up(settings(tls=True), Steps(), engine)
    (balancer,) = [r for r in engine._records.values() if r.service == "haproxy"]
    data, mode, owner, state_then = balancer.files[BALANCER_PEM]
    assert (mode, owner, state_then) == (0o600, "haproxy", "created")
    assert b"BEGIN CERTIFICATE" in data
    assert b"PRIVATE KEY" in data
    assert ("put_file", "unit-haproxy-1") in engine.calls
    assert engine.calls.index(("put_file", "unit-haproxy-1")) < engine.calls.index(
        ("start", "unit-haproxy-1")
    )
    assert not any(r.files for r in engine._records.values() if r.service != "haproxy")
    assert result.url.startswith("https://127.0.0.1:")
    assert result.tls_ca_file == ProjectState("unit").tls_ca_file
    assert operations.saved_settings("unit").tls


def test_tls_keeps_its_certificate_and_a_new_one_recreates_the_balancer(
    engine: FakeEngine,
) -> None:
    wanted = settings(tls=True)
    operations.up(wanted, Steps(), engine)
    state = ProjectState("unit")
    first = state.tls_files()
    engine.calls.clear()
    assert operations.up(wanted, Steps(), engine).plan.changes_nothing
    assert state.tls_files() == first
    state.tls_cert_file.unlink()  # lost: a new certificate is made, so a new balancer
    replan = operations.up(wanted, Steps(), engine).plan
    assert [c.service for c in replan.recreate] == ["haproxy"]
    assert state.tls_files() != first


def test_without_tls_no_file_is_put_and_the_url_is_http(engine: FakeEngine) -> None:
    result = operations.up(settings(), Steps(), engine)
    assert not any(call == "put_file" for call, _ in engine.calls)
    assert result.tls_ca_file is None
    assert not ProjectState("unit").tls_dir.exists()


def test_tls_cert_is_set_for_the_balancer_only_with_tls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAFA_TLS_CERT", "/somewhere/else.pem")  # left in a user's shell
    assert settings().interpolation_env({}, True)["MAFA_TLS_CERT"] == ""
    assert settings(tls=True).interpolation_env({}, True)["MAFA_TLS_CERT"] == BALANCER_PEM


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"tls": True, "tls_cert": "/etc/hostname"}, "go together"),
        ({"tls_cert": "/etc/hostname", "tls_key": "/etc/hostname"}, "needs --tls"),
        ({"tls": True, "tls_cert": "/nope.pem", "tls_key": "/etc/hostname"}, "no such file"),
    ],
)
def test_tls_flags_are_checked(changes: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        settings(**changes)


def test_a_users_pair_that_cannot_be_served_is_refused_before_anything(
    engine: FakeEngine, tmp_path: Path
) -> None:
    from mafa_cli.stack import tls

    mine, theirs = tls.issue("a", "127.0.0.1"), tls.issue("b", "127.0.0.1")
    (tmp_path / "cert.pem").write_bytes(mine.cert_pem)
    (tmp_path / "key.pem").write_bytes(theirs.key_pem)
    wanted = settings(
        tls=True, tls_cert=str(tmp_path / "cert.pem"), tls_key=str(tmp_path / "key.pem")
    )
    with pytest.raises(UsageError, match="not the key of"):
        operations.up(wanted, Steps(), engine)
    assert engine.calls == []
    assert not ProjectState("unit").exists()
    (tmp_path / "key.pem").write_bytes(mine.key_pem)
    result = operations.up(wanted, Steps(), engine)
    assert result.tls_ca_file is not None
    assert result.tls_ca_file.read_bytes() == mine.cert_pem


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"registry": "reg:5000"}, "--registry needs --swarm"),
        ({"swarm": True, "registry": "reg"}, "not HOST:PORT"),
    ],
)
def test_swarm_settings_are_checked(changes: dict[str, object], error: str) -> None:
    with pytest.raises(UsageError, match=error):
        settings(**changes)


def test_up_swarm_on_an_engine_that_is_no_swarm_manager_is_refused_and_leaves_nothing(
    engine: FakeEngine,
) -> None:
    with pytest.raises(MafaError, match="--swarm needs a Swarm manager"):
        operations.up(settings(swarm=True), Steps(), engine)
    assert engine.calls == []
    assert not ProjectState("unit").exists()
