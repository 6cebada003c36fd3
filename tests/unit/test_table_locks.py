"""The table-lock settings, and reading a lock wait out of an error."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from alembic.config import Config
from sqlalchemy.exc import OperationalError

from alembic_flask_env.errors import InvalidSetting
from alembic_flask_env.runtime.table_locks import is_lock_wait_timeout
from alembic_flask_env.runtime.table_locks import read_table_lock_settings
from alembic_flask_env.runtime.table_locks import table_of

ConfigFactory = Callable[..., Config]


class _PostgreSQLError(Exception):
    sqlstate = "55P03"


def error(statement: str, original: Exception) -> OperationalError:
    return OperationalError(statement, {}, original)


@pytest.mark.parametrize(
    ("statement", "table"),
    [
        ("ALTER TABLE note ADD COLUMN body text", "'note'"),
        ('ALTER TABLE "public"."note" ADD COLUMN body text', "'public.note'"),
        ("ALTER TABLE `note` MODIFY name VARCHAR(120)", "'note'"),
        ("CREATE INDEX ix_note_body ON note (body)", "'note'"),
        ("DROP TABLE IF EXISTS note", "'note'"),
        ("INSERT INTO note VALUES (1)", "'note'"),
        ("SELECT 1", "a table"),
    ],
)
def test_the_table_named_in_the_message(statement: str, table: str) -> None:
    assert table_of(error(statement, Exception())) == table


def test_lock_waits_are_recognised_by_sqlstate_or_mysql_error_number() -> None:
    assert is_lock_wait_timeout(error("ALTER TABLE t", _PostgreSQLError()))
    assert is_lock_wait_timeout(error("ALTER TABLE t", Exception(1205, "Lock wait")))
    assert not is_lock_wait_timeout(error("ALTER TABLE t", Exception(1146, "no table")))
    assert not is_lock_wait_timeout(ValueError("not a database error"))


def test_settings_default_to_waiting_as_the_database_says(
    make_config: ConfigFactory,
) -> None:
    settings = read_table_lock_settings(make_config(), {})
    assert settings.timeout is None
    assert settings.retries == 0


def test_settings_from_pyproject(make_config: ConfigFactory) -> None:
    config = make_config("", "table_lock_timeout = 2.5\ntable_lock_retries = 3\n")
    settings = read_table_lock_settings(config, {})
    assert (settings.timeout, settings.retries) == (2.5, 3)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "table_lock_timeout",
            "soon",
            "is not a number of seconds (finite, 0 or more)",
        ),
        ("table_lock_timeout", "-1", "is not a number of seconds (finite, 0 or more)"),
        ("table_lock_retries", "2.5", "is not a whole number, 0 or more"),
        ("table_lock_retries", "-1", "is not a whole number, 0 or more"),
    ],
)
def test_bad_values_are_refused(
    make_config: ConfigFactory, key: str, value: str, message: str
) -> None:
    with pytest.raises(InvalidSetting) as raised:
        read_table_lock_settings(make_config(), {key: value})
    assert message in str(raised.value)
