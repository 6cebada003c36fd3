"""Every error this package raises, rooted in Alembic's ``CommandError``.

The ``alembic`` command prints a ``CommandError`` as one ``FAILED: ...``
line instead of a traceback, which is what a user needs when a *setting* is
wrong. Errors raised inside the user's own code are never turned into one of
these: they keep their traceback.

Each class says what happened, so that a deploy script (or an ``except``
clause around ``command.upgrade()``) can tell a lock timeout from an
unreachable database from a bad setting; all are importable from
``alembic_flask_env``.
"""

from __future__ import annotations

import difflib
import traceback
from collections.abc import Iterable
from typing import TYPE_CHECKING

from alembic.util import CommandError

from .url_masking import mask_secrets

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

__all__ = [
    "AppExited",
    "AppLoadsItself",
    "AppNotConfigured",
    "AppNotFound",
    "ConfigFileNotFound",
    "ConnectionNotUsable",
    "ConversionError",
    "DatabaseNotFound",
    "DatabaseUnreachable",
    "DriverNotInstalled",
    "EmptyMetadata",
    "ExpandContractRefused",
    "ExtensionNotInstalled",
    "FlaskEnvError",
    "InvalidSetting",
    "LedgerUnavailable",
    "MetadataNotFound",
    "MigrationLockLost",
    "MigrationLockTimeout",
    "OfflineSQLiteUnsupported",
    "PartlyApplied",
    "ReleaseNotMigrated",
    "TableLockTimeout",
    "TenantsFailed",
    "TenantsNotFound",
    "UnknownBindFunctions",
    "UnsafeMigration",
]


class FlaskEnvError(CommandError):
    """Base class: the migration environment cannot run as set up. Every
    message names the setting, the value tried and how to fix it.
    """


class InvalidSetting(FlaskEnvError):
    """A key's value cannot be used: wrong type, not a number, a ``%`` the
    ini cannot read, ``-x key`` without a value, ``flask_binds`` naming no
    bind, or an option ``context.configure()`` would ignore.
    """


class AppNotConfigured(FlaskEnvError):
    """No ``flask_app`` was given anywhere."""


class AppNotFound(FlaskEnvError):
    """``flask_app`` did not lead to a Flask application."""


class ExtensionNotInstalled(AppNotFound):
    """The app imports a Flask extension that the Python running Alembic
    does not have: the ``alembic`` of another virtual environment.
    """


class AppLoadsItself(FlaskEnvError):
    """Loading the app ran an Alembic command that would load the app
    again, without end.
    """


class AppExited(FlaskEnvError):
    """Loading the app raised ``SystemExit``, so there is no app."""


class DatabaseNotFound(FlaskEnvError):
    """The Flask application has no usable SQLAlchemy engine."""


class DriverNotInstalled(DatabaseNotFound):
    """The app's database URL names a driver (DBAPI module, such as psycopg2)
    that the Python running Alembic does not have.
    """


class MetadataNotFound(DatabaseNotFound):
    """No ``MetaData`` to compare: ``flask_metadata`` does not lead to one,
    or the app's extension keeps none.
    """


class EmptyMetadata(FlaskEnvError):
    """Autogenerate would drop every table: the metadata has none, which
    means the models were never imported.
    """


class UnknownBindFunctions(FlaskEnvError):
    """A multi-database revision has functions for a bind the app does not
    have, so running it would change nothing.
    """


class ConnectionNotUsable(FlaskEnvError):
    """``config.attributes["connection"]`` holds something the environment
    cannot migrate over.
    """


class DatabaseUnreachable(FlaskEnvError):
    """The database could not be connected to."""


class MigrationLockTimeout(FlaskEnvError):
    """Another run held the migration lock for longer than the timeout."""


class MigrationLockLost(FlaskEnvError):
    """The run's migration lock was gone before a revision could be kept
    (its session ended): the run stopped rather than race another.
    """


class RunWaitedForItself(FlaskEnvError):
    """A statement of the run waited for the run's own migration lock
    session, which could never end first; it was cancelled.
    """


class UnsafeMigration(FlaskEnvError):
    """A pending revision would block or break the running app (the safe
    migration checks); nothing was run.
    """


class LedgerUnavailable(FlaskEnvError):
    """``migration_ledger = required`` and the ledger table cannot be
    created or written.
    """


class TableLockTimeout(FlaskEnvError):
    """A statement of a revision waited for a table lock longer than
    ``table_lock_timeout``, as many times as ``table_lock_retries`` allowed.
    """


class TenantsNotFound(FlaskEnvError):
    """``flask_tenants`` does not lead to a usable list of tenants: the
    callable is missing, raised, or returned something that names no
    schema or database (a duplicate, a bad identifier, a URL that does not
    parse). Raised before any tenant is touched.
    """


class TenantsFailed(FlaskEnvError):
    """One or more tenants' migrations failed; the others that ran are
    migrated and a run again resumes where each tenant stands.
    """


class PartlyApplied(FlaskEnvError):
    """A revision failed on a database that cannot roll back DDL (MySQL,
    MariaDB), so part of it may be applied.
    """


class ReleaseNotMigrated(FlaskEnvError):
    """``VersionedSchema``: the database has not reached the head of the
    release's migrations folder, so the release's code would meet tables
    it was not written for; raised at the first use of a connection.
    """


class OfflineSQLiteUnsupported(FlaskEnvError):
    """``--sql`` reached a revision that SQLite cannot render offline."""


class ConfigFileNotFound(FlaskEnvError):
    """``alembic_config()`` found no ``alembic.ini``."""


class ConversionError(FlaskEnvError):
    """A folder cannot be converted from Flask-Migrate; the message says why
    and what to do.
    """


def first_line(error: BaseException, *urls: URL | None) -> str:
    """The driver's (or the error's) first line, for a one-line message,
    with every secret in it masked by :func:`mask_secrets` (those of
    ``urls``, any URL's user and password, ``password=...``: a revision's
    or a driver's error may quote a connection string): every message that
    quotes an error quotes it so.
    """
    text = str(getattr(error, "orig", None) or error).strip()
    return mask_secrets(text.splitlines()[0], *urls) if text else type(error).__name__


def masked_traceback(error: BaseException, *urls: URL | None) -> str:
    """``error``'s traceback as a log line shows it, with the secrets
    masked as :func:`first_line` masks them: for the log lines that keep
    an error's traceback (``exc_info`` would print its message as it is).
    """
    return mask_secrets("".join(traceback.format_exception(error)).rstrip(), *urls)


def did_you_mean(name: str, choices: Iterable[str], prefix: str = "") -> str:
    """`` Did you mean 'x'?`` for the choice closest to a misspelt ``name``,
    or "" when none is close: the one way every message suggests a name.

    :param prefix: shown before the choice, not compared (the package of a
        submodule: "blogapp." of "blogapp.models").
    """
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" Did you mean {prefix + close[0]!r}?" if close else ""


class ExpandContractRefused(FlaskEnvError):
    """An ``expand_contract = True`` revision cannot be run (or contracted,
    or aborted) as asked: an operation it cannot phase, a database it does
    not work on, another expand still pending. Said before anything of it
    runs; the message names the revision (and the line) and the fix.
    """
