"""Autogenerate that writes the safe form, so that a fresh revision passes
the checks: on PostgreSQL, an index on an existing table is built (and
dropped) ``CONCURRENTLY`` inside ``op.get_context().autocommit_block()``,
and a named foreign key is added ``NOT VALID`` and validated after, in an
autocommit block of its own.
A concurrent build that was interrupted (a deploy killed, the statement
cancelled) leaves an INVALID index of its name behind, and running the
revision again would fail on it ("relation ... already exists"); so the
build first drops any index of that name (concurrently, if it exists). The
revision is then safe to run again after a kill: a leftover is rebuilt,
and on the way down a drop that already happened is not an error.
Tables created in the same revision keep Alembic's plain rendering: nobody
uses them yet. ``migration_checks_autogenerate = false`` turns it off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from alembic.autogenerate import renderers
from alembic.autogenerate.render import render_op
from alembic.operations import ops
from sqlalchemy.dialects import postgresql

if TYPE_CHECKING:
    from alembic.autogenerate.api import AutogenContext
    from alembic.operations.ops import MigrationScript


class AutocommitBlockOp(ops.MigrateOperation):
    """Operations that must run outside the migration's transaction."""

    def __init__(self, operations: list[ops.MigrateOperation]) -> None:
        self.ops = operations


@renderers.dispatch_for(AutocommitBlockOp)
def _render_autocommit_block(
    autogen_context: AutogenContext, op: AutocommitBlockOp
) -> list[str]:
    lines = ["with op.get_context().autocommit_block():"]
    for inner in op.ops:
        lines += render_op(autogen_context, inner)
    return [*lines, ""]  # (the empty line ends the indented block)


_PREPARER = postgresql.dialect().identifier_preparer  # type: ignore[no-untyped-call]


def _quoted(name: str) -> str:
    return str(_PREPARER.quote(name))


def write_safe_forms(directives: list[MigrationScript]) -> None:
    """Rewrite in place the operations autogenerate just compared (the last
    of each list: with several binds Alembic calls the hook once per bind,
    the earlier ones done already, perhaps for another database).
    """
    for script in directives:
        if script.upgrade_ops_list:
            upgrade = script.upgrade_ops_list[-1]
            new = {
                op.table_name for op in upgrade.ops if isinstance(op, ops.CreateTableOp)
            }
            upgrade.ops = _safe(upgrade.ops, new)
        if script.downgrade_ops_list:
            downgrade = script.downgrade_ops_list[-1]
            dropped = {
                op.table_name for op in downgrade.ops if isinstance(op, ops.DropTableOp)
            }
            downgrade.ops = _safe(downgrade.ops, dropped)


def _safe(
    operations: list[ops.MigrateOperation], exempt: set[str]
) -> list[ops.MigrateOperation]:
    result: list[ops.MigrateOperation] = []
    for op in operations:
        if isinstance(op, ops.ModifyTableOps):
            if op.table_name not in exempt:
                op.ops = _safe(op.ops, exempt)
            result.append(op)
        elif (
            isinstance(op, ops.CreateIndexOp)
            and op.table_name not in exempt
            and op.index_name is not None
        ):
            op.kw["postgresql_concurrently"] = True
            leftover = ops.DropIndexOp(
                op.index_name,
                table_name=op.table_name,
                schema=op.schema,
                if_exists=True,
                postgresql_concurrently=True,
            )
            result.append(AutocommitBlockOp([leftover, op]))
        elif isinstance(op, (ops.CreateIndexOp, ops.DropIndexOp)) and (
            op.table_name not in exempt
        ):
            # (An index without a name cannot be looked for: built as is.)
            op.kw["postgresql_concurrently"] = True
            if isinstance(op, ops.DropIndexOp):
                op.if_exists = True
            result.append(AutocommitBlockOp([op]))
        elif (
            isinstance(op, ops.CreateForeignKeyOp)
            and op.source_table not in exempt
            and op.constraint_name
        ):
            op.kw["postgresql_not_valid"] = True
            table = _quoted(op.source_table)
            if op.kw.get("source_schema"):
                table = f"{_quoted(op.kw['source_schema'])}.{table}"
            result += [
                op,
                # Outside the transaction: its commit releases the lock ADD
                # CONSTRAINT took, and the scan then blocks no write.
                AutocommitBlockOp(
                    [
                        ops.ExecuteSQLOp(
                            f"ALTER TABLE {table} VALIDATE CONSTRAINT"
                            f" {_quoted(str(op.constraint_name))}"
                        )
                    ]
                ),
            ]
        else:
            result.append(op)
    return result
