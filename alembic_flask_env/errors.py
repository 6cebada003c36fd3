"""Errors for bad configuration, rooted in Alembic's ``CommandError``.

The ``alembic`` command prints a ``CommandError`` as one ``FAILED: ...``
line instead of a traceback, which is what a user needs when a *setting* is
wrong. Errors raised inside the user's own code are never turned into one of
these: they keep their traceback.
"""

from __future__ import annotations

from alembic.util import CommandError


class FlaskEnvError(CommandError):
    """Base class: the migration environment is set up wrongly. Every
    message names the setting, the value tried and how to fix it.
    """


class AppNotConfigured(FlaskEnvError):
    """No ``flask_app`` was given anywhere."""


class AppNotFound(FlaskEnvError):
    """``flask_app`` did not lead to a Flask application."""


class DatabaseNotFound(FlaskEnvError):
    """The Flask application has no usable SQLAlchemy extension."""


class EmptyMetadata(FlaskEnvError):
    """Autogenerate would drop every table: the metadata has none, which
    means the models were never imported.
    """


class UnknownBindFunctions(FlaskEnvError):
    """A multi-database revision has functions for a bind the app does not
    have, so running it would change nothing.
    """


class OfflineSQLiteUnsupported(FlaskEnvError):
    """``--sql`` reached a revision that SQLite cannot render offline."""
