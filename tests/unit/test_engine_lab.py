import pytest

from mafa_cli import engine_lab
from mafa_cli.engine_lab import node_of, partition_rules, partition_script
from mafa_cli.errors import MafaError


def test_a_lab_nodes_host_name_names_its_lab_and_node() -> None:
    assert node_of("mafa-engine-chaos-2") == ("chaos", "chaos-2")
    assert node_of("mafa-engine-my-lab-3") == ("my-lab", "my-lab-3")


@pytest.mark.parametrize("hostname", ["worker-2", "mafa-engine-solo", "mafa-engine--2", "x"])
def test_a_host_that_is_no_lab_node_is_refused(hostname: str) -> None:
    with pytest.raises(MafaError, match="is not a node of a lab") as refused:
        node_of(hostname)
    assert refused.value.hint == "its nodes are named mafa-engine-LAB-1 and so on"


def test_a_cut_drops_every_way_to_and_from_each_peer() -> None:
    assert partition_rules(["10.0.0.2", "10.0.0.9"]) == [
        ["INPUT", "-s", "10.0.0.2", "-j", "DROP"],
        ["OUTPUT", "-d", "10.0.0.2", "-j", "DROP"],
        ["FORWARD", "-s", "10.0.0.2", "-j", "DROP"],
        ["FORWARD", "-d", "10.0.0.2", "-j", "DROP"],
        ["INPUT", "-s", "10.0.0.9", "-j", "DROP"],
        ["OUTPUT", "-d", "10.0.0.9", "-j", "DROP"],
        ["FORWARD", "-s", "10.0.0.9", "-j", "DROP"],
        ["FORWARD", "-d", "10.0.0.9", "-j", "DROP"],
    ]


def test_a_cut_is_one_script_stopping_at_a_failure_and_a_heal_removes_every_copy() -> None:
    assert partition_script("cut", ["10.0.0.2"]) == (
        "iptables -I INPUT -s 10.0.0.2 -j DROP && iptables -I OUTPUT -d 10.0.0.2 -j DROP && "
        "iptables -I FORWARD -s 10.0.0.2 -j DROP && iptables -I FORWARD -d 10.0.0.2 -j DROP"
    )
    heal = partition_script("heal", ["10.0.0.2"])
    assert heal.startswith("while iptables -D INPUT -s 10.0.0.2 -j DROP 2>/dev/null; do :; done; ")
    assert heal.count("while iptables -D") == 4


@pytest.mark.parametrize(
    "words",
    [["node", "reboot", "mafa-engine-a-2"], ["node", "kill"], ["node", "kill", "a", "b", "c"]],
)
def test_the_node_hook_refuses_other_words(
    words: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as ended:
        engine_lab.main(words)
    assert ended.value.code == 2
    assert "expected: node {kill,start,cut,heal} HOSTNAME [ADDRESS]" in capsys.readouterr().err


def test_the_node_hook_says_a_foreign_host_is_no_lab_node(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert engine_lab.main(["node", "kill", "db-7", "10.0.0.7"]) == 1
    assert capsys.readouterr().err.startswith("error: 'db-7' is not a node of a lab")
