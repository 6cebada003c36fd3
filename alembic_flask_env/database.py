"""Find the engine and metadata of a Flask application's SQLAlchemy extension.

Detection is by duck typing on ``app.extensions["sqlalchemy"]`` (the shape
Flask-SQLAlchemy 3.x registers), never by catching errors to guess versions.
Engines are created per application, so call this inside an app context.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from .errors import DatabaseNotFound
from .settings import Setting

if TYPE_CHECKING:
    from flask import Flask
    from sqlalchemy.engine import Engine
    from sqlalchemy.schema import MetaData

log = logging.getLogger(__name__)

EXTENSION_KEY = "sqlalchemy"


@dataclass(frozen=True)
class Database:
    """What one migration run needs from the application."""

    engine: Engine
    metadata: MetaData

    def describe(self) -> str:
        """The URL with its password masked: safe to print."""
        return self.engine.url.render_as_string(hide_password=True)


def find_default_database(app: Flask, app_setting: Setting) -> Database:
    """The default bind of the app's Flask-SQLAlchemy extension.

    :raises DatabaseNotFound: the app has no such extension.
    """
    extension = _extension(app, app_setting)
    database = Database(
        engine=extension.engines[None], metadata=extension.metadatas[None]
    )
    warn_if_empty(database.metadata, app.name, app_setting.key)
    return database


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
