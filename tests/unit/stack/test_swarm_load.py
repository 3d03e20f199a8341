"""`mafa load --workers K` on a Swarm, without an engine: which runs get workers on the Swarm,
what a worker runs, how a host outside the Swarm joins, where the master listens."""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from mafa_cli.errors import UsageError
from mafa_cli.load.runner import LoadSettings
from mafa_cli.stack import swarm_load
from mafa_cli.stack.swarm_load import SwarmWorkers, load_image_name, master_address, prepare_run
from tests.unit.load.test_runner import settings as runner_settings
from tests.unit.stack.test_operations import settings as up_settings


def settings(**changes: Any) -> LoadSettings:
    return runner_settings(**{"workers": 3, **changes})


def workers() -> SwarmWorkers:
    return SwarmWorkers(
        engine=None,  # type: ignore[arg-type]  # not used by what is tested here
        project="demo",
        image="reg:5000/mafa/app-locust:x",
        count=3,
        bind_host="10.0.9.1",
        port=5557,
        environment={"MAFA_RUN_ID": "run-x", "MAFA_LOAD_SHAPE": "", "MAFA_LOAD_HOST": "inside"},
        balancer_outside="http://10.0.9.2:8080",
    )


def test_the_load_image_is_named_after_the_app_image() -> None:
    assert load_image_name("mafa/app:load") == "mafa/app-locust:load"
    assert load_image_name("mafa/app") == "mafa/app-locust"
    assert load_image_name("127.0.0.1:5000/app") == "127.0.0.1:5000/app-locust"
    assert load_image_name("127.0.0.1:5000/mafa/app:v2") == "127.0.0.1:5000/mafa/app-locust:v2"


def test_a_worker_runs_the_user_classes_and_reaches_the_master_where_it_listens() -> None:
    command = workers().command()
    assert command[:4] == ("locust", "-f", swarm_load.LOCUSTFILE_IN_IMAGE, "--worker")
    assert command[command.index("--master-host") + 1] == "10.0.9.1"
    assert command[command.index("--master-port") + 1] == "5557"


def test_the_join_command_aims_an_outside_worker_at_the_published_balancer() -> None:
    words = shlex.split(workers().join_command())
    assert words[:3] == ["docker", "run", "--rm"]
    assert "MAFA_LOAD_HOST=http://10.0.9.2:8080" in words, "not the stack's inside name"
    assert "MAFA_RUN_ID=run-x" in words, "its messages count in this run's ledger"
    assert not [w for w in words if w.startswith("MAFA_LOAD_SHAPE")], "empty settings left out"
    assert "reg:5000/mafa/app-locust:x" in words
    assert words[-4:] == ["--master-host", "10.0.9.1", "--master-port", "5557"]


def test_a_run_without_workers_or_at_a_given_host_is_left_as_it_is() -> None:
    plain = settings(workers=0, project=None)
    assert prepare_run(plain, None, reporter=None) == (plain, None)  # type: ignore[arg-type]
    elsewhere = settings(project=None)  # --host: not a project's stack
    assert prepare_run(elsewhere, None, reporter=None) == (elsewhere, None)  # type: ignore[arg-type]


def test_master_host_without_workers_on_a_swarm_is_refused() -> None:
    with pytest.raises(UsageError, match="--master-host goes with --workers"):
        prepare_run(settings(project=None), "10.0.0.5", reporter=None)  # type: ignore[arg-type]


def test_a_manager_that_advertises_the_loopback_needs_a_master_host() -> None:
    with pytest.raises(UsageError) as refused:
        master_address("127.0.0.1")
    assert "--master-host" in (refused.value.hint or "")


def test_workers_on_a_swarm_project_that_serves_https_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    on_tls = up_settings(swarm=True, tls=True)
    monkeypatch.setattr(swarm_load, "saved_settings", lambda project: on_tls)
    with pytest.raises(UsageError, match="serves HTTPS") as refused:
        prepare_run(settings(project=on_tls.project), None, reporter=None)  # type: ignore[arg-type]
    assert "without --workers" in (refused.value.hint or "")
