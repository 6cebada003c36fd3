"""What an ``expand_contract = True`` revision asks for, as steps.

The revision's ``upgrade()`` is recorded with the checks' machinery
(:mod:`..checks.recording`: Alembic's own op objects, never its source
text), and each operation becomes one :class:`Step`, or the revision is
refused, naming the operation and its line, before anything runs. A step
holds only what it needs as plain values, so that the plan is kept as JSON
in the state row and ``contract``/``abort`` need not load the revision.

Two module attributes give what an op cannot say:

- ``expand_contract_fill = {"table.column": "SQL expression"}``: the value
  of existing rows (and of rows the old release writes) for a column made
  NOT NULL (added, or tightened); the expression may name the row's columns.
- ``expand_contract_down = {"table.column": "SQL expression"}``: for a
  changed type, the old type's value from the new one, where a plain cast
  back (the default) cannot do it; the expression names the column by its
  name and sees its new-typed value.
"""

from __future__ import annotations

from dataclasses import asdict
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from alembic.operations import ops
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import TextClause

from ..errors import ExpandContractRefused

if TYPE_CHECKING:
    from alembic.script import Script

    from ..checks.recording import Recorded
    from ..checks.recording import Recording

FILL_ATTRIBUTE = "expand_contract_fill"
DOWN_ATTRIBUTE = "expand_contract_down"

#: What can be phased, for the refusal's message.
SUPPORTED = (
    "op.alter_column(new_column_name=...), op.rename_table(),"
    " op.alter_column(type_=..., postgresql_using=...),"
    " op.alter_column(nullable=False), op.add_column() of a NOT NULL column"
    " (with expand_contract_fill) and op.drop_column()"
)


@dataclass
class Step:
    """One phased change. ``kind`` is one of rename_column, rename_table,
    retype, not_null (tighten an existing column), add_not_null, drop_column.
    """

    kind: str
    table: str
    schema: str | None
    column: str = ""
    #: rename_column, rename_table: the new name.
    new_name: str = ""
    #: retype, add_not_null: the new column's type, as PostgreSQL spells it.
    type_sql: str = ""
    #: retype: the new value from the old row (postgresql_using, else a cast).
    up: str = ""
    #: retype: the old value from the new one (None: a cast back).
    down: str | None = None
    #: not_null, add_not_null: the value of rows that have none.
    fill: str | None = None
    #: add_not_null: the column's server default, set at contract.
    server_default: str | None = None
    line: int = 0
    #: Read from the catalog at expand time (see .catalog).
    old_type: str = ""
    old_default: str | None = None
    old_not_null: bool = False
    key: str = ""
    key_type: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> Step:
        return cls(**values)

    @property
    def target(self) -> str:
        """``table.column``, as the module attributes name it."""
        return f"{self.table}.{self.column}"


def plan_of(revision: Script, recording: Recording) -> list[Step]:
    """The steps of a recorded ``upgrade()``.

    :raises ExpandContractRefused: an operation that cannot be phased, a
        recording stopped early, a column changed twice, or a fill missing.
    """
    if recording.stopped:
        raise _refused(
            revision,
            recording.stopped_line,
            f"its upgrade() could not be read to its end ({recording.stopped})",
            "an expand_contract revision may only call op.* functions, without"
            " asking the database anything.",
        )
    module = getattr(revision, "module", None)
    fills = _expressions(revision, module, FILL_ATTRIBUTE)
    downs = _expressions(revision, module, DOWN_ATTRIBUTE)
    steps = [
        _step(revision, recorded, fills, downs) for recorded in recording.operations
    ]
    seen: dict[str, int] = {}
    for step in steps:
        name = step.target if step.kind != "rename_table" else step.table
        if name in seen:
            raise _refused(
                revision,
                step.line,
                f"{name} is changed twice (lines {seen[name]} and {step.line})",
                "give each column (and a renamed table) one change per"
                " expand_contract revision; put the other in a revision of its own.",
            )
        seen[name] = step.line
    tables = {step.table for step in steps if step.kind == "rename_table"}
    for step in steps:
        if step.kind != "rename_table" and step.table in tables:
            raise _refused(
                revision,
                step.line,
                f"table {step.table} is renamed by this revision and changed too",
                "rename the table in an expand_contract revision of its own.",
            )
    return steps


def _expressions(revision: Script, module: object, name: str) -> dict[str, str]:
    value = getattr(module, name, None)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ExpandContractRefused(
            f"Revision {revision.revision} ({revision.path}): {name} = {value!r}"
            ' is not a dict of "table.column" to an SQL expression (a string),'
            f' e.g. {name} = {{"account.nickname": "lower(name)"}}.'
        )
    return dict(value)


