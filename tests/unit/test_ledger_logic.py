"""The ledger's pure parts: which table names are refused, what an older
ledger needs to reach the current shape, times read back with their zone.
"""

from __future__ import annotations

from datetime import datetime
from datetime import timezone

import pytest
from sqlalchemy import DateTime
from sqlalchemy.dialects import mysql

from alembic_flask_env.errors import InvalidSetting
from alembic_flask_env.ledger.reading import _utc
from alembic_flask_env.ledger.reading import render
from alembic_flask_env.ledger.settings import LedgerSettings
from alembic_flask_env.ledger.settings import check_table_name
from alembic_flask_env.ledger.shape import _upgrades
from alembic_flask_env.ledger.table import ledger_table


@pytest.mark.parametrize(
    ("dialect", "length", "refused"),
    [
        ("postgresql", 63, False),
        ("postgresql", 64, True),
        ("mysql", 64, False),
        ("mariadb", 65, True),
        ("sqlite", 200, False),
    ],
)
def test_the_servers_identifier_limits(
    dialect: str, length: int, refused: bool
) -> None:
    settings = LedgerSettings(table="l" * length)
    if refused:
        with pytest.raises(InvalidSetting, match=f"is {length} characters long"):
            check_table_name(settings, dialect, "alembic_version")
    else:
        check_table_name(settings, dialect, "alembic_version")


def test_the_version_table_is_never_the_ledger() -> None:
    with pytest.raises(InvalidSetting, match="names the version table"):
        check_table_name(
            LedgerSettings(table="Deploy_Version"), "sqlite", "deploy_version"
        )
    check_table_name(LedgerSettings(), "sqlite", "alembic_version")


def test_an_older_ledger_gets_the_column_and_mysql_microseconds() -> None:
    old: list[dict[str, object]] = [
        {"name": "id", "type": None},
        {"name": "started_at", "type": mysql.DATETIME()},
    ]
    assert _upgrades("mysql", "`l`", old) == [
        "ALTER TABLE `l` ADD COLUMN version_table VARCHAR(255)",
        "ALTER TABLE `l` MODIFY started_at DATETIME(6) NOT NULL",
    ]
    current: list[dict[str, object]] = [
        {"name": "VERSION_TABLE", "type": None},
        {"name": "started_at", "type": mysql.DATETIME(fsp=6)},
    ]
    assert _upgrades("mysql", "`l`", current) == []
    assert _upgrades("postgresql", '"l"', [{"name": "started_at", "type": None}]) == [
        'ALTER TABLE "l" ADD COLUMN version_table VARCHAR(255)'
    ]


def test_times_are_read_back_in_utc() -> None:
    naive = datetime(2026, 12, 3, 9, 39, 58, 331024)
    assert _utc(naive) == "2026-12-03T09:39:58.331024+00:00"
    aware = naive.replace(tzinfo=timezone.utc)
    assert _utc(aware) == "2026-12-03T09:39:58.331024+00:00"


def test_the_mysql_table_keeps_microseconds_and_the_others_a_zone() -> None:
    started = ledger_table("l", None, "mysql").c.started_at.type
    assert isinstance(started, mysql.DATETIME) and started.fsp == 6
    started = ledger_table("l", None, "postgresql").c.started_at.type
    assert isinstance(started, DateTime) and started.timezone


def test_a_failure_outside_any_revision_names_none() -> None:
    step = {
        "direction": "upgrade",
        "from_revision": None,
        "revision": None,
        "outcome": "failed",
        "duration_s": 0.5,
        "error": "lost",
    }
    run = {
        "started_at": "t",
        "os_user": "u",
        "host": "h",
        "app": "a",
        "command": "c",
        "steps": [
            step,
            {**step, "outcome": "applied", "revision": "r1", "error": None},
        ],
    }
    assert render([run], "text").splitlines()[1:] == [
        "  upgrade (outside any revision)  failed in 0.50 s: lost",
        "  upgrade <base> -> r1  applied in 0.50 s",
    ]
