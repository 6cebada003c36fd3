"""One database's migration run: the settings every run reads first, then
configure Alembic, take the deploy lock, check the pending revisions, run
them (retrying a table-lock wait given up), record the ledger and the
telemetry, and say what a failure kept.

:mod:`.environment` (one app database), :mod:`.multidb` (each bind) and
:mod:`.tenanted` (each tenant) all end here, and this module imports none
of them, so that they form no circle.
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import ExitStack
from dataclasses import dataclass
from logging.config import fileConfig
from typing import TYPE_CHECKING
from typing import Any

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
from ..ledger.telemetry import run_telemetry
from ..settings import read_x_arguments
from .configure_options import as_tuple
from .connection import CONNECTION_ATTRIBUTE
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
from .lock.check import LockCheck
from .lock.self_wait import SelfWaitWatch
from .lock.settings import read_lock_settings
from .run_report import RunReport
from .table_locks import TableLockSettings
from .table_locks import bounded_lock_waits
from .table_locks import is_lock_wait_timeout
from .table_locks import read_table_lock_settings
from .table_locks import table_of

if TYPE_CHECKING:
    from collections.abc import Callable

    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.runtime.migration import MigrationInfo
    from alembic.script import Script
    from sqlalchemy.engine import Connection

    from ..ledger.recorder import LedgerRecorder
    from .connection import Target
    from .lock.settings import LockSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunSettings:
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
    (no connection) or online (under the migration lock, each statement's
    lock wait bounded as configured), logging each revision's duration and
    a summary.

    :param where: names the database in the log lines, e.g. `` (bind 'x')``.
    :param app_name: for the ledger's rows.
    :param lock_scope: the schema that names the lock when the version
        table has no ``version_table_schema`` but lives in one all the same
        (a tenant's, through ``search_path``).
    :param after_run: called with the migration context once the run has
        committed, online, while its connection is still open.
    """
    prepare_expand_contract(context.script)
    report = RunReport(where)
    lock_check = LockCheck(one_transaction=not options.get("transaction_per_migration"))
    ledger = (
        _ledger_recorder()(
            settings.ledger,
            options.get("version_table_schema"),
            app_name,
            target.engine.url,
            command="",
            version_table=options.get("version_table", "alembic_version"),
        )
        # A connection handed in is a test suite's (pytest-alembic's
        # downgrade_leaves_no_trace): its database is not ours to record in.
        if settings.ledger.enabled and writes_versions() and _owned()
        else None
    )
    telemetry = (
        run_telemetry(target.dialect.name, where.strip(" ()"))
        if writes_versions() and not context.is_offline_mode()
        else None
    )
    options = {
        **options,
        "on_version_apply": (
            *as_tuple(options.get("on_version_apply")),
            _in_order(
                # (Which step is ending: the one a lost lock stops.)
                *((ledger.step_ending,) if ledger is not None else ()),
                # The check first: a revision rolled back for a lost lock is
                # neither reported as finished nor recorded as applied.
                lock_check.on_version_apply,
                report.on_version_apply,
                *((ledger.on_version_apply,) if ledger is not None else ()),
                *((telemetry.on_version_apply,) if telemetry is not None else ()),
            ),
        ),
    }
    if context.is_offline_mode():
        context.configure(
            url=target.engine.url,
            literal_binds=True,
            dialect_opts={"paramstyle": "named"},
            **options,
        )
        with context.begin_transaction():
            if ledger is not None:
                ledger.prepare_offline(context.get_context())
            try:
                context.run_migrations(**run_arguments)
            except CommandError as error:
                if target.dialect.name == "sqlite":
                    explain_offline_sqlite_failure(context.script, error)
                raise
        if writes_versions():
            report.summarise(running_command(), offline=True)
        return
    # Only an Engine of our own is ours to change and to lock with; a
    # connection handed in (or handed out by an engine-like wrapper) lives
    # in its owner's transaction. Commands that only read the version
    # (current, check, autogenerate) must not wait for a deploy.
    engine = target if isinstance(target, Engine) else None
    lock = settings.lock if engine is not None and writes_versions() else None
    with (
        # The lock first: a waiting run holds no migration connection
        # (which a pool may lack, or a server may end while it waits), and
        # the migration's snapshot comes after the previous run's commit.
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
        context.configure(connection=connection, **options)
        if writes_versions() and connection.dialect.name in CHECKED_DIALECTS:
            # Imported here: recording revisions and the rules (and the
            # dialect modules they render with) are for the commands that
            # migrate, and cost every other command (current, check) ~50 ms.
            from ..checks.pending import check_before_running

            check_before_running(
                context.get_context(),
                connection,
                settings.checks,
                running_command(),
                context.get_revision_argument(),
                **run_arguments,
            )
        elif writes_versions():
            log.debug(
                "migration_checks: the rules are for PostgreSQL and"
                " MySQL/MariaDB; nothing is checked on %s.",
                connection.dialect.name,
            )
        if ledger is not None:
            ledger.command = running_command()
        with ExitStack() as spans:
            if telemetry is not None:
                telemetry.command = running_command()
                spans.enter_context(telemetry.run(_destination()))
                telemetry.lock_waited(held.waited if held is not None else 0.0)
            try:
                _run_with_retries(
                    connection, settings, run_arguments, report, lock_check, ledger
                )
            except Exception as error:
                explained = _explained(error, connection, lock_check, report)
                if ledger is not None:
                    ledger.record_failure(connection, explained, _script_of(error))
                if telemetry is not None:
                    telemetry.failed_step(_revision_of(error), explained)
                if explained is error:
                    raise
                raise explained from (None if isinstance(error, LockLost) else error)
            if after_run is not None:
                after_run(context.get_context())
        if writes_versions():
            report.summarise(running_command(), offline=False)


def _in_order(*hooks: Callable[..., None]) -> Callable[..., None]:
    """Our ``on_version_apply`` hooks as one, called in order (the first
    to raise stops the rest, as Alembic's own loop would). Alembic builds a
    new ``MigrationInfo`` and a set of the heads for each hook it calls,
    which for five hooks was most of what the environment cost per
    revision; the one hook hands the same step to each of ours.
    """

    def on_version_apply(
        *,
        ctx: MigrationContext,
        step: MigrationInfo,
        heads: set[str],
        run_args: dict[str, Any],
    ) -> None:
        for hook in hooks:
            hook(ctx=ctx, step=step, heads=heads, run_args=run_args)

    return on_version_apply


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


def _ledger_recorder() -> type[LedgerRecorder]:
    """The recorder class, imported only by the commands that write
    ``alembic_version`` (it reads package metadata and the host's name).
    """
    from ..ledger.recorder import LedgerRecorder

    return LedgerRecorder


def _owned() -> bool:
    """Whether the run migrates the app's own engine, not something handed
    in through ``config.attributes["connection"]``.
    """
    return context.config.attributes.get(CONNECTION_ATTRIBUTE) is None


def _destination() -> str | None:
    destination = context.get_revision_argument()
    if isinstance(destination, tuple):
        return ", ".join(destination)
    return destination


def _revision_of(error: BaseException) -> str | None:
    found = _script_of(error)
    return found.revision if found is not None else None


def _script_of(error: BaseException) -> Script | None:
    """The revision file the error was raised from, if any."""
    found = failing_revision(context.script, error)
    return found[0] if found is not None else None


def _run_with_retries(
    connection: Connection,
    settings: RunSettings,
    run_arguments: dict[str, Any],
    report: RunReport,
    lock_check: LockCheck,
    ledger: LedgerRecorder | None,
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
                report.rolled_back()
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
    """
    level = connection.get_isolation_level()
    connection.execution_options(isolation_level=level)


def writes_versions() -> bool:
    """Whether this command may change ``alembic_version`` (upgrade,
    downgrade, stamp): Alembic gives exactly those a destination revision.
    """
    try:
        # Documented to work before configure(), which the lock needs: it
        # is taken before the migration connection is opened. Alembic has
        # no "is there one?" question, and reads the argument from a dict.
        context.get_revision_argument()
    except KeyError:
        return False
    return True


def running_command() -> str:
    """The name of the ``alembic.command`` function this run serves
    (``"current"``, ``"history"``, ``"upgrade"``, ...). Alembic hands each
    command's own work function to the environment, and its qualified name
    starts with the command's; "" when there is none.
    """
    work = context.get_context().opts.get("fn")
    return str(getattr(work, "__qualname__", "")).split(".")[0]


def configure_logging(config: Config) -> None:
    """Apply the ini file's logging sections, if it has any.

    ``disable_existing_loggers=False`` keeps loggers that already exist (the
    app's own, when migrations run from inside it) working; plain
    ``fileConfig`` would silence them.
    """
    path = config.config_file_name
    if path and os.path.isfile(path) and config.file_config.has_section("loggers"):
        fileConfig(path, disable_existing_loggers=False)
