"""mafa past one machine: a 3-node Docker Swarm made on this machine (engines in containers on one
bridge network, mafa_cli/engine_lab.py) with its registry, and the stack deployed on it as Swarm
services (`mafa up --swarm`). One lab and one stack are shared by the tests here, in order (the
lab plus a stack is heavy on 2 cores): the lab, the stack spread over it, a live scale under a
trickle, `mafa load --workers 3` with its workers on the nodes, `mafa watch` showing the nodes,
then `mafa smoke --swarm` on the same stack, which ends by removing it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest
import requests

from mafa_cli.engine.swarm import SwarmEngine
from mafa_cli.engine_lab import REGISTRY_PORT, SwarmLab, container_name, registry_container
from mafa_cli.load.plan import MESSAGE_POSTS, messages_accepted, read_stats_csv
from mafa_cli.stack.access import StackClient
from mafa_cli.stack.swarm_spec import LOAD_WORKER, NAMESPACE
from mafa_cli.state import SECRET_NAMES, parse_env_file
from tests.integration.stack import ARTIFACTS, ROOT, mafa, wait_for
from tests.integration.swarm_stack import SwarmStack, swarm_stack_on
from tests.integration.test_watch import capture
from tests.unit.test_outputs import validate


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


@pytest.fixture(scope="module")
def swarm_stack(
    swarm_lab: SwarmLab, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SwarmStack]:
    """`mafa up --swarm --senders 3 --receivers 6` on the lab, shared by the tests below."""
    with swarm_stack_on(swarm_lab, tmp_path_factory.mktemp("swarm-state"), "swarmt") as stack:
        yield stack


def test_up_swarm_spreads_the_stack_over_all_three_nodes_and_serves_pages(
    swarm_stack: SwarmStack,
) -> None:
    nodes = {container_name(node.name) for node in swarm_stack.lab.nodes}
    assert set(swarm_stack.tasks_running()) == nodes, "tasks on every node"
    assert sum(swarm_stack.tasks_running("receiver").values()) == 6
    assert sum(swarm_stack.tasks_running("sender").values()) == 3
    # The stateful services and the balancer stay on the manager with their volumes.
    manager = container_name(swarm_stack.lab.manager.name)
    for service in ("rabbitmq", "postgres", "redis", "haproxy"):
        assert swarm_stack.tasks_running(service) == {manager: 1}, service

    # `docker stack ps` knows the project (the services carry the stack namespace label).
    listed = subprocess.run(
        ["docker", "stack", "ps", swarm_stack.project, "--format", "{{.Name}}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert len(set(listed.stdout.split())) >= 13

    status = mafa("status", "-p", swarm_stack.project, state=swarm_stack.state).stdout
    assert all(node in status for node in nodes), status

    # Pages through the balancer, answered by senders on several nodes.
    url = swarm_stack.balancer()
    home = requests.get(f"{url}/", timeout=10)
    assert home.status_code == 200
    answered_by = set()
    for _ in range(12):
        answer = requests.post(f"{url}/api/messages", json={"message": "hello"}, timeout=10)
        assert answer.status_code == 202, answer.text
        answered_by.add(answer.json()["node"])
    assert len(answered_by) >= 2, f"HAProxy found the senders by DNS: {answered_by}"


def test_scale_receivers_live_under_a_trickle_loses_nothing(swarm_stack: SwarmStack) -> None:
    url = swarm_stack.balancer()
    statuses: list[int] = []
    stop = threading.Event()

    def trickle() -> None:
        session = requests.Session()
        while not stop.is_set():
            try:
                answer = session.post(
                    f"{url}/api/messages", json={"message": "trickle"}, timeout=10
                )
                statuses.append(answer.status_code)
            except requests.RequestException:
                statuses.append(-1)
            time.sleep(0.2)

    sender = threading.Thread(target=trickle)
    sender.start()
    try:
        time.sleep(3)
        receivers_before = swarm_stack.running_task_ids("receiver")
        senders_before = swarm_stack.running_task_ids("sender")
        mafa("scale", "-p", swarm_stack.project, "--receivers", "9", state=swarm_stack.state)
        assert sum(swarm_stack.tasks_running("receiver").values()) == 9
        # A scale adds tasks and replaces none (the engine's first update of a service once
        # rolled every task: engine/swarm.py gives the spec what that update would fill in).
        assert receivers_before <= swarm_stack.running_task_ids("receiver")
        assert senders_before == swarm_stack.running_task_ids("sender")
        time.sleep(3)
    finally:
        stop.set()
        sender.join()
    assert len(statuses) > 10, "the trickle went on through the scale"
    assert set(statuses) == {202}, f"answers while scaling (-1: none): {set(statuses)}"
    deadline = time.monotonic() + 180
    while True:
        ledger = mafa("ledger", "-p", swarm_stack.project, state=swarm_stack.state, check=False)
        if "nothing lost" in ledger.stdout or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert "nothing lost" in ledger.stdout, ledger.stdout + ledger.stderr


def test_passwords_are_swarm_secrets_files_are_configs_and_no_service_definition_holds_one(
    swarm_stack: SwarmStack,
) -> None:
    project = swarm_stack.project
    passwords = parse_env_file((swarm_stack.state / project / "secrets.env").read_text())
    assert sorted(passwords) == sorted(SECRET_NAMES)
    engine = SwarmEngine.connect(swarm_stack.lab.docker_host)
    services = engine.stack_services(project)
    assert len(services) == 6
    for service, service_id in services.items():
        inspected = subprocess.run(
            ["docker", "service", "inspect", service_id], capture_output=True, text=True, check=True
        ).stdout
        # Nowhere in what the manager keeps of the service: env, labels, command, anything.
        leaked = [name for name, value in passwords.items() if value in inspected]
        assert leaked == [], f"{service}: {leaked} in `docker service inspect`"
        container = json.loads(inspected)[0]["Spec"]["TaskTemplate"]["ContainerSpec"]
        mounted = {ref["File"]["Name"] for ref in container.get("Secrets") or []}
        named = {
            value.removeprefix("/run/secrets/")
            for _, _, value in (v.partition("=") for v in container.get("Env") or [])
            if value.startswith("/run/secrets/")
        }
        assert named, f"{service} reads at least one password from a file"
        assert named <= mounted, f"{service}: every *_FILE names a mounted secret"

    # The project's secrets and configs, by the stack's label, as Docker's own listing shows them.
    def listed(kind: str) -> list[str]:
        out = subprocess.run(
            ["docker", kind, "ls", "--filter", f"label={NAMESPACE}={project}",
             "--format", "{{.Name}}"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        return sorted(name.rsplit("_", 1)[0] for name in out.split())

    assert listed("secret") == sorted(f"{project}_{name.lower()}" for name in SECRET_NAMES)
    assert listed("config") == [f"{project}_10-roles.sh", f"{project}_haproxy.cfg"]

    # In a task, the password is the file's content and not on the server's command line.
    redis = next(t for t in engine.tasks(project, "redis") if t.state == "running")
    assert redis.container_id is not None

    def in_redis(*command: str) -> str:
        return subprocess.run(
            ["docker", "exec", redis.container_id, *command],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip

    assert in_redis("cat", "/run/secrets/mafa_redis_password") == passwords["MAFA_REDIS_PASSWORD"]
    assert passwords["MAFA_REDIS_PASSWORD"] not in in_redis("cat", "/proc/1/cmdline")


def test_an_unchanged_up_starts_no_task_and_removes_former_secrets_and_configs(
    swarm_stack: SwarmStack,
) -> None:
    project = swarm_stack.project
    engine = SwarmEngine.connect(swarm_stack.lab.docker_host)
    current = {kind: set(engine.stack_files(kind, project)) for kind in ("secret", "config")}
    # Former versions, as a changed password or haproxy.cfg leaves them: the project's label, a
    # name with another content hash, no service naming them.
    former = {"secret": f"{project}_mafa_redis_password_0000000000",
              "config": f"{project}_haproxy.cfg_0000000000"}  # fmt: skip
    for kind, name in former.items():
        subprocess.run(
            ["docker", kind, "create", "--label", f"{NAMESPACE}={project}", name, "-"],
            input="a former version", capture_output=True, text=True, check=True,
        )  # fmt: skip
    tasks_before = {task.id for task in swarm_stack.running_tasks()}
    answer = swarm_stack.up_again()
    assert "removed 2 former secrets and configs" in answer.stdout, answer.stdout
    assert {kind: set(engine.stack_files(kind, project)) for kind in current} == current
    assert {task.id for task in swarm_stack.running_tasks()} == tasks_before


def test_load_workers_run_one_per_node_and_their_accounting_agrees_with_the_ledger(
    swarm_stack: SwarmStack, tmp_path: Path
) -> None:
    report = tmp_path / "load"
    most_running: dict[str, int] = {}
    stop = threading.Event()

    def watch_workers() -> None:  # the manager's own task listing, while the load runs
        nonlocal most_running
        while not stop.wait(1):
            running = swarm_stack.tasks_running(LOAD_WORKER)
            if sum(running.values()) > sum(most_running.values()):
                most_running = running

    watcher = threading.Thread(target=watch_workers)
    watcher.start()
    try:
        result = mafa(
            "load", "-p", swarm_stack.project, "--workers", "3", "--users", "6",
            "--spawn-rate", "6", "--duration", "15s", "--report", str(report),
            state=swarm_stack.state,
        )  # fmt: skip
    finally:
        stop.set()
        watcher.join()
    nodes = {container_name(node.name) for node in swarm_stack.lab.nodes}
    assert most_running == dict.fromkeys(nodes, 1), "one worker per node"
    assert "against http://haproxy:8080" in result.stdout, "the balancer inside the Swarm"
    assert "docker run --rm" in result.stdout, "the command an outside worker joins with"
    # The worker service is gone once the run ends.
    swarm = SwarmEngine.connect(swarm_stack.lab.docker_host)
    assert LOAD_WORKER not in swarm.stack_services(swarm_stack.project)

    run_id = next(line for line in result.stdout.splitlines() if line.startswith("load run "))
    run_id = run_id.split()[2]
    rows = read_stats_csv((report / "locust_stats.csv").read_text())
    seen_by_locust = messages_accepted(rows)
    assert seen_by_locust > 10
    deadline = time.monotonic() + 120
    while True:  # until every accepted message is processed or parked
        answer = mafa(
            "ledger", "-p", swarm_stack.project, "--run", run_id, "--json",
            state=swarm_stack.state, check=False,
        )  # fmt: skip
        ledger = json.loads(answer.stdout)
        if ledger["conclusive"] or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert ledger["ok"], ledger
    assert ledger["lost"] == 0
    # The stack's count can only be higher than locust's, never lower (a 202 seen = a row
    # written): by the requests still in flight when the users stopped (at most one per user),
    # and by those locust counted as failed that the stack had accepted (a client timeout on a
    # loaded machine; one run here saw 7 more than locust with 6 users).
    failed = sum(r.failures for r in rows if r.name in MESSAGE_POSTS)
    most = seen_by_locust + failed + 6
    assert seen_by_locust <= ledger["accepted"] <= most, (seen_by_locust, failed, ledger)


def test_watch_lists_every_node_with_its_tasks_and_the_host_of_every_row(
    swarm_stack: SwarmStack,
) -> None:
    """`mafa watch --once --json` on the Swarm: all 3 nodes in `hosts`, each with the tasks the
    manager's own listing puts there; every sender and receiver row on one of them. Then the
    dashboard itself at 120x40 in tmux: the hosts panel and the rows' host column (the capture
    is kept under artifacts/)."""
    answer = mafa("watch", "-p", swarm_stack.project, "--once", "--json", state=swarm_stack.state)
    snapshot = json.loads(answer.stdout)
    validate("watch", snapshot)
    nodes = {container_name(node.name) for node in swarm_stack.lab.nodes}
    hosts = {h["name"]: h for h in snapshot["hosts"]}
    assert set(hosts) == nodes
    assert [h["role"] for h in snapshot["hosts"]] == ["manager", "worker", "worker"]
    assert all((h["state"], h["availability"]) == ("ready", "active") for h in hosts.values())
    assert hosts[container_name(swarm_stack.lab.manager.name)]["reachability"] == "reachable"
    listed = swarm_stack.tasks_running()  # read after: the stack is quiet, nothing moves
    assert {n: sum(h["tasks"].values()) for n, h in hosts.items()} == {
        n: listed.get(n, 0) for n in nodes
    }
    for service in ("receiver", "sender"):
        on_nodes = swarm_stack.tasks_running(service)
        assert {n: h["tasks"].get(service, 0) for n, h in hosts.items()} == {
            n: on_nodes.get(n, 0) for n in nodes
        }, service
    # Rows of replicas running now, and of any gone (their node's counts stay in the database):
    # a running one is on a node; a gone one on the node it was last seen on, when this watch saw
    # it there, else none.
    rows = snapshot["receivers"] + snapshot["senders"]
    live = [row for row in rows if (row["container"] or "").startswith(f"{swarm_stack.project}_")]
    assert len(live) == 9 + 3, rows
    assert all(row["host"] in nodes for row in live), live
    assert all(row["host"] in (*nodes, None) for row in rows), rows

    session = f"mafaswarm{swarm_stack.project}"
    command = (
        f"env -u COLUMNS -u LINES TERM=xterm-256color DOCKER_HOST={swarm_stack.lab.docker_host} "
        f"MAFA_STATE_DIR={swarm_stack.state} {sys.executable} -m mafa_cli watch "
        f"-p {swarm_stack.project}; sleep 30"
    )
    new_session = ["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40"]
    subprocess.run([*new_session, "-c", str(ROOT), command], check=True)
    screen = ""
    try:
        host_rows = re.compile(r"(mafa-engine-\S+ +(leader|worker) +ready +active +\d+.*\n){3}")

        def shown() -> bool:
            nonlocal screen
            screen = capture(session)
            return bool(host_rows.search(screen))

        wait_for(shown, 180, "the hosts panel with its 3 nodes")
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "watch-swarm-120x40.txt").write_text(screen)
    lines = screen.splitlines()
    assert all(len(line) <= 120 for line in lines)
    assert "hosts · 3/3 up" in screen
    # The receivers' rows, each with its host's label (the node's number here).
    assert len(re.findall(r"│[ ▶]receiver-\S+ +[123] ", screen)) >= 9


def test_logs_name_every_task_and_follow_the_services_log(swarm_stack: SwarmStack) -> None:
    project, state = swarm_stack.project, swarm_stack.state
    shown = mafa("logs", "receiver", "-p", project, "--tail", "3", state=state).stdout
    named = {line.split(" | ")[0] for line in shown.splitlines() if " | " in line}
    running = {f"{project}_receiver.{task.slot}" for task in swarm_stack.running_tasks("receiver")}
    assert running <= named, "each running task's lines under its own name"

    # Following the broker's log while a watch connects to it: the watch's AMQP connection
    # (named mafa-watch) shows up, from the one rabbitmq task.
    env = {**os.environ, "MAFA_STATE_DIR": str(state), "COLUMNS": "200"}
    command = [sys.executable, "-m", "mafa_cli", "logs", "rabbitmq", "-p", project]
    follow = subprocess.Popen(
        [*command, "--follow", "--tail", "0"], stdout=subprocess.PIPE, text=True, env=env
    )
    followed: list[str] = []
    threading.Thread(target=lambda: followed.extend(follow.stdout or ()), daemon=True).start()
    try:

        def watch_seen() -> bool:
            mafa("watch", "-p", project, "--once", "--json", state=state)
            return any("mafa-watch" in line for line in followed)

        wait_for(watch_seen, 120, "the watch's connection in the followed log")
        assert follow.poll() is None, "still following"
    finally:
        follow.terminate()
        follow.wait(10)
    assert all(line.startswith(f"{project}_rabbitmq.1 | ") for line in followed), followed


def test_tls_gives_the_balancer_its_key_as_a_secret_only_haproxy_reads(
    swarm_stack: SwarmStack,
) -> None:
    """`up --tls` on the running stack: the balancer's tasks are replaced (up waits for that)
    by one that reads the certificate and key from a Swarm secret, mode 0400, owned by HAProxy's
    user; HTTPS answers with mafa's CA through the forward, plain HTTP no longer does."""
    project = swarm_stack.project
    answer = swarm_stack.up_again("--tls")
    assert "replacing the tasks of haproxy" in answer.stdout, answer.stdout
    assert f"https://127.0.0.1:{swarm_stack.port}/" in answer.stdout
    (balancer,) = swarm_stack.running_tasks("haproxy")  # up returned: the new one alone runs
    assert balancer.container_id is not None
    listing = subprocess.run(
        ["docker", "exec", balancer.container_id, "sh", "-c",
         "stat -c '%a %U' /usr/local/etc/haproxy/site.pem; id -un"],
        capture_output=True, text=True, check=True,
    ).stdout.split("\n")  # fmt: skip
    assert listing[:2] == ["400 haproxy", "haproxy"], listing
    ca = swarm_stack.state / project / "tls" / "ca.pem"
    with StackClient(project) as client:  # a new forward, to the new task
        url = client.balancer_url(f"https://127.0.0.1:{swarm_stack.port}")
        sent = requests.post(f"{url}/api/messages", json={"message": "tls"}, verify=ca, timeout=10)
        assert sent.status_code == 202, sent.text
        with pytest.raises(requests.ConnectionError):
            requests.get(url.replace("https://", "http://", 1), timeout=10)


