"""Find the engines and metadata of a Flask application's SQLAlchemy extension.

One discovery serves both environments: the extension is the ``db`` given to
Flask-Migrate's ``Migrate(app, db)`` if there is one, else
``app.extensions["sqlalchemy"]`` (the shape Flask-SQLAlchemy 3.x and
Flask-SQLAlchemy-Lite register), read by duck typing, never by catching
errors to guess versions. Engines are created per application, so this runs
inside an app context.

The databases come as context managers, which dispose the engines they own
on the way out (one made here from ``SQLALCHEMY_DATABASE_URI``, or every
engine of an app this run loaded; a running app's pool belongs to the app),
so no runner can forget to.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING
from typing import NamedTuple
from typing import Protocol

from sqlalchemy import create_engine
from sqlalchemy.engine import URL
from sqlalchemy.engine import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.exc import NoSuchModuleError
from sqlalchemy.schema import MetaData

from ..errors import DatabaseNotFound
from ..errors import DriverNotInstalled
from ..errors import MetadataNotFound
from ..settings import METADATA_KEY
from ..settings import Setting
from ..settings import where_to_set
from ..url_masking import masked_text
from ..url_masking import safe_url
from .drivers import missing_driver
from .flask_migrate import migrate_db
from .metadata import load_metadata

if TYPE_CHECKING:
    from flask import Flask

    from .context import AppInUse

log = logging.getLogger(__name__)

EXTENSION_KEY = "sqlalchemy"
URI_CONFIG_KEY = "SQLALCHEMY_DATABASE_URI"
#: What the default bind (key ``None``) is called in flask_binds and in the
#: names of the revision functions (``upgrade_default``).
DEFAULT_BIND = "default"


class SQLAlchemyExtension(Protocol):
    """What is read of Flask-SQLAlchemy 3.x and Flask-SQLAlchemy-Lite."""

    @property
    def engines(self) -> Mapping[str | None, Engine]: ...


class ExtensionWithMetadata(SQLAlchemyExtension, Protocol):
    """Flask-SQLAlchemy 3.x: a ``MetaData`` per bind as well."""

    @property
    def metadatas(self) -> Mapping[str | None, MetaData]: ...


class Database(NamedTuple):
    """What one migration run needs from the application."""

    engine: Engine
    metadata: MetaData
    #: Made here from SQLALCHEMY_DATABASE_URI: ours to dispose.
    owns_engine: bool = False

    def describe(self) -> str:
        """The URL with its password and secret parameters masked: safe to
        print.
        """
        return safe_url(self.engine.url)


@contextmanager
def default_database(
    in_use: AppInUse, metadata_setting: Setting | None
) -> Iterator[Database]:
    """The default database of the app, with the metadata to compare.

    The engine is the default one of the app's extension (Flask-SQLAlchemy
    3.x keys it ``None``, Flask-SQLAlchemy-Lite ``"default"``); without an
    extension, one made from ``SQLALCHEMY_DATABASE_URI`` (plain SQLAlchemy).
    The metadata is the one ``flask_metadata`` names, else
    Flask-SQLAlchemy's.

    :raises DatabaseNotFound: no engine.
    :raises MetadataNotFound: no metadata.
    """
    app, setting = in_use.app, in_use.setting
    extension = find_extension(app, setting)
    if extension is None:
        engine = _engine_from_uri(app, setting)
        owns_engine = True
    else:
        engine = _default_engine(app, setting, extension)
        owns_engine = False
    with _disposing([engine], owns_engine or in_use.loaded_here):
        metadata = (
            load_metadata(metadata_setting)
            if metadata_setting is not None
            else _metadatas(extension).get(None)
        )
        if metadata is None:
            raise MetadataNotFound(
                f"{setting.describe()} gives the Flask app {app.name!r}, which"
                " has a database but no metadata that alembic_flask_env knows of"
                " (Flask-SQLAlchemy-Lite and plain SQLAlchemy keep it on your own"
                f" declarative Base). Set {METADATA_KEY} ="
                f" yourpackage.models:Base.metadata {where_to_set(setting)}."
            )
        warn_if_empty(metadata, app.name, setting.key)
        yield Database(engine=engine, metadata=metadata, owns_engine=owns_engine)


@contextmanager
def bind_databases(in_use: AppInUse) -> Iterator[dict[str, Database]]:
    """Every bind of the app's Flask-SQLAlchemy extension, by name, the
    default bind first, then the others by name.

    :raises DatabaseNotFound: the app has no Flask-SQLAlchemy 3.x extension.
    """
    app, setting = in_use.app, in_use.setting
    extension = find_extension(app, setting)
    if extension is None:
        raise DatabaseNotFound(
            f"{setting.describe()} gives the Flask app {app.name!r},"
            f" which has no SQLAlchemy extension (app.extensions has no"
            f" {EXTENSION_KEY!r} entry). Create it with 'db = SQLAlchemy()'"
            f" (Flask-SQLAlchemy 3.x) and call 'db.init_app(app)' in the"
            f" code that {setting.key} names, or point {setting.key}"
            " at the application that does."
        )
    metadatas = _metadatas(extension)
    if not metadatas:
        raise DatabaseNotFound(
            f"{setting.describe()} gives the Flask app {app.name!r}, whose"
            f" SQLAlchemy extension ({_type_name(extension)}) keeps no metadata"
            " per bind. The flask-multidb template needs Flask-SQLAlchemy 3.x;"
            " use the flask template with flask_metadata for one database."
        )
    _refuse_shared_names_and_databases(app.name, extension.engines)
    binds = {
        DEFAULT_BIND if key is None else key: Database(
            engine=engine,
            # No model names this bind yet: nothing to compare against.
            metadata=metadatas.get(key) or MetaData(),
        )
        for key, engine in sorted(extension.engines.items(), key=bind_order)
    }
    with _disposing([d.engine for d in binds.values()], in_use.loaded_here):
        yield binds


def bind_order(item: tuple[str | None, object]) -> tuple[bool, str]:
    """The default bind (key None) first, then the others by name."""
    return (item[0] is not None, item[0] or "")


def _refuse_shared_names_and_databases(
    app_name: str, engines: Mapping[str | None, Engine]
) -> None:
    """:raises DatabaseNotFound: two binds would be one: a bind called
    ``default`` beside the default database (flask-multidb's name for
    it), or two binds on the same database, which would share its
    ``alembic_version`` so that the second never gets its tables.
    """
    if None in engines and DEFAULT_BIND in engines:
        raise DatabaseNotFound(
            f"Flask app {app_name!r} has a default database ({URI_CONFIG_KEY})"
            f" and a bind named {DEFAULT_BIND!r} in SQLALCHEMY_BINDS, but"
            f" flask-multidb calls the default database {DEFAULT_BIND!r}: the two"
            " would share one name and one version history. Rename that bind"
            " in SQLALCHEMY_BINDS (and in __bind_key__ of its models)."
        )
    first_bind_of: dict[str, str] = {}
    for key, engine in sorted(engines.items(), key=bind_order):
        name = DEFAULT_BIND if key is None else key
        other = first_bind_of.setdefault(database_identity(engine.url), name)
        if other != name:
            raise DatabaseNotFound(
                f"Binds {other!r} and {name!r} of Flask app {app_name!r} use the"
                f" same database, {safe_url(engine.url)}: they would share its"
                " alembic_version, so the second would never get its tables."
                " Point each bind at a database of its own, or put their models"
                " on one bind."
            )


def database_identity(url: URL) -> str:
    """What two URLs that name one database (and so one ``alembic_version``)
    have in common: the URL without its driver and password, and a SQLite
    file's path made absolute. Two binds, or two tenants, with one identity
    would share the version table.
    """
    same = url.set(drivername=url.get_backend_name())
    if same.host:
        same = same.set(host=same.host.lower())
    in_a_file = same.database not in (None, "", ":memory:")
    if same.get_backend_name() == "sqlite" and same.database and in_a_file:
        same = same.set(database=os.path.abspath(same.database))
    # (A password hidden is the same whatever it is.)
    return same.render_as_string(hide_password=True)


def find_extension(app: Flask, setting: Setting) -> SQLAlchemyExtension | None:
    """The SQLAlchemy extension to migrate: ``Migrate(app, db)``'s ``db``,
    else the registered one; None without either.

    :raises DatabaseNotFound: an extension without ``engines``
        (Flask-SQLAlchemy 2.x).
    """
    extension: object = migrate_db(app) or app.extensions.get(EXTENSION_KEY)
    if extension is None:
        return None
    if not isinstance(getattr(extension, "engines", None), Mapping):
        raise DatabaseNotFound(
            f"{setting.describe()} gives the Flask app {app.name!r}, whose"
            f" app.extensions[{EXTENSION_KEY!r}] is a {_type_name(extension)}"
            " without 'engines'. alembic_flask_env reads Flask-SQLAlchemy 3.x"
            " and Flask-SQLAlchemy-Lite; upgrade Flask-SQLAlchemy to 3.x."
        )
    return extension  # type: ignore[return-value]  # checked just above


def _metadatas(extension: SQLAlchemyExtension | None) -> Mapping[str | None, MetaData]:
    metadatas = getattr(extension, "metadatas", None)
    return metadatas if isinstance(metadatas, Mapping) else {}


def _default_engine(
    app: Flask, setting: Setting, extension: SQLAlchemyExtension
) -> Engine:
    engines = extension.engines
    engine = engines.get(None) or engines.get(DEFAULT_BIND)
    if engine is None:
        raise DatabaseNotFound(
            f"{setting.describe()} gives the Flask app {app.name!r}, whose"
            f" SQLAlchemy extension has no default engine (only"
            f" {', '.join(map(repr, engines)) or 'none'}). Configure the"
            " default database of the extension."
        )
    return engine


def _engine_from_uri(app: Flask, setting: Setting) -> Engine:
    uri = app.config.get(URI_CONFIG_KEY)
    if not uri:
        raise DatabaseNotFound(
            f"{setting.describe()} gives the Flask app {app.name!r}, which"
            f" has no SQLAlchemy extension (app.extensions has no"
            f" {EXTENSION_KEY!r} entry) and no {URI_CONFIG_KEY} in its config."
            f" Call 'db.init_app(app)' (Flask-SQLAlchemy or"
            f" Flask-SQLAlchemy-Lite) in the code that {setting.key} names,"
            f" or, with plain SQLAlchemy, set {URI_CONFIG_KEY} and"
            f" {METADATA_KEY}."
        )
    try:
        url = make_url(uri)
    except ArgumentError:
        raise DatabaseNotFound(
            f"{URI_CONFIG_KEY} of Flask app {app.name!r},"
            f" {masked_text(str(uri))!r}, is not a database URL SQLAlchemy can"
            " read. Write it as dialect+driver://user:password@host/database,"
            " for example postgresql+psycopg://app:secret@localhost/app."
        ) from None
    _refuse_relative_sqlite_path(app, url)
    try:
        return create_engine(url)
    except NoSuchModuleError:
        raise DatabaseNotFound(
            f"{URI_CONFIG_KEY} of Flask app {app.name!r}, {safe_url(url)!r},"
            f" names the database {url.drivername!r}, which SQLAlchemy does not"
            " know. Check the spelling of the part before '://' (for example"
            " postgresql+psycopg, mysql+pymysql, sqlite), or install the"
            " package that provides that dialect."
        ) from None
    except ModuleNotFoundError as exc:
        missing = missing_driver(exc)
        if missing is None:
            raise
        raise DriverNotInstalled(
            f"{URI_CONFIG_KEY} of Flask app {app.name!r}: {missing.explain()}"
        ) from None


def _refuse_relative_sqlite_path(app: Flask, url: URL) -> None:
    """Plain SQLAlchemy opens a relative SQLite path relative to the working
    directory, so running alembic from elsewhere would silently create and
    migrate an empty database there (Flask-SQLAlchemy and -Lite put it in
    the instance folder instead; with plain SQLAlchemy the app decides, and
    we cannot know how).

    :raises DatabaseNotFound: the path is relative.
    """
    path = url.database or ""
    if (
        url.get_backend_name() != "sqlite"
        or path in ("", ":memory:")
        or path.startswith("file:")
        or os.path.isabs(path)
    ):
        return
    raise DatabaseNotFound(
        f"{URI_CONFIG_KEY} = {safe_url(url)!r} of Flask app {app.name!r} is a"
        " relative SQLite path, which plain SQLAlchemy opens relative to the"
        f" working directory: here {os.path.abspath(path)}, and an empty new"
        " database wherever alembic runs from. Make it absolute in the app's"
        " configuration, for example"
        f" 'sqlite:///' + os.path.join(app.instance_path, {os.path.basename(path)!r})."
    )


@contextmanager
def _disposing(engines: list[Engine], owned: bool) -> Iterator[None]:
    """Dispose ``engines`` on the way out when they are ``owned``, so
    running migrations many times in one process leaves no pooled
    connections behind.
    """
    try:
        yield
    finally:
        if owned:
            for engine in engines:
                engine.dispose()


def warn_if_empty(metadata: MetaData, app_name: str, key: str, bind: str = "") -> None:
    if not metadata.tables:
        log.warning(
            "The metadata of Flask app %r%s has no tables: autogenerate would"
            " drop every table. Most often the models module is never"
            " imported by the code that %s names; import it there.",
            app_name,
            f" for bind {bind!r}" if bind else "",
            key,
        )


def _type_name(value: object) -> str:
    return f"{type(value).__module__}.{type(value).__qualname__}"