def _step(
    revision: Script,
    recorded: Recorded,
    fills: dict[str, str],
    downs: dict[str, str],
) -> Step:
    operation = recorded.operation
    line = recorded.line
    if isinstance(operation, ops.RenameTableOp):
        return Step(
            "rename_table",
            operation.table_name,
            operation.schema,
            new_name=operation.new_table_name,
            line=line,
        )
    if isinstance(operation, ops.DropColumnOp):
        return Step(
            "drop_column",
            operation.table_name,
            operation.schema,
            operation.column_name,
            line=line,
        )
    if isinstance(operation, ops.AddColumnOp):
        column = operation.column
        target = f"{operation.table_name}.{column.name}"
        if column.nullable is not False:
            raise _unsupported(
                revision, recorded, "op.add_column() of a nullable column"
            )
        default = column.server_default
        default_sql = _sql_text(getattr(default, "arg", None)) if default else None
        fill = fills.get(target, default_sql)
        if fill is None:
            raise _refused(
                revision,
                line,
                f"op.add_column() adds NOT NULL column {target} with no value"
                " for the existing rows",
                f'give one: {FILL_ATTRIBUTE} = {{"{target}": "SQL expression"}}'
                " (it may name the row's columns), or a server_default.",
            )
        return Step(
            "add_not_null",
            operation.table_name,
            operation.schema,
            column.name,
            type_sql=_type_sql(column.type),
            fill=fill,
            server_default=default_sql,
            line=line,
        )
    if isinstance(operation, ops.AlterColumnOp):
        return _altered(revision, recorded, operation, fills, downs)
    raise _unsupported(revision, recorded, _op_name(operation))


def _altered(
    revision: Script,
    recorded: Recorded,
    operation: ops.AlterColumnOp,
    fills: dict[str, str],
    downs: dict[str, str],
) -> Step:
    changes = {
        "new_column_name": operation.modify_name,
        "type_": operation.modify_type,
        "nullable": operation.modify_nullable,
        "server_default": operation.modify_server_default,
        "comment": operation.modify_comment,
    }
    given = [name for name, value in changes.items() if value not in (None, False)]
    if operation.modify_nullable is False:
        given.append("nullable")
    if (
        operation.modify_server_default is not False
        or operation.modify_comment is not False
        or operation.modify_nullable is True
        or len(set(given)) != 1
    ):
        raise _unsupported(
            revision,
            recorded,
            f"op.alter_column({', '.join(sorted(set(given)))})"
            if len(set(given)) > 1
            else "op.alter_column() of a server default, a comment or nullable=True",
        )
    table, schema, column = (
        operation.table_name,
        operation.schema,
        operation.column_name,
    )
    target = f"{table}.{column}"
    if operation.modify_name:
        return Step(
            "rename_column",
            table,
            schema,
            column,
            new_name=operation.modify_name,
            line=recorded.line,
        )
    if operation.modify_type is not None:
        using = operation.kw.get("postgresql_using")
        type_sql = _type_sql(operation.modify_type)
        return Step(
            "retype",
            table,
            schema,
            column,
            type_sql=type_sql,
            up=str(using) if using else f'CAST("{column}" AS {type_sql})',
            down=downs.get(target),
            line=recorded.line,
        )
    return Step(
        "not_null", table, schema, column, fill=fills.get(target), line=recorded.line
    )


_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


def _type_sql(type_: Any) -> str:
    return str(type_.compile(dialect=_DIALECT))


def _sql_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, TextClause):
        return value.text
    if isinstance(value, str):
        # A plain string server_default is a literal, as Alembic renders it.
        return "'" + value.replace("'", "''") + "'"
    return str(value.compile(dialect=_DIALECT))  # type: ignore[attr-defined]


def _op_name(operation: object) -> str:
    """``op.create_index()`` for ``CreateIndexOp``: the name the user wrote."""
    if isinstance(operation, ops.ExecuteSQLOp):
        return "op.execute()"
    name = type(operation).__name__.removesuffix("Op")
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
    return f"op.{snake.replace('_s_q_l', '_sql')}()"


def _unsupported(
    revision: Script, recorded: Recorded, what: str
) -> ExpandContractRefused:
    return _refused(
        revision,
        recorded.line,
        f"{what} cannot be phased",
        f"an expand_contract revision supports {SUPPORTED}. Move the"
        " operation to a revision of its own (without expand_contract).",
    )


def _refused(revision: Script, line: int, what: str, fix: str) -> ExpandContractRefused:
    where = f"{revision.path}, line {line}" if line else revision.path
    return ExpandContractRefused(
        f"Revision {revision.revision} is marked expand_contract = True, and"
        f" {what} ({where}); nothing ran. Fix: {fix}"
    )
