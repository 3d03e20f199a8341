from pathlib import Path

import pytest

from mafa_cli.config import default_compose_file
from mafa_cli.stack.compose_model import load, parse
from mafa_cli.stack.swarm_spec import NAMESPACE, PublishedPort, service_spec, stack_specs
from mafa_cli.state import SECRET_NAMES

SECRETS = {name: f"secret-{i}" for i, name in enumerate(SECRET_NAMES)}


def test_the_shipped_stack_becomes_services_named_and_labelled_as_a_stack() -> None:
    model = load(default_compose_file(), SECRETS)
    replicas = dict.fromkeys(model.services, 1) | {"sender": 3, "receiver": 6}
    app = model.services["sender"].image
    specs = stack_specs("demo", model, replicas, {app: f"reg:5000/{app}"})
    by_service = {spec.service: spec for spec in specs}
    assert [spec.service for spec in specs][-1] == "haproxy", "in start order"
    assert by_service["sender"].name == "demo_sender"
    assert by_service["receiver"].replicas == 6
    assert all((NAMESPACE, "demo") in spec.labels for spec in specs)
    assert all(spec.endpoint_mode == "dnsrr" for spec in specs), "no IPVS needed"
    # The app image from the registry; an image not pushed keeps its own name.
    assert by_service["sender"].image == f"reg:5000/{app}"
    assert by_service["redis"].image == model.services["redis"].image
    # Stateful services stay with their volume; the balancer is published on its node's port.
    assert by_service["postgres"].constraints == ("node.role == manager",)
    assert [m.source for m in by_service["postgres"].mounts] == ["demo_postgres-data"]
    assert by_service["haproxy"].ports == (PublishedPort(8080, 8080, "host"),)
    assert by_service["receiver"].spread == ("node.id",)


def test_a_bind_mount_cannot_go_to_a_swarm() -> None:
    model = parse("services:\n  a:\n    image: x\n    volumes: ['./d:/d']\n", {}, Path("/tmp"))
    with pytest.raises(ValueError, match="bind mounts"):
        service_spec("p", model.services["a"], 1)
