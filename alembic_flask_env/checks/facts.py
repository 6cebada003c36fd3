"""What the live database says, so that a finding is exact: the server's
version, for each table whether it exists and about how many rows it has
(the planner's estimate: no table is scanned), and which table each index
is on (``op.drop_index("ix")`` need not name it).

Tables are known by schema: those of the default schemas (PostgreSQL's
``search_path``, MySQL's current database) by their name alone, and those
of a schema a revision names (``schema="other"``: a database on MySQL)
read for that schema, never taken from the same-named default one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy import text

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from .changes import Change


def table_key(table: str, schema: str | None = None) -> str:
    """How a table is known in the facts: ``name``, or ``schema.name``."""
    return f"{schema}.{table}".lower() if schema else table.lower()


@dataclass
class Facts:
    dialect: str
    #: The server's version as (major, minor); None offline: the newest.
    version: tuple[int, int] | None = None
    #: Estimated rows per existing table (None: never estimated), keyed by
    #: :func:`table_key`; None offline (every table is taken to exist and be
    #: large).
    rows: dict[str, int | None] | None = None
    #: The schemas read besides the default ones: a table of another schema
    #: is unknown (taken to exist and be large).
    schemas: frozenset[str] = frozenset()
    #: The table of each index, both keyed by :func:`table_key`: the
    #: database's, and those the run creates as it goes.
    index_tables: dict[str, str] = field(default_factory=dict)
    #: Tables created earlier in the same run: nobody uses them yet.
    new_tables: set[str] = field(default_factory=set)
    #: The changes before this one in the same revision (a safe recipe is
    #: several steps: a NOT VALID check, its validation, then SET NOT NULL).
    earlier: list[Change] = field(default_factory=list)

    def table_rows(self, table: str | None, schema: str | None = None) -> int | None:
        """The estimate for ``table``; None when unknown (offline, or a
        schema that was not read).
        """
        if self.rows is None or table is None or not self._read(schema):
            return None
        return self.rows.get(table_key(table, schema), 0)

    def exists(self, table: str | None, schema: str | None = None) -> bool:
        if table is not None and table_key(table, schema) in self.new_tables:
            return False
        if self.rows is None or table is None or not self._read(schema):
            return True
        return table_key(table, schema) in self.rows

    def _read(self, schema: str | None) -> bool:
        return schema is None or schema.lower() in self.schemas

    def postgresql_before(self, major: int) -> bool:
        return self.version is not None and self.version[0] < major


def schemas_named(changes: Iterable[Change]) -> set[str]:
    """The schemas the changes name (``schema="other"``), whose tables'
    facts must be read as well.
    """
    return {change.schema for change in changes if change.schema}


def read_facts(connection: Connection, schemas: Iterable[str] = ()) -> Facts:
    """The facts, read from ``connection`` (read-only catalog queries): of
    the default schemas, and of each of ``schemas``.
    """
    dialect = connection.dialect.name
    info = connection.dialect.server_version_info or ()
    version = (int(info[0]), int(info[1]) if len(info) > 1 else 0) if info else None
    named = sorted({schema for schema in schemas if schema})
    if dialect == "postgresql":
        tables, indexes = _postgresql(connection, named)
    else:
        tables, indexes = _mysql(connection, named)
    # (PostgreSQL says -1 for a table never analysed: its size is unknown.)
    rows: dict[str, int | None] = {}
    for schema, name, n in tables:
        rows.setdefault(table_key(name, schema), int(n) if n >= 0 else None)
    index_tables: dict[str, str] = {}
    for schema, index, table in indexes:
        index_tables.setdefault(table_key(index, schema), str(table))
    return Facts(
        dialect,
        version,
        rows,
        frozenset(schema.lower() for schema in named),
        index_tables,
    )


#: Rows of tables: (schema or None for a default one, name, rows); of
#: indexes: (schema or None, index, table).
_Found = list[tuple[str | None, str, Any]]


def _postgresql(connection: Connection, named: list[str]) -> tuple[_Found, _Found]:
    # The default schemas in search_path order, so that a name in two of
    # them means the one PostgreSQL finds first; then the named ones.
    tables = connection.execute(
        text(
            "SELECT n.nspname, c.relname, c.reltuples::bigint,"
            " array_position(current_schemas(false), n.nspname) AS position"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind IN ('r', 'p') AND (n.nspname = ANY"
            " (current_schemas(false)) OR n.nspname IN :named)"
            " ORDER BY position NULLS LAST"
        ).bindparams(bindparam("named", named or [""], expanding=True))
    ).all()
    indexes = connection.execute(
        text(
            "SELECT i.schemaname, i.indexname, i.tablename,"
            " array_position(current_schemas(false), i.schemaname) AS position"
            " FROM pg_indexes i WHERE i.schemaname = ANY (current_schemas(false))"
            " OR i.schemaname IN :named ORDER BY position NULLS LAST"
        ).bindparams(bindparam("named", named or [""], expanding=True))
    ).all()
    return _by_schema(tables, named), _by_schema(indexes, named)


def _mysql(connection: Connection, named: list[str]) -> tuple[_Found, _Found]:
    tables = connection.execute(
        text(
            "SELECT table_schema, table_name, COALESCE(table_rows, 0),"
            " table_schema = DATABASE() FROM information_schema.tables"
            " WHERE table_schema = DATABASE() OR table_schema IN :named"
        ).bindparams(bindparam("named", named or [""], expanding=True))
    ).all()
    indexes = connection.execute(
        text(
            "SELECT DISTINCT table_schema, index_name, table_name,"
            " table_schema = DATABASE() FROM information_schema.statistics"
            " WHERE table_schema = DATABASE() OR table_schema IN :named"
        ).bindparams(bindparam("named", named or [""], expanding=True))
    ).all()
    return _mysql_rows(tables, named), _mysql_rows(indexes, named)


def _by_schema(rows: Iterable[Any], named: list[str]) -> _Found:
    """Each row of (schema, name, value, search_path position) as (None
    for a default schema, ...), and once more under its schema when a
    revision names that schema.
    """
    found: _Found = []
    for schema, name, value, position in rows:
        if position is not None:
            found.append((None, str(name), value))
        if schema in named:
            found.append((str(schema), str(name), value))
    return found


def _mysql_rows(rows: Iterable[Any], named: list[str]) -> _Found:
    """The same for MySQL, where the default schema is the current database."""
    return _by_schema(
        (
            (schema, name, value, 1 if current else None)
            for schema, name, value, current in rows
        ),
        named,
    )
