"""What expand reads of the tables before it changes them: each step's
schema, key, old type and default, and the refusals only the catalog can
decide (a table or column that is not there, a backfill without a
single-column primary key, a type change of an indexed column).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import text

from ..errors import ExpandContractRefused
from .plan import Step
from .sql import needs_backfill

if TYPE_CHECKING:
    from alembic.script import Script
    from sqlalchemy.engine import Connection

_COLUMN = text(
    "SELECT format_type(a.atttypid, a.atttypmod), pg_get_expr(d.adbin, d.adrelid),"
    " a.attnotnull,"
    " EXISTS (SELECT FROM pg_index i WHERE i.indrelid = a.attrelid"
    "         AND a.attnum = ANY (i.indkey))"
    " OR EXISTS (SELECT FROM pg_constraint c WHERE c.conrelid = a.attrelid"
    "         AND a.attnum = ANY (c.conkey))"
    " OR EXISTS (SELECT FROM pg_constraint c WHERE c.confrelid = a.attrelid"
    "         AND a.attnum = ANY (c.confkey))"
    " FROM pg_attribute a LEFT JOIN pg_attrdef d"
    " ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
    " WHERE a.attrelid = CAST(:table AS regclass) AND a.attname = :column"
    " AND NOT a.attisdropped AND a.attnum > 0"
)
_KEY = text(
    "SELECT a.attname, format_type(a.atttypid, a.atttypmod)"
    " FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
    " AND a.attnum = ANY (i.indkey)"
    " WHERE i.indrelid = CAST(:table AS regclass) AND i.indisprimary"
)
_COLUMNS = text(
    "SELECT attname FROM pg_attribute WHERE attrelid = CAST(:table AS regclass)"
    " AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
)


def _regclass(step: Step) -> str:
    from .sql import table_of

    return table_of(step)


def read_catalog(connection: Connection, revision: Script, steps: list[Step]) -> None:
    """Fill each step's catalog fields in place.

    :raises ExpandContractRefused: as the module docstring says.
    """
    schema = str(connection.execute(text("SELECT current_schema()")).scalar())
    for step in steps:
        step.schema = step.schema or schema
        table = _regclass(step)
        exists = connection.execute(
            text("SELECT to_regclass(:table)"), {"table": table}
        ).scalar()
        if exists is None:
            raise _refused(revision, step, f"table {table} does not exist")
        if step.kind in ("rename_table", "add_not_null"):
            found = None
        else:
            found = connection.execute(
                _COLUMN, {"table": table, "column": step.column}
            ).first()
            if found is None:
                raise _refused(revision, step, f"column {step.target} does not exist")
            step.old_type, step.old_default, step.old_not_null = (
                str(found[0]),
                found[1],
                bool(found[2]),
            )
            if step.kind == "retype" and found[3]:
                raise _refused(
                    revision,
                    step,
                    f"column {step.target} is in an index, a constraint or a"
                    " foreign key, which its new-typed copy would not have",
                    "change the type of an indexed column with a plain revision"
                    " (or drop the index first, and make it again concurrently"
                    " after the contract).",
                )
            if (
                step.kind == "drop_column"
                and step.old_not_null
                and step.old_default is None
            ):
                raise _refused(
                    revision,
                    step,
                    f"column {step.target} is NOT NULL without a default, so the"
                    " new release (which no longer writes it) could not insert",
                    "make it nullable (or give it a server default) in an earlier"
                    " revision.",
                )
            if step.kind == "not_null" and step.old_not_null:
                raise _refused(
                    revision, step, f"column {step.target} is NOT NULL already"
                )
        if needs_backfill(step):
            keys = connection.execute(_KEY, {"table": table}).all()
            if len(keys) != 1:
                raise _refused(
                    revision,
                    step,
                    f"table {table} has no single-column primary key, which the"
                    " backfill walks in batches",
                    "give the table a one-column primary key first.",
                )
            step.key, step.key_type = str(keys[0][0]), str(keys[0][1])


def table_columns(
    connection: Connection, steps: list[Step]
) -> dict[tuple[str | None, str], list[str]]:
    return {
        (step.schema, step.table): [
            str(row[0])
            for row in connection.execute(_COLUMNS, {"table": _regclass(step)})
        ]
        for step in steps
    }


def _refused(
    revision: Script, step: Step, what: str, fix: str = "correct the revision."
) -> ExpandContractRefused:
    return ExpandContractRefused(
        f"Revision {revision.revision} is marked expand_contract = True, and"
        f" {what} ({revision.path}, line {step.line}); nothing ran. Fix: {fix}"
    )
