"""The check before a run: the revisions it is about to apply, held to
the rules with the live database's facts, before anything executes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING
from typing import Any

from alembic.script.revision import RevisionError
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError

from ..errors import DatabaseUnreachable
from ..errors import first_line
from ..url_masking import mask_secrets
from ..url_masking import scrub
from .facts import read_facts
from .facts import with_live_types
from .run import enforce
from .run import judge
from .run import record_revisions
from .stand_in import answering_for

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import Script
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import Connection

    from .settings import ChecksSettings

log = logging.getLogger(__name__)

#: Below this much idle time while the revisions were recorded (their
#: import and ``upgrade()`` cached, a fleet's next tenant: well under a
#: millisecond), no server's idle timeout can have ended the session, and
#: the probe of :func:`reconnect_if_closed` (two round trips) is skipped.
PROBE_AFTER_SECONDS = 0.1


def pending_revisions(
    script: ScriptDirectory,
    heads: tuple[str, ...],
    command: str,
    destination: str | tuple[str, ...] | None,
) -> list[tuple[Script, str]]:
    """The revisions ``command`` (upgrade or downgrade) will run from
    ``heads`` to ``destination``, in the order it runs them.
    """
    try:
        if command == "upgrade":
            upgrades = list(
                script.iterate_revisions(destination, heads, implicit_base=True)
            )
            return [(revision, "upgrade") for revision in reversed(upgrades)]
        if command == "downgrade":
            lower = destination if destination is not None else "base"
            downgrades = script.iterate_revisions(
                heads, lower, select_for_downgrade=True
            )
            return [(revision, "downgrade") for revision in downgrades]
    except (RevisionError, AssertionError) as error:
        # Alembic itself will say what is wrong with the target, if anything.
        log.warning(
            "migration_checks: could not work out which revisions %s %s would"
            " run (%s); nothing was checked.",
            command,
            destination,
            mask_secrets(str(error)),
        )
    return []


def check_before_running(
    migration_context: MigrationContext,
    connection: Connection,
    settings: ChecksSettings,
    command: str,
    destination: str | tuple[str, ...] | None,
    **arguments: Any,
) -> None:
    """Check what ``command`` is about to run (on a database the rules
    know: :data:`alembic_flask_env.checks.CHECKED_DIALECTS`).

    :raises UnsafeMigration: with ``migration_checks = error``, a finding.
    """
    if settings.mode == "off" or command not in ("upgrade", "downgrade"):
        return
    script = migration_context.script
    assert script is not None
    ours = not connection.in_transaction()
    try:
        heads = tuple(migration_context.get_current_heads())
    finally:
        # The catalog reads are not the migration's: its transaction (and
        # snapshot) starts afresh. A transaction that was open before (a
        # connection handed in) is its owner's.
        if ours and connection.in_transaction():
            connection.rollback()
    idle_since = time.monotonic()
    revisions = pending_revisions(script, heads, command, destination)
    with database_refused(connection), answering_for(connection.engine):
        steps = record_revisions(revisions, connection.dialect.name, **arguments)
    if ours and connection.in_transaction():  # a refused statement began one
        connection.rollback()
    idle = time.monotonic() - idle_since
    if ours and idle >= PROBE_AFTER_SECONDS:
        reconnect_if_closed(connection, idle)
    try:
        # Read after recording: the schemas, tables and columns the
        # revisions change are known.
        facts = read_facts(connection, [step.change for step in steps])
    finally:
        if ours and connection.in_transaction():
            connection.rollback()
    changes = with_live_types([step.change for step in steps], facts)
    steps = [
        replace(step, change=change)
        for step, change in zip(steps, changes, strict=True)
    ]
    enforce(judge(steps, facts), settings)


def reconnect_if_closed(connection: Connection, idle: float) -> None:
    """Make sure the migration connection still works after the checks,
    and connect it again if the server closed it meanwhile.

    Recording runs each revision's Python (its import, its ``upgrade()``)
    while the connection sits idle, and a server ends idle sessions
    (MariaDB's ``wait_timeout``, PostgreSQL's ``idle_session_timeout``):
    without this the run's first statement would fail on a dead connection,
    and on MySQL be reported as a revision perhaps half applied when
    nothing ran. The migration lock has its own connection, kept alive.

    :raises DatabaseUnreachable: it was closed and connecting again failed.
    """
    try:
        connection.exec_driver_sql("SELECT 1")
        connection.rollback()
        return
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
        closed = scrub(first_line(error), connection.engine.url)
    # Not in a transaction any more: the next use connects again, with the
    # isolation level the run chose put back on the new session.
    level = connection.get_execution_options().get("isolation_level")
    connection.rollback()
    try:
        if level is not None:
            connection.execution_options(isolation_level=level)
        else:
            connection.exec_driver_sql("SELECT 1")
            connection.rollback()
    except DBAPIError as error:
        raise DatabaseUnreachable(
            "The server closed the migration connection while the revisions"
            f" were checked ({idle:.1f} s without a statement: {closed}), and"
            f" connecting again failed"
            f" ({scrub(first_line(error), connection.engine.url)}); nothing was"
            " run. Run again once the database answers."
        ) from None
    log.warning(
        "The server closed the migration connection while the revisions were"
        " checked (%.1f s without a statement: %s); connected again. Nothing"
        " had run on it. Raise the server's idle timeout (MariaDB/MySQL"
        " wait_timeout, PostgreSQL idle_session_timeout) above the time the"
        " revisions take to import and record.",
        idle,
        closed,
    )


class DatabaseUsedWhileRecording(Exception):
    """A revision ran SQL on the database while it was only to be recorded."""


@contextmanager
def database_refused(connection: Connection) -> Iterator[None]:
    """While revisions are recorded, no statement reaches the database
    through the migration connection's engine (``context.execute()``,
    ``op.get_bind()``, the app's ``db.session``): the revision's recording
    stops there instead, and it runs for real only in the migration.
    """

    def refuse(*arguments: object) -> None:
        raise DatabaseUsedWhileRecording(
            "it runs SQL on the database while it is recorded"
        )

    targets: list[Any] = [connection, connection.engine]
    for target in targets:
        event.listen(target, "before_cursor_execute", refuse)
    try:
        yield
    finally:
        for target in targets:
            event.remove(target, "before_cursor_execute", refuse)
