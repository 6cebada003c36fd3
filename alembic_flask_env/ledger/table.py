"""The ledger table: one row per revision step of every run."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlalchemy import DateTime
from sqlalchemy import Float
from sqlalchemy import Integer
from sqlalchemy import MetaData
from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy.types import TypeEngine

#: The longest error text kept: the first line, bounded.
ERROR_LENGTH = 500
COMMAND_LENGTH = 500
#: The column that tells apps sharing a database (each with its own
#: ``version_table``) apart; added to ledgers made before it existed.
VERSION_TABLE_COLUMN = "version_table"
#: SQLAlchemy's names of MySQL and MariaDB (runtime.dialects has the same,
#: a room above this one).
MYSQL_DIALECTS = ("mysql", "mariadb")


def ledger_table(name: str, schema: str | None, dialect: str = "") -> Table:
    """The table, in a MetaData of its own (never the app's: autogenerate
    must not see it as a model), for a database of ``dialect``.
    """
    return Table(
        name,
        MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("run_id", String(32), nullable=False, index=True),
        Column("revision", String(255)),
        Column("from_revision", String(255)),
        Column("direction", String(10), nullable=False),
        Column("started_at", _started_at(dialect), nullable=False),
        Column("duration_s", Float, nullable=False),
        Column("outcome", String(12), nullable=False),
        Column("error", String(ERROR_LENGTH)),
        Column("os_user", String(128)),
        Column("host", String(255)),
        Column("command", String(COMMAND_LENGTH)),
        Column("app", String(255)),
        Column("versions", String(255)),
        Column(VERSION_TABLE_COLUMN, String(255)),
        schema=schema,
    )


def _started_at(dialect: str) -> TypeEngine[datetime]:
    """MySQL's DATETIME keeps whole seconds unless told otherwise, and no
    time zone at all: the ledger writes UTC there, to the microsecond.
    (Its dialect module is imported only for MySQL: it costs every other
    run tens of milliseconds.)
    """
    if dialect in MYSQL_DIALECTS:
        from sqlalchemy.dialects import mysql

        return mysql.DATETIME(fsp=6)
    return DateTime(timezone=True)
