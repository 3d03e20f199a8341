"""mafa past one machine: a 3-node Docker Swarm made on this machine (engines in containers on one
bridge network, mafa_cli/engine_lab.py) with its registry. The lab is shared by every test here
(one per session: it is heavy on 2 cores)."""

from __future__ import annotations

import subprocess

from mafa_cli.engine_lab import REGISTRY_PORT, SwarmLab, container_name, registry_container


def test_the_lab_is_a_three_node_swarm_with_a_registry_every_node_reaches(
    swarm_lab: SwarmLab,
) -> None:
    nodes = swarm_lab.node_list()
    assert [(n.role, n.state, n.availability) for n in nodes] == [
        ("manager", "ready", "active"),
        ("worker", "ready", "active"),
        ("worker", "ready", "active"),
    ]
    assert nodes[0].leader
    assert sorted(n.hostname for n in nodes) == [container_name(n.name) for n in swarm_lab.nodes]
    assert len({n.address for n in nodes}) == 3, "each node advertises its own address"

    # The registry answers the distribution API on the lab network, from every node.
    probe = (
        f"exec 3<>/dev/tcp/{registry_container(swarm_lab.name)}/{REGISTRY_PORT} && "
        "printf 'GET /v2/ HTTP/1.0\\r\\n\\r\\n' >&3 && head -1 <&3 | grep -q ' 200 '"
    )
    for node in swarm_lab.nodes:
        answered = subprocess.run(
            ["docker", "exec", container_name(node.name), "bash", "-c", probe], check=False
        )
        assert answered.returncode == 0, f"{node.name} cannot reach the registry"
