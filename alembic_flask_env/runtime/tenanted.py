"""The ``flask`` environment with ``flask_tenants`` set: every tenant's
schema or database migrated in one run, each with its own
``alembic_version``, lock, transaction, checks and ledger.

A schema tenant is migrated over an engine like the app's whose every
transaction runs with ``search_path`` set to the tenant's schema alone
(the session's on a direct connection, ``SET LOCAL`` behind a pooler),
and whose ``schema_translate_map`` sends every unqualified table
there: so every ``op.*`` lands in that schema, the raw SQL of
``op.execute()`` too, behind a transaction pooler as well
(:mod:`..tenants.schemas`), the version table lives there (so a run that
stops anywhere resumes where each tenant stands), and nothing reaches
``public``. A database tenant is
migrated over an engine of its own, made from its URL and disposed after.

Commands that change versions (``upgrade``, ``downgrade``, ``stamp``) run
every tenant, in worker processes when ``tenant_jobs`` allows; ``current``
and ``check`` look at every tenant, one after another, their output
labelled; other commands (``revision --autogenerate``) use the first tenant.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from typing import Any

from alembic import context
from alembic.runtime.migration import MigrationContext
from alembic.util import CommandError
from sqlalchemy import create_engine
from sqlalchemy import event
from sqlalchemy.engine import Engine

from ..app.database import find_extension
from ..errors import ConnectionNotUsable
from ..errors import InvalidSetting
from ..errors import TenantsFailed
from ..errors import TenantsNotFound
from ..errors import first_line
from ..errors import masked_traceback
from ..ledger.telemetry import flush_telemetry
from ..settings import TENANTS_KEY
from ..tenants.report import FAILED
from ..tenants.report import MIGRATED
from ..tenants.report import UNCHANGED
from ..tenants.report import TenantOutcome
from ..tenants.report import summarise
from ..tenants.report import write_report
from ..tenants.schemas import SCHEMA_OPTION as _SCHEMA_OPTION
from ..tenants.schemas import SERVER_WAIT_OPTION
from ..tenants.schemas import ServerWait
from ..tenants.schemas import in_the_tenants_schema
from ..tenants.schemas import point_at_schema
from ..tenants.schemas import refuse_unplaced_statements
from ..tenants.selection import select_tenants
from ..tenants.settings import read_tenant_settings
from ..tenants.source import list_tenants
from ..tenants.source import own_database
from ..url_masking import mask_secrets
from .bind_output import BindOutput
from .command import running_command
from .command import writes_versions
from .configure_options import as_tuple
from .configure_options import context_options
from .connection import CONNECTION_ATTRIBUTE
from .connection import connected
from .lock import keep_lock_connections
from .lock import stop_keeping_lock_connections
from .migration_run import migrate_database

if TYPE_CHECKING:
    from collections.abc import Callable

    from alembic.config import Config
    from alembic.runtime.migration import MigrationInfo
    from sqlalchemy.engine import Connection

    from ..app.context import AppInUse
    from ..app.database import Database
    from ..settings import Setting
    from ..tenants.settings import TenantSettings
    from ..tenants.source import Tenant
    from .migration_run import RunSettings

log = logging.getLogger(__name__)

#: How Alembic's autogenerate starts its error for a database behind head.
_NOT_UP_TO_DATE = "Target database is not up to date"
#: Commands that look at every tenant without changing any.
_EVERY_TENANT = ("current", "check")


def migrate_tenants(
    in_use: AppInUse,
    database: Database,
    config: Config,
    x_arguments: dict[str, str],
    settings: RunSettings,
    tenants_setting: Setting,
    skip_empty_autogenerate: bool,
    configure_options: dict[str, Any],
) -> None:
    """Run the command for the tenants ``flask_tenants`` lists (those
    ``-x tenants=`` and ``tenant_shard`` choose).

    :raises TenantsNotFound: the tenants cannot be listed, before any is
        touched.
    :raises TenantsFailed: one or more tenants failed; the message names
        them with their errors.
    """
    if config.attributes.get(CONNECTION_ATTRIBUTE) is not None:
        raise ConnectionNotUsable(
            f"config.attributes[{CONNECTION_ATTRIBUTE!r}] is set, but"
            f" {tenants_setting.describe()} migrates a schema or database per"
            " tenant and cannot use a single connection. Leave one of them unset."
        )
    if configure_options.get("version_table_schema"):
        raise InvalidSetting(
            "run_migrations(version_table_schema=...) in env.py would keep every"
            " tenant's version in one table, but each tenant needs its own (in"
            f" its schema or database). Remove version_table_schema while"
            f" {TENANTS_KEY} is set."
        )
    tenant_settings = read_tenant_settings(config, x_arguments)
    listed = list_tenants(tenants_setting)
    _end_the_apps_session(in_use)
    schemas = [tenant for tenant in listed if tenant.schema is not None]
    if schemas and database.engine.dialect.name != "postgresql":
        raise TenantsNotFound(
            f"{tenants_setting.describe()} returned schema names, but a schema per"
            " tenant needs PostgreSQL and the app's database is"
            f" {database.engine.dialect.name}. Return a mapping of tenant name to"
            " database URL instead, a database per tenant; nothing was touched."
        )
    chosen = select_tenants(listed, tenant_settings.selection, tenant_settings.shard)
    if not chosen:
        log.warning(
            "%s listed no tenant%s; nothing was migrated.",
            tenants_setting.describe(),
            " in this shard" if tenant_settings.shard else "",
        )
        return
    log.info("Flask app %r, %d tenants", in_use.app.name, len(chosen))
    runner = _TenantRunner(
        in_use,
        database,
        config,
        settings,
        skip_empty_autogenerate,
        configure_options,
        jobs=tenant_settings.jobs,
    )
    try:
        if writes_versions() and not context.is_offline_mode():
            started = time.monotonic()
            outcomes, jobs = _run_tenants(runner, chosen, tenant_settings)
            log.info(summarise(outcomes, time.monotonic() - started, jobs))
            if tenant_settings.report is not None:
                write_report(tenant_settings.report, outcomes)
            _raise_for_failures(outcomes)
        else:
            runner.one_after_another(chosen)
    finally:
        runner.dispose()


def _end_the_apps_session(in_use: AppInUse) -> None:
    """A tenants callable that read a control table through Flask-SQLAlchemy's
    ``db.session`` leaves it in a transaction on a checked-out connection
    until the app context ends, the whole run; workers forked meanwhile
    would share that connection's socket. End it now.
    """
    extension = find_extension(in_use.app, in_use.setting)
    remove = getattr(getattr(extension, "session", None), "remove", None)
    if callable(remove):
        remove()


def _run_tenants(
    runner: _TenantRunner, chosen: list[Tenant], tenant_settings: TenantSettings
) -> tuple[list[TenantOutcome], int]:
    # Imported here: forking workers is for the commands that migrate.
    from ..tenants.workers import run_tenants

    return run_tenants(
        chosen,
        runner.migrate_one,
        tenant_settings,
        before_workers=runner.before_workers,
        in_worker=runner.forget_inherited,
        leaving_worker=flush_telemetry,
    )


def _raise_for_failures(outcomes: list[TenantOutcome]) -> None:
    failed = [outcome for outcome in outcomes if outcome.status == FAILED]
    if not failed:
        return
    # Tenants that failed alike (a pool too small for the workers) are
    # named together, with their error once.
    by_error: dict[str, list[str]] = {}
    for outcome in failed:
        by_error.setdefault((outcome.error or "").rstrip(":."), []).append(
            outcome.tenant
        )
    named = "; ".join(
        f"{_names(tenants)}: {error}" for error, tenants in list(by_error.items())[:5]
    )
    more = (
        f"; and {len(failed) - sum(map(len, list(by_error.values())[:5]))} more"
        if len(by_error) > 5
        else ""
    )
    raise TenantsFailed(
        f"{len(failed)} of {len(outcomes)} tenants failed: {named}{more}. Each"
        " failed tenant's migration was rolled back where the database allows;"
        " the other tenants are migrated as the log says. Fix the cause and run"
        " the same command again: tenants already there are skipped, the others"
        " go on from where they stand."
    )


class _TenantRunner:
    """Migrates one tenant at a time in this process (a worker is a fork of
    it): the engines it makes are its own, made on first use.
    """

    def __init__(
        self,
        in_use: AppInUse,
        database: Database,
        config: Config,
        settings: RunSettings,
        skip_empty_autogenerate: bool,
        configure_options: dict[str, Any],
        *,
        jobs: int,
    ) -> None:
        self.in_use = in_use
        self.database = database
        self.config = config
        self.settings = settings
        self.skip_empty_autogenerate = skip_empty_autogenerate
        self.configure_options = configure_options
        self.jobs = jobs
        self._schema_engine: Engine | None = None
        # Every command but current may write the version table (Alembic
        # creates it for autogenerate and check too), which needs the schema.
        cli_command = getattr(config.cmd_opts, "cmd", None)
        #: The alembic command run from the command line ("" from Python).
        self._command = str(
            getattr(cli_command[0] if cli_command else None, "__name__", "")
        )
        self._may_create_schemas = self._command != "current"

    def migrate_one(self, tenant: Tenant) -> TenantOutcome:
        """Migrate the tenant; a failure is an outcome, never an exception
        (the next tenant may still run), with the error's traceback logged
        when it came from the user's code or the database.
        """
        started = time.monotonic()
        steps: list[MigrationInfo] = []
        heads: list[str] = []
        try:
            self.run(tenant, steps.append, heads.extend)
        except Exception as error:
            said = self._log_failure(tenant, error)
            now = self._heads_now(tenant)
            return TenantOutcome(
                tenant.name,
                FAILED,
                from_=_revisions(steps[0].source_revision_ids) if steps else now,
                to=now,
                seconds=time.monotonic() - started,
                error=said,
            )
        now = ",".join(sorted(heads))
        return TenantOutcome(
            tenant.name,
            MIGRATED if steps else UNCHANGED,
            from_=_revisions(steps[0].source_revision_ids) if steps else now,
            to=now,
            seconds=time.monotonic() - started,
        )

    def _log_failure(self, tenant: Tenant, error: Exception) -> str:
        """Log the tenant's failure: ours (Alembic's too) as the whole
        message (a check's findings run to many lines), masked; anything
        else with its traceback. Returns its first line, masked.
        """
        if isinstance(error, CommandError):
            log.error("Tenant %r: %s", tenant.name, self._masked(str(error), tenant))
        else:
            log.error(
                "Tenant %r failed:\n%s",
                tenant.name,
                self._masked(masked_traceback(error), tenant),
            )
        return self._masked(first_line(error), tenant)

    def _heads_now(self, tenant: Tenant) -> str:
        """What the tenant's version table says after a failure (where the
        database rolled back, the revision it started from); "" if even
        that cannot be read.
        """
        whose = f"tenant {tenant.name!r}"
        try:
            with (
                self._engine_for(tenant) as engine,
                connected(engine, whose, self.settings.connect_timeout) as connection,
            ):
                heads = MigrationContext.configure(connection).get_current_heads()
        except Exception:
            log.debug("Tenant %r: its version could not be read.", tenant.name)
            return ""
        return _revisions(tuple(heads))

    def one_after_another(self, tenants: list[Tenant]) -> None:
        """``current``, ``check``, ``--sql`` and the rest, in this process:
        each tenant's output labelled (``current``) or under a header
        (``--sql``); a command that is neither about every tenant nor
        changes versions (``revision --autogenerate``) uses the first.
        """
        differing: list[str] = []
        behind: list[str] = []
        #: Tenants that current or check could not read, with why.
        failed: list[tuple[str, str]] = []
        command = ""
        for index, tenant in enumerate(tenants):
            if context.is_offline_mode():
                self.config.print_stdout(
                    f"\n-- Tenant {tenant.name!r}: {tenant.describe()}\n"
                )
                if tenant.schema is not None and writes_versions():
                    self.config.print_stdout(
                        f'CREATE SCHEMA IF NOT EXISTS "{tenant.schema}";\n\n'
                        f'SET search_path TO "{tenant.schema}";\n'
                    )
            with BindOutput(self.config, tenant.name) as output:
                try:
                    self.run(tenant, differing=differing)
                except Exception as error:
                    running = self._command or _running_command()
                    if running not in _EVERY_TENANT or context.is_offline_mode():
                        raise
                    # What autogenerate says of a database behind head;
                    # check goes on to tell every such tenant.
                    if running == "check" and str(error).startswith(_NOT_UP_TO_DATE):
                        behind.append(tenant.name)
                    else:
                        # One tenant that cannot be read (a revision the
                        # scripts lack, its database down) hides no other.
                        failed.append((tenant.name, self._log_failure(tenant, error)))
                        continue
                output.command = command = running_command()
            if command not in _EVERY_TENANT and not writes_versions():
                if len(tenants) > 1:
                    log.info(
                        "%s compared the models with tenant %r only (of %d).",
                        command or "The command",
                        tenant.name,
                        len(tenants),
                    )
                break
            if command == "history" and index == 0:
                break
        if failed or (command == "check" and (differing or behind)):
            raise TenantsFailed(
                " ".join(
                    said
                    for said in (
                        _unread(failed, len(tenants)),
                        _check_failure(differing, behind, len(tenants)),
                    )
                    if said
                )
            )

    def run(
        self,
        tenant: Tenant,
        on_step: Callable[[MigrationInfo], None] | None = None,
        on_heads: Callable[[tuple[str, ...]], None] | None = None,
        differing: list[str] | None = None,
    ) -> None:
        """Configure Alembic for the tenant and run the command there."""
        #: The heads after the last step applied, which Alembic hands each
        #: step's hook: once a step ran, no need to read them back.
        heads_after: list[set[str]] = []
        with self._engine_for(tenant) as engine:
            options = context_options(
                self.in_use.app,
                self.config,
                self.database.metadata,
                engine.dialect.name,
                self.skip_empty_autogenerate,
                dict(self.configure_options),
                safe_autogenerate=self.settings.checks.autogenerate,
                ignored_tables=self.settings.ledger.ignored_tables,
            )
            if on_step is not None:
                options["on_version_apply"] = (
                    *as_tuple(options.get("on_version_apply")),
                    _noting_heads(on_step, heads_after),
                )
            if differing is not None:
                options["process_revision_directives"] = _noting_differences(
                    options["process_revision_directives"], tenant.name, differing
                )
            migrate_database(
                engine,
                options,
                self.settings,
                whose=f"tenant {tenant.name!r} of Flask app {self.in_use.app.name!r}",
                where=f" (tenant {tenant.name!r})",
                app_name=self.in_use.app.name,
                lock_scope=tenant.schema,
                after_run=(
                    None
                    if on_heads is None
                    else lambda migration: on_heads(
                        tuple(heads_after[0])
                        if heads_after
                        else migration.get_current_heads()
                    )
                ),
            )

    @contextmanager
    def _engine_for(self, tenant: Tenant) -> Iterator[Engine]:
        with own_database(tenant) as engine:
            if engine is not None:
                yield engine
                return
        assert tenant.schema is not None
        timeout = self.settings.connect_timeout
        yield self._schema_engines().execution_options(
            schema_translate_map={None: tenant.schema},
            **{
                _SCHEMA_OPTION: tenant.schema,
                SERVER_WAIT_OPTION: ServerWait(
                    timeout.seconds, timeout.setting.describe(), self.jobs
                ),
            },
        )

    def _schema_engines(self) -> Engine:
        """An engine like the app's with a pool of its own (whose
        connections are pointed at one tenant's schema after another, and
        so are no use to the app), that points each connection at the
        schema its tenant's engine names.
        """
        if self._schema_engine is None:
            app_engine = self.database.engine
            # (Not app_engine.execution_options(): setting the pool of such
            # a copy sets the app engine's own.) The new pool keeps the
            # app's connection arguments and pool events.
            engine = create_engine(app_engine.url, pool=app_engine.pool.recreate())
            event.listen(engine, "engine_connect", self._point_at_schema)
            event.listen(engine, "begin", in_the_tenants_schema)
            event.listen(engine, "before_cursor_execute", refuse_unplaced_statements)
            keep_lock_connections(engine.pool)
            self._schema_engine = engine
        return self._schema_engine

    def _point_at_schema(self, connection: Connection) -> None:
        """Create the tenant's schema unless it exists (or the command only
        reads); on a direct connection, also set the session's
        ``search_path`` to it (see :mod:`..tenants.schemas`), committed so
        that Alembic's transaction starts clean and a rollback does not
        undo it.
        """
        schema = connection.get_execution_options().get(_SCHEMA_OPTION)
        if schema is None:
            return
        point_at_schema(connection, schema, create=self._may_create_schemas)

    def dispose(self) -> None:
        """Close the pooled connections of the engine this run made, and
        the lock's.
        """
        stop_keeping_lock_connections(close=True)
        if self._schema_engine is not None:
            self._schema_engine.pool.dispose()
            self._schema_engine = None

    def before_workers(self) -> None:
        """Close every pooled connection, the app's too, so that no worker
        inherits one.
        """
        self.dispose()
        for engine in self._app_engines():
            engine.dispose()

    def forget_inherited(self) -> None:
        """In a worker: drop the parent's pools without closing their
        connections, which the parent owns.
        """
        for engine in self._app_engines():
            engine.dispose(close=False)
        stop_keeping_lock_connections(close=False)
        self._schema_engine = None

    def _app_engines(self) -> list[Engine]:
        """The app's engines: its default one and its binds'."""
        extension = find_extension(self.in_use.app, self.in_use.setting)
        found = extension.engines.values() if extension is not None else ()
        return [self.database.engine, *found]

    def _masked(self, message: str, tenant: Tenant) -> str:
        for url in (
            tenant.url,
            tenant.engine.url if tenant.engine is not None else None,
            self.database.engine.url,
        ):
            if url is not None:
                message = mask_secrets(message, url)
        return message


def _running_command() -> str:
    """The command, once Alembic's context is configured; "" before."""
    try:
        return running_command()
    except Exception:  # Alembic's "No context has been configured yet."
        return ""


