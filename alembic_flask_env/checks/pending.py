"""The check before a run: the revisions it is about to apply, held to
the rules with the live database's facts, before anything executes.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from typing import Any

from .facts import read_facts
from .run import check_revisions
from .run import enforce

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import Script
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import Connection

    from .settings import ChecksSettings

log = logging.getLogger(__name__)

#: The databases the rules know.
CHECKED_DIALECTS = ("postgresql", "mysql", "mariadb")


def pending_revisions(
    script: ScriptDirectory,
    heads: tuple[str, ...],
    command: str,
    destination: str | tuple[str, ...] | None,
) -> list[tuple[Script, str]]:
    """The revisions ``command`` (upgrade or downgrade) will run from
    ``heads`` to ``destination``, in the order it runs them.
    """
    if command == "upgrade":
        upgrades = list(script.iterate_revisions(destination, heads))
        return [(revision, "upgrade") for revision in reversed(upgrades)]
    if command == "downgrade":
        lower = destination if destination is not None else "base"
        downgrades = script.iterate_revisions(heads, lower)
        return [(revision, "downgrade") for revision in downgrades]
    return []


def check_before_running(
    migration_context: MigrationContext,
    connection: Connection,
    settings: ChecksSettings,
    command: str,
    destination: str | tuple[str, ...] | None,
    **arguments: Any,
) -> None:
    """Check what ``command`` is about to run; on a database the rules do
    not know, say so at DEBUG and check nothing.

    :raises UnsafeMigration: with ``migration_checks = error``, a finding.
    """
    if settings.mode == "off" or command not in ("upgrade", "downgrade"):
        return
    if connection.dialect.name not in CHECKED_DIALECTS:
        log.debug(
            "migration_checks: the rules are for PostgreSQL and MySQL/MariaDB;"
            " nothing is checked on %s.",
            connection.dialect.name,
        )
        return
    script = migration_context.script
    assert script is not None
    try:
        heads = tuple(migration_context.get_current_heads())
        revisions = pending_revisions(script, heads, command, destination)
        facts = read_facts(connection)
    finally:
        # The catalog reads are not the migration's: its transaction (and
        # snapshot) starts afresh.
        connection.rollback()
    enforce(check_revisions(revisions, facts, **arguments), settings)
