"""What `--json` prints: one builder per command, and the JSON Schema each output follows.

The schemas ship in the package (mafa_cli/schemas/<name>.schema.json, draft 2020-12), so a
script can check what it reads; the tests validate real outputs against them. A schema names
another by its `$id` (urn:mafa:schema:<name>): smoke's and chaos's verdict is the ledger's.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from mafa_cli import resources

# For types only: every command imports this module, and these import psycopg, requests and the
# Docker SDK (`mafa scale` spent 4.5 s of 13 importing them on a loaded host, -X importtime).
if TYPE_CHECKING:
    from mafa_cli.ledger import LedgerReport
    from mafa_cli.load.runner import LoadResult
    from mafa_cli.proof import ProofResult
    from mafa_cli.stack.operations import StatusRow, UpResult
    from mafa_cli.stack.plan import Plan

# The schema of each command's --json (smoke and chaos share "proof"; watch: one per snapshot).
SCHEMA_OF = {
    "up": "up",
    "scale": "scale",
    "status": "status",
    "load": "load",
    "smoke": "proof",
    "chaos": "proof",
    "ledger": "ledger",
    "watch": "watch",
}


def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (resources.package_dir() / "schemas" / f"{name}.schema.json").read_text()
    )
    return loaded


def plan_json(plan: Plan) -> dict[str, Any]:
    def replicas(found: list[Any]) -> list[dict[str, Any]]:
        return [{"service": e.service, "number": e.number} for e in found]

    return {
        "summary": plan.summary(),
        "changes_nothing": plan.changes_nothing,
        "create": [{"service": service, "number": number} for service, number in plan.create],
        "recreate": replicas(plan.recreate),
        "start": replicas(plan.start),
        "remove": replicas(plan.remove),
        "keep": replicas(plan.keep),
    }


def up_json(result: UpResult) -> dict[str, Any]:
    return {
        "project": result.project,
        "url": result.url,
        "seconds": round(result.seconds, 3),
        "plan": plan_json(result.plan),
        "secrets_file": str(result.secrets_file),
        "rabbitmq_ui": result.rabbitmq_ui,
        "tls_ca_file": None if result.tls_ca_file is None else str(result.tls_ca_file),
    }


def scale_json(project: str, plan: Plan) -> dict[str, Any]:
    return {"project": project, "plan": plan_json(plan)}


def status_json(rows: list[StatusRow]) -> list[dict[str, Any]]:
    return [{**asdict(row), "ports": list(row.ports), "ok": row.ok} for row in rows]


def ledger_json(report: LedgerReport) -> dict[str, Any]:
    return report.to_json()


def load_json(result: LoadResult) -> dict[str, Any]:
    settings, stats = result.settings, result.stats
    return {
        "run_id": settings.run_id,
        "host": settings.host,
        "users": settings.users,
        "peak_users": stats.peak_users,
        "duration_s": settings.duration_s,
        "elapsed_s": round(stats.elapsed_s, 3),
        "thresholds": {
            "max_fail_ratio": settings.max_fail_ratio,
            "max_p95_ms": settings.max_p95_ms,
        },
        "ok": not result.broken,
        "broken": list(result.broken),
        "interrupted": result.interrupted,
        "report_dir": str(settings.report_dir),
        "files": [str(path) for path in result.files],
        "endpoints": [{**asdict(row), "fail_ratio": row.fail_ratio} for row in stats.rows],
    }


def proof_json(command: str, result: ProofResult) -> dict[str, Any]:
    traffic = result.traffic
    return {
        "command": command,
        "run_id": result.run_id,
        "seconds": round(result.seconds, 3),
        "traffic": {
            "accepted": traffic.accepted,
            "refused": traffic.refused,
            "rejected": traffic.rejected,
            "errors": traffic.errors,
        },
        "faults": [asdict(event) for event in result.faults],
        "ledger": ledger_json(result.report),
        # chaos --node-fault: each service's running tasks against its count, after the faults
        "replicas": [asdict(count) for count in result.replicas],
        # --report: where the run's HTML report was written
        "report": None if result.html_report is None else str(result.html_report.html_file),
    }
