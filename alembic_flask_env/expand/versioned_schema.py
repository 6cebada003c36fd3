"""``VersionedSchema``: the Flask extension that lets two releases of one app
serve from one PostgreSQL database during an expand/contract deploy.

Each release ships its migrations folder, so it knows the revision its code
was written for: the folder's head. While that head is expanded and not
contracted, the tables as the new code expects them are the views of the
head's version schema; the old release, whose head is behind, keeps the
tables themselves. So every new connection of the app's engines asks the
database, in one query, where it stands, and puts the version schema first
on the ``search_path`` when the release's head is the one pending.

PgBouncer (or any pooler) in transaction mode hands a client's statements to
whichever server connection is free, so a session ``search_path`` would leak
to the other release's clients and be missing from this one's: with
``transaction_pooling=True`` the path is set with ``set_config(..., true)``
(``SET LOCAL``) at the start of every transaction instead.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from collections.abc import Iterator
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from ..app.loading import loading_an_app
from ..errors import DatabaseNotFound
from ..errors import InvalidSetting
from ..url_masking import safe_url
from .release import Release
from .release import read_release
from .search_path import DatabaseState
from .search_path import behind_a_proxy
from .search_path import local_path_statement
from .search_path import read_state
from .search_path import state_query

if TYPE_CHECKING:
    from flask import Flask
    from sqlalchemy.engine import Connection
    from sqlalchemy.pool import ConnectionPoolEntry

log = logging.getLogger(__name__)

#: The default database's bind name, as flask-multidb and Flask-SQLAlchemy-
#: Lite call it.
DEFAULT_BIND = "default"
#: Where the extension keeps itself in ``app.extensions``.
EXTENSION_KEY = "alembic_flask_env.versioned_schema"
#: Where a connection's pending version schema is kept for its
#: transactions (``transaction_pooling``), in the pool entry's ``info``.
_SCHEMA_INFO_KEY = "alembic_flask_env.version_schema"
#: PostgreSQL's SQLSTATE for a missing table: no alembic_version yet.
UNDEFINED_TABLE = "42P01"
#: Set on a connection made while an Alembic migration ran in this process:
#: checked when it is first checked out after.
_UNCHECKED_INFO_KEY = "alembic_flask_env.unchecked"


class VersionedSchema:
    """Make the app's connections see the tables as its own release expects.

    ``VersionedSchema(app, directory="migrations")``, or
    ``versioned = VersionedSchema()`` then
    ``versioned.init_app(app, directory=...)`` in an app factory, after the
    SQLAlchemy extension's ``init_app``.

    :param directory: this release's migrations folder, absolute or relative
        to the working directory the app starts in.
    :param transaction_pooling: the app reaches PostgreSQL through a pooler
        in transaction mode (PgBouncer ``pool_mode = transaction``): set the
        ``search_path`` per transaction rather than per connection.
    :param binds: the binds (``SQLALCHEMY_BINDS`` keys; ``"default"`` for
        the default database) whose engines are checked. Expand/contract
        runs on the database the migrations folder migrates, the default
        one, so only it by default: another bind, which this folder may not
        migrate at all, would otherwise be refused as never migrated.
    """

    def __init__(
        self,
        app: Flask | None = None,
        directory: str | Path = "migrations",
        *,
        transaction_pooling: bool = False,
        binds: Collection[str] = (DEFAULT_BIND,),
    ) -> None:
        self.directory = directory
        self.transaction_pooling = transaction_pooling
        self.binds = frozenset(binds)
        #: The release read by the last ``init_app``.
        self.release: Release | None = None
        if app is not None:
            self.init_app(app)

    def init_app(
        self,
        app: Flask,
        directory: str | Path | None = None,
        *,
        transaction_pooling: bool | None = None,
        binds: Collection[str] | None = None,
    ) -> None:
        """Read the release's migrations folder and listen on the engines of
        ``binds`` of ``app``'s SQLAlchemy extension.

        :raises InvalidSetting: ``directory`` is not a migrations folder.
        :raises DatabaseNotFound: the app has no SQLAlchemy extension yet.
        """
        release = read_release(directory if directory is not None else self.directory)
        pooling = (
            self.transaction_pooling
            if transaction_pooling is None
            else transaction_pooling
        )
        binds = self.binds if binds is None else frozenset(binds)
        self.release = release
        app.extensions[EXTENSION_KEY] = self
        if loading_an_app():
            # An Alembic command (upgrade, contract, abort) migrates the
            # tables themselves: neither the version schema nor the refusal
            # of a database behind the release may stand in its way.
            log.info(
                "VersionedSchema: Flask app %r is loaded to migrate its"
                " database: its connections are left alone",
                app.name,
            )
            return
        for name, engine in _engines_of(app):
            if name not in binds:
                log.info(
                    "VersionedSchema: engine %s of Flask app %r is left alone:"
                    " expand/contract changes the default database (binds=%r)",
                    name,
                    app.name,
                    sorted(binds),
                )
                continue
            if engine.dialect.name != "postgresql":
                log.info(
                    "VersionedSchema: engine %s of Flask app %r is %s, not"
                    " PostgreSQL: its connections are left alone (expand/contract"
                    " runs on PostgreSQL only)",
                    name,
                    app.name,
                    engine.dialect.name,
                )
                continue
            _listen(engine, release, pooling)


def _engines_of(app: Flask) -> Iterator[tuple[str, Engine]]:
    """The engines of the app's Flask-SQLAlchemy (3.x) or
    Flask-SQLAlchemy-Lite extension, by bind name (``default`` for the
    default one); an async engine's sync core.

    :raises DatabaseNotFound: no such extension on the app (yet).
    """
    extension = app.extensions.get("sqlalchemy")
    if extension is None:
        raise DatabaseNotFound(
            f"VersionedSchema found no SQLAlchemy extension on Flask app"
            f" {app.name!r} (app.extensions has no 'sqlalchemy' entry). Call"
            " db.init_app(app) (Flask-SQLAlchemy 3.x or Flask-SQLAlchemy-Lite)"
            " before VersionedSchema(app, ...) or versioned.init_app(app)."
        )
    with app.app_context():
        engines: Mapping[str | None, Any] = getattr(extension, "engines", {})
        async_engines: Mapping[str, Any] = getattr(extension, "async_engines", {})
        found = [(str(key or DEFAULT_BIND), e) for key, e in engines.items()]
        found += [(key, e.sync_engine) for key, e in async_engines.items()]
    yield from found


def _listen(engine: Engine, release: Release, pooling: bool) -> None:
    """Check the database on each new connection of ``engine``; put the
    version schema on its path (or on each transaction's, when pooling).
    """
    query = state_query(release.version_schemas(), set_path=not pooling)
    announced: list[str] = []

    @event.listens_for(engine, "connect", insert=True)
    def on_connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        if _migrating():
            record.info[_UNCHECKED_INFO_KEY] = True
        else:
            check_database(dbapi_connection, record)

    @event.listens_for(engine, "checkout")
    def on_checkout(dbapi_connection: Any, record: ConnectionPoolEntry, _: Any) -> None:
        if record.info.get(_UNCHECKED_INFO_KEY) and not _migrating():
            del record.info[_UNCHECKED_INFO_KEY]
            check_database(dbapi_connection, record)

    def check_database(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        state = _database_state(engine, dbapi_connection, query)
        release.refuse_unreached(state.revisions)
        record.info[_SCHEMA_INFO_KEY] = state.version_schema
        if state.version_schema is not None and state.version_schema not in announced:
            announced.append(state.version_schema)
            if not pooling and behind_a_proxy(engine.url.port, state):
                log.warning(
                    "VersionedSchema: %s reaches a server listening on port %s:"
                    " if that is a pooler in transaction mode (PgBouncer"
                    " pool_mode = transaction), the search_path set on each"
                    " connection leaks to the other release's clients; pass"
                    " VersionedSchema(..., transaction_pooling=True)",
                    safe_url(engine.url),
                    state.server_port,
                )
            log.info(
                "VersionedSchema: %s is expanded: connections to %s use the"
                " version schema %s%s",
                ", ".join(release.heads),
                safe_url(engine.url),
                state.version_schema,
                " in every transaction" if pooling else "",
            )

    if pooling:

        @event.listens_for(engine, "begin")
        def set_local_path(connection: Connection) -> None:
            schema = connection.connection.info.get(_SCHEMA_INFO_KEY)
            if schema is not None:
                dbapi_connection: Any = connection.connection.dbapi_connection
                if getattr(dbapi_connection, "autocommit", False):
                    raise InvalidSetting(
                        "VersionedSchema(transaction_pooling=True) sets the"
                        " search_path of each transaction, but engine"
                        f" {safe_url(engine.url)} runs in AUTOCOMMIT isolation,"
                        " where no transaction keeps it: its statements would"
                        f" miss the version schema {schema}. Drop"
                        " isolation_level='AUTOCOMMIT' from the engine options,"
                        " or connect this release without the transaction"
                        " pooler during the deploy."
                    )
                cursor = dbapi_connection.cursor()
                try:
                    cursor.execute(local_path_statement(schema))
                finally:
                    cursor.close()


def _migrating() -> bool:
    """Whether an Alembic migration runs in this process now (an app
    factory that upgrades its own database, Flask-Migrate's ``flask db``):
    its connections are the migration's, on the tables themselves.
    """
    from alembic import context

    return getattr(context, "_proxy", None) is not None


def _database_state(engine: Engine, dbapi_connection: Any, query: str) -> DatabaseState:
    """Run the state query in autocommit (so a ``search_path`` it sets is
    the session's, not undone by the pool's rollback); a database without
    ``alembic_version`` stands at no revision.
    """
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(query)
        rows = cursor.fetchall()
    except engine.dialect.loaded_dbapi.ProgrammingError as error:
        # A raw driver error (runtime.dialects.sqlstate reads SQLAlchemy's):
        # psycopg 3 names it sqlstate, psycopg2 pgcode.
        code = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if code != UNDEFINED_TABLE:
            raise
        rows = []  # never migrated
    finally:
        cursor.close()
        dbapi_connection.autocommit = autocommit
    return read_state(rows)
