"""compose/compose.yaml as mafa applies it: a documented subset of the Compose specification.

Pure: text in, frozen model out (no Docker, no files but the one read by `load`). Whatever the
subset does not cover is refused by name and line, never silently ignored. The subset:

    top level:   services, volumes (named, no options), x-* (extension fields, for anchors)
    service:     image, build (context, dockerfile, args), command, environment (mapping),
                 ports ("[ip:][host:]container"), volumes ("named:/path[:ro]", "./bind:/path[:ro]"),
                 depends_on (mapping with condition service_started|service_healthy),
                 healthcheck (test, interval, timeout, retries, start_period, start_interval),
                 restart,
                 hostname, stop_grace_period,
                 x-mafa-start-early (mafa's own: see Service.start_early; other x-* are ignored,
                 as Compose ignores them)
                 x-mafa-swarm-configs ("path/from/the/file's/dir:/target"): files that go to a
                 Swarm as configs (Deploy.configs); one engine has them in the image
                 deploy (endpoint_mode, placement: constraints, preferences [spread]): used on a
                 Swarm only (engine/swarm.py); one engine ignores it, as `docker compose` does
    variables:   $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, $$

The only module that imports yaml.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from mafa_cli import units
from mafa_cli.errors import ConfigError, UnsupportedKey

TOP_KEYS = {"services", "volumes"}
SERVICE_KEYS = {
    "image",
    "build",
    "command",
    "environment",
    "ports",
    "volumes",
    "depends_on",
    "healthcheck",
    "restart",
    "hostname",
    "stop_grace_period",
    "deploy",
}
DEPLOY_KEYS = {"endpoint_mode", "placement"}
PLACEMENT_KEYS = {"constraints", "preferences"}
BUILD_KEYS = {"context", "dockerfile", "args"}
HEALTHCHECK_KEYS = {"test", "interval", "timeout", "retries", "start_period", "start_interval"}
CONDITIONS = {"service_started", "service_healthy"}
START_EARLY_KEY = "x-mafa-start-early"
SWARM_CONFIGS_KEY = "x-mafa-swarm-configs"
RESTART_POLICIES = {"no", "always", "on-failure", "unless-stopped"}

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)"
    r"(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


@dataclass(frozen=True)
class Healthcheck:
    test: tuple[str, ...]
    interval_s: float = 30.0
    timeout_s: float = 30.0
    retries: int = 3
    start_period_s: float = 0.0
    # Checks every start_interval during the start period; engines before API 1.44 ignore it
    # (engine/local.py leaves it out for them).
    start_interval_s: float | None = None


@dataclass(frozen=True)
class Port:
    host_ip: str
    host_port: int | None  # None: the engine picks a free one
    container_port: int


@dataclass(frozen=True)
class Mount:
    kind: str  # "volume" or "bind"
    source: str  # volume name (unprefixed) or absolute host path
    target: str
    read_only: bool


@dataclass(frozen=True)
class Build:
    context: str  # absolute
    dockerfile: str  # relative to the context
    args: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ConfigFile:
    source: str  # absolute path on the host that runs mafa
    target: str  # where the tasks see it


@dataclass(frozen=True)
class Deploy:
    """Where and how a service's tasks run on a Swarm."""

    endpoint_mode: str = "vip"  # dnsrr: the service name resolves to every task's address
    constraints: tuple[str, ...] = ()  # "node.role == manager"
    spread: tuple[str, ...] = ()  # placement preferences: spread tasks over node.id, ...
    configs: tuple[ConfigFile, ...] = ()  # files given to the tasks as Swarm configs


