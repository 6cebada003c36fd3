"""What the live database says, so that a finding is exact: the server's
version, for each table whether it exists and about how many rows it has
(the planner's estimate), the current type of each column the run alters
the type of, and which table each index is on (``op.drop_index("ix")``
need not name it).

A table PostgreSQL has never analysed (reltuples = -1: every new table
until autovacuum analyses it, after 50 rows and 10 %) is not taken for
unknown, which no ``migration_checks_min_rows`` would let through: its
size on disk says it is empty, its rows are counted up to
:data:`COUNTED_ROWS` (a bounded scan), and a larger one is estimated from
its pages as the planner does. Only a table that stays unknown (a
partitioned one, or one locked meanwhile) is reported so, with the ANALYZE
that makes it known.

Tables are known by schema: those of the default schemas (PostgreSQL's
``search_path``, MySQL's current database) by their name alone, and those
of a schema a revision names (``schema="other"``: a database on MySQL)
read for that schema, never taken from the same-named default one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from .changes import Change

log = logging.getLogger(__name__)


def table_key(table: str, schema: str | None = None) -> str:
    """How a table is known in the facts: ``name``, or ``schema.name``."""
    return f"{schema}.{table}".lower() if schema else table.lower()


@dataclass(frozen=True)
class LiveColumn:
    """A column as the database has it."""

    #: As SQL, lower case: varchar(128), integer, numeric(10,2).
    type: str
    #: MySQL/MariaDB: the bytes a character of it takes (4 for utf8mb4);
    #: None for no text column, or on PostgreSQL.
    bytes_per_character: int | None = None
    #: MySQL/MariaDB: its collation is the table's, which ``MODIFY`` without
    #: one gives it (another is a conversion: a copy).
    keeps_collation: bool = True


#: A name SQL takes unquoted (lower case: PostgreSQL folds the others).
_PLAIN_NAME = re.compile(r"[a-z_][a-z0-9_]*")
#: A table never analysed is counted up to this many rows (a few
#: milliseconds), and estimated from its pages beyond.
COUNTED_ROWS = 100_000
#: How long sizing it waits for a lock before its size stays unknown.
LOCK_WAIT = "1s"
#: How long counting it may take before it is estimated instead.
COUNT_TIMEOUT = "2s"


@dataclass
class Facts:
    dialect: str
    #: The server's version as (major, minor); None offline: the newest.
    version: tuple[int, int] | None = None
    #: Estimated rows per existing table (None: unknown, never analysed
    #: and not sized, see :meth:`unknown_size`), keyed by
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
    #: The columns the run changes the type of, keyed by (:func:`table_key`,
    #: lower-case column name), as the database has them before the run.
    columns: dict[tuple[str, str], LiveColumn] = field(default_factory=dict)
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

    def unknown_size(self, table: str | None, schema: str | None = None) -> str:
        """What a finding says of a table that exists and whose size the
        database does not know; "" when it knows (or offline).
        """
        if self.table_rows(table, schema) is not None or not self.exists(table, schema):
            return ""
        if self.rows is None or table is None or not self._read(schema):
            return ""
        name = ".".join(self._quoted(part) for part in (schema, table) if part)
        analyse = "ANALYZE" if self.dialect == "postgresql" else "ANALYZE TABLE"
        return f"size unknown (never analysed: run {analyse} {name})"

    def _quoted(self, name: str) -> str:
        """``name`` as SQL writes it, quoted only when it must be."""
        if _PLAIN_NAME.fullmatch(name):
            return name
        if self.dialect == "postgresql":
            return '"' + name.replace('"', '""') + '"'
        return "`" + name.replace("`", "``") + "`"

    def column(
        self, table: str | None, column: str, schema: str | None = None
    ) -> LiveColumn | None:
        """The column as the database has it; None when not read."""
        if table is None:
            return None
        return self.columns.get((table_key(table, schema), column.lower()))

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


def read_facts(connection: Connection, changes: Sequence[Change] = ()) -> Facts:
    """The facts, read from ``connection`` (read-only catalog queries, and
    a count of a small table never analysed that ``changes`` name): of the
    default schemas, and of each schema ``changes`` name.
    """
    dialect = connection.dialect.name
    info = connection.dialect.server_version_info or ()
    version = (int(info[0]), int(info[1]) if len(info) > 1 else 0) if info else None
    named = sorted(schemas_named(changes))
    if dialect == "postgresql":
        tables, indexes = _postgresql(connection, named)
    else:
        tables, indexes = _mysql(connection, named)
    rows: dict[str, int | None] = {}
    never_analysed: dict[str, int] = {}
    for schema, name, (n, oid) in tables:
        key = table_key(name, schema)
        if key in rows:
            continue
        rows[key] = int(n) if n >= 0 else None
        if n < 0 and oid is not None:
            never_analysed[key] = int(oid)
    # Only the tables the run changes are sized: the others do not matter.
    touched = {table_key(c.table, c.schema) for c in changes if c.table}
    for key, oid in never_analysed.items():
        if key in touched:
            rows[key] = _never_analysed_rows(connection, oid, key)
    index_tables: dict[str, str] = {}
    for schema, index, table in indexes:
        index_tables.setdefault(table_key(index, schema), str(table))
    altered = {(c.table, c.schema) for c in changes if c.kind == "alter_type"}
    columns = _columns(connection, sorted({t for t, _ in altered if t}), named)
    return Facts(
        dialect,
        version,
        rows,
        frozenset(schema.lower() for schema in named),
        index_tables,
        columns=columns,
    )


#: Changes after which the database's types of a table's columns are not
#: the ones the run meets any more.
_TABLE_CHANGES = frozenset({"create_table", "drop_table", "rename_table"})


def with_live_types(changes: Sequence[Change], facts: Facts) -> list[Change]:
    """The changes, each type change that does not say the type before
    (no ``existing_type=``, or raw SQL) given it: the type an earlier
    change of the run gave the column, else the database's. Judged as if
    the revision had said it. Unknown (the rule asks for
    ``existing_type=``) for a column the run renamed or dropped, or of a
    table it created or renamed: the database's type is not its type then.
    """
    # The type each column has at this point of the run, None: unknown.
    types: dict[tuple[str, str], str | None] = {}
    remade: set[str] = set()
    resolved = []
    for change in changes:
        if change.table is None:
            resolved.append(change)
            continue
        table = table_key(change.table, change.schema)
        column = (table, change.name.lower())
        if change.kind == "alter_type" and not change.old_type:
            live = facts.column(change.table, change.name, change.schema)
            if column in types:
                before = types[column]
            else:
                before = live.type if live and table not in remade else None
            if before:
                change = replace(change, old_type=before)
        if change.kind in _TABLE_CHANGES:
            remade.add(table)
            if change.kind == "rename_table" and change.name:
                remade.add(table_key(change.name, change.schema))
            types = {key: type_ for key, type_ in types.items() if key[0] != table}
        elif change.kind in ("alter_type", "add_column"):
            types[column] = change.new_type or None
        elif change.kind in ("drop_column", "rename_column"):
            types[column] = None
        resolved.append(change)
    return resolved


def _never_analysed_rows(connection: Connection, oid: int, key: str) -> int | None:
    """The rows of a PostgreSQL table never analysed: 0 when it has no
    page, counted up to :data:`COUNTED_ROWS`, estimated from its pages
    beyond (or when counting takes longer than :data:`COUNT_TIMEOUT`);
    None when it stays locked for :data:`LOCK_WAIT`: sizing it waits for
    a lock, never for long, and not with the caller's settings.
    """
    savepoint = connection.begin_nested()
    try:
        connection.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'"))
        connection.execute(text(f"SET LOCAL statement_timeout = '{COUNT_TIMEOUT}'"))
        try:
            size, block, name = connection.execute(
                text(
                    "SELECT pg_relation_size(CAST(:oid AS oid)),"
                    " current_setting('block_size')::int,"
                    " CAST(CAST(:oid AS oid) AS regclass)::text"
                ),
                {"oid": oid},
            ).one()
        except DBAPIError:
            log.info(
                "migration_checks: table %s (never analysed) stayed locked for"
                " %s; its size is unknown.",
                key,
                LOCK_WAIT,
            )
            return None
        pages = -(-int(size) // int(block))
        if pages == 0:
            return 0
        # (name is regclass's own quoted, schema-qualified spelling; a colon
        # in it is no bind parameter.)
        counting = text(
            f"SELECT count(*) FROM (SELECT FROM {name} LIMIT {COUNTED_ROWS + 1})"
            " AS counted".replace(":", "\\:")
        )
        counted = None
        try:
            with connection.begin_nested():
                counted = int(connection.execute(counting).one()[0])
        except DBAPIError:
            log.info(
                "migration_checks: counting table %s (never analysed) took over"
                " %s; its rows are estimated from its %d pages.",
                name,
                COUNT_TIMEOUT,
                pages,
            )
        if counted is not None and counted <= COUNTED_ROWS:
            return counted
        estimate = estimated_rows(pages, _row_width(connection, oid), int(block))
        return max(estimate, counted or 0)
    finally:
        # Also takes back SET LOCAL: the caller's transaction is as it was.
        savepoint.rollback()


def _row_width(connection: Connection, oid: int) -> int:
    """The width of a row of the table, as the planner guesses it."""
    widths = connection.execute(
        text(
            "SELECT t.typlen, t.typname, a.atttypmod,"
            " pg_encoding_max_length(pg_char_to_encoding("
            "current_setting('server_encoding')))"
            " FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
            " WHERE a.attrelid = CAST(:oid AS oid) AND a.attnum > 0"
            " AND NOT a.attisdropped"
        ),
        {"oid": oid},
    ).all()
    return sum(
        average_width(int(length), str(kind), int(modifier), int(encoding))
        for length, kind, modifier, encoding in widths
    )


def average_width(length: int, kind: str, modifier: int, encoding: int) -> int:
    """A column's average width in bytes as PostgreSQL's planner guesses
    it without statistics (``get_typavgwidth``): its fixed length, else
    from its declared length (varchar(n), char(n)), else 32.
    """
    if length > 0:
        return length
    if kind in ("varchar", "bpchar") and modifier > 4:
        widest = (modifier - 4) * encoding + 4
        if kind == "bpchar":
            return widest
        if widest <= 32:
            return widest
        return 32 + (min(widest, 1000) - 32) // 2
    return 32


def estimated_rows(pages: int, width: int, block: int = 8192) -> int:
    """Rows in ``pages`` of rows ``width`` bytes wide, as the planner
    estimates a table never analysed: a page's space (less its 24-byte
    header) over each row's width, 24-byte tuple header and 4-byte pointer.
    """
    return pages * max(1, (block - 24) // (width + 24 + 4))


def _columns(
    connection: Connection, tables: list[str], named: list[str]
) -> dict[tuple[str, str], LiveColumn]:
    """The columns of ``tables`` (in the default schemas and the named
    ones), of the schema each table's name finds first.
    """
    if not tables:
        return {}
    if connection.dialect.name == "postgresql":
        found = connection.execute(
            text(
                "SELECT n.nspname, c.relname, a.attname,"
                " format_type(a.atttypid, a.atttypmod), NULL, 1,"
                " array_position(current_schemas(false), n.nspname) AS position"
                " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relkind IN ('r', 'p') AND a.attnum > 0"
                " AND NOT a.attisdropped AND c.relname IN :tables"
                " AND (n.nspname = ANY (current_schemas(false))"
                " OR n.nspname IN :named) ORDER BY position NULLS LAST"
            ).bindparams(
                bindparam("tables", tables, expanding=True),
                bindparam("named", named or [""], expanding=True),
            )
        ).all()
    else:
        found = connection.execute(
            text(
                "SELECT c.table_schema, c.table_name, c.column_name, c.column_type,"
                " c.character_octet_length DIV c.character_maximum_length,"
                " COALESCE(c.collation_name = t.table_collation, 1),"
                " CASE WHEN c.table_schema = DATABASE() THEN 1 END"
                " FROM information_schema.columns c"
                " JOIN information_schema.tables t"
                " ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
                " WHERE c.table_name IN :tables"
                " AND (c.table_schema = DATABASE() OR c.table_schema IN :named)"
            ).bindparams(
                bindparam("tables", tables, expanding=True),
                bindparam("named", named or [""], expanding=True),
            )
        ).all()
    columns: dict[tuple[str, str], LiveColumn] = {}
    # The schema each table is taken from: the first its name finds.
    schema_of: dict[str, str] = {}
    rows = (
        (schema, table, (schema, column, type_, per_character, same), position)
        for schema, table, column, type_, per_character, same, position in found
    )
    for schema, table, (real, column, type_, per_character, same) in _by_schema(
        rows, named
    ):
        key = table_key(table, schema)
        if schema_of.setdefault(key, real) != real:
            continue
        columns.setdefault(
            (key, str(column).lower()),
            LiveColumn(
                _sql_type(str(type_)),
                int(per_character) if per_character is not None else None,
                bool(same),
            ),
        )
    return columns


def _sql_type(type_: str) -> str:
    """A type as the database spells it, as SQLAlchemy would: varchar(128)
    for PostgreSQL's character varying(128).
    """
    type_ = type_.lower()
    for long, short in (("character varying", "varchar"), ("character(", "char(")):
        if type_.startswith(long):
            return short + type_[len(long) :]
    return type_


#: Rows of tables: (schema or None for a default one, name, (rows, the oid
#: of an ordinary PostgreSQL table or None)); of indexes: (schema or None,
#: index, table).
_Found = list[tuple[str | None, str, Any]]


def _postgresql(connection: Connection, named: list[str]) -> tuple[_Found, _Found]:
    # The default schemas in search_path order, so that a name in two of
    # them means the one PostgreSQL finds first; then the named ones.
    # A schema's tables are found through pg_depend (every table, view and
    # materialized view records a dependency on its schema), whose index
    # leads to them: pg_class has no index on the schema, and scanning it
    # cost ~50 ms per query once a fleet had 1,500 schemas (5,000: several
    # hundred), on every tenant. Same rows as pg_class / pg_indexes by schema.
    in_schemas = (
        " FROM pg_namespace n JOIN pg_depend d"
        " ON d.refclassid = 'pg_namespace'::regclass AND d.refobjid = n.oid"
        " AND d.classid = 'pg_class'::regclass"
        " JOIN pg_class c ON c.oid = d.objid"
    )
    chosen = (
        " AND (n.nspname = ANY (current_schemas(false)) OR n.nspname IN :named)"
        " ORDER BY position NULLS LAST"
    )
    tables = connection.execute(
        text(
            "SELECT n.nspname, c.relname, c.reltuples::bigint,"
            " CASE WHEN c.relkind = 'r' THEN c.oid END,"
            " array_position(current_schemas(false), n.nspname) AS position"
            f"{in_schemas} WHERE c.relkind IN ('r', 'p'){chosen}"
        ).bindparams(bindparam("named", named or [""], expanding=True))
    ).all()
    indexes = connection.execute(
        text(
            "SELECT n.nspname, i.relname, c.relname,"
            " array_position(current_schemas(false), n.nspname) AS position"
            f"{in_schemas} JOIN pg_index x ON x.indrelid = c.oid"
            " JOIN pg_class i ON i.oid = x.indexrelid"
            f" WHERE c.relkind IN ('r', 'm', 'p') AND i.relkind IN ('i', 'I'){chosen}"
        ).bindparams(bindparam("named", named or [""], expanding=True))
    ).all()
    sized = (
        (schema, name, (n, oid), position) for schema, name, n, oid, position in tables
    )
    return _by_schema(sized, named), _by_schema(indexes, named)


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
    # (InnoDB counts a new table's rows as they come: no -1 there.)
    sized = ((schema, name, (n, None), current) for schema, name, n, current in tables)
    return _mysql_rows(sized, named), _mysql_rows(indexes, named)


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
