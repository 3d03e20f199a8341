"""The compose subset: the shipped file parses; what is outside the subset is refused by name."""

from dataclasses import replace
from pathlib import Path

import pytest

from mafa_cli.config import default_compose_file
from mafa_cli.errors import ConfigError, UnsupportedKey
from mafa_cli.stack.compose_model import interpolate, load, parse, parse_duration
from mafa_cli.state import SECRET_NAMES as NAMES

SECRETS = {name: f"secret-{i}" for i, name in enumerate(NAMES)}


def test_the_shipped_file_parses_in_start_order() -> None:
    model = load(default_compose_file(), SECRETS)
    assert model.start_order() == [
        ["rabbitmq", "postgres", "redis"],
        ["sender", "receiver"],
        ["haproxy"],
    ]
    sender = model.services["sender"]
    assert sender.build is not None
    assert dict(sender.build.args)["PYTHON_IMAGE"].startswith("docker.io/library/python:3.11")
    assert dict(sender.environment)["MAFA_DB_PASSWORD"] == SECRETS["MAFA_SENDER_DB_PASSWORD"]
    assert ("postgres", "service_healthy") in sender.depends_on
    (port,) = model.services["haproxy"].ports
    assert (port.host_ip, port.host_port, port.container_port) == ("127.0.0.1", 8080, 8080)
    assert all(s.healthcheck for s in model.services.values()), "every service has a healthcheck"
    assert set(model.volumes) == {"rabbitmq-data", "postgres-data", "redis-data"}


def test_secrets_are_required_by_the_shipped_file() -> None:
    with pytest.raises(ConfigError, match="MAFA_REDIS_PASSWORD is required"):
        load(default_compose_file(), {k: v for k, v in SECRETS.items() if "REDIS" not in k})


def test_the_image_set_is_one_setting() -> None:
    model = load(default_compose_file(), {**SECRETS, "MAFA_IMAGE_NS": "mafa-offline"})
    images = {s.image for s in model.services.values() if s.build is None}
    assert all(image.startswith("mafa-offline/") for image in images)


