"""Raw SQL in ``op.execute()``, parsed with PostgreSQL's own parser.

pglast wraps libpg_query, the parser of the PostgreSQL server itself, so a
statement is read as the server will read it (a regular expression would
take ``CONCURRENTLY`` in a comment for the real thing). It is an optional
dependency (``pip install 'alembic-flask-env[checks]'``); without it, and on
other databases, raw SQL is not checked, and the run says so once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from ..url_masking import mask_secrets
from .changes import Change

log = logging.getLogger(__name__)

_said: set[str] = set()
#: One assignment of a SET statement to the session's foreign_key_checks,
#: in each of MySQL's spellings (SESSION and LOCAL are the same scope;
#: GLOBAL does not change the running session, so it is not one).
_FOREIGN_KEY_CHECKS = re.compile(
    r"^(?:(?:SESSION|LOCAL)\s+|@@(?:SESSION\.|LOCAL\.)?)?foreign_key_checks"
    r"\s*:?=\s*(['\"]?)(?P<value>0|1|OFF|ON|FALSE|TRUE)\1$",
    re.IGNORECASE,
)
#: mysqldump's version comments, /*!40014 SET ... */: MySQL runs their body.
_VERSIONED_COMMENT = re.compile(r"/\*!\d*\s*(.*?)\s*\*/", re.DOTALL)


def foreign_key_checks(sql: str) -> list[bool]:
    """Each value ``sql`` sets the session's foreign_key_checks to, in
    order (True: on).
    """
    values = []
    sql = _VERSIONED_COMMENT.sub(r"\1", sql)
    for statement in sql.split(";"):
        head, *rest = statement.strip().split(None, 1) or [""]
        if head.upper() != "SET" or not rest:
            continue
        [assignments] = rest
        for assignment in assignments.split(","):
            match = _FOREIGN_KEY_CHECKS.match(assignment.strip())
            if match:
                values.append(match.group("value").upper() in ("1", "ON", "TRUE"))
    return values


def changes_of_sql(sql: str, dialect: str, base: dict[str, Any]) -> Iterator[Change]:
    """The changes ``sql`` (one or more statements) makes."""
    if dialect != "postgresql":
        # The one statement MySQL's rules read: what makes a foreign key
        # INPLACE instead of a table copy. The last setting counts.
        settings = foreign_key_checks(sql)
        if settings:
            for value in settings:
                kind = "foreign_key_checks_on" if value else "foreign_key_checks_off"
                yield Change(kind, None, **base)
            return
        _say_once(
            dialect,
            "SQL in op.execute() is checked on PostgreSQL only; on %s it runs"
            " unchecked.",
            dialect,
        )
        return
    try:
        from pglast import parse_sql
        from pglast.parser import ParseError
    except ImportError:
        _say_once(
            "pglast",
            "SQL in op.execute() is not checked: pglast is not installed (pip"
            " install 'alembic-flask-env[checks]').",
        )
        return
    try:
        statements = parse_sql(sql)
    except ParseError as error:
        log.info(
            "Revision %s, line %s: op.execute() SQL that PostgreSQL's parser"
            " cannot read (%s) is not checked.",
            base["revision"],
            base["line"],
            mask_secrets(str(error)),
        )
        return
    for raw in statements:
        yield from _statement_changes(raw.stmt, base)


def _say_once(key: str, message: str, *arguments: object) -> None:
    if key not in _said:
        _said.add(key)
        log.info(message, *arguments)


def _statement_changes(node: object, base: dict[str, Any]) -> Iterator[Change]:
    from pglast.enums import AlterTableType
    from pglast.enums import ConstrType
    from pglast.enums import ObjectType

    # (pglast's optional fields are typed "X | None"; a parsed statement of
    # these kinds always has them.)
    statement: Any = node
    kind_of_statement = type(node).__name__
    if kind_of_statement == "CreateStmt":
        yield Change("create_table", statement.relation.relname, **base)
    elif kind_of_statement == "IndexStmt":
        yield Change(
            "create_index",
            statement.relation.relname,
            name=statement.idxname or "",
            concurrently=bool(statement.concurrent),
            **base,
        )
    elif kind_of_statement == "DropStmt":
        kind = {
            ObjectType.OBJECT_INDEX: "drop_index",
            ObjectType.OBJECT_TABLE: "drop_table",
        }.get(statement.removeType)
        if kind is not None:
            for names in statement.objects or ():
                name = _last_name(names)
                yield Change(
                    kind,
                    name if kind == "drop_table" else None,
                    name=name,
                    concurrently=bool(statement.concurrent),
                    **base,
                )
    elif kind_of_statement == "RenameStmt":
        if statement.renameType == ObjectType.OBJECT_TABLE:
            yield Change(
                "rename_table",
                statement.relation.relname,
                name=statement.newname,
                **base,
            )
        elif statement.renameType == ObjectType.OBJECT_COLUMN:
            yield Change(
                "rename_column",
                statement.relation.relname,
                name=statement.subname,
                **base,
            )
    elif kind_of_statement == "AlterTableStmt":
        table = statement.relation.relname
        for command in statement.cmds or ():
            subtype = command.subtype
            if subtype == AlterTableType.AT_AddColumn:
                yield _added_column(table, command.def_, base, ConstrType)
            elif subtype == AlterTableType.AT_SetNotNull:
                yield Change("set_not_null", table, name=command.name, **base)
            elif subtype == AlterTableType.AT_AlterColumnType:
                yield Change(
                    "alter_type",
                    table,
                    name=command.name,
                    new_type=_sql(command.def_.typeName),
                    **base,
                )
            elif subtype == AlterTableType.AT_ValidateConstraint:
                yield Change("validate_constraint", table, name=command.name, **base)
            elif subtype == AlterTableType.AT_DropColumn:
                yield Change("drop_column", table, name=command.name, **base)
            elif subtype == AlterTableType.AT_AddConstraint:
                yield from _added_constraint(table, command.def_, base, ConstrType)


def _added_column(table: str, column: Any, base: dict[str, Any], types: Any) -> Change:
    constraints = column.constraints or ()
    kinds = {constraint.contype for constraint in constraints}
    default = next(
        (_sql(c.raw_expr) for c in constraints if c.contype == types.CONSTR_DEFAULT),
        "",
    )
    # (A built-in type comes back schema-qualified: pg_catalog.int4.)
    type_sql = _sql(column.typeName).rpartition(".")[2]
    traits = set()
    if type_sql.split("(")[0].strip() == "json":
        traits.add("json")
    if types.CONSTR_GENERATED in kinds:
        traits.add("stored_generated")
    if types.CONSTR_IDENTITY in kinds or type_sql in {
        "serial",
        "bigserial",
        "smallserial",
    }:
        traits.add("auto_increment")
    return Change(
        "add_column",
        table,
        name=column.colname,
        not_null=types.CONSTR_NOTNULL in kinds,
        default=default,
        column_traits=frozenset(traits),
        new_type=type_sql,
        **base,
    )


def _added_constraint(
    table: str, constraint: Any, base: dict[str, Any], types: Any
) -> Iterator[Change]:
    name = constraint.conname or ""
    not_valid = bool(constraint.skip_validation)
    if constraint.contype == types.CONSTR_FOREIGN:
        yield Change("add_foreign_key", table, name=name, not_valid=not_valid, **base)
    elif constraint.contype == types.CONSTR_CHECK:
        yield Change(
            "add_check",
            table,
            name=name,
            not_valid=not_valid,
            condition=_sql(constraint.raw_expr),
            **base,
        )
    elif constraint.contype == types.CONSTR_UNIQUE and not constraint.indexname:
        # (UNIQUE USING INDEX attaches an index built before: the safe form.)
        yield Change("add_unique", table, name=name, **base)
    elif constraint.contype == types.CONSTR_PRIMARY and not constraint.indexname:
        # (PRIMARY KEY USING INDEX, likewise.)
        yield Change("add_primary_key", table, name=name, **base)
    elif constraint.contype == types.CONSTR_EXCLUSION:
        yield Change("add_exclusion", table, name=name, **base)


def _last_name(names: Any) -> str:
    parts = names if isinstance(names, (list, tuple)) else [names]
    last = parts[-1]
    return str(getattr(last, "sval", last))


def _sql(node: Any) -> str:
    from pglast.stream import RawStream

    return str(RawStream()(node)).lower()
