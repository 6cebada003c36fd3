"""The state table: one row per expanded, not yet contracted revision.

Read by ``VersionedSchema`` (which version schema a release's connections
use) and by ``status``/``contract``/``abort``; its columns beyond
``revision``, ``version_schema`` and ``phase`` are this package's own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import text

from .naming import version_schema_name
from .plan import Step
from .sql import create_state_table
from .sql import state_table

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.engine import Connection


@dataclass
class Pending:
    revision: str
    phase: str
    down_revision: str | None
    steps: list[Step]
    progress: dict[str, Any]
    started: datetime


def pending(connection: Connection, schema: str | None) -> list[Pending]:
    """The rows, oldest first; none when the table does not exist."""
    exists = connection.execute(
        text("SELECT to_regclass(:name)"), {"name": state_table(schema)}
    ).scalar()
    if exists is None:
        return []
    rows = connection.execute(
        text(
            "SELECT revision, phase, down_revision, plan, progress, started"
            f" FROM {state_table(schema)} ORDER BY started"
        )
    ).all()
    return [
        Pending(
            str(row[0]),
            str(row[1]),
            row[2],
            [Step.from_json(values) for values in json.loads(row[3])],
            dict(row[4] or {}),
            row[5],
        )
        for row in rows
    ]


def begin(
    connection: Connection,
    schema: str | None,
    revision: str,
    down_revision: str | None,
    steps: list[Step],
) -> None:
    connection.execute(text(create_state_table(schema)))
    connection.execute(
        text(
            f"INSERT INTO {state_table(schema)} (revision, version_schema, phase,"
            " down_revision, plan) VALUES (:revision, :schema, 'expanding', :down,"
            " :plan)"
        ),
        {
            "revision": revision,
            "schema": version_schema_name(revision),
            "down": down_revision,
            "plan": json.dumps([step.as_json() for step in steps]),
        },
    )


def set_phase(
    connection: Connection, schema: str | None, revision: str, phase: str
) -> None:
    expanded = ", expanded = now()" if phase == "expanded" else ""
    connection.execute(
        text(
            f"UPDATE {state_table(schema)} SET phase = :phase{expanded}"
            " WHERE revision = :revision"
        ),
        {"phase": phase, "revision": revision},
    )