def _unread(failed: list[tuple[str, str]], total: int) -> str:
    if not failed:
        return ""
    named = "; ".join(f"{name!r}: {said.rstrip(':.')}" for name, said in failed[:5])
    more = f"; and {len(failed) - 5} more" if len(failed) > 5 else ""
    return (
        f"{len(failed)} of {total} tenants could not be read: {named}{more}. The"
        " other tenants are shown above. Fix the cause (for a revision the"
        " scripts lack: deploy the code that has it, or run 'alembic -x"
        " tenants=NAME stamp --purge REVISION') and run again."
    )


def _check_failure(differing: list[str], behind: list[str], total: int) -> str:
    said = []
    if behind:
        said.append(
            f"{len(behind)} of {total} tenants are not at head: {_names(behind)}."
            " Run 'alembic upgrade head' to bring them there."
        )
    if differing:
        said.append(
            f"The models differ from {len(differing)} of {total} tenants:"
            f" {_names(differing)}. Write a revision for the change"
            " ('alembic revision --autogenerate') and upgrade."
        )
    return " ".join(said)


def _names(tenants: list[str]) -> str:
    shown = ", ".join(map(repr, tenants[:20]))
    return shown + (f" and {len(tenants) - 20} more" if len(tenants) > 20 else "")


def _noting_differences(hook: Any, tenant: str, differing: list[str]) -> Any:
    """The revision hook, after noting whether autogenerate found a change
    in this tenant (``alembic check`` raises once, for all of them).
    """

    def process_revision_directives(
        migration: MigrationContext, revision: Any, directives: list[Any]
    ) -> None:
        if any(
            script.upgrade_ops_list and script.upgrade_ops_list[-1].as_diffs()
            for script in directives
        ):
            differing.append(tenant)
        hook(migration, revision, directives)

    return process_revision_directives


def _noting_heads(
    on_step: Callable[[MigrationInfo], None], heads_after: list[set[str]]
) -> Callable[..., None]:
    """An ``on_version_apply`` hook: ``on_step``, and the heads after the
    step kept as the only item of ``heads_after``.
    """

    def on_version_apply(*, step: MigrationInfo, heads: set[str], **_: Any) -> None:
        on_step(step)
        heads_after[:] = [set(heads)]

    return on_version_apply


def _revisions(ids: tuple[str, ...]) -> str:
    return ",".join(sorted(ids))