@dataclass(frozen=True)
class Service:
    name: str
    image: str
    build: Build | None
    command: tuple[str, ...] | None
    environment: tuple[tuple[str, str], ...]
    ports: tuple[Port, ...]
    mounts: tuple[Mount, ...]
    depends_on: tuple[tuple[str, str], ...]
    healthcheck: Healthcheck | None
    restart: str
    hostname: str | None
    stop_grace_period_s: float
    # The service waits for its dependencies itself (it polls them after its own start): mafa
    # starts it as soon as they are started, so its interpreter and imports overlap their boot,
    # and probes it once they answer. docker-compose, which does not know the key, keeps
    # following depends_on.
    start_early: bool = False
    deploy: Deploy = Deploy()

    def config_hash(self, image_id: str) -> str:
        """What decides whether a running container is still what the file asks for: its whole
        definition and the image it runs (a rebuilt image changes it). Not `deploy`: a Swarm's
        placement means nothing to one engine's container."""
        definition = asdict(self)
        del definition["deploy"]
        blob = json.dumps({"service": definition, "image_id": image_id}, sort_keys=True)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ComposeModel:
    services: Mapping[str, Service]
    volumes: tuple[str, ...]

    def start_order(self) -> list[list[str]]:
        """Services in levels: each level depends only on earlier ones (started in parallel)."""
        placed: dict[str, int] = {}
        remaining = dict(self.services)
        levels: list[list[str]] = []
        while remaining:
            ready = [
                name
                for name, service in remaining.items()
                if all(dep in placed for dep, _ in service.depends_on)
            ]
            if not ready:
                raise ConfigError(f"depends_on has a cycle among: {', '.join(sorted(remaining))}")
            for name in ready:
                placed[name] = len(levels)
                del remaining[name]
            levels.append(ready)
        return levels


def interpolate(text: str, env: Mapping[str, str], where: str) -> str:
    """Compose's variable substitution on one string."""

    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("named")
        op, arg = match.group("op"), match.group("arg") or ""
        value = env.get(name)
        unset_or_empty = value is None or (op is not None and op.startswith(":") and value == "")
        if op in (":-", "-"):
            return arg if unset_or_empty else str(value)
        if op in (":?", "?"):
            if unset_or_empty:
                raise ConfigError(f"{where}: {name} is required: {arg or 'not set'}")
            return str(value)
        return "" if value is None else value

    return _VARIABLE.sub(replace, text)


def parse_duration(value: object, where: str) -> float:
    try:
        return units.parse_duration(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


class _Lines:
    """Where each key sits in the file, for error messages ("services.sender.networks, line 40")."""

    def __init__(self, text: str) -> None:
        self.lines: dict[str, int] = {}
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError:
            return
        self._walk(root, "")

    def _walk(self, node: Any, path: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = f"{path}.{key.value}" if path else str(key.value)
                self.lines.setdefault(child, key.start_mark.line + 1)
                self._walk(value, child)

    def at(self, path: str) -> str:
        line = self.lines.get(path)
        return f"{path} (line {line})" if line else path


def load(path: Path, env: Mapping[str, str]) -> ComposeModel:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read the compose file {path}: {exc.strerror}",
            hint="pass the file with -f, or run mafa from its repository checkout",
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path} is not UTF-8 text (byte {exc.start})",
            hint="a compose file is YAML in UTF-8: is -f the right file?",
        ) from None
    return parse(text, env, base_dir=path.parent, name=str(path))


def service_names(path: Path) -> list[str]:
    """The services a compose file defines, read without interpolation (for shell completion:
    nothing may fail there for a variable that is not set)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return []
    services = raw.get("services") if isinstance(raw, dict) else None
    return sorted(str(name) for name in services) if isinstance(services, dict) else []


def _yaml_problem(name: str, exc: yaml.YAMLError) -> str:
    """One line, file:line:column and the parser's reason, instead of its multi-line dump."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark is not None else name
    return f"{where}: not valid YAML: {problem}"


def parse(
    text: str, env: Mapping[str, str], base_dir: Path, name: str = "compose.yaml"
) -> ComposeModel:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(_yaml_problem(name, exc), hint="fix the YAML at that place") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("services"), dict):
        raise ConfigError(
            f"{name} has no 'services' mapping",
            hint="a compose file maps service names under `services:`; is -f the right file?",
        )
    lines = _Lines(text)
    for key in raw:
        if key not in TOP_KEYS and not str(key).startswith("x-"):
            raise UnsupportedKey(
                f"{name}: unsupported top-level key {lines.at(str(key))}",
                hint=f"mafa applies this subset: {', '.join(sorted(TOP_KEYS))}, x-*",
            )
    volumes_raw = raw.get("volumes") or {}
    if not isinstance(volumes_raw, dict):
        raise ConfigError(f"{name}: 'volumes' must be a mapping of names")
    for volume, options in volumes_raw.items():
        if options:
            raise UnsupportedKey(
                f"{name}: volume options are not supported: {lines.at('volumes.' + volume)}"
            )
    services = {
        str(svc): _service(str(svc), spec, env, base_dir, lines, name, set(volumes_raw))
        for svc, spec in raw["services"].items()
    }
    for service in services.values():
        for dep, _ in service.depends_on:
            if dep not in services:
                raise ConfigError(f"{name}: {service.name} depends on unknown service {dep!r}")
    model = ComposeModel(services=services, volumes=tuple(str(v) for v in volumes_raw))
    model.start_order()  # refuses cycles now rather than at `up`
    return model


