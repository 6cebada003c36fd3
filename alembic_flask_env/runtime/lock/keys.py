"""Which runs share a lock: those on the same version table of the same
database, and no others.

PostgreSQL scopes advisory locks to the database already, so its key
names the version table only. MySQL's ``GET_LOCK`` names are server-wide:
two apps on one server, each with its own database, would wait for each
other, so the MySQL name includes the database.
"""

from __future__ import annotations

import hashlib


def lock_id(version_table: str, version_table_schema: str | None) -> int:
    """A stable signed 64-bit key, one per version table, so runs on
    different version tables (other apps, other binds) do not wait for each
    other.
    """
    name = f"alembic_flask_env:{version_table_schema or ''}.{version_table}"
    return _digest(name)


def mysql_lock_name(
    database: str, version_table: str, version_table_schema: str | None
) -> str:
    """The ``GET_LOCK`` name for a version table in ``database`` (the
    connection's current one): 64 characters at most, as MySQL requires.
    """
    schema = version_table_schema or database
    key = _digest(f"alembic_flask_env:{schema}.{version_table}")
    return f"alembic_flask_env:{key & 0xFFFFFFFFFFFFFFFF:016x}"


def _digest(name: str) -> int:
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
