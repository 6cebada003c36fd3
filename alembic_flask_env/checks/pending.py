"""The check before a run: the revisions it is about to apply, held to
the rules with the live database's facts, before anything executes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from typing import Any

from alembic.script.revision import RevisionError
from sqlalchemy import event

from .facts import read_facts
from .run import check_revisions
from .run import enforce
from .stand_in import answering_for

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import Script
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import Connection

    from .settings import ChecksSettings

log = logging.getLogger(__name__)


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
            error,
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
        revisions = pending_revisions(script, heads, command, destination)
        facts = read_facts(connection)
    finally:
        # The catalog reads are not the migration's: its transaction (and
        # snapshot) starts afresh. A transaction that was open before (a
        # connection handed in) is its owner's.
        if ours and connection.in_transaction():
            connection.rollback()
    with database_refused(connection), answering_for(connection.engine):
        findings = check_revisions(revisions, facts, **arguments)
    if ours and connection.in_transaction():  # a refused statement began one
        connection.rollback()
    enforce(findings, settings)


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
