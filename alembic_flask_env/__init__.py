"""The Alembic migration environment for Flask applications.

The public API is :func:`run_migrations`, called from the ``env.py`` that the
``flask`` template writes, and :func:`alembic_config`, for running Alembic
commands from Python. Both are imported lazily: this package is imported by
Alembic's plugin loader on every ``import alembic``, and that must not pull in
Flask or the migration machinery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from .config_lookup import alembic_config
    from .environment import run_migrations
    from .multidb import run_multidb_migrations

__all__ = ["alembic_config", "run_migrations", "run_multidb_migrations"]


def __getattr__(name: str) -> Any:
    if name == "run_migrations":
        from .environment import run_migrations

        return run_migrations
    if name == "run_multidb_migrations":
        from .multidb import run_multidb_migrations

        return run_multidb_migrations
    if name == "alembic_config":
        from .config_lookup import alembic_config

        return alembic_config
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
