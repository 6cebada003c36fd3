"""The environment of the ``flask-multidb`` template: every Flask-SQLAlchemy
bind in one run, one revision for all of them.

Each bind is migrated over its own engine, in its own transaction, with its
own ``alembic_version`` table in its own database, the default bind
first, then the others by name. A revision has an ``upgrade_<bind>()`` and
``downgrade_<bind>()`` per bind; Alembic calls ``upgrade(engine_name)``,
which dispatches to them.

The default bind is ``default`` in revisions, in ``flask_binds`` and in the
log. Flask-Migrate's multi-database revisions call it ``''`` instead
(``upgrade_()``), and revision files are history that must not be edited,
so a folder converted from ``flask db`` passes ``default_engine_name=""``.
"""

from __future__ import annotations

import logging
from typing import Any

from alembic import context

from ..app.context import app_in_context
from ..app.database import DEFAULT_BIND
from ..app.database import bind_databases
from ..app.database import warn_if_empty
from ..app.flask_migrate import call_configure_callbacks
from ..errors import ConnectionNotUsable
from ..errors import FlaskEnvError
from ..errors import InvalidSetting
from ..settings import BINDS_KEY
from ..settings import TENANTS_KEY
from ..settings import Setting
from ..settings import find_setting
from .bind_output import BindOutput
from .command import running_command
from .command import writes_versions
from .configure_options import context_options
from .configure_options import refuse_unknown_options
from .connection import CONNECTION_ATTRIBUTE
from .migration_run import migrate_database
from .migration_run import start_run
from .revision_functions import prepare_revisions

log = logging.getLogger(__name__)


def run_multidb_migrations(
    *,
    default_engine_name: str = DEFAULT_BIND,
    skip_empty_autogenerate: bool = True,
    **configure_options: Any,
) -> None:
    """Run the migrations of every bind (or those ``flask_binds`` names)
    of the Flask app named by ``flask_app``.

    A failure in one bind rolls back that bind's transaction and stops the
    run, with the bind named in the log and the original traceback; binds
    before it stay migrated (they are other databases, committed on their own).
    Offline (``--sql``), each bind's SQL follows a ``-- Bind ...`` header.

    :param default_engine_name: the default bind's name in revision files
        (``upgrade_<name>()``); ``""`` for revisions Flask-Migrate wrote.
    :param skip_empty_autogenerate: as for
        :func:`~alembic_flask_env.run_migrations`; the revision is skipped
        only if no bind changed.
    :param configure_options: passed to ``context.configure()`` for every bind.
    """
    refuse_unknown_options(configure_options, "run_multidb_migrations")
    config, x_arguments, settings = start_run()
    tenants = find_setting(config, x_arguments, TENANTS_KEY)
    if tenants is not None:
        raise InvalidSetting(
            f"{tenants.describe()} is set, but the flask-multidb environment"
            " migrates the app's binds, not tenants. Use the flask (or"
            " flask-pyproject) template for tenants, or remove"
            f" {TENANTS_KEY}."
        )
    if config.attributes.get(CONNECTION_ATTRIBUTE) is not None:
        raise ConnectionNotUsable(
            f"config.attributes[{CONNECTION_ATTRIBUTE!r}] is set, but the flask-multidb"
            " environment migrates one database per bind and cannot use a"
            " single connection. Leave it unset."
        )

    with (
        app_in_context(config, x_arguments) as in_use,
        bind_databases(in_use) as all_binds,
    ):
        call_configure_callbacks(in_use.app, config)
        selected = select_binds(
            list(all_binds), find_setting(config, x_arguments, BINDS_KEY)
        )
        engine_names = {
            name: default_engine_name if name == DEFAULT_BIND else name
            for name in all_binds
        }
        refuse_unusable_bind_names(list(engine_names.values()), in_use.app.name)
        prepare_revisions(context.script, engine_names.values(), default_engine_name)
        done: list[str] = []
        for name in selected:
            database = all_binds[name]
            warn_if_empty(database.metadata, in_use.app.name, in_use.setting.key, name)
            url = database.describe()
            log.info("Flask app %r, bind %r, database %s", in_use.app.name, name, url)
            if context.is_offline_mode():
                config.print_stdout(f"\n-- Bind {name!r}: {url}\n")
            options = context_options(
                in_use.app,
                config,
                database.metadata,
                database.engine.dialect.name,
                skip_empty_autogenerate,
                {
                    "upgrade_token": f"{engine_names[name]}_upgrades",
                    "downgrade_token": f"{engine_names[name]}_downgrades",
                    "template_args": {"binds": list(engine_names.values())},
                    **configure_options,
                },
                databases_in_run=len(selected),
                safe_autogenerate=settings.checks.autogenerate,
                ignored_tables=settings.ledger.ignored_tables,
            )
            try:
                with BindOutput(config, name) as output:
                    migrate_database(
                        database.engine,
                        options,
                        settings,
                        whose=f"bind {name!r} of Flask app {in_use.app.name!r}",
                        where=f" (bind {name!r})",
                        app_name=in_use.app.name,
                        engine_name=engine_names[name],
                    )
                    output.command = running_command()
            except FlaskEnvError:
                raise
            except Exception:
                if writes_versions():
                    log.error(
                        "Migrating bind %r failed; its transaction was rolled"
                        " back. Binds migrated before it in this run: %s.",
                        name,
                        ", ".join(repr(d) for d in done) or "none",
                    )
                else:
                    # check, autogenerate, current: nothing was migrated,
                    # so there is nothing to roll back or to list.
                    log.error(
                        "Bind %r failed; this command migrates nothing, so no"
                        " database was changed.",
                        name,
                    )
                raise
            done.append(name)
            if output.command == "history":
                # Alembic prints the whole history on each run of the env:
                # once is enough ("(current)" marks the first bind's).
                break


def refuse_unusable_bind_names(engine_names: list[str], app_name: str) -> None:
    """:raises InvalidSetting: a bind whose name cannot be part of a Python
    function name (``audit-log``): autogenerate would write
    ``def upgrade_audit-log():``, a syntax error that breaks every later
    command.
    """
    unusable = [name for name in engine_names if not f"upgrade_{name}".isidentifier()]
    if unusable:
        name = unusable[0]
        suggestion = "".join(c if c.isalnum() else "_" for c in name)
        raise InvalidSetting(
            f"Bind {name!r} of Flask app {app_name!r} (a key of"
            " SQLALCHEMY_BINDS) cannot name the functions of a revision:"
            f" upgrade_{name}() is not a Python name. Rename the bind to letters,"
            f" digits and underscores, for example {suggestion!r}; nothing was"
            " written or run."
        )


def select_binds(available: list[str], setting: Setting | None) -> list[str]:
    """The binds ``flask_binds`` names, in the app's order; all without it.

    :raises InvalidSetting: no name, or a name that is not a bind of the app.
    """
    if setting is None:
        return available
    wanted = [name.strip() for name in setting.value.split(",") if name.strip()]
    if not wanted:
        raise InvalidSetting(
            f"{setting.describe()} names no bind. Set {BINDS_KEY} to some of"
            f" {', '.join(available)}, separated by commas, or leave it empty"
            " (or unset) for all."
        )
    unknown = [name for name in wanted if name not in available]
    if unknown:
        raise InvalidSetting(
            f"{setting.describe()} names {', '.join(map(repr, unknown))}, which"
            f" {'is not a bind' if len(unknown) == 1 else 'are not binds'} of the"
            f" app. Its binds are: {', '.join(available)}. Set {BINDS_KEY} to"
            " some of them, separated by commas, or leave it empty for all."
        )
    return [name for name in available if name in wanted]
