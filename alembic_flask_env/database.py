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
    database = Database(
        engine=extension.engines[None], metadata=extension.metadatas[None]
    )
    if not database.metadata.tables:
        log.warning(
            "The metadata of Flask app %r has no tables: autogenerate would"
            " drop every table. Most often the models module is never"
            " imported by the code that %s names; import it there.",
            app.name,
            app_setting.key,
        )
    return database
