"""``python -m alembic_flask_env ledger``: the last runs, newest first."""

from __future__ import annotations

import json
from datetime import datetime
from datetime import timezone
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import func
from sqlalchemy import inspect
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import true
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import NoSuchTableError

from ..errors import FlaskEnvError
from ..errors import first_line
from .table import VERSION_TABLE_COLUMN
from .table import ledger_table

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

FORMATS = ("text", "json")


class LedgerUnreadable(FlaskEnvError):
    """The ledger table is there but is not one this package writes (a
    table of the same name made by hand or by something else), or reading
    it failed.
    """


def last_runs(
    connection: Connection,
    table_name: str,
    schema: str | None,
    count: int,
    version_table: str = "alembic_version",
) -> list[dict[str, Any]]:
    """The last ``count`` runs of the app whose ``alembic_version`` is
    ``version_table``, newest first, each with its steps in order; none
    when the table is not there yet. Rows written before the ledger had a
    ``version_table`` column could be any app's: they are listed for all.

    :raises LedgerUnreadable: the table lacks a column the ledger needs,
        or reading it failed.
    """
    try:
        found = inspect(connection).get_columns(table_name, schema=schema)
    except NoSuchTableError:
        return []
    except DBAPIError as error:
        raise LedgerUnreadable(
            f"Could not read {_qualified(table_name, schema)}: {first_line(error)}"
        ) from None
    table = ledger_table(table_name, schema, connection.dialect.name)
    columns = {str(column["name"]).lower() for column in found}
    missing = [
        column.name
        for column in table.columns
        if column.name != VERSION_TABLE_COLUMN and column.name not in columns
    ]
    if missing:
        raise LedgerUnreadable(
            f"The table {_qualified(table_name, schema)} is not a migration"
            f" ledger: it has no column {', '.join(missing)}. Something else"
            " made a table of that name: set migration_ledger_table to another"
            " name in alembic.ini (runs then record there), or rename that table."
        )
    mine = (
        or_(
            table.c[VERSION_TABLE_COLUMN] == version_table,
            table.c[VERSION_TABLE_COLUMN].is_(None),
        )
        if VERSION_TABLE_COLUMN in columns
        else true()
    )
    newest = (
        select(table.c.run_id, func.max(table.c.id).label("last"))
        .where(mine)
        .group_by(table.c.run_id)
        .order_by(func.max(table.c.id).desc())
        .limit(count)
    ).subquery()
    chosen = [c for c in table.columns if c.name in columns]
    try:
        rows = connection.execute(
            select(*chosen)
            .join(newest, newest.c.run_id == table.c.run_id)
            .where(mine)
            .order_by(newest.c.last.desc(), table.c.id)
        ).mappings()
    except DBAPIError as error:
        raise LedgerUnreadable(
            f"Could not read {_qualified(table_name, schema)}: {first_line(error)}"
        ) from None
    runs: dict[str, dict[str, Any]] = {}
    for row in rows:
        started = _utc(row["started_at"])
        run = runs.setdefault(
            row["run_id"],
            {
                "run_id": row["run_id"],
                "started_at": started,
                "os_user": row["os_user"],
                "host": row["host"],
                "command": row["command"],
                "app": row["app"],
                "versions": row["versions"],
                "steps": [],
            },
        )
        run["steps"].append(
            {
                "revision": row["revision"],
                "from_revision": row["from_revision"],
                "direction": row["direction"],
                "started_at": started,
                "duration_s": row["duration_s"],
                "outcome": row["outcome"],
                "error": row["error"],
            }
        )
    return list(runs.values())


def _utc(value: datetime) -> str:
    """ISO 8601 with the offset: MySQL's DATETIME and SQLite keep none,
    and the ledger writes UTC there.
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.isoformat()


def _qualified(name: str, schema: str | None) -> str:
    return f"{schema}.{name}" if schema else name


def render(runs: list[dict[str, Any]], output_format: str, where: str = "") -> str:
    if output_format == "json":
        return json.dumps(runs, indent=2)
    if not runs:
        return f"No runs recorded{where}."
    blocks = []
    for run in runs:
        lines = [
            f"{run['started_at']}  {run['os_user']}@{run['host']}  app"
            f" {run['app']!r}{where}: {run['command']}"
        ]
        for step in run["steps"]:
            error = f": {step['error']}" if step["error"] else ""
            lines.append(
                f"  {step['direction']} {_step_name(step)}  {step['outcome']}"
                f" in {step['duration_s']:.2f} s{error}"
            )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _step_name(step: dict[str, Any]) -> str:
    """``a -> b``; a failure raised outside any revision (the lock lost
    before the commit, say) names none.
    """
    if (
        step["outcome"] == "failed"
        and not step["revision"]
        and not step["from_revision"]
    ):
        return "(outside any revision)"
    return f"{step['from_revision'] or '<base>'} -> {step['revision'] or '<base>'}"