def test_config_hash_follows_the_definition_and_the_image() -> None:
    a = load(default_compose_file(), SECRETS).services["receiver"]
    b = load(default_compose_file(), {**SECRETS, "MAFA_FAIL_RATE": "0.9"}).services["receiver"]
    assert a.config_hash("img1") == a.config_hash("img1")
    assert a.config_hash("img1") != b.config_hash("img1")
    assert a.config_hash("img1") != a.config_hash("img2")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("services:\n  a:\n    image: x\n    networks: [n]\n", "services.a.networks (line 4)"),
        ("services:\n  a:\n    image: x\nsecrets: {}\n", "top-level key secrets (line 4)"),
        (
            "services:\n  a:\n    image: x\n    build:\n      target: t\n",
            "services.a.build.target (line 5)",
        ),
        (
            "services:\n  a:\n    image: x\n    healthcheck:\n"
            "      test: [CMD, t]\n      disable: true\n",
            "services.a.healthcheck.disable (line 6)",
        ),
        (
            "services:\n  a:\n    image: x\n    deploy:\n      replicas: 2\n",
            "services.a.deploy.replicas (line 5)",
        ),
    ],
)
def test_unsupported_keys_are_named_with_their_line(text: str, message: str) -> None:
    with pytest.raises(UnsupportedKey, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(text, {}, Path("/tmp"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("services: [a]\n", "no 'services' mapping"),
        ("services:\n  a:\n    build: .\n", "needs an image"),
        ("services:\n  a:\n    image: x\n    depends_on: [b]\n", "unknown service 'b'"),
        (
            "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: y\n"
            "    depends_on: [a]\n",
            "cycle",
        ),
        ("services:\n  a:\n    image: x\n    volumes: [data:/d]\n", "not declared"),
        ("services:\n  a:\n    image: x\n    ports: ['a:b']\n", "not a port mapping"),
        ("services:\n  a:\n    image: x\n    restart: sometimes\n", "unknown policy"),
        ("services:\n  a:\n    image: x\n    command: run it\n", "must be a list"),
        ("services:\n  a: [\n", "not valid YAML"),
        ("services:\n  a:\n    image: x\n    deploy: {endpoint_mode: ipvs}\n", "vip or dnsrr"),
    ],
)
def test_malformed_files_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse(text, {}, Path("/tmp"))


def test_a_file_that_is_not_a_compose_file_says_so_with_a_hint(tmp_path: Path) -> None:
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe bad\n")
    with pytest.raises(ConfigError, match="is not UTF-8 text") as caught:
        load(binary, {})
    assert caught.value.hint
    with pytest.raises(ConfigError, match="no 'services' mapping") as caught:
        parse("hello: world\n", {}, tmp_path)
    assert caught.value.hint


def test_interpolation_forms() -> None:
    env = {"SET": "v", "EMPTY": ""}
    assert interpolate("$SET ${SET} $$SET", env, "t") == "v v $SET"
    assert interpolate("${UNSET:-d} ${EMPTY:-d} ${EMPTY-d} ${UNSET-d}", env, "t") == "d d  d"
    assert interpolate("${UNSET}", env, "t") == ""
    with pytest.raises(ConfigError, match="UNSET is required: give it"):
        interpolate("${UNSET:?give it}", env, "t")
    with pytest.raises(ConfigError, match="EMPTY is required"):
        interpolate("${EMPTY:?}", env, "t")
    assert interpolate("${EMPTY?}", env, "t") == ""


def test_durations() -> None:
    assert parse_duration("1m30s", "t") == 90.0
    assert parse_duration("500ms", "t") == 0.5
    assert parse_duration(3, "t") == 3.0
    with pytest.raises(ConfigError, match="not a duration"):
        parse_duration("5 seconds", "t")


def test_bind_mounts_resolve_against_the_file() -> None:
    model = parse(
        "services:\n  a:\n    image: x\n    volumes: ['./conf:/etc/c:ro']\n", {}, Path("/srv/p")
    )
    (mount,) = model.services["a"].mounts
    assert (mount.kind, mount.source, mount.target, mount.read_only) == (
        "bind",
        "/srv/p/conf",
        "/etc/c",
        True,
    )


def test_start_interval_is_accepted_and_optional() -> None:
    text = (
        "services:\n  db:\n    image: db\n    healthcheck:\n"
        "      test: [CMD, 'true']\n      interval: 30s\n      start_interval: 200ms\n"
    )
    healthcheck = parse(text, {}, Path("/tmp")).services["db"].healthcheck
    assert healthcheck is not None
    assert (healthcheck.interval_s, healthcheck.start_interval_s) == (30.0, 0.2)
    shipped = load(default_compose_file(), SECRETS).services["redis"].healthcheck
    assert shipped is not None
    assert shipped.start_interval_s is None


def test_the_apps_are_marked_to_start_early_and_nothing_else() -> None:
    model = load(default_compose_file(), SECRETS)
    early = {name for name, service in model.services.items() if service.start_early}
    assert early == {"sender", "receiver"}


def test_start_early_must_be_a_boolean_and_other_extensions_are_ignored() -> None:
    with pytest.raises(ConfigError, match="x-mafa-start-early \\(line 4\\) must be true or false"):
        parse("services:\n  a:\n    image: x\n    x-mafa-start-early: yes please\n", {}, Path("/t"))
    model = parse("services:\n  a:\n    image: x\n    x-note: anything\n", {}, Path("/t"))
    assert not model.services["a"].start_early


def test_deploy_keys_say_where_tasks_go_on_a_swarm_and_leave_one_engine_alone() -> None:
    model = load(default_compose_file(), SECRETS)
    for name in ("rabbitmq", "postgres", "redis", "haproxy"):
        deploy = model.services[name].deploy
        assert deploy.constraints == ("node.role == manager",), name
        assert deploy.endpoint_mode == "dnsrr"
    for name in ("sender", "receiver"):
        assert model.services[name].deploy.spread == ("node.id",)
        assert model.services[name].deploy.constraints == ()
    # A container on one engine does not change when only its Swarm placement does.
    sender = model.services["sender"]
    moved = replace(sender, deploy=replace(sender.deploy, constraints=("node.role == worker",)))
    assert moved.config_hash("img") == sender.config_hash("img")


def test_swarm_configs_name_files_beside_the_compose_file_and_refuse_other_shapes() -> None:
    model = load(default_compose_file(), SECRETS)
    (config,) = model.services["haproxy"].deploy.configs
    assert config.source == str(default_compose_file().parent / "haproxy" / "haproxy.cfg")
    assert config.target == "/usr/local/etc/haproxy/haproxy.cfg"
    assert model.services["sender"].deploy.configs == ()
    for bad in ("[haproxy.cfg]", "[':/etc/x']", "haproxy.cfg:/x"):
        text = f"services:\n  a:\n    image: x\n    x-mafa-swarm-configs: {bad}\n"
        with pytest.raises(ConfigError, match="x-mafa-swarm-configs"):
            parse(text, {}, Path("/tmp"))
