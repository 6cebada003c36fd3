"""The expand phase, run in place of a marked revision's ``upgrade()``
inside ``alembic upgrade``:

1. in the run's transaction: the state row (phase ``expanding``), the
   additive DDL (:func:`.sql.expand_statements`), phase ``backfilling``;
2. in an autocommit block (which commits 1.): the backfill in batches, then
   the CHECKs validated;
3. in the run's next transaction: the version schema's views and phase
   ``expanded``; Alembic then moves ``alembic_version`` to the revision in
   the same transaction.

A run stopped in 2. leaves the row in ``backfilling`` and ``alembic_version``
where it was: the next ``alembic upgrade`` runs the revision again, and it
goes on from the state row.
"""

from __future__ import annotations

import copy
import logging
import time
from typing import TYPE_CHECKING

from sqlalchemy import text

from ..errors import ExpandContractRefused
from .catalog import read_catalog
from .catalog import table_columns
from .naming import version_schema_name
from .sql import abort_statements
from .sql import expand_statements
from .sql import validate_statements
from .sql import view_statements
from .state import Pending
from .state import begin
from .state import pending
from .state import set_phase

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import Script
    from sqlalchemy.engine import Connection

    from ..ledger.recorder import LedgerRecorder
    from .plan import Step

log = logging.getLogger(__name__)


def _state_schema() -> str | None:
    from alembic import op

    schema = op.get_context().version_table_schema
    return str(schema) if schema else None


def expand(revision: Script, planned: list[Step], lock_timeout: float | None) -> None:
    from alembic import context
    from alembic import op

    from ..settings import read_x_arguments
    from .backfill import backfill
    from .backfill import read_backfill_settings

    connection: Connection = op.get_bind()
    migration = op.get_context()
    schema = _state_schema()
    x_arguments = read_x_arguments(context.get_x_argument(as_dictionary=False))
    settings = read_backfill_settings(context.config, x_arguments)
    started = time.perf_counter()
    ledger = _ledger(context.config, x_arguments, connection, schema)
    rows = pending(connection, schema)
    others = [row for row in rows if row.revision != revision.revision]
    if others:
        raise _two_pending(revision, others[0])
    mine = next(iter(rows), None)
    down = _down(revision)
    if mine is None:
        steps = copy.deepcopy(planned)
        read_catalog(connection, revision, steps)
        begin(connection, schema, revision.revision, down, steps)
        for statement in expand_statements(revision.revision, steps):
            connection.execute(text(statement))
        set_phase(connection, schema, revision.revision, "backfilling")
        if ledger is not None:
            ledger.record_phase(
                connection,
                revision.revision,
                down,
                "expand",
                "backfilling",
                ", ".join(f"{step.kind} {_name(step)}" for step in steps),
                started,
            )
        progress: dict[str, object] = {}
        log.info(
            "Revision %s: expanded (%d changes); backfilling.",
            revision.revision,
            len(steps),
        )
    else:
        steps, progress = mine.steps, mine.progress
        log.info(
            "Revision %s: its expand was stopped while %s; going on from there.",
            revision.revision,
            mine.phase,
        )
    with migration.autocommit_block():
        started = time.perf_counter()
        backfilled = backfill(
            connection,
            revision.revision,
            steps,
            progress,
            settings,
            schema,
            lock_timeout,
        )
        for statement in validate_statements(revision.revision, steps):
            connection.execute(text(statement))
    for statement in view_statements(
        revision.revision, steps, table_columns(connection, steps)
    ):
        connection.execute(text(statement))
    set_phase(connection, schema, revision.revision, "expanded")
    if ledger is not None:
        for done in backfilled:
            ledger.record_phase(
                connection, revision.revision, down, "backfill", "done", done, started
            )
            started = time.perf_counter()
        ledger.record_phase(
            connection,
            revision.revision,
            down,
            "expand",
            "expanded",
            f"version schema {version_schema_name(revision.revision)}",
            started,
        )
    log.info(
        "Revision %s: expanded; the new release reads and writes through its"
        " version schema. Once the old release is gone: python -m"
        " alembic_flask_env contract",
        revision.revision,
    )


def _down(revision: Script) -> str | None:
    down = revision.down_revision
    return down if isinstance(down, str) or down is None else ",".join(down)


def _name(step: Step) -> str:
    return step.table if step.kind == "rename_table" else step.target


def _ledger(
    config: Config,
    x_arguments: dict[str, str],
    connection: Connection,
    schema: str | None,
) -> LedgerRecorder | None:
    from alembic import op
    from flask import current_app
    from flask import has_app_context

    from .ledger import phase_ledger

    return phase_ledger(
        config,
        x_arguments,
        connection,
        schema,
        op.get_context().version_table,
        current_app.name if has_app_context() else "",
        "upgrade",
    )


def _two_pending(revision: Script, other: Pending) -> ExpandContractRefused:
    return ExpandContractRefused(
        f"Revision {revision.revision} is marked expand_contract = True, and"
        f" revision {other.revision} is expanded already and not contracted"
        f" (phase {other.phase}); one expand at a time. Run 'python -m"
        " alembic_flask_env contract' once the release before it is gone (or"
        " 'python -m alembic_flask_env abort'), then upgrade again."
    )


def abort_in_run(revision: Script) -> bool:
    """``alembic downgrade`` of a marked revision: abort its pending expand
    in the run's transaction (Alembic moves ``alembic_version`` back).
    False when nothing is pending: it was contracted, and its own
    ``downgrade()`` runs.
    """
    from alembic import op

    connection: Connection = op.get_bind()
    schema = _state_schema()
    mine = [
        row for row in pending(connection, schema) if row.revision == revision.revision
    ]
    if not mine:
        return False
    for statement in abort_statements(revision.revision, mine[0].steps, schema):
        connection.execute(text(statement))
    log.info("Revision %s: its expand is aborted.", revision.revision)
    return True


def refuse_if_awaiting_contract(revision: Script) -> None:
    """An upgrade of any revision while another awaits its contract."""
    from alembic import op

    migration = op.get_context()
    if migration.as_sql or migration.dialect.name != "postgresql":
        return
    rows = pending(op.get_bind(), _state_schema())
    if rows:
        row = rows[0]
        raise ExpandContractRefused(
            f"Revision {row.revision} awaits its contract (phase {row.phase}), so"
            f" revision {revision.revision} cannot run yet: run 'python -m"
            " alembic_flask_env contract' once the release before it is gone"
            " (or 'python -m alembic_flask_env abort'), then upgrade again."
        )
