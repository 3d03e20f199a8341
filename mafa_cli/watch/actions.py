"""What the dashboard can do to the stack, and the record of what it did.

The dashboard only asks; an `Actions` implementation does. The real one, watch/control.py, calls
stack/operations to scale, the engine to kill and restart, load/runner for the load, and appends
each `Event` to the project's event stream, next to chaos' faults, so `mafa report` marks
dashboard actions on its time line as it marks faults. Every method may block for seconds: the
dashboard calls them off its drawing thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

Service = Literal["sender", "receiver"]


@dataclass(frozen=True)
class Event:
    """One thing that happened to the stack on purpose: `kind` is what (scale, kill, restart,
    load-start, load-stop, load-users), `target` what it was done to, `detail` the figures
    ("2 -> 3", "50 users") or the reason it failed."""

    at: datetime
    kind: str
    target: str
    detail: str = ""
    failed: bool = False

    def to_json(self) -> dict[str, Any]:
        """The shape of a line of faults.jsonl (at, action, target), plus detail and outcome."""
        return {
            "at": self.at.isoformat(),
            "action": self.kind,
            "target": self.target,
            "detail": self.detail,
            "failed": self.failed,
        }

    def line(self) -> str:
        """The form Snapshot.faults holds: "<iso time> <action> <target>", then the detail."""
        text = f"{self.at.isoformat()} {self.kind} {self.target}"
        if self.detail:
            text += f" {self.detail}"
        return text + (" FAILED" if self.failed else "")


@dataclass(frozen=True)
class Attempt:
    """One delivery of one message to the node."""

    at: datetime
    message_id: str
    attempt: int
    outcome: str  # processed, duplicate, failed, interrupted (receiver.attempts)
    duration_ms: float
    next_node: str | None = None  # for a failed attempt: the node that got the message next


@dataclass(frozen=True)
class NodeDetail:
    """What `enter` on a node opens: its recent attempts, the redeliveries it got, where the
    messages it failed went next."""

    node: str
    attempts: tuple[Attempt, ...] = ()
    redeliveries_received: int = 0
    failed_went_to: dict[str, int] = field(default_factory=dict)  # next node -> messages


class ActionFailed(Exception):
    """An action the stack refused or could not finish; the message says why, for the screen."""


class Actions(Protocol):
    def scale(self, service: Service, replicas: int) -> None: ...

    def kill(self, node: str) -> None:
        """SIGKILL the container of `node` (a receiver)."""

    def restart_broker(self) -> None: ...

    def start_load(self, users: int) -> None: ...

    def stop_load(self) -> None: ...

    def set_users(self, users: int) -> None: ...

    def node_detail(self, node: str) -> NodeDetail: ...

    def record(self, event: Event) -> None:
        """Keep `event` in the project's event stream (the real implementation appends to it)."""
