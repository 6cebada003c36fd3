"""The Alembic migration environment for Flask applications.

The public API is :func:`run_migrations` and :func:`run_multidb_migrations`,
called from the ``env.py`` that the templates write, and
:func:`alembic_config`, for running Alembic commands from Python. All three
are imported lazily: this package is imported by Alembic's plugin loader on
every ``import alembic``, and that must not pull in Flask or the migration
machinery.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from .config_lookup import alembic_config
    from .environment import run_migrations
    from .multidb import run_multidb_migrations

__all__ = ["alembic_config", "run_migrations", "run_multidb_migrations"]


#: Each public name and the module that defines it.
_MODULE_OF = {
    "alembic_config": ".config_lookup",
    "run_migrations": ".environment",
    "run_multidb_migrations": ".multidb",
}


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_MODULE_OF[name], __name__), name)