def test_smoke_swarm_is_green_on_the_swarm(swarm_stack: SwarmStack, tmp_path: Path) -> None:
    junit = tmp_path / "smoke.xml"
    # Same project and settings: `up` inside smoke finds the stack as it is, and its messages go
    # through the balancer's forward; it removes the stack at the end (the fixture's down then
    # finds nothing, which it tolerates).
    mafa(
        "smoke",
        "-p",
        swarm_stack.project,
        "--swarm",
        "--registry",
        swarm_stack.lab.registry,
        "--senders",
        "3",
        "--receivers",
        "9",
        "--port",
        str(swarm_stack.port),
        "--messages",
        "200",
        "--junit",
        str(junit),
        "--images",
        "offline",
        "--max-delay",
        "0.2",
        "--fail-rate",
        "0.2",
        "--tls",
        state=swarm_stack.state,
    )  # fmt: skip  (exit 0: nothing lost, nothing unexpected, no effect twice, over HTTPS)
    suite = ElementTree.parse(junit).getroot()
    assert suite.find(".//failure") is None
    assert suite.find(".//error") is None
    engine = SwarmEngine.connect(swarm_stack.lab.docker_host)
    assert engine.stack_services(swarm_stack.project) == {}
    # Its down took the secrets and configs too.
    assert engine.stack_files("secret", swarm_stack.project) == {}
    assert engine.stack_files("config", swarm_stack.project) == {}
