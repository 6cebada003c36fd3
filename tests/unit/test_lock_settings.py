"""The lock settings and the lock key."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from alembic.config import Config

from alembic_flask_env.errors import InvalidSetting
from alembic_flask_env.runtime.lock.keys import lock_id
from alembic_flask_env.runtime.lock.keys import mysql_lock_name
from alembic_flask_env.runtime.lock.settings import DEFAULT_TIMEOUT_SECONDS
from alembic_flask_env.runtime.lock.settings import read_lock_settings

ConfigFactory = Callable[..., Config]


@pytest.mark.parametrize(
    ("value", "enabled"),
    [
        ("true", True),
        ("Yes", True),
        ("on", True),
        ("1", True),
        ("false", False),
        ("NO", False),
        ("off", False),
        ("0", False),
    ],
)
def test_migration_lock_booleans(
    make_config: ConfigFactory, value: str, enabled: bool
) -> None:
    settings = read_lock_settings(make_config(f"migration_lock = {value}\n"), {})
    assert settings.enabled is enabled


def test_defaults(make_config: ConfigFactory) -> None:
    settings = read_lock_settings(make_config(), {})
    assert settings.enabled is True
    assert settings.timeout == DEFAULT_TIMEOUT_SECONDS
    assert settings.timeout_setting.source == "the default"


@pytest.mark.parametrize("value", ["0", "0.5", "600", "1e3"])
def test_finite_timeouts_of_zero_or_more(
    make_config: ConfigFactory, value: str
) -> None:
    settings = read_lock_settings(make_config(), {"migration_lock_timeout": value})
    assert settings.timeout == float(value)


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e309", "-1", "soon", "5s"])
def test_other_timeouts_are_refused(make_config: ConfigFactory, value: str) -> None:
    with pytest.raises(
        InvalidSetting, match=r"is not a number of seconds \(finite, 0 or more\)"
    ):
        read_lock_settings(make_config(), {"migration_lock_timeout": value})


def test_a_non_boolean_lock_is_refused(make_config: ConfigFactory) -> None:
    with pytest.raises(InvalidSetting, match="is not a boolean"):
        read_lock_settings(make_config("migration_lock = maybe\n"), {})


def test_one_signed_64_bit_key_per_version_table() -> None:
    keys = {
        lock_id("alembic_version", None),
        lock_id("alembic_version", "other"),
        lock_id("users_version", None),
    }
    assert len(keys) == 3
    assert all(-(2**63) <= key < 2**63 for key in keys)
    assert lock_id("alembic_version", None) == lock_id("alembic_version", None)


def test_mysql_lock_names_are_per_database_and_fit_in_64_characters() -> None:
    names = {
        mysql_lock_name("app_a", "alembic_version", None),
        mysql_lock_name("app_b", "alembic_version", None),
        mysql_lock_name("app_a", "users_version", None),
    }
    assert len(names) == 3
    assert all(len(name) <= 64 for name in names)
    # A version table in a named schema is the same table from any database.
    assert mysql_lock_name("app_a", "alembic_version", "shared") == (
        mysql_lock_name("app_b", "alembic_version", "shared")
    )
    assert mysql_lock_name("shared", "alembic_version", None) == (
        mysql_lock_name("app_b", "alembic_version", "shared")
    )
