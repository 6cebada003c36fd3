"""The ledger's INSERT, compiled once per run.

A run writes a row per revision step, and ``connection.execute(insert,
row)`` looks the statement up in SQLAlchemy's compiled cache and builds a
result each time, which cost more than the rest of the ledger together.
The SQL is compiled once for the connection's dialect here and executed
as the driver's own statement (``exec_driver_sql``: the engine's events
and logging still see it), with the column types' own bind processors
applied to the values.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection
    from sqlalchemy.engine import Dialect


class PreparedInsert:
    """The INSERT of every column but the id, for one dialect."""

    def __init__(self, table: Table, dialect: Dialect) -> None:
        self.dialect = dialect
        columns = [column for column in table.columns if column.name != "id"]
        compiled = table.insert().compile(
            dialect=dialect, column_keys=[column.name for column in columns]
        )
        self.sql = str(compiled)
        #: The parameters' order for a positional paramstyle (SQLite's);
        #: None for a named one.
        self.order: list[str] | None = (
            list(compiled.positiontup) if compiled.positiontup else None
        )
        self.processors: list[tuple[str, Callable[[Any], Any]]] = []
        for column in columns:
            processor = column.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.processors.append((column.name, processor))

    def execute(self, connection: Connection, row: Mapping[str, Any]) -> None:
        connection.exec_driver_sql(self.sql, self._parameters(row))

    def execute_many(
        self, connection: Connection, rows: Sequence[Mapping[str, Any]]
    ) -> None:
        """The rows in one ``executemany`` (psycopg 3 pipelines it)."""
        connection.exec_driver_sql(self.sql, [self._parameters(row) for row in rows])

    def _parameters(self, row: Mapping[str, Any]) -> Any:
        values = dict(row)
        for name, processor in self.processors:
            values[name] = processor(values[name])
        if self.order is not None:
            return tuple(values[name] for name in self.order)
        return values
