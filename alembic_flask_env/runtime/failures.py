"""What went wrong in a revision, in a message that names it.

Alembic logs ``Running upgrade a -> b`` before each revision but does not
say which one an error arose in. The traceback does: the innermost frame in
one of the script directory's revision files. The failures the environment
explains (a table lock wait given up, a revision half-applied on MySQL, a
batch operation under ``--sql`` on SQLite) are worded here.
"""

from __future__ import annotations

import logging
import os
import traceback
from typing import TYPE_CHECKING

from ..errors import LedgerUnavailable
from ..errors import MigrationLockLost
from ..errors import OfflineSQLiteUnsupported
from ..errors import PartlyApplied
from ..errors import TableLockTimeout
from ..errors import first_line
from ..errors import masked_traceback
from ..settings import TABLE_LOCK_RETRIES_KEY
from ..settings import TABLE_LOCK_TIMEOUT_KEY
from ..url_masking import mask_secrets
from .dialects import MYSQL_DIALECTS
from .table_locks import table_of

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import Script
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError
    from sqlalchemy.engine import Dialect
    from sqlalchemy.exc import DBAPIError

    from .lock import LockLost
    from .table_locks import TableLockSettings

log = logging.getLogger(__name__)


def failing_revision(
    script: ScriptDirectory, error: BaseException
) -> tuple[Script, int] | None:
    """The revision whose file the error was raised from, and the line in
    it; None when it came from elsewhere.
    """
    revisions = {
        os.path.realpath(revision.path): revision
        for revision in script.walk_revisions()
    }
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        revision = revisions.get(os.path.realpath(frame.filename))
        if revision is not None:
            return revision, frame.lineno or 0
    return None


def describe(found: tuple[Script, int] | None) -> str:
    """``revision abc (path, line N)``, or ``a revision`` when unknown."""
    if found is None:
        return "a revision"
    revision, line = found
    return f"revision {revision.revision} ({revision.path}, line {line})"


def table_lock_timeout(
    found: tuple[Script, int] | None,
    error: DBAPIError,
    settings: TableLockSettings,
    attempts: int,
) -> TableLockTimeout:
    """The error for a revision that gave up waiting for a table lock on
    its last attempt.
    """
    setting = settings.timeout_setting
    times = "once" if attempts == 1 else f"{attempts} times"
    return TableLockTimeout(
        f"{describe(found).capitalize()} waited more than"
        f" {settings.timeout:g} s for a lock on table {table_of(error)}"
        f" ({setting.describe() if setting else TABLE_LOCK_TIMEOUT_KEY}),"
        f" {times}, and was rolled back where the database allows. Something"
        " holds that table: a long transaction or query of the app, or"
        " another session. Let it finish (or end it) and run again, or raise"
        f" {TABLE_LOCK_TIMEOUT_KEY} or {TABLE_LOCK_RETRIES_KEY}."
    )


def partly_applied(
    migration_context: MigrationContext,
    dialect: Dialect,
    error: Exception,
    *,
    downgrading: bool = False,
) -> PartlyApplied:
    """MySQL and MariaDB commit every DDL statement at once, so a revision
    that failed half-way cannot be rolled back: say which one, that part of
    it may be applied, and what ``alembic_version`` says now. The error's own
    traceback goes to the log first.
    """
    assert migration_context.script is not None
    found = failing_revision(migration_context.script, error)
    log.error("The revision failed:\n%s", masked_traceback(error))
    heads = current_heads(migration_context)
    # SQLAlchemy's "mysql" dialect serves MariaDB too, and knows which.
    name = "MariaDB" if getattr(dialect, "is_mariadb", False) else "MySQL"
    completed = (
        "the downgrades of the revisions after it"
        if downgrading
        else "the revisions up to there"
    )
    return PartlyApplied(
        f"{describe(found).capitalize()} failed on {name}, which commits every"
        f" DDL statement at once, so part of it may be applied"
        f"{' (its downgrade)' if downgrading else ''}. alembic_version"
        f" now says {heads}: {completed}"
        " completed, each in its own transaction. Compare the database"
        " with the failed revision, undo (or finish) what it did by hand, then"
        f" run again. The error: {first_line(error)}"
    )


