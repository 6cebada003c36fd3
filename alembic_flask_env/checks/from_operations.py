"""Alembic's operation objects, as :class:`~.changes.Change` objects."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING
from typing import Any

from alembic.operations import ops
from sqlalchemy import JSON
from sqlalchemy import Computed
from sqlalchemy import ForeignKeyConstraint
from sqlalchemy import Identity
from sqlalchemy import MetaData
from sqlalchemy import Table
from sqlalchemy import UniqueConstraint
from sqlalchemy.dialects import mysql
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex
from sqlalchemy.schema import CreateTable
from sqlalchemy.schema import DropIndex
from sqlalchemy.schema import DropTable
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.elements import ColumnClause
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.types import to_instance

from .changes import Change
from .sql import changes_of_sql

if TYPE_CHECKING:
    from alembic.operations.ops import MigrateOperation
    from sqlalchemy.engine import Dialect
    from sqlalchemy.schema import Column

    from .recording import Recorded
    from .recording import Recording

log = logging.getLogger(__name__)

_DIALECTS: dict[str, Dialect] = {
    "postgresql": postgresql.dialect(),  # type: ignore[no-untyped-call]
    "mysql": mysql.dialect(),
    "mariadb": mysql.dialect(),
}


def changes_of(recording: Recording, dialect: str) -> Iterator[Change]:
    """Every change the recorded operations make, in order."""
    for recorded in recording.operations:
        yield from _changes(recorded, recording, dialect)


def _changes(
    recorded: Recorded, recording: Recording, dialect: str
) -> Iterator[Change]:
    operation = _as_operation(recorded.operation)
    base: dict[str, Any] = {
        "path": recording.revision.path,
        "line": recorded.line,
        "revision": recording.revision.revision,
        "in_autocommit_block": recorded.in_autocommit_block,
    }
    schema = getattr(operation, "schema", None)
    if schema:
        base["schema"] = str(schema)
    if isinstance(operation, ops.ExecuteSQLOp):
        yield from changes_of_sql(
            _statement_sql(operation.sqltext, dialect), dialect, base
        )
    elif isinstance(operation, ops.CreateTableOp):
        yield Change("create_table", operation.table_name, **base)
    elif isinstance(operation, ops.CreateIndexOp):
        yield Change(
            "create_index",
            operation.table_name,
            name=str(operation.index_name or ""),
            concurrently=bool(operation.kw.get("postgresql_concurrently")),
            columns=_sources(operation.columns),
            keywords=_keyword_sources(
                {"unique": operation.unique or None, **operation.kw}
            ),
            **base,
        )
    elif isinstance(operation, ops.DropIndexOp):
        yield Change(
            "drop_index",
            operation.table_name,
            name=str(operation.index_name or ""),
            concurrently=bool(operation.kw.get("postgresql_concurrently")),
            **base,
        )
    elif isinstance(operation, ops.AddColumnOp):
        yield _added_column(operation.table_name, operation.column, dialect, base)
        yield from _column_extras(operation, base)
    elif isinstance(operation, ops.AlterColumnOp):
        yield from _altered_column(operation, dialect, base)
    elif isinstance(operation, ops.RenameTableOp):
        yield Change(
            "rename_table", operation.table_name, name=operation.new_table_name, **base
        )
    elif isinstance(operation, ops.DropColumnOp):
        yield Change(
            "drop_column", operation.table_name, name=operation.column_name, **base
        )
    elif isinstance(operation, ops.DropTableOp):
        yield Change("drop_table", operation.table_name, **base)
    elif isinstance(operation, ops.CreateForeignKeyOp):
        yield Change(
            "add_foreign_key",
            operation.source_table,
            name=str(operation.constraint_name or ""),
            not_valid=bool(operation.kw.get("postgresql_not_valid")),
            **base,
        )
    elif isinstance(operation, ops.CreateCheckConstraintOp):
        yield Change(
            "add_check",
            operation.table_name,
            name=str(operation.constraint_name or ""),
            not_valid=bool(operation.kw.get("postgresql_not_valid")),
            condition=_sql(operation.condition),
            **base,
        )
    elif isinstance(operation, ops.CreateUniqueConstraintOp):
        yield Change(
            "add_unique",
            operation.table_name,
            name=str(operation.constraint_name or ""),
            columns=_sources(operation.columns),
            **base,
        )
    elif isinstance(operation, ops.CreatePrimaryKeyOp):
        yield Change(
            "add_primary_key",
            operation.table_name,
            name=str(operation.constraint_name or ""),
            **base,
        )
    elif not type(operation).__module__.startswith("alembic."):
        # A plugin's operation with no implementation to record it through.
        log.warning(
            "Revision %s (%s, line %d): %s is not checked: it is a plugin's"
            " operation without an implementation registered here.",
            base["revision"],
            base["path"],
            base["line"],
            type(operation).__name__,
        )


def _as_operation(operation: MigrateOperation) -> MigrateOperation:
    """SQLAlchemy's DDL for a table or an index, sent as a statement
    (``sa.Table(...).create(op.get_bind())`` sends its ``CreateTable``;
    ``op.execute(CreateIndex(...))``), as the Alembic operation that does
    the same: checked alike on every database, with the item's schema. A
    table created this way is a new table, as ``op.create_table``'s is.
    """
    if not isinstance(operation, ops.ExecuteSQLOp):
        return operation
    statement = operation.sqltext
    if isinstance(statement, CreateTable):
        return ops.CreateTableOp.from_table(statement.element)
    if isinstance(statement, DropTable):
        return ops.DropTableOp.from_table(statement.element)
    if isinstance(statement, CreateIndex):
        return ops.CreateIndexOp.from_index(statement.element)
    if isinstance(statement, DropIndex):
        return ops.DropIndexOp.from_index(statement.element)
    return operation


def _statement_sql(statement: Any, dialect: str) -> str:
    """SQL as the database gets it: a string as it is, ``text()`` its text,
    a construct (``sa.update(...)``, ``DDL``) compiled for ``dialect``.
    """
    if isinstance(statement, str):
        return statement
    if isinstance(statement, TextClause):
        return statement.text
    if isinstance(statement, ClauseElement):
        try:
            compiled = statement.compile(
                dialect=_DIALECTS.get(dialect), compile_kwargs={"literal_binds": True}
            )
        except Exception:
            compiled = statement.compile(dialect=_DIALECTS.get(dialect))
        return str(compiled)
    return str(getattr(statement, "text", statement))


def _column_extras(
    operation: ops.AddColumnOp, base: dict[str, Any]
) -> Iterator[Change]:
    """What Alembic sends after ADD COLUMN for the column's own arguments:
    a CREATE INDEX for ``index=True``, ADD CONSTRAINT for ``unique=True``
    and for each ``sa.ForeignKey``. The column goes on a table of its own,
    as Alembic's ``add_column`` puts it, so the names are the ones Alembic
    would send.
    """
    column = operation.column
    if column.table is not None:
        column = column._copy()
    table = Table(operation.table_name, MetaData(), column, schema=operation.schema)
    for constraint in table.constraints:
        if isinstance(constraint, ForeignKeyConstraint):
            yield Change(
                "add_foreign_key",
                operation.table_name,
                name=_name(constraint.name),
                **base,
            )
        elif isinstance(constraint, UniqueConstraint):
            yield Change(
                "add_unique",
                operation.table_name,
                name=_name(constraint.name),
                columns=(repr(column.name),),
                **base,
            )
    for index in table.indexes:
        yield Change(
            "create_index",
            operation.table_name,
            name=_name(index.name),
            concurrently=bool(index.kwargs.get("postgresql_concurrently")),
            columns=(repr(column.name),),
            keywords=_keyword_sources({"unique": index.unique or None}),
            **base,
        )


def _sources(columns: Any) -> tuple[str, ...]:
    """The columns as the revision would write them; () when any is an
    expression (the advice then shows ``[...]`` for the user to fill in,
    rather than a column list that silently drops one).
    """
    names = [
        column.name if isinstance(column, ColumnClause) else column
        for column in columns or ()
    ]
    if not names or not all(isinstance(name, str) for name in names):
        return ()
    return tuple(repr(name) for name in names)


def _keyword_sources(keywords: dict[str, Any]) -> tuple[str, ...]:
    """``name=value`` for each keyword an index was created with, but the
    ones the safe form sets itself; a value that is no plain literal shows
    as ``...``, for the user to copy from the revision.
    """
    plain = (str, int, float, bool, type(None))
    sources = []
    for name, value in keywords.items():
        if value is None or name in ("postgresql_concurrently", "if_not_exists"):
            continue
        literal = isinstance(value, plain) or (
            isinstance(value, (list, tuple))
            and all(isinstance(v, plain) for v in value)
        )
        sources.append(f"{name}={value!r}" if literal else f"{name}=...")
    return tuple(sources)


def _name(name: Any) -> str:
    """A constraint's or index's name; "" for none (SQLAlchemy's marker of
    a name left to the database is not a name).
    """
    return name if isinstance(name, str) else ""


def _added_column(
    table: str, column: Column[Any], dialect: str, base: dict[str, Any]
) -> Change:
    traits = set()
    if isinstance(column.type, JSON) and not isinstance(column.type, postgresql.JSONB):
        traits.add("json")
    if isinstance(column.computed, Computed) and _stored(column.computed, dialect):
        traits.add("stored_generated")
    if isinstance(column.identity, Identity) or _is_serial(column):
        traits.add("auto_increment")
    return Change(
        "add_column",
        table,
        name=str(column.name),
        not_null=not column.nullable,
        default=_default_sql(column),
        column_traits=frozenset(traits),
        new_type=_type_sql(column.type, dialect),
        **base,
    )


def _stored(computed: Computed, dialect: str) -> bool:
    """Whether the generated column is STORED: PostgreSQL's are unless
    persisted=False; MySQL's are VIRTUAL unless persisted=True.
    """
    if dialect == "postgresql":
        return computed.persisted is not False
    return computed.persisted is True


def _default_sql(column: Column[Any]) -> str:
    """The column's server default as SQL, "" for none. A string is a
    literal, quoted as Alembic sends it (``server_default=""`` is
    ``DEFAULT ''``, a default), as the SQL of ``op.execute()`` reads.
    """
    default = column.server_default
    if default is None:
        return ""
    value = getattr(default, "arg", None)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return _sql(value) if value is not None else ""


def _is_serial(column: Column[Any]) -> bool:
    """A column that gets its values from a sequence: postgresql SERIAL."""
    name = type(column.type).__name__.upper()
    return name in {"SERIAL", "BIGSERIAL", "SMALLSERIAL"}


def _altered_column(
    operation: ops.AlterColumnOp, dialect: str, base: dict[str, Any]
) -> Iterator[Change]:
    table = operation.table_name
    column = operation.column_name
    if operation.modify_nullable is False:
        yield Change("set_not_null", table, name=column, **base)
    if operation.modify_type is not None:
        existing = operation.existing_type
        yield Change(
            "alter_type",
            table,
            name=column,
            old_type=_type_sql(existing, dialect) if existing is not None else "",
            new_type=_type_sql(operation.modify_type, dialect),
            **base,
        )
    if operation.modify_name is not None:
        yield Change("rename_column", table, name=column, **base)


def _type_sql(type_: Any, dialect: str) -> str:
    # A class (existing_type=sa.Integer, as users write it) is rendered as
    # its instance, the way Alembic runs it.
    type_ = to_instance(type_)
    try:
        return str(type_.compile(dialect=_DIALECTS.get(dialect))).lower()
    except Exception:
        return str(type_).lower()


def _sql(value: Any) -> str:
    return str(getattr(value, "text", value))