def _service(
    svc: str,
    spec: Any,
    env: Mapping[str, str],
    base_dir: Path,
    lines: _Lines,
    name: str,
    volumes: set[str],
) -> Service:
    where = f"services.{svc}"
    if not isinstance(spec, dict):
        raise ConfigError(f"{name}: {where} must be a mapping")
    for key in spec:
        if key not in SERVICE_KEYS and key != "<<" and not str(key).startswith("x-"):
            raise UnsupportedKey(
                f"{name}: unsupported key {lines.at(f'{where}.{key}')}",
                hint=f"mafa applies these service keys: {', '.join(sorted(SERVICE_KEYS))}",
            )

    def text(value: object, at: str) -> str:
        if not isinstance(value, str | int | float):
            raise ConfigError(f"{name}: {lines.at(at)} must be a string")
        return interpolate(str(value), env, f"{name}: {at}")

    build = None
    if "build" in spec:
        b = spec["build"]
        if isinstance(b, str):
            b = {"context": b}
        for key in b:
            if key not in BUILD_KEYS:
                raise UnsupportedKey(f"{name}: unsupported key {lines.at(f'{where}.build.{key}')}")
        context = (base_dir / text(b.get("context", "."), f"{where}.build.context")).resolve()
        build = Build(
            context=str(context),
            dockerfile=text(b.get("dockerfile", "Dockerfile"), f"{where}.build.dockerfile"),
            args=tuple(
                (str(k), text(v, f"{where}.build.args.{k}"))
                for k, v in (b.get("args") or {}).items()
            ),
        )
    if "image" not in spec:
        raise ConfigError(f"{name}: {where} needs an image (mafa tags what it builds with it)")
    command = spec.get("command")
    if command is not None and not isinstance(command, list):
        raise ConfigError(f"{name}: {lines.at(where + '.command')} must be a list (exec form)")
    environment = spec.get("environment") or {}
    if not isinstance(environment, dict):
        raise UnsupportedKey(f"{name}: {lines.at(where + '.environment')} must be a mapping")
    depends = spec.get("depends_on") or {}
    if isinstance(depends, list):
        depends = {d: {"condition": "service_started"} for d in depends}
    depends_on = []
    for dep, options in depends.items():
        condition = (options or {}).get("condition", "service_started")
        if condition not in CONDITIONS:
            raise UnsupportedKey(
                f"{name}: {lines.at(f'{where}.depends_on.{dep}')}: condition {condition!r}"
            )
        depends_on.append((str(dep), str(condition)))
    start_early = spec.get(START_EARLY_KEY, False)
    if not isinstance(start_early, bool):
        raise ConfigError(f"{name}: {lines.at(f'{where}.{START_EARLY_KEY}')} must be true or false")
    restart = text(spec.get("restart", "no"), f"{where}.restart")
    if restart not in RESTART_POLICIES:
        raise ConfigError(f"{name}: {lines.at(where + '.restart')}: unknown policy {restart!r}")
    return Service(
        name=svc,
        image=text(spec["image"], f"{where}.image"),
        build=build,
        command=None if command is None else tuple(text(c, f"{where}.command") for c in command),
        environment=tuple(
            (str(k), "" if v is None else text(v, f"{where}.environment.{k}"))
            for k, v in environment.items()
        ),
        ports=tuple(
            _port(text(p, f"{where}.ports"), f"{name}: {where}.ports")
            for p in spec.get("ports") or []
        ),
        mounts=tuple(
            _mount(text(v, f"{where}.volumes"), base_dir, volumes, f"{name}: {where}.volumes")
            for v in spec.get("volumes") or []
        ),
        depends_on=tuple(depends_on),
        healthcheck=_healthcheck(
            spec.get("healthcheck"), f"{name}: {where}.healthcheck", lines, where
        ),
        restart=restart,
        hostname=text(spec["hostname"], f"{where}.hostname") if "hostname" in spec else None,
        stop_grace_period_s=parse_duration(
            spec.get("stop_grace_period", "10s"), f"{name}: {where}"
        ),
        start_early=start_early,
        deploy=replace(
            _deploy(spec.get("deploy") or {}, f"{name}: {where}.deploy", lines, where),
            configs=_swarm_configs(spec.get(SWARM_CONFIGS_KEY) or [], base_dir, f"{name}: {where}"),
        ),
    )


