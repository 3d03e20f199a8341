"""A project's state directory: the one place mafa remembers things between commands.

    $MAFA_STATE_DIR/<project>/          (else $XDG_STATE_HOME/mafa, else ~/.local/state/mafa)
        secrets.env     generated passwords (owner-only): written by `up`, read by every command
        settings.json   what `up`/`scale` last applied: read by scale, load, chaos, watch
        load.json       the `mafa load` running now (run id, pid, report dir): read by watch
        faults.jsonl    events (faults from chaos, scale changes from demo): read by watch, report
        tls/ca.pem      with `up --tls`: what clients trust (curl --cacert, browsers, load, smoke)
        tls/cert.pem    the balancer's certificate (public)
        tls/site.pem    that certificate and its private key (owner-only): sent into the balancer

Every command reads and writes these files through `ProjectState`, and nowhere else. The secrets
must live as long as the project's volumes (PostgreSQL and RabbitMQ keep the passwords they were
first started with), so the whole directory goes with the volumes (`mafa down --volumes`).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SECRET_NAMES = (
    "MAFA_SECRET_KEY",
    "MAFA_RABBITMQ_PASSWORD",  # the broker's administrator, mafa (operators, tests)
    "MAFA_SENDER_AMQP_PASSWORD",
    "MAFA_RECEIVER_AMQP_PASSWORD",
    "MAFA_MONITOR_AMQP_PASSWORD",  # what the CLI reads the broker's management API with
    "MAFA_REDIS_PASSWORD",
    "MAFA_POSTGRES_PASSWORD",
    "MAFA_SENDER_DB_PASSWORD",
    "MAFA_RECEIVER_DB_PASSWORD",
    "MAFA_HAPROXY_STATS_PASSWORD",
)
RECENT_EVENTS = 5  # what the dashboard shows


def state_root() -> Path:
    if os.environ.get("MAFA_STATE_DIR"):
        return Path(os.environ["MAFA_STATE_DIR"])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "mafa"


def known_projects() -> list[str]:
    root = state_root()
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def parse_env_file(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def _write_private(path: Path, data: bytes) -> None:
    """Owner-only from the first byte (no window where the file is 644)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    path.chmod(0o600)  # an older file keeps its mode through O_CREAT


@dataclass(frozen=True)
class RunningLoad:
    """What a running `mafa load` announces: which run, which process, where its CSVs are."""

    run_id: str
    pid: int
    report_dir: Path
    control_port: int | None = None  # locust's web API on 127.0.0.1, when users can change live


@dataclass(frozen=True)
class Event:
    at: str  # ISO time, seconds
    action: str  # SIGKILL, restart, scale
    target: str  # a container name, or "receivers 2->6"

    def line(self) -> str:
        return f"{self.at} {self.action} {self.target}"


class ProjectState:
    def __init__(self, project: str) -> None:
        self.project = project
        self.dir = state_root() / project

    @property
    def secrets_file(self) -> Path:
        return self.dir / "secrets.env"

    @property
    def settings_file(self) -> Path:
        return self.dir / "settings.json"

    @property
    def load_file(self) -> Path:
        return self.dir / "load.json"

    @property
    def events_file(self) -> Path:
        return self.dir / "faults.jsonl"

    @property
    def tls_dir(self) -> Path:
        return self.dir / "tls"

    @property
    def tls_ca_file(self) -> Path:
        return self.tls_dir / "ca.pem"

    @property
    def tls_cert_file(self) -> Path:
        return self.tls_dir / "cert.pem"

    @property
    def tls_site_file(self) -> Path:
        return self.tls_dir / "site.pem"

    def exists(self) -> bool:
        return self.dir.is_dir()

    def remove(self) -> None:
        """Forget the project whole (with its volumes: the secrets protected them)."""
        shutil.rmtree(self.dir, ignore_errors=True)

    # secrets ---------------------------------------------------------------------------------

    def secrets(self) -> dict[str, str] | None:
        """The project's secrets, or None when mafa never brought it up here."""
        if not self.secrets_file.exists():
            return None
        return parse_env_file(self.secrets_file.read_text())

    def _make_private_dir(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.dir.chmod(0o700)

    def secrets_or_create(self) -> dict[str, str]:
        self._make_private_dir()
        values = self.secrets() or {}
        missing = [name for name in SECRET_NAMES if not values.get(name)]
        if missing:
            values.update({name: secrets.token_hex(24) for name in missing})
            lines = [f"{name}={values[name]}\n" for name in SECRET_NAMES]
            text = f"# mafa secrets for project {self.project}: keep private\n" + "".join(lines)
            _write_private(self.secrets_file, text.encode())
        self.secrets_file.chmod(0o600)
        return {name: values[name] for name in SECRET_NAMES}

    # TLS (with `mafa up --tls`; stack/tls.py makes the bytes) ---------------------------------

    def tls_files(self) -> tuple[bytes, bytes] | None:
        """(certificate, certificate + key) kept for the balancer, or None."""
        if not (self.tls_cert_file.exists() and self.tls_site_file.exists()):
            return None
        return self.tls_cert_file.read_bytes(), self.tls_site_file.read_bytes()

    def save_tls(self, ca_pem: bytes, cert_pem: bytes, site_pem: bytes) -> None:
        self._make_private_dir()
        self.tls_dir.mkdir(exist_ok=True, mode=0o700)
        self.tls_dir.chmod(0o700)
        _write_private(self.tls_site_file, site_pem)
        self.tls_cert_file.write_bytes(cert_pem)
        self.tls_ca_file.write_bytes(ca_pem)

    # settings (typed by the caller: config.UpSettings knows its own fields) -------------------

    def settings(self) -> dict[str, Any] | None:
        if not self.settings_file.exists():
            return None
        return dict(json.loads(self.settings_file.read_text()))

    def save_settings(self, data: dict[str, Any]) -> None:
        self.settings_file.write_text(json.dumps(data, indent=2))

    # the running load ------------------------------------------------------------------------

    def running_load(self) -> RunningLoad | None:
        """The load run announced for the project, if its process still lives."""
        if not self.load_file.exists():
            return None
        data = json.loads(self.load_file.read_text())
        port = data.get("control_port")
        load = RunningLoad(
            str(data["run_id"]),
            int(data["pid"]),
            Path(data["report_dir"]),
            None if port is None else int(port),
        )
        try:
            os.kill(load.pid, 0)
        except OSError:
            return None  # that run is over
        return load

    def announce_load(self, load: RunningLoad) -> bool:
        """False when the project is unknown here (a load at a URL of someone else's stack)."""
        if not self.exists():
            return False
        data = {
            "run_id": load.run_id,
            "pid": load.pid,
            "report_dir": str(load.report_dir),
            "control_port": load.control_port,
        }
        self.load_file.write_text(json.dumps(data))
        return True

    def load_finished(self) -> None:
        self.load_file.unlink(missing_ok=True)

    # events ----------------------------------------------------------------------------------

    def record_event(self, action: str, target: str, at: datetime | None = None) -> Event:
        """Append an event; `at` when it happened (default: now)."""
        when = (at or datetime.now(UTC)).astimezone(UTC)
        event = Event(when.isoformat(timespec="seconds"), action, target)
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self.events_file.open("a", encoding="utf-8") as out:
            out.write(json.dumps({"at": event.at, "action": event.action, "target": event.target}))
            out.write("\n")
        return event

    def recent_events(self, count: int = RECENT_EVENTS) -> list[Event]:
        if not self.events_file.exists():
            return []
        lines = self.events_file.read_text().splitlines()[-count:]
        return [Event(**json.loads(line)) for line in lines if line.strip()]
