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
from typing import TYPE_CHECKING
from typing import Any

from ..app.context import app_in_context
from ..app.database import default_database
from ..app.flask_migrate import call_configure_callbacks
from ..settings import METADATA_KEY
from ..settings import TENANTS_KEY
from ..settings import find_setting
from ..url_masking import safe_url
from .configure_options import context_options
from .configure_options import refuse_unknown_options
from .connection import connectable_to_migrate
from .migration_run import migrate_database
from .migration_run import start_run

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)


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
        check. A name ``context.configure()`` does not take is refused.
    """
    refuse_unknown_options(configure_options, "run_migrations")
    config, x_arguments, settings = start_run()

    with (
        app_in_context(config, x_arguments) as in_use,
        default_database(
            in_use, find_setting(config, x_arguments, METADATA_KEY)
        ) as database,
    ):
        call_configure_callbacks(in_use.app, config)
        tenants = find_setting(config, x_arguments, TENANTS_KEY)
        if tenants is not None:
            # Imported here: the tenants' machinery is for those who have them.
            from .tenanted import migrate_tenants

            migrate_tenants(
                in_use,
                database,
                config,
                x_arguments,
                settings,
                tenants,
                skip_empty_autogenerate,
                configure_options,
            )
            return
        target = connectable_to_migrate(config, database.engine)
        log.info(
            "Flask app %r, database %s", in_use.app.name, safe_url(target.engine.url)
        )
        options = context_options(
            in_use.app,
            config,
            database.metadata,
            target.dialect.name,
            skip_empty_autogenerate,
            configure_options,
            safe_autogenerate=settings.checks.autogenerate,
            ignored_tables=settings.ledger.ignored_tables,
        )
        migrate_database(
            target,
            options,
            settings,
            whose=f"the database of Flask app {in_use.app.name!r}",
            app_name=in_use.app.name,
        )
