"""Find the engine and metadata of a Flask application's SQLAlchemy extension.

Detection is by duck typing on ``app.extensions["sqlalchemy"]`` (the shape
Flask-SQLAlchemy 3.x registers), never by catching errors to guess versions.
Engines are created per application, so call this inside an app context.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from .errors import DatabaseNotFound
from .settings import METADATA_KEY
from .settings import Setting
from .settings import where_to_set
from .url_masking import safe_url

if TYPE_CHECKING:
    from flask import Flask
    from sqlalchemy.engine import URL
    from sqlalchemy.engine import Engine
    from sqlalchemy.schema import MetaData

log = logging.getLogger(__name__)

EXTENSION_KEY = "sqlalchemy"
URI_CONFIG_KEY = "SQLALCHEMY_DATABASE_URI"


@dataclass(frozen=True)
class Database:
    """What one migration run needs from the application."""

    engine: Engine
    metadata: MetaData
    #: Made by us from SQLALCHEMY_DATABASE_URI: ours to dispose.
    owns_engine: bool = False

    def describe(self) -> str:
        """The URL with its password and secret parameters masked: safe to
        print.
        """
        return safe_url(self.engine.url)


def find_default_database(
    app: Flask, app_setting: Setting, metadata_setting: Setting | None = None
) -> Database:
    """The default database of the app, with the metadata to compare.

    The engine is the default one of the app's ``sqlalchemy`` extension
    (Flask-SQLAlchemy 3.x keys it ``None``, Flask-SQLAlchemy-Lite
    ``"default"``); without an extension, one made from
    ``SQLALCHEMY_DATABASE_URI`` (plain SQLAlchemy). The metadata is the one
    ``flask_metadata`` names, else Flask-SQLAlchemy's.

    :raises DatabaseNotFound: no engine, or no metadata.
    """
    from .flask_migrate_compat import migrate_db

    # Migrate(app, db) names the db to migrate; else the registered extension.
    extension: Any = migrate_db(app) or app.extensions.get(EXTENSION_KEY)
    owns_engine = False
    metadata = None
    if extension is None:
        uri = app.config.get(URI_CONFIG_KEY)
        if not uri:
            raise DatabaseNotFound(
                f"{app_setting.describe()} gives the Flask app {app.name!r}, which"
                f" has no SQLAlchemy extension (app.extensions has no"
                f" {EXTENSION_KEY!r} entry) and no {URI_CONFIG_KEY} in its config."
                f" Call 'db.init_app(app)' (Flask-SQLAlchemy or"
                f" Flask-SQLAlchemy-Lite) in the code that {app_setting.key} names,"
                f" or, with plain SQLAlchemy, set {URI_CONFIG_KEY} and"
                f" {METADATA_KEY}."
            )
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        url = make_url(uri)
        _refuse_relative_sqlite_path(app, url)
        engine = create_engine(url)
        owns_engine = True
    else:
        engines = getattr(extension, "engines", None)
        if engines is None:
            raise DatabaseNotFound(
                f"{app_setting.describe()} gives the Flask app {app.name!r}, whose"
                f" app.extensions[{EXTENSION_KEY!r}] is a"
                f" {type(extension).__module__}.{type(extension).__qualname__}"
                " without 'engines'. alembic_flask_env reads Flask-SQLAlchemy 3.x"
                " and Flask-SQLAlchemy-Lite; upgrade Flask-SQLAlchemy to 3.x."
            )
        engine = engines.get(None) or engines.get("default")
        if engine is None:
            raise DatabaseNotFound(
                f"{app_setting.describe()} gives the Flask app {app.name!r}, whose"
                f" SQLAlchemy extension has no default engine (only"
                f" {', '.join(map(repr, engines)) or 'none'}). Configure the"
                " default database of the extension."
            )
        metadatas = getattr(extension, "metadatas", None)
        if metadatas is not None:
            metadata = metadatas.get(None)
    if metadata_setting is not None:
        from .metadata_loading import load_metadata

        metadata = load_metadata(metadata_setting)
    if metadata is None:
        if owns_engine:
            engine.dispose()
        raise DatabaseNotFound(
            f"{app_setting.describe()} gives the Flask app {app.name!r}, which"
            " has a database but no metadata that alembic_flask_env knows of"
            " (Flask-SQLAlchemy-Lite and plain SQLAlchemy keep it on your own"
            f" declarative Base). Set {METADATA_KEY} ="
            f" yourpackage.models:Base.metadata {where_to_set(app_setting)}."
        )
    database = Database(engine=engine, metadata=metadata, owns_engine=owns_engine)
    warn_if_empty(database.metadata, app.name, app_setting.key)
    return database


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


def _extension(app: Flask, app_setting: Setting) -> Any:
    extension: Any = app.extensions.get(EXTENSION_KEY)
    if extension is None:
        raise DatabaseNotFound(
            f"{app_setting.describe()} gives the Flask app {app.name!r},"
            f" which has no SQLAlchemy extension (app.extensions has no"
            f" {EXTENSION_KEY!r} entry). Create it with 'db = SQLAlchemy()'"
            f" (Flask-SQLAlchemy 3.x) and call 'db.init_app(app)' in the"
            f" code that {app_setting.key} names, or point {app_setting.key}"
            " at the application that does."
        )
    if not (hasattr(extension, "engines") and hasattr(extension, "metadatas")):
        raise DatabaseNotFound(
            f"{app_setting.describe()} gives the Flask app {app.name!r}, whose"
            f" app.extensions[{EXTENSION_KEY!r}] is a"
            f" {type(extension).__module__}.{type(extension).__qualname__}"
            " without 'engines' and 'metadatas'. alembic_flask_env reads"
            " Flask-SQLAlchemy 3.x; upgrade Flask-SQLAlchemy to 3.x."
        )
    return extension


#: What the default bind (key ``None``) is called in flask_binds and in the
#: names of the revision functions (``upgrade_default``).
DEFAULT_BIND = "default"


def find_binds(app: Flask, app_setting: Setting) -> dict[str, Database]:
    """Every bind of the app's Flask-SQLAlchemy extension, by name, the
    default bind first.

    :raises DatabaseNotFound: the app has no such extension.
    """
    from sqlalchemy.schema import MetaData

    extension = _extension(app, app_setting)
    binds: dict[str, Database] = {}
    for key, engine in sorted(
        extension.engines.items(), key=lambda item: (item[0] is not None, item[0] or "")
    ):
        name = DEFAULT_BIND if key is None else key
        metadata = extension.metadatas.get(key)
        if metadata is None:
            # No model names this bind yet: nothing to compare against.
            metadata = MetaData()
        binds[name] = Database(engine=engine, metadata=metadata)
    return binds