def _swarm_configs(value: Any, base_dir: Path, where: str) -> tuple[ConfigFile, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{where}.{SWARM_CONFIGS_KEY} must be a list of 'file:/target'")
    configs = []
    for item in value:
        source, _, target = str(item).partition(":")
        if not source or not target.startswith("/"):
            raise ConfigError(
                f"{where}.{SWARM_CONFIGS_KEY}: {item!r} is not like haproxy/haproxy.cfg:/etc/x.cfg"
            )
        configs.append(ConfigFile(str((base_dir / source).resolve()), target))
    return tuple(configs)


def _deploy(spec: Any, where: str, lines: _Lines, path: str) -> Deploy:
    def keys(value: Any, allowed: set[str], at: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: {lines.at(at)} must be a mapping")
        for key in value:
            if key not in allowed:
                raise UnsupportedKey(
                    f"{where}: unsupported key {lines.at(f'{at}.{key}')}",
                    hint=f"mafa applies these: {', '.join(sorted(allowed))}",
                )
        return value

    deploy = keys(spec, DEPLOY_KEYS, f"{path}.deploy")
    placement = keys(deploy.get("placement") or {}, PLACEMENT_KEYS, f"{path}.deploy.placement")
    mode = str(deploy.get("endpoint_mode", "vip"))
    if mode not in ("vip", "dnsrr"):
        raise ConfigError(f"{where}: endpoint_mode is vip or dnsrr, not {mode!r}")
    spread = []
    for preference in placement.get("preferences") or []:
        if not isinstance(preference, dict) or set(preference) != {"spread"}:
            raise UnsupportedKey(f"{where}: placement preferences are `- spread: <label>` only")
        spread.append(str(preference["spread"]))
    return Deploy(
        endpoint_mode=mode,
        constraints=tuple(str(c) for c in placement.get("constraints") or []),
        spread=tuple(spread),
    )


def _port(value: str, where: str) -> Port:
    parts = value.split(":")
    try:
        if len(parts) == 1:
            return Port("0.0.0.0", None, int(parts[0]))  # noqa: S104  (Compose's meaning)
        if len(parts) == 2:
            return Port("0.0.0.0", int(parts[0]), int(parts[1]))  # noqa: S104
        if len(parts) == 3:
            return Port(parts[0], int(parts[1]) if parts[1] else None, int(parts[2]))
    except ValueError:
        pass
    raise ConfigError(f"{where}: {value!r} is not a port mapping like 127.0.0.1:8080:8080")


def _mount(value: str, base_dir: Path, volumes: set[str], where: str) -> Mount:
    parts = value.split(":")
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] not in ("ro", "rw")):
        raise ConfigError(f"{where}: {value!r} is not like name:/path or ./dir:/path:ro")
    source, target = parts[0], parts[1]
    read_only = len(parts) == 3 and parts[2] == "ro"
    if source.startswith((".", "/")):
        return Mount("bind", str((base_dir / source).resolve()), target, read_only)
    if source not in volumes:
        raise ConfigError(f"{where}: volume {source!r} is not declared under top-level volumes")
    return Mount("volume", source, target, read_only)


def _healthcheck(spec: Any, where: str, lines: _Lines, path: str) -> Healthcheck | None:
    if spec is None:
        return None
    for key in spec:
        if key not in HEALTHCHECK_KEYS:
            raise UnsupportedKey(f"unsupported key {lines.at(f'{path}.healthcheck.{key}')}")
    test = spec.get("test")
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    if not isinstance(test, list) or not test or test[0] not in ("CMD", "CMD-SHELL", "NONE"):
        raise ConfigError(f"{where}.test must be a list starting with CMD or CMD-SHELL")
    return Healthcheck(
        test=tuple(str(t) for t in test),
        interval_s=parse_duration(spec.get("interval", "30s"), where),
        timeout_s=parse_duration(spec.get("timeout", "30s"), where),
        retries=int(spec.get("retries", 3)),
        start_period_s=parse_duration(spec.get("start_period", "0s"), where),
        start_interval_s=(
            parse_duration(spec["start_interval"], where) if "start_interval" in spec else None
        ),
    )
