"""Committed messages/s with nothing lost: the stack on 1 node vs 3 nodes of the Swarm lab
(issue 16), same senders, receivers and load.

    .venv/bin/python bench/swarm.py [--lab NAME] [--runs 2] [--seconds 20] [--users 24]

On the lab's Swarm (an existing one with --lab, else one made here and removed at the end), one
stack: 3 senders, 6 receivers, work that is free and never fails (MAX_DELAY=0, FAIL_RATE=0), so
the pipeline is what is measured. Each run puts the senders and receivers on the manager only
("1 node": the two workers drained) or spread over all three ("3 nodes"): scaled to 0, the
workers drained or made active, scaled back (fresh tasks are placed by the spread preference).
The two layouts alternate, the first one swapping each round. The load is the same each time:
`mafa load --workers 3`, closed-loop users sending through the JSON API only; locust's workers
go where the Swarm may place them (on the manager with "1 node"). The rate is the receivers'
commits of the run (their own times, the middle 80 %, as bench/pipeline.py), counted once every
accepted message is processed and the ledger says nothing was lost.

All three nodes are containers on this one machine: they share its cores (and the other
engineers' load), so "3 nodes" cannot add CPU; what it shows is the cost or gain of spreading
over the overlay network (VXLAN between the nodes' engines), not what three hosts would give.
One correction keeps that so on a busy machine: the kernel shares a contended CPU between the
containers by weight, so three busy node containers would get three times the CPU one gets. With
"1 node" the manager's container gets the weight of three (`docker update --cpu-shares`), so the
lab weighs the same in both layouts; --no-same-weight leaves the weights alone.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from common import commits, mafa

from mafa_cli import engine_lab
from mafa_cli.engine.swarm import SwarmEngine
from mafa_cli.stack.access import StackClient

PROJECT = "benchswarm"
PORT = "18995"
SENDERS, RECEIVERS = "3", "6"
SHARES = 1024  # a container's CPU weight by default


class Bench:
    def __init__(self, lab: engine_lab.SwarmLab, state: str, same_weight: bool) -> None:
        self.lab = lab
        self.state = state
        self.swarm = SwarmEngine.connect(lab.docker_host)
        self.same_weight = same_weight

    def weigh_manager(self, shares: int) -> None:
        """The CPU weight of the manager's container, on this host's engine (not the lab's)."""
        host_env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
        subprocess.run(
            ["docker", "update", "--cpu-shares", str(shares),
             engine_lab.container_name(self.lab.manager.name)],
            check=True, capture_output=True, env=host_env,
        )  # fmt: skip

    def mafa(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = mafa(self.state, *args)
        if result.returncode != 0:
            raise SystemExit(f"mafa {args[0]} failed: {result.stdout}\n{result.stderr}")
        return result

    def layout(self, nodes: int) -> dict[str, int]:
        """Senders and receivers on the manager only (1) or spread over every node (3); the
        running app tasks per node."""
        self.mafa("scale", "-p", PROJECT, "--senders", "0", "--receivers", "0")
        for node in self.lab.nodes[1:]:
            availability = "drain" if nodes == 1 else "active"
            subprocess.run(
                ["docker", "node", "update", "--availability", availability,
                 engine_lab.container_name(node.name)],
                check=True, capture_output=True,
            )  # fmt: skip
        if self.same_weight:
            self.weigh_manager(SHARES * (len(self.lab.nodes) if nodes == 1 else 1))
        self.mafa("scale", "-p", PROJECT, "--senders", SENDERS, "--receivers", RECEIVERS)
        counts: dict[str, int] = {}
        for task in self.swarm.tasks(PROJECT):
            if task.service in ("sender", "receiver") and task.state == "running":
                counts[task.node] = counts.get(task.node, 0) + 1
        return counts

    def one_run(self, seconds: int, users: int) -> dict[str, float]:
        report = Path(self.state) / f"run-{uuid.uuid4().hex[:6]}"
        result = self.mafa(
            "load", "-p", PROJECT, "--workers", "3", "--users", str(users),
            "--spawn-rate", str(users), "--think-time", "0",
            "--weights", "api=1,form=0,results=0,reset=0,page=0",
            "--duration", f"{seconds}s", "--report", str(report),
        )  # fmt: skip
        run_id = next(
            line.split()[2] for line in result.stdout.splitlines() if line.startswith("load run ")
        )
        deadline = time.monotonic() + 600
        while True:  # every accepted message processed (or parked): the verdict is final
            answer = mafa(self.state, "ledger", "-p", PROJECT, "--run", run_id, "--json")
            ledger = json.loads(answer.stdout)
            if ledger["conclusive"]:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"{run_id} still pending after 600 s: {ledger}")
            time.sleep(2)
        with StackClient(PROJECT) as client:
            _, _, rate = commits(client, run_id)
        return {
            "rate": rate,
            "accepted": float(ledger["accepted"]),
            "lost": float(ledger["lost"]),
            "duplicates": float(ledger["duplicate_effects"]),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--lab", help="an existing lab (engine_lab swarm start NAME)")
    parser.add_argument("--runs", type=int, default=2, help="runs of each layout")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--users", type=int, default=24)
    parser.add_argument(
        "--same-weight",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the lab's CPU weight the same in both layouts (see above)",
    )
    args = parser.parse_args()
    made = args.lab is None
    name = args.lab or f"bench{uuid.uuid4().hex[:4]}"
    lab = (
        engine_lab.start_swarm(name, engine_lab.OFFLINE_IMAGES)
        if made
        else engine_lab.SwarmLab(
            name,
            tuple(
                engine_lab.EngineLab(
                    engine_lab.node_name(name, n),
                    engine_lab.container_name(engine_lab.node_name(name, n)),
                    engine_lab.socket_dir(engine_lab.node_name(name, n)),
                )
                for n in range(1, engine_lab.SWARM_NODES + 1)
            ),
            f"{engine_lab.registry_container(name)}:{engine_lab.REGISTRY_PORT}",
        )
    )
    state = tempfile.mkdtemp(prefix="mafa-bench-swarm-")
    os.environ |= {"MAFA_STATE_DIR": state, "DOCKER_HOST": lab.docker_host}
    bench = Bench(lab, state, args.same_weight)
    try:
        bench.mafa(
            "up", "-p", PROJECT, "--swarm", "--registry", lab.registry, "--port", PORT,
            "--senders", SENDERS, "--receivers", RECEIVERS, "--images", "offline",
            "--max-delay", "0", "--fail-rate", "0", "--timeout", "900",
        )  # fmt: skip
        print(
            f"{SENDERS} senders, {RECEIVERS} receivers, free work; {args.users} closed-loop users"
            f" from 3 locust workers, {args.seconds}s a run; same CPU weight: {args.same_weight};"
            " load average before:"
            f" {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        results: dict[int, list[dict[str, float]]] = {1: [], 3: []}
        for round_number in range(args.runs):
            for nodes in (1, 3) if round_number % 2 == 0 else (3, 1):
                spread = bench.layout(nodes)
                run = bench.one_run(args.seconds, args.users)
                results[nodes].append(run)
                print(
                    f"{nodes} node(s) {spread}: {run['rate']:6.0f} messages/s committed,"
                    f" accepted {run['accepted']:.0f}, lost {run['lost']:.0f},"
                    f" duplicate effects {run['duplicates']:.0f},"
                    f" load average {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
        for nodes, runs in results.items():
            print(
                f"median, {nodes} node(s): {statistics.median(r['rate'] for r in runs):6.0f}"
                f" messages/s committed; lost {max(r['lost'] for r in runs):.0f}"
                f" (of {len(runs)} runs)"
            )
    finally:
        if args.same_weight:
            bench.weigh_manager(SHARES)
        for node in lab.nodes[1:]:
            subprocess.run(
                ["docker", "node", "update", "--availability", "active",
                 engine_lab.container_name(node.name)],
                check=False, capture_output=True,
            )  # fmt: skip
        mafa(state, "down", "-p", PROJECT, "--volumes")
        if made:
            engine_lab.stop_swarm(name)


if __name__ == "__main__":
    main()
