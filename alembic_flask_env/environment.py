"""The migration environment that the ``flask`` template's ``env.py`` runs.

Everything a hand-written Flask ``env.py`` used to do lives here, so that
``pip install -U alembic-flask-env`` upgrades every project at once:
configure logging, load the app named by ``flask_app``, enter its app context,
take the engine and metadata from its SQLAlchemy extension, and run the
migrations online or offline.

The database is handed to Alembic as the app's own ``Engine`` (online) or its
``URL`` object (offline), never as a string written back into the config:
that round trip through ConfigParser breaks on a ``%`` in a password and,
with SQLAlchemy 2, masks the password with ``***``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from collections.abc import Iterable
from types import ModuleType
from typing import TYPE_CHECKING
from typing import Any

from alembic.util import CommandError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.operations import MigrationScript
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from flask import Flask
    from sqlalchemy.engine import Connection
    from sqlalchemy.schema import MetaData

    from .connection import Target
    from .database import Database
    from .locking import LockSettings

log = logging.getLogger(__name__)

RevisionDirectivesHook = Callable[
    ["MigrationContext", "str | Iterable[str | None]", "list[MigrationScript]"],
    None,
]


def run_migrations(
    *, skip_empty_autogenerate: bool = True, **configure_options: Any
) -> None:
    """Run Alembic's migrations for the Flask app named by ``flask_app``.

    Call this from ``env.py``; it reads Alembic's current ``context``. Inside an
    active app context it migrates that ``current_app`` and ignores
    ``flask_app``. If ``config.attributes["connection"]`` holds a SQLAlchemy
    ``Connection`` or ``Engine`` (Alembic's documented way to share one, used
    by pytest-alembic), it migrates over that and never opens the app's own
    engine; the app still supplies the metadata.

    :param skip_empty_autogenerate: when ``revision --autogenerate`` finds no
        change, write no revision file and log
        ``No changes in schema detected.`` (the empty file would otherwise be
        committed by mistake and run as a no-op forever).
    :param configure_options: passed to
        :meth:`alembic.runtime.environment.EnvironmentContext.configure`,
        overriding our defaults (``target_metadata`` from the app,
        ``compare_type=True``, ``render_as_batch=True`` on SQLite), for
        example ``compare_server_default=True`` or ``include_object=...``.
        A ``process_revision_directives`` hook runs before the empty-revision
        check.
    """
    from alembic import context

    from .app_context import app_in_context
    from .connection import connectable_to_migrate
    from .database import find_default_database
    from .flask_migrate_compat import call_configure_callbacks
    from .settings import METADATA_KEY
    from .settings import find_setting
    from .url_masking import safe_url

    refuse_unknown_options(configure_options, "run_migrations")
    config, x_arguments, lock_settings = start_run(context)

    with app_in_context(config, x_arguments) as in_use:
        database = find_default_database(
            in_use.app,
            in_use.setting,
            find_setting(config, x_arguments, METADATA_KEY),
        )
        target = connectable_to_migrate(config, database.engine)
        log.info(
            "Flask app %r, database %s",
            in_use.app.name,
            safe_url(target.engine.url),
        )
        call_configure_callbacks(in_use.app, config)
        options = context_options(
            in_use.app,
            config,
            database,
            target.dialect.name,
            skip_empty_autogenerate,
            configure_options,
        )
        try:
            migrate_database(
                context,
                target,
                options,
                lock_settings,
                whose=f"the database of Flask app {in_use.app.name!r}",
            )
        finally:
            # Engines of an app we built are ours to close; a running app's
            # pool belongs to the app.
            if in_use.loaded_here or database.owns_engine:
                database.engine.dispose()


def start_run(context: ModuleType) -> tuple[Config, dict[str, str], LockSettings]:
    """What every run reads before it loads the app: Alembic's config (with
    its logging applied first, so loading the app logs as configured), the
    ``-x`` arguments and the lock settings, so bad values fail early.
    """
    from .locking import read_lock_settings
    from .settings import read_x_arguments

    config: Config = context.config
    configure_logging(config)
    x_arguments = read_x_arguments(context.get_x_argument(as_dictionary=False))
    return config, x_arguments, read_lock_settings(config, x_arguments)


def migrate_database(
    context: ModuleType,
    target: Target,
    options: dict[str, Any],
    lock_settings: LockSettings,
    whose: str,
    **run_arguments: Any,
) -> None:
    """Configure Alembic (``context`` is the ``alembic.context`` proxy
    module) for one database and run its migrations, offline
    (no connection) or online (one transaction, under the migration lock).
    """
    from sqlalchemy.engine import Engine

    from .connection import connected
    from .locking import migration_lock

    if context.is_offline_mode():
        context.configure(
            url=target.engine.url,
            literal_binds=True,
            dialect_opts={"paramstyle": "named"},
            **options,
        )
        with context.begin_transaction():
            try:
                context.run_migrations(**run_arguments)
            except CommandError as error:
                if target.dialect.name == "sqlite":
                    _explain_offline_sqlite_failure(context.script, error)
                raise
        return
    with connected(target, whose) as connection:
        # Only a connection we opened from an Engine is ours to change and
        # to lock with; one handed in (or handed out by an engine-like
        # wrapper) lives in its owner's transaction, which the lock's
        # commits would end.
        owned = isinstance(target, Engine)
        if owned:
            in_real_transactions(connection)
        context.configure(connection=connection, **options)
        # Commands that only read the version (current, check, autogenerate)
        # must not wait for a deploy.
        lock = lock_settings if owned and writes_versions(context) else None
        with (
            migration_lock(connection, lock, _lock_id(options)),
            context.begin_transaction(),
        ):
            context.run_migrations(**run_arguments)


def _explain_offline_sqlite_failure(
    script: ScriptDirectory, error: CommandError
) -> None:
    """Alembic refuses ``--sql`` for a batch operation on SQLite (it must
    read the table from a live database to recreate it) without saying which
    revision asked for it or what to do; say both.

    :raises OfflineSQLiteUnsupported: the error arose in a revision file.
    """
    import traceback

    from .errors import OfflineSQLiteUnsupported

    revisions = {
        os.path.realpath(revision.path): revision
        for revision in script.walk_revisions()
    }
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        revision = revisions.get(os.path.realpath(frame.filename))
        if revision is not None:
            raise OfflineSQLiteUnsupported(
                f"{error} It happened in revision {revision.revision}"
                f" ({revision.path}, line {frame.lineno}): on SQLite, --sql"
                " works only for revisions without batch operations that"
                " recreate a table, which must read the table from the"
                " database first. Run that revision online ('alembic upgrade"
                f" {revision.revision}'), then --sql for the ones after it."
            ) from error


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


def writes_versions(context: ModuleType) -> bool:
    """Whether this command may change ``alembic_version`` (upgrade,
    downgrade, stamp): Alembic gives exactly those a destination revision.
    """
    return "destination_rev" in context.get_context().opts


def configure_logging(config: Config) -> None:
    """Apply the ini file's logging sections, if it has any.

    ``disable_existing_loggers=False`` keeps loggers that already exist (the
    app's own, when migrations run from inside it) working; plain
    ``fileConfig`` would silence them.
    """
    from logging.config import fileConfig

    path = config.config_file_name
    if path and os.path.isfile(path) and config.file_config.has_section("loggers"):
        fileConfig(path, disable_existing_loggers=False)


def context_options(
    app: Flask,
    config: Config,
    database: Database,
    dialect_name: str,
    skip_empty_autogenerate: bool,
    overrides: dict[str, Any],
    databases_in_run: int = 1,
) -> dict[str, Any]:
    """Our defaults for ``context.configure()``, then a Flask-Migrate app's
    ``Migrate(...)`` arguments, then ``env.py``'s own.

    :param databases_in_run: how many databases one autogenerate compares;
        Alembic calls the revision hook after each, and the revision is empty
        only if all of them found nothing.
    """
    from .flask_migrate_compat import migrate_configure_args

    options: dict[str, Any] = {
        "target_metadata": database.metadata,
        "compare_type": True,
        # SQLite cannot ALTER most things; batch mode recreates the table.
        "render_as_batch": dialect_name == "sqlite",
    }
    # A Flask-Migrate app's Migrate(...) arguments, then env.py's own.
    options.update(migrate_configure_args(app))
    options.update(overrides)
    skip_empty = skip_empty_autogenerate and getattr(
        config.cmd_opts, "autogenerate", False
    )
    options["process_revision_directives"] = _revision_hook(
        options.get("process_revision_directives"),
        options["target_metadata"],
        app.name,
        databases_in_run if skip_empty else None,
    )
    return options


#: What SQLAlchemy and Alembic call the dialects whose options (such as
#: ``mssql_batch_separator``) ``context.configure()`` passes on.
_DIALECT_PREFIXES = ("mssql", "mysql", "mariadb", "oracle", "postgresql", "sqlite")


def refuse_unknown_options(options: dict[str, Any], function: str) -> None:
    """Refuse keyword arguments that ``context.configure()`` would accept
    silently and ignore, such as ``compare_server_defaults=True``.

    :raises FlaskEnvError: a name is neither a parameter of
        ``context.configure()`` nor a dialect option.
    """
    import difflib
    import inspect

    from alembic.runtime.environment import EnvironmentContext

    from .errors import FlaskEnvError

    parameters = [
        name
        for name, parameter in inspect.signature(
            EnvironmentContext.configure
        ).parameters.items()
        if name != "self" and parameter.kind is not parameter.VAR_KEYWORD
    ]
    for name in options:
        if name in parameters or name.split("_", 1)[0] in _DIALECT_PREFIXES:
            continue
        close = difflib.get_close_matches(name, parameters, n=1)
        guess = f" Did you mean {close[0]!r}?" if close else ""
        raise FlaskEnvError(
            f"{function}({name}=...) in env.py: {name!r} is not a parameter of"
            f" Alembic's context.configure(), which would ignore it.{guess} Pass"
            " only parameters of context.configure(), or dialect options named"
            " after their dialect (such as mssql_batch_separator)."
        )


def _lock_id(options: dict[str, Any]) -> int:
    from .locking import lock_id

    return lock_id(
        options.get("version_table", "alembic_version"),
        options.get("version_table_schema"),
    )


def _revision_hook(
    user_hook: RevisionDirectivesHook | None,
    metadata: MetaData,
    app_name: str,
    databases_in_run: int | None,
) -> RevisionDirectivesHook:
    """Alembic's ``process_revision_directives``: the user's hook, then a
    refusal to drop every table because the models were never imported,
    then (when ``databases_in_run`` is given) dropping an autogenerated
    revision that found no change in any of that many databases.
    """

    def process_revision_directives(
        context: MigrationContext,
        revision: str | Iterable[str | None],
        directives: list[MigrationScript],
    ) -> None:
        if user_hook is not None:
            user_hook(context, revision, directives)
        if not metadata.tables:
            _refuse_dropping_everything(directives, app_name)
        if (
            databases_in_run is not None
            and directives
            and all(
                len(script.upgrade_ops_list) >= databases_in_run
                and all(ops.is_empty() for ops in script.upgrade_ops_list)
                for script in directives
            )
        ):
            directives[:] = []
            log.info("No changes in schema detected.")

    return process_revision_directives


def _refuse_dropping_everything(
    directives: list[MigrationScript], app_name: str
) -> None:
    """:raises EmptyMetadata: the revision would drop tables although the
    metadata has none, which means the models were not imported, not that
    every table is to go.
    """
    from alembic.operations.ops import DropTableOp

    from .errors import EmptyMetadata
    from .settings import APP_KEY

    for script in directives:
        if not script.upgrade_ops_list:
            continue
        dropped = [
            op.table_name
            for op in script.upgrade_ops_list[-1].ops
            if isinstance(op, DropTableOp)
        ]
        if dropped:
            raise EmptyMetadata(
                f"The metadata of Flask app {app_name!r} has no tables, so"
                f" autogenerate would drop every table of the database"
                f" ({', '.join(sorted(dropped))}); no revision was written. Most"
                f" often the models module is never imported by the code that"
                f" {APP_KEY} names; import it there. To drop every table on"
                " purpose, write that revision by hand ('alembic revision -m"
                " ...' and op.drop_table())."
            )
