"""Service settings from the environment: defaults, conversions, refusals."""

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


def test_conninfo_quotes_the_password() -> None:
    s = settings(MAFA_DB_PASSWORD="it's a \\ pass")
    assert "password='it\\'s a \\\\ pass'" in s.db_conninfo


def test_every_setting_is_documented() -> None:
    rows = documented_settings()
    names = [name for name, _, _ in rows]
    assert len(names) == len(set(names))
    assert all(name.startswith("MAFA_") and help_text for name, _, help_text in rows)
    assert ("MAFA_FAIL_RATE", "0.2", "chance a delivery attempt fails, 0..1") in rows
