"""What the live database says, so that a finding is exact: the server's
version, and for each table whether it exists and about how many rows it
has (the planner's estimate: no table is scanned).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING

from sqlalchemy import text

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from .changes import Change


@dataclass
class Facts:
    dialect: str
    #: The server's version as (major, minor); None offline: the newest.
    version: tuple[int, int] | None = None
    #: Estimated rows per existing table (None: never estimated); None
    #: offline (every table is taken to exist and be large).
    rows: dict[str, int | None] | None = None
    #: Tables created earlier in the same run: nobody uses them yet.
    new_tables: set[str] = field(default_factory=set)
    #: The changes before this one in the same revision (a safe recipe is
    #: several steps: a NOT VALID check, its validation, then SET NOT NULL).
    earlier: list[Change] = field(default_factory=list)

    def table_rows(self, table: str | None) -> int | None:
        """The estimate for ``table``; None when unknown (offline)."""
        if self.rows is None or table is None:
            return None
        return self.rows.get(table.lower(), 0)

    def exists(self, table: str | None) -> bool:
        if table is not None and table.lower() in self.new_tables:
            return False
        if self.rows is None or table is None:
            return True
        return table.lower() in self.rows

    def postgresql_before(self, major: int) -> bool:
        return self.version is not None and self.version[0] < major


def read_facts(connection: Connection) -> Facts:
    """The facts, read from ``connection`` (read-only catalog queries)."""
    dialect = connection.dialect.name
    info = connection.dialect.server_version_info or ()
    version = (int(info[0]), int(info[1]) if len(info) > 1 else 0) if info else None
    if dialect == "postgresql":
        rows = connection.execute(
            text(
                "SELECT c.relname, c.reltuples::bigint FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relkind IN ('r', 'p')"
                " AND n.nspname = ANY (current_schemas(false))"
            )
        ).all()
    else:
        rows = connection.execute(
            text(
                "SELECT table_name, COALESCE(table_rows, 0) FROM"
                " information_schema.tables WHERE table_schema = DATABASE()"
            )
        ).all()
    # (PostgreSQL says -1 for a table never analysed: its size is unknown.)
    return Facts(
        dialect,
        version,
        {str(name).lower(): (int(n) if n >= 0 else None) for name, n in rows},
    )
