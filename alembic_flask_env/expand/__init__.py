"""Expand/contract deploys on PostgreSQL (issue 25).

A revision marked ``expand_contract = True`` (a module attribute beside
``down_revision``) is not run as written: its ``upgrade()`` ops are
recorded, checked against what can be done without breaking the release
still serving, and turned into an *expand* phase (additive, non-blocking
changes, triggers keeping old and new columns in sync, a batched resumable
backfill, and a schema of views showing the tables as the new code expects)
and a *contract* phase run later by ``python -m alembic_flask_env
contract`` once the old release is gone; ``abort`` undoes an expand.

:mod:`.naming` holds the names ``VersionedSchema`` (the Flask extension)
shares with this machinery.
"""

from __future__ import annotations

from .naming import STATE_TABLE
from .naming import version_schema_name

__all__ = ["STATE_TABLE", "version_schema_name"]
