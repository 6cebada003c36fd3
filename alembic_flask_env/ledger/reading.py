"""``python -m alembic_flask_env ledger``: the last runs, newest first."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import func
from sqlalchemy import inspect
from sqlalchemy import select

from .table import ledger_table

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

FORMATS = ("text", "json")


def last_runs(
    connection: Connection, table_name: str, schema: str | None, count: int
) -> list[dict[str, Any]]:
    """The last ``count`` runs, newest first, each with its steps in order;
    none when the table is not there yet.
    """
    if not inspect(connection).has_table(table_name, schema=schema):
        return []
    table = ledger_table(table_name, schema)
    newest = (
        select(table.c.run_id, func.max(table.c.id).label("last"))
        .group_by(table.c.run_id)
        .order_by(func.max(table.c.id).desc())
        .limit(count)
    ).subquery()
    rows = connection.execute(
        select(table)
        .join(newest, newest.c.run_id == table.c.run_id)
        .order_by(newest.c.last.desc(), table.c.id)
    ).mappings()
    runs: dict[str, dict[str, Any]] = {}
    for row in rows:
        run = runs.setdefault(
            row["run_id"],
            {
                "run_id": row["run_id"],
                "started_at": row["started_at"].isoformat(),
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
                "started_at": row["started_at"].isoformat(),
                "duration_s": row["duration_s"],
                "outcome": row["outcome"],
                "error": row["error"],
            }
        )
    return list(runs.values())


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
                f"  {step['direction']} {step['from_revision'] or '<base>'} ->"
                f" {step['revision'] or '<base>'}  {step['outcome']}"
                f" in {step['duration_s']:.2f} s{error}"
            )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
