"""The Alembic migration environment for Flask applications.

The public API is :func:`run_migrations` and :func:`run_multidb_migrations`,
called from the ``env.py`` that the templates write, :func:`alembic_config`,
for running Alembic commands from Python, :class:`VersionedSchema`, the
Flask extension of expand/contract deploys, and the exceptions in
:mod:`alembic_flask_env.errors`. All are imported lazily: this package is
imported by Alembic's plugin loader on every ``import alembic``, and that
must not pull in Flask, Alembic's half-imported modules or the migration
machinery.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from .errors import AppExited
    from .errors import AppLoadsItself
    from .errors import AppNotConfigured
    from .errors import AppNotFound
    from .errors import ConfigFileNotFound
    from .errors import ConnectionNotUsable
    from .errors import ConversionError
    from .errors import DatabaseNotFound
    from .errors import DatabaseUnreachable
    from .errors import DriverNotInstalled
    from .errors import EmptyMetadata
    from .errors import ExtensionNotInstalled
    from .errors import FlaskEnvError
    from .errors import InvalidSetting
    from .errors import LedgerUnavailable
    from .errors import MetadataNotFound
    from .errors import MigrationLockLost
    from .errors import MigrationLockTimeout
    from .errors import OfflineSQLiteUnsupported
    from .errors import PartlyApplied
    from .errors import ReleaseNotMigrated
    from .errors import TableLockTimeout
    from .errors import UnknownBindFunctions
    from .errors import UnsafeMigration
    from .expand.versioned_schema import VersionedSchema
    from .runtime.config_lookup import alembic_config
    from .runtime.environment import run_migrations
    from .runtime.multidb import run_multidb_migrations

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
    "UnknownBindFunctions",
    "UnsafeMigration",
    "VersionedSchema",
    "alembic_config",
    "run_migrations",
    "run_multidb_migrations",
]

#: Each public name and the module that defines it: the functions in their
#: own modules, every exception (a capitalised name) in .errors.
_MODULE_OF = {
    "alembic_config": ".runtime.config_lookup",
    "run_migrations": ".runtime.environment",
    "run_multidb_migrations": ".runtime.multidb",
    **{name: ".errors" for name in __all__ if name[0].isupper()},
    "VersionedSchema": ".expand.versioned_schema",
}


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_MODULE_OF[name], __name__), name)
