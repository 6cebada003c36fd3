"""The Alembic migration environment for Flask applications.

The public API is :func:`run_migrations`, called from the ``env.py`` that the
``flask`` template writes. It is imported lazily: this package is imported
by Alembic's plugin loader on every ``import alembic``, and that must not pull
in Flask or the migration machinery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from .environment import run_migrations

__all__ = ["run_migrations"]


def __getattr__(name: str) -> Any:
    if name == "run_migrations":
        from .environment import run_migrations

        return run_migrations
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
