"""What `mafa up` and `mafa scale` must change: computed from the wanted replicas and the
containers that exist, with no Docker in sight (unit-tested on plain data).

The rule: change only what differs. A container whose config hash still matches and that runs is
kept; a stopped one is started; one whose hash differs is recreated under its number; surplus
replicas are removed from the highest number down; missing numbers are created.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Existing:
    id: str
    service: str
    number: int
    config_hash: str
    running: bool


@dataclass(frozen=True)
class Wanted:
    replicas: int
    config_hash: str


@dataclass
class Plan:
    create: list[tuple[str, int]] = field(default_factory=list)
    recreate: list[Existing] = field(default_factory=list)
    start: list[Existing] = field(default_factory=list)
    remove: list[Existing] = field(default_factory=list)
    keep: list[Existing] = field(default_factory=list)

    @property
    def changes_nothing(self) -> bool:
        return not (self.create or self.recreate or self.start or self.remove)

    def summary(self) -> str:
        if self.changes_nothing:
            return "nothing to change"
        parts = []
        for label, items in (
            ("create", [f"{s}-{n}" for s, n in self.create]),
            ("recreate", [f"{c.service}-{c.number}" for c in self.recreate]),
            ("start", [f"{c.service}-{c.number}" for c in self.start]),
            ("remove", [f"{c.service}-{c.number}" for c in self.remove]),
        ):
            if items:
                parts.append(f"{label} {', '.join(items)}")
        return "; ".join(parts)


def compute(wanted: Mapping[str, Wanted], existing: Sequence[Existing]) -> Plan:
    """The plan for the services in `wanted`; containers of other services are left alone."""
    plan = Plan()
    for service, want in wanted.items():
        mine = sorted((c for c in existing if c.service == service), key=lambda c: c.number)
        by_number: dict[int, Existing] = {}
        for container in mine:
            if container.number in by_number or container.number < 1:
                plan.remove.append(container)  # a duplicate number: keep the first only
            else:
                by_number[container.number] = container
        keep_numbers = sorted(by_number)[: want.replicas]
        for number in sorted(by_number, reverse=True):
            if number not in keep_numbers:
                plan.remove.append(by_number[number])
        for number in keep_numbers:
            container = by_number[number]
            if container.config_hash != want.config_hash:
                plan.recreate.append(container)
            elif not container.running:
                plan.start.append(container)
            else:
                plan.keep.append(container)
        free = (n for n in range(1, want.replicas * 2 + len(by_number) + 1) if n not in by_number)
        plan.create.extend((service, next(free)) for _ in range(want.replicas - len(keep_numbers)))
    return plan
