"""Service settings from the environment: defaults, conversions, refusals."""

from pathlib import Path

import pytest

from mafa_cli.services.settings import ServiceSettings, SettingsError, documented_settings

SECRETS = {
    "MAFA_SECRET_KEY": "k",
    "MAFA_DB_PASSWORD": "d",
    "MAFA_AMQP_PASSWORD": "a",
    "MAFA_REDIS_PASSWORD": "r",
}


def settings(**env: str) -> ServiceSettings:
    return ServiceSettings.from_env({"MAFA_ROLE": "receiver", **SECRETS, **env})


def test_defaults_are_the_original_demos() -> None:
    s = settings()
    assert (s.max_delay_s, s.fail_rate, s.session_lifetime_s) == (5.0, 0.2, 60)
    assert (s.db_user, s.amqp_user) == ("mafa_receiver", "mafa_receiver")  # its own, never admin
    assert s.node_name.startswith("receiver-")
    assert len(s.node_name) == len("receiver-") + 8


def test_values_are_converted() -> None:
    s = settings(MAFA_FAIL_RATE="0.5", MAFA_CONSUMERS="4", MAFA_NODE_NAME="r1")
    assert (s.fail_rate, s.consumers, s.node_name) == (0.5, 4, "r1")


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_every_secret_is_required(name: str) -> None:
    env = {"MAFA_ROLE": "sender", **SECRETS}
    del env[name]
    with pytest.raises(SettingsError, match=name):
        ServiceSettings.from_env(env)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MAFA_FAIL_RATE": "1.5"}, "MAFA_FAIL_RATE"),
        ({"MAFA_FAIL_RATE": "lots"}, "MAFA_FAIL_RATE='lots'"),
        ({"MAFA_MAX_DELAY": "-1"}, "MAFA_MAX_DELAY"),
        ({"MAFA_CONSUMERS": "0"}, "consumers"),
        ({"MAFA_ROLE": "both"}, "MAFA_ROLE"),
    ],
)
def test_bad_values_are_refused_by_name(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        settings(**env)


def test_a_secret_may_come_from_the_file_its_FILE_variable_names(tmp_path: Path) -> None:
    # As a Swarm secret mounts it: /run/secrets/<name>, the variable holds only the path.
    (tmp_path / "db").write_text("from-a-file\n")
    env = {k: v for k, v in SECRETS.items() if k != "MAFA_DB_PASSWORD"}
    s = ServiceSettings.from_env(
        {"MAFA_ROLE": "sender", **env, "MAFA_DB_PASSWORD_FILE": str(tmp_path / "db")}
    )
    assert s.db_password == "from-a-file", "the editor's final newline is not the password's"


def test_a_secret_file_that_cannot_be_read_or_a_secret_set_twice_is_refused(
    tmp_path: Path,
) -> None:
    env = {"MAFA_ROLE": "sender", **SECRETS}
    del env["MAFA_REDIS_PASSWORD"]
    with pytest.raises(SettingsError, match=r"MAFA_REDIS_PASSWORD_FILE=.*cannot be read"):
        ServiceSettings.from_env({**env, "MAFA_REDIS_PASSWORD_FILE": str(tmp_path / "missing")})
    (tmp_path / "r").write_text("r")
    with pytest.raises(SettingsError, match="both set"):
        settings(MAFA_REDIS_PASSWORD_FILE=str(tmp_path / "r"))  # MAFA_REDIS_PASSWORD too


def test_conninfo_quotes_the_password() -> None:
    s = settings(MAFA_DB_PASSWORD="it's a \\ pass")
    assert "password='it\\'s a \\\\ pass'" in s.db_conninfo


def test_every_setting_is_documented() -> None:
    rows = documented_settings()
    names = [name for name, _, _ in rows]
    assert len(names) == len(set(names))
    assert all(name.startswith("MAFA_") and help_text for name, _, help_text in rows)
    assert ("MAFA_FAIL_RATE", "0.2", "chance a delivery attempt fails, 0..1") in rows
