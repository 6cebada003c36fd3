"""What the runtime needs to know about a database family by name."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.exc import DBAPIError

#: SQLAlchemy's names of the MySQL family.
MYSQL_DIALECTS = ("mysql", "mariadb")

#: PostgreSQL's SQLSTATE for "lock_timeout expired" (LockNotAvailable).
LOCK_NOT_AVAILABLE = "55P03"


def sqlstate(error: DBAPIError) -> str | None:
    """The SQLSTATE of a PostgreSQL error, from psycopg 3 or psycopg2."""
    original = error.orig
    return getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
