"""The ledger table made, or brought to the current shape, before a row is
written: ledgers made by earlier versions lack the ``version_table``
column, and on MySQL/MariaDB kept ``started_at`` to the whole second.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import inspect
from sqlalchemy import text
from sqlalchemy.schema import CreateTable

from .table import MYSQL_DIALECTS
from .table import VERSION_TABLE_COLUMN

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection


def ensure_table(connection: Connection, table: Table) -> None:
    """Create ``table``, or add what an older ledger lacks. One catalog
    read per run: the caller remembers that it was done.
    """
    if not connection.dialect.has_table(connection, table.name, schema=table.schema):
        table.create(connection)
        return
    columns = inspect(connection).get_columns(table.name, schema=table.schema)
    quoted = connection.dialect.identifier_preparer.format_table(table)
    for statement in _upgrades(connection.dialect.name, quoted, columns):
        connection.execute(text(statement))


def ensure_table_offline(context: MigrationContext, table: Table) -> None:
    """The same in an ``--sql`` script, which cannot look first: statements
    that do nothing on a ledger of the current shape. (SQLite has no ``ADD
    COLUMN IF NOT EXISTS``: a SQLite ledger made before the column existed
    is brought up to date by any online run.)
    """
    context.execute(CreateTable(table, if_not_exists=True))
    name = context.dialect.name
    if name == "sqlite":
        return
    quoted = context.dialect.identifier_preparer.format_table(table)
    context.execute(
        f"ALTER TABLE {quoted} ADD COLUMN IF NOT EXISTS {VERSION_TABLE_COLUMN}"
        " VARCHAR(255)"
    )
    if name in MYSQL_DIALECTS:
        context.execute(f"ALTER TABLE {quoted} MODIFY started_at DATETIME(6) NOT NULL")


def _upgrades(
    dialect: str, quoted: str, columns: Sequence[Mapping[str, Any]]
) -> list[str]:
    """What brings a ledger with ``columns`` to the current shape."""
    by_name = {str(column["name"]).lower(): column for column in columns}
    statements = []
    if VERSION_TABLE_COLUMN not in by_name:
        statements.append(
            f"ALTER TABLE {quoted} ADD COLUMN {VERSION_TABLE_COLUMN} VARCHAR(255)"
        )
    started = by_name.get("started_at")
    if (
        dialect in MYSQL_DIALECTS
        and started is not None
        and not getattr(started["type"], "fsp", None)
    ):
        statements.append(
            f"ALTER TABLE {quoted} MODIFY started_at DATETIME(6) NOT NULL"
        )
    return statements