def committed_early(
    migration_context: MigrationContext,
    error: Exception,
    start_heads: tuple[str, ...] | None,
) -> PartlyApplied | None:
    """A run in one transaction that failed after part of it was committed
    anyway: an autocommit block (``op.get_context().autocommit_block()``)
    commits the run's transaction before it runs. Say what was kept, as
    for MySQL, when ``alembic_version`` moved from ``start_heads`` (where
    the run started; None: no step ended, so none was committed); None
    when the rollback undid everything. The traceback goes to the log.
    """
    if start_heads is None:
        return None
    try:
        heads = tuple(migration_context.get_current_heads())
    except Exception:  # the connection may be gone: nothing more to say
        return None
    if set(heads) == set(start_heads):
        return None
    assert migration_context.script is not None
    found = failing_revision(migration_context.script, error)
    log.error("The revision failed:", exc_info=error)
    return PartlyApplied(
        f"{describe(found).capitalize()} failed after part of this run was"
        " committed: an autocommit block (op.get_context().autocommit_block())"
        " commits the run's transaction before it runs, so part of the run may"
        f" be applied. alembic_version now says {', '.join(heads) or 'nothing (base)'}:"
        " the revisions up to there are kept; the rest of the run was rolled"
        " back, except what an autocommit block of the failed revision ran."
        " Fix the failed revision and run again; revisions with autocommit"
        " blocks are best run with run_migrations(transaction_per_migration="
        f"True) in env.py. The error: {first_line(error)}"
    )


def ledger_stopped_the_run(
    error: LedgerUnavailable,
    migration_context: MigrationContext,
    start_heads: tuple[str, ...] | None,
) -> LedgerUnavailable:
    """``migration_ledger = required`` stopped the run at a step whose row
    could not be written: say what the run kept, read after the rollback
    (on MySQL the ledger's failed CREATE TABLE commits what came before it).
    """
    heads = current_heads(migration_context)
    try:
        moved = set(migration_context.get_current_heads()) != set(start_heads or ())
    except Exception:  # unreadable: current_heads says so
        moved = False
    kept = (
        "the revisions up to there were committed"
        if moved
        else "nothing this run applied was kept"
    )
    return LedgerUnavailable(
        f"{error} The run stopped there; alembic_version now says {heads}: {kept}."
    )


def current_heads(migration_context: MigrationContext) -> str:
    """What ``alembic_version`` says now, for a message; it is read on the
    migration connection after the failed work was rolled back.
    """
    try:
        return ", ".join(migration_context.get_current_heads()) or "nothing (base)"
    except Exception as unreadable:  # the connection may be gone too
        return f"something it could not be asked ({first_line(unreadable)})"


def lock_lost(
    lost: LockLost,
    migration_context: MigrationContext,
    committed: list[str],
    dialect: Dialect,
) -> MigrationLockLost:
    """The run stopped because its migration lock was gone: say when it
    was noticed, what this run kept, and what ``alembic_version`` says.
    """
    heads = current_heads(migration_context)
    kept = (
        f"this run committed {', '.join(committed)} before that"
        if committed
        else "nothing this run did was committed"
    )
    if dialect.name in MYSQL_DIALECTS and lost.during.startswith("revision"):
        kept += (
            " (MySQL and MariaDB commit DDL at once: part of that last revision"
            " may be applied)"
        )
    return MigrationLockLost(
        f"The migration lock ({lost.description}) was lost {_during(lost)}:"
        f" {lost.reason}. Another run may be migrating this database now, so"
        f" this run stopped there; {kept}, and alembic_version now says"
        f" {heads}. Let any other run finish, then run again; if the lock's"
        " session was ended by an idle timeout of the server or a pooler,"
        " raise that timeout."
    )


def _during(lost: LockLost) -> str:
    if lost.during.startswith("revision"):
        return f"while {lost.during} was applied (it was rolled back)"
    return lost.during


def explain_offline_sqlite_failure(
    script: ScriptDirectory, error: CommandError
) -> None:
    """Alembic refuses ``--sql`` for a batch operation on SQLite (it must
    read the table from a live database to recreate it) without saying which
    revision asked for it or what to do; say both.

    :raises OfflineSQLiteUnsupported: the error arose in a revision file.
    """
    found = failing_revision(script, error)
    if found is not None:
        revision = found[0]
        raise OfflineSQLiteUnsupported(
            f"{mask_secrets(str(error))} It happened in {describe(found)}: on"
            " SQLite, --sql works only for revisions without batch operations that"
            " recreate a table, which must read the table from the"
            " database first. Run that revision online ('alembic upgrade"
            f" {revision.revision}'), then --sql for the ones after it."
        ) from error
