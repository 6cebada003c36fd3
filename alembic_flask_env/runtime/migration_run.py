"""One database's migration run, as a pipeline of named steps: the settings
every run reads first (:func:`start_run`), then :func:`migrate_database`,
which reads top to bottom as the run goes: the observers, the lock and the
connection, the checks, the revisions, the summary.

:mod:`.environment` (one app database), :mod:`.multidb` (each bind) and
:mod:`.tenanted` (each tenant) all end here, and this module imports none
of them, so that they form no circle.
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import ExitStack
from contextlib import contextmanager
from logging.config import fileConfig
from typing import TYPE_CHECKING
from typing import Any
from typing import NamedTuple

from alembic import context
from alembic.util import CommandError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from ..checks import CHECKED_DIALECTS
from ..checks.settings import ChecksSettings
from ..checks.settings import read_checks_settings
from ..errors import FlaskEnvError
from ..errors import LedgerUnavailable
from ..expand.hook import prepare_expand_contract
from ..ledger.settings import LedgerSettings
from ..ledger.settings import read_ledger_settings
from ..settings import read_x_arguments
from .command import running_command
from .command import writes_versions
from .configure_options import as_tuple
from .connection import ConnectTimeout
from .connection import connected
from .connection import read_connect_timeout
from .dialects import MYSQL_DIALECTS
from .failures import committed_early
from .failures import describe
from .failures import explain_offline_sqlite_failure
from .failures import failing_revision
from .failures import ledger_stopped_the_run
from .failures import lock_lost
from .failures import partly_applied
from .failures import table_lock_timeout
from .lock import LockLost
from .lock import migration_lock
from .lock.self_wait import SelfWaitWatch
from .lock.settings import read_lock_settings
from .observers import RunObservers
from .observers import watch_run
from .table_locks import TableLockSettings
from .table_locks import bounded_lock_waits
from .table_locks import is_lock_wait_timeout
from .table_locks import read_table_lock_settings
from .table_locks import table_of

if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterator

    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import Script
    from sqlalchemy.engine import Connection

    from .connection import Target
    from .lock.check import LockCheck
    from .lock.settings import LockSettings
    from .run_report import RunReport

log = logging.getLogger(__name__)


class RunSettings(NamedTuple):
    """The keys every run reads before it loads the app, checked at once so
    that a bad value fails before anything is done.
    """

    lock: LockSettings
    table_locks: TableLockSettings
    connect_timeout: ConnectTimeout
    checks: ChecksSettings
    ledger: LedgerSettings


def start_run() -> tuple[Config, dict[str, str], RunSettings]:
    """What every run reads before it loads the app: Alembic's config (with
    its logging applied first, so loading the app logs as configured), the
    ``-x`` arguments and the run's settings.
    """
    config = context.config
    configure_logging(config)
    x_arguments = read_x_arguments(context.get_x_argument(as_dictionary=False))
    settings = RunSettings(
        read_lock_settings(config, x_arguments),
        read_table_lock_settings(config, x_arguments),
        read_connect_timeout(config, x_arguments),
        read_checks_settings(config, x_arguments),
        read_ledger_settings(config, x_arguments),
    )
    return config, x_arguments, settings


def migrate_database(
    target: Target,
    options: dict[str, Any],
    settings: RunSettings,
    whose: str,
    where: str = "",
    app_name: str = "",
    *,
    lock_scope: str | None = None,
    after_run: Callable[[MigrationContext], None] | None = None,
    **run_arguments: Any,
) -> None:
    """Configure Alembic for one database and run its migrations, offline
    (no connection) or online, as a short pipeline whose steps are the
    functions below, in this order:

    0. :func:`..expand.hook.prepare_expand_contract`: revisions marked
       ``expand_contract = True`` checked and wrapped (offline too);
    1. :func:`.observers.watch_run`: the observers of each revision's end
       (lock check, report, ledger, telemetry), handed to Alembic as one
       ``on_version_apply`` hook;
    2. offline, :func:`write_sql` and done; online,
       :func:`connection_under_lock`: the deploy lock, then the migration
       connection (a watch cancels a statement waiting on the lock itself);
    3. :func:`check_pending`: the safe-migration rules, before anything runs;
    4. :func:`apply_revisions`: the revisions, a table-lock wait retried,
       a failure explained and recorded;
    5. the summary line.

    :param where: names the database in the log lines, e.g. `` (bind 'x')``.
    :param app_name: for the ledger's rows.
    :param lock_scope: the schema that names the lock when the version
        table has no ``version_table_schema`` but lives in one all the same
        (a tenant's, through ``search_path``).
    :param after_run: called with the migration context once the run has
        committed, online, while its connection is still open.
    """
    prepare_expand_contract(
        context.script,
        writes_versions(),
        settings.table_locks.timeout,
        target.dialect.name,
    )
    observers = watch_run(target, options, settings.ledger, where, app_name)
    options = {
        **options,
        "on_version_apply": (
            *as_tuple(options.get("on_version_apply")),
            observers.on_version_apply,
        ),
    }
    if context.is_offline_mode():
        write_sql(target, options, observers, run_arguments)
        return
    with connection_under_lock(
        target, options, settings, whose, lock_scope, observers.lock_check
    ) as connection:
        context.configure(connection=connection, **options)
        check_pending(connection, settings.checks, run_arguments)
        observers.command_known(running_command())
        with observers.spans():
            apply_revisions(connection, settings, observers, run_arguments)
            if after_run is not None:
                after_run(context.get_context())
    if writes_versions():
        observers.report.summarise(running_command(), offline=False)


def write_sql(
    target: Target,
    options: dict[str, Any],
    observers: RunObservers,
    run_arguments: dict[str, Any],
) -> None:
    """``--sql``: Alembic gets the URL and no connection, and writes each
    revision's SQL (the ledger's rows included) with literal values.
    """
    context.configure(
        url=target.engine.url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **options,
    )
    with context.begin_transaction():
        if observers.ledger is not None:
            observers.ledger.prepare_offline(context.get_context())
        try:
            context.run_migrations(**run_arguments)
        except CommandError as error:
            if target.dialect.name == "sqlite":
                explain_offline_sqlite_failure(context.script, error)
            raise
    if writes_versions():
        observers.report.summarise(running_command(), offline=True)


@contextmanager
def connection_under_lock(
    target: Target,
    options: dict[str, Any],
    settings: RunSettings,
    whose: str,
    lock_scope: str | None,
    lock_check: LockCheck,
) -> Iterator[Connection]:
    """The migration connection, under the deploy lock for the commands
    that write ``alembic_version``.

    The lock first: a waiting run holds no migration connection (which a
    pool may lack, or a server may end while it waits), and the migration's
    snapshot comes after the previous run's commit. Only an Engine of our
    own is ours to change and to lock with; a connection handed in (or
    handed out by an engine-like wrapper) lives in its owner's transaction.
    Commands that only read the version (current, check, autogenerate) must
    not wait for a deploy.
    """
    engine = target if isinstance(target, Engine) else None
    lock = settings.lock if engine is not None and writes_versions() else None
    with (
        migration_lock(
            engine,
            lock,
            options.get("version_table", "alembic_version"),
            options.get("version_table_schema") or lock_scope,
            connect_timeout=settings.connect_timeout,
            whose=whose,
        ) as held,
        connected(target, whose, settings.connect_timeout) as connection,
        ExitStack() as stack,
    ):
        lock_check.held = held
        if held is not None:
            watch = SelfWaitWatch(held, settings.table_locks.timeout)
            lock_check.self_wait = watch
            stack.enter_context(watch.watching(connection))
        if engine is not None:
            in_real_transactions(connection)
        yield connection


def check_pending(
    connection: Connection, settings: ChecksSettings, run_arguments: dict[str, Any]
) -> None:
    """Hold the revisions about to run to the safe-migration rules, on the
    databases the rules are for, before any of them runs.
    """
    if not writes_versions():
        return
    if connection.dialect.name not in CHECKED_DIALECTS:
        log.debug(
            "migration_checks: the rules are for PostgreSQL and"
            " MySQL/MariaDB; nothing is checked on %s.",
            connection.dialect.name,
        )
        return
    # Imported here: recording revisions and the rules (and the dialect
    # modules they render with) are for the commands that migrate, and cost
    # every other command (current, check) ~50 ms.
    from ..checks.pending import check_before_running

    check_before_running(
        context.get_context(),
        connection,
        settings,
        running_command(),
        context.get_revision_argument(),
        **run_arguments,
    )


def apply_revisions(
    connection: Connection,
    settings: RunSettings,
    observers: RunObservers,
    run_arguments: dict[str, Any],
) -> None:
    """Run the revisions (:func:`_run_with_retries`); a failure is raised
    in words that say what was kept (:func:`_explained`), after the
    observers recorded it.
    """
    try:
        _run_with_retries(connection, settings, run_arguments, observers)
    except Exception as error:
        explained = _explained(
            error, connection, observers.lock_check, observers.report
        )
        observers.failed(connection, explained, _script_of(error))
        if explained is error:
            raise
        raise explained from (None if isinstance(error, LockLost) else error)


def _explained(
    error: Exception, connection: Connection, lock_check: LockCheck, report: RunReport
) -> Exception:
    """The error to raise for ``error``: a lost lock, a MySQL failure, a
    failure after an autocommit block committed part of a run in one
    transaction, or the ledger that could not be written, in words that
    say what was kept; else ``error`` itself.
    """
    waited_for_itself = (
        lock_check.self_wait.explain(describe(failing_revision(context.script, error)))
        if lock_check.self_wait is not None
        else None
    )
    if waited_for_itself is not None:
        return waited_for_itself
    if isinstance(error, LockLost):
        return lock_lost(
            error, context.get_context(), lock_check.committed, connection.dialect
        )
    if isinstance(error, LedgerUnavailable):
        return ledger_stopped_the_run(error, context.get_context(), report.start_heads)
    if isinstance(error, FlaskEnvError):
        return error
    if connection.dialect.name in MYSQL_DIALECTS:
        return partly_applied(
            context.get_context(),
            connection.dialect,
            error,
            downgrading=running_command() == "downgrade",
        )
    if lock_check.one_transaction:
        return (
            committed_early(context.get_context(), error, report.start_heads) or error
        )
    return error


def _script_of(error: BaseException) -> Script | None:
    """The revision file the error was raised from, if any."""
    found = failing_revision(context.script, error)
    return found[0] if found is not None else None


def _run_with_retries(
    connection: Connection,
    settings: RunSettings,
    run_arguments: dict[str, Any],
    observers: RunObservers,
) -> None:
    """Run the migrations; a statement that gave up waiting for a table
    lock rolls its transaction back, and the run starts again after a pause
    (still under the migration lock) as long as ``table_lock_retries``
    allows.

    :raises TableLockTimeout: the last attempt gave up too.
    :raises LockLost: the migration lock was found gone; the work since the
        last check was rolled back.
    """
    table_locks = settings.table_locks
    lock_check, ledger = observers.lock_check, observers.ledger
    attempts = table_locks.retries + 1
    for attempt in range(1, attempts + 1):
        try:
            with (
                context.begin_transaction(),
                bounded_lock_waits(
                    connection, table_locks, one_transaction=lock_check.one_transaction
                ),
            ):
                context.run_migrations(**run_arguments)
                lock_check.verify(during="before the run could commit")
            return
        except DBAPIError as error:
            if table_locks.timeout is None or not is_lock_wait_timeout(error):
                raise
            found = failing_revision(context.script, error)
            if lock_check.one_transaction:
                observers.report.rolled_back()
            if ledger is not None:
                ledger.record_failure(
                    connection, error, found[0] if found is not None else None
                )
            if attempt < attempts:
                log.warning(
                    "%s waited more than %g s for a lock on table %s; running"
                    " again in %g s (attempt %d of %d).",
                    describe(found).capitalize(),
                    table_locks.timeout,
                    table_of(error),
                    table_locks.timeout,
                    attempt + 1,
                    attempts,
                )
                time.sleep(table_locks.timeout)
                continue
            raise table_lock_timeout(found, error, table_locks, attempts) from error


def in_real_transactions(connection: Connection) -> None:
    """Make the migration connection transactional, even when the app's
    engine is set to ``isolation_level="AUTOCOMMIT"``: otherwise every DDL
    and data change of a failing run would stay committed while
    ``alembic_version`` stays behind, and Alembic would still report
    transactional DDL. The level is the one the database reports for the
    connection (its default, or what the app chose), so only autocommit
    changes; the app's engine and its other connections are left alone.
    The level is asked once per pooled connection (the pool puts it back
    at check-in): a fleet of tenants reuses one, and the question was two
    round trips per tenant.
    """
    info = connection.connection.info
    level = info.get(_LEVEL_INFO)
    if level is None:
        level = info[_LEVEL_INFO] = connection.get_isolation_level()
    connection.execution_options(isolation_level=level)


#: Where a pooled connection's record keeps the isolation level it had
#: when first checked out for a run.
_LEVEL_INFO = "alembic_flask_env_isolation_level"


def configure_logging(config: Config) -> None:
    """Apply the ini file's logging sections, if it has any.

    ``disable_existing_loggers=False`` keeps loggers that already exist (the
    app's own, when migrations run from inside it) working; plain
    ``fileConfig`` would silence them.
    """
    path = config.config_file_name
    if path and os.path.isfile(path) and config.file_config.has_section("loggers"):
        fileConfig(path, disable_existing_loggers=False)
