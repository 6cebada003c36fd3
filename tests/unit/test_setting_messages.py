"""The exact message of each refused setting value, in-process.

tests/test_edges.py shows each kind of refusal end to end, through the
``alembic`` script, with one value (and that nothing was connected to or
written); the other values of a kind take the same path to the same
reader, so they are checked here, where each costs no ``alembic`` process
(a second of CPU, more under coverage).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from alembic.config import Config

from alembic_flask_env.checks.settings import read_checks_settings
from alembic_flask_env.errors import InvalidSetting
from alembic_flask_env.expand.backfill import read_backfill_settings
from alembic_flask_env.runtime.connection import read_connect_timeout
from alembic_flask_env.runtime.lock.settings import read_lock_settings
from alembic_flask_env.runtime.table_locks import read_table_lock_settings
from alembic_flask_env.settings import find_setting

ConfigFactory = Callable[..., Config]


def refusal(read: Callable[[], object]) -> str:
    with pytest.raises(InvalidSetting) as raised:
        read()
    return str(raised.value)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            "migration_lock = 1",
            "migration_lock = 1 (from [tool.alembic] in pyproject.toml) is an"
            " integer, which migration_lock cannot be. It takes a string or a"
            " boolean, for example migration_lock = false.",
        ),
        (
            "migration_lock_timeout = true",
            "migration_lock_timeout = True (from [tool.alembic] in"
            " pyproject.toml) is a boolean, which migration_lock_timeout cannot"
            " be. It takes a string, an integer or a float, for example"
            " migration_lock_timeout = 600.",
        ),
        (
            'migration_lock_timeout = ["1"]',
            "migration_lock_timeout = ['1'] (from [tool.alembic] in"
            " pyproject.toml) is a list of strings, which migration_lock_timeout"
            " cannot be. It takes a string, an integer or a float, for example"
            " migration_lock_timeout = 600.",
        ),
        (
            "flask_metadata = {module = 'x'}",
            "flask_metadata = {'module': 'x'} (from [tool.alembic] in"
            " pyproject.toml) is a dict, which flask_metadata cannot be. It"
            " takes a string, for example flask_metadata ="
            ' "yourpackage.models:Base.metadata".',
        ),
    ],
)
def test_pyproject_values_of_a_type_the_key_does_not_take(
    make_config: ConfigFactory, table: str, message: str
) -> None:
    """(End to end: test_edges, with flask_app = 1.)"""
    key = table.split(" =")[0]
    config = make_config("", table + "\n")
    assert refusal(lambda: find_setting(config, {}, key)) == message


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("migration_lock_timeout", "5%"),
        ("flask_metadata", "blogapp.models:%(nothing)s"),
    ],
)
def test_a_percent_in_one_of_our_ini_keys(
    make_config: ConfigFactory, key: str, value: str
) -> None:
    """(End to end: test_edges, with flask_app.)"""
    config = make_config(f"{key} = {value}\n")
    assert refusal(lambda: find_setting(config, {}, key)) == (
        f"{key} = {value!r} (from [alembic] in alembic.ini) has a '%' that the"
        " ini file reads as the start of a %(name)s substitution. Write each"
        f" literal '%' in {key} as '%%'."
    )


@pytest.mark.parametrize("timeout", ["1e309", "-1", "nan", "-0.5"])
def test_a_lock_timeout_that_is_no_finite_number_of_seconds(
    make_config: ConfigFactory, timeout: str
) -> None:
    """(End to end: test_edges, with inf.)"""
    x_arguments = {"migration_lock_timeout": timeout}
    assert refusal(lambda: read_lock_settings(make_config(), x_arguments)) == (
        f"migration_lock_timeout = {timeout!r} (from -x"
        " migration_lock_timeout=...) is not a number of seconds (finite, 0 or"
        " more). Set migration_lock_timeout to how long to wait for another"
        " migration run, for example migration_lock_timeout = 600 (0: do not"
        " wait)."
    )


def test_a_table_lock_timeout_far_longer_than_postgresql_takes(
    make_config: ConfigFactory,
) -> None:
    """(End to end: test_edges, with 2147484, one more than it takes.)"""
    x_arguments = {"table_lock_timeout": "1e300"}
    assert refusal(lambda: read_table_lock_settings(make_config(), x_arguments)) == (
        "table_lock_timeout = '1e300' (from -x table_lock_timeout=...) is more"
        " than 2147483 s, the longest table_lock_timeout can be (what"
        " PostgreSQL's lock_timeout takes (2147483647 ms)). Set"
        " table_lock_timeout to a number of seconds from 0 to 2147483, for"
        " example table_lock_timeout = 2."
    )


def test_the_connect_timeout_reader_refuses_what_pymysql_does_not_take(
    make_config: ConfigFactory,
) -> None:
    """The same refusal from the reader the end-to-end case goes through."""
    x_arguments = {"migration_connect_timeout": "40000000"}
    assert refusal(lambda: read_connect_timeout(make_config(), x_arguments)) == (
        "migration_connect_timeout = '40000000' (from -x"
        " migration_connect_timeout=...) is more than 31536000 s, the longest"
        " migration_connect_timeout can be (what PyMySQL's connect_timeout"
        " takes). Set migration_connect_timeout to a number of seconds from 0"
        " to 31536000, for example migration_connect_timeout = 30."
    )


@pytest.mark.parametrize("retries", ["③", "\u0661", "1_0"])
def test_a_count_in_digits_python_reads_but_int_does_not(
    make_config: ConfigFactory, retries: str
) -> None:
    """(End to end: test_edges, with a superscript two.)"""
    x_arguments = {"table_lock_retries": retries}
    assert refusal(lambda: read_table_lock_settings(make_config(), x_arguments)) == (
        f"table_lock_retries = {retries!r} (from -x table_lock_retries=...) is"
        " not a whole number, 0 or more. Set table_lock_retries to how often to"
        " run a revision again after a lock wait, for example"
        " table_lock_retries = 3."
    )


@pytest.mark.parametrize("rows", ["many", "1.5"])
def test_a_bad_min_rows_is_refused(make_config: ConfigFactory, rows: str) -> None:
    """(End to end: test_safe_migrations, with -1.)"""
    x_arguments = {"migration_checks_min_rows": rows}
    assert refusal(lambda: read_checks_settings(make_config(), x_arguments)) == (
        f"migration_checks_min_rows = {rows!r} (from -x"
        " migration_checks_min_rows=...) is not a whole number, 0 or more. Set"
        " migration_checks_min_rows to the fewest rows a table must have for a"
        " finding to stop the run, for example migration_checks_min_rows = 10000."
    )


def test_a_lock_that_is_no_boolean(make_config: ConfigFactory) -> None:
    """(End to end, -x migration_lock_timeout=soon stands for the -x values
    refused by a reader: test_errors; pyproject's migration_lock = 'maybe':
    test_edges. '-x flask_app' without a value: tests/unit/test_settings.py.)
    """
    x_arguments = {"migration_lock": "maybe"}
    assert refusal(lambda: read_lock_settings(make_config(), x_arguments)) == (
        "migration_lock = 'maybe' (from -x migration_lock=...) is not a"
        " boolean. Set migration_lock = true (the default: one migration run"
        " at a time) or migration_lock = false."
    )


@pytest.mark.parametrize(
    ("x_arguments", "message"),
    [
        (
            {"backfill_batch_size": "0"},
            "backfill_batch_size = '0' (from -x backfill_batch_size=...) is 0; a"
            " backfill batch converts at least one row. Set backfill_batch_size to"
            " 1 or more, for example backfill_batch_size = 10000.",
        ),
        (
            {"backfill_batch_size": "many"},
            "backfill_batch_size = 'many' (from -x backfill_batch_size=...) is not"
            " a whole number, 0 or more. Set backfill_batch_size to the rows a"
            " backfill batch converts, for example backfill_batch_size = 10000.",
        ),
        (
            {"backfill_pause": "-1"},
            "backfill_pause = '-1' (from -x backfill_pause=...) is not a number of"
            " seconds (finite, 0 or more). Set backfill_pause to how long to pause"
            " between two backfill batches, for example backfill_pause = 0.1.",
        ),
    ],
)
def test_a_bad_backfill_setting_is_refused(
    make_config: ConfigFactory, x_arguments: dict[str, str], message: str
) -> None:
    assert refusal(lambda: read_backfill_settings(make_config(), x_arguments)) == (
        message
    )


def test_the_backfill_defaults(make_config: ConfigFactory) -> None:
    """Unset, or empty as the template's blank keys are: the defaults."""
    for x_arguments in ({}, {"backfill_batch_size": "", "backfill_pause": ""}):
        settings = read_backfill_settings(make_config(), x_arguments)
        assert (settings.batch_size, settings.pause) == (10_000, 0.0)
